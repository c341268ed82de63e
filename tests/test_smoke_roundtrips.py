from __future__ import annotations

import pytest

from django_redis_sessions.backend import SessionStore

pytestmark = pytest.mark.real_redis


def test_signed_in_read_is_one_round_trip(r, count_round_trips):
    s = SessionStore()
    s["_auth_user_id"] = "1"
    s.save()
    SessionStore(s.session_key).load()  # warm: connection handshake, script cache
    count_round_trips.round_trips = 0
    again = SessionStore(s.session_key)
    assert again["_auth_user_id"] == "1"
    assert count_round_trips.round_trips == 1

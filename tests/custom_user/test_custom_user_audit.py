"""The audit trail with a custom user model whose primary key is a UUID or a string.

Runs only under ``tests.settings_uuid_user`` and ``tests.settings_string_user``.
"""

from __future__ import annotations

from typing import Any

import pytest

from django_redis_sessions import api
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys

from .test_custom_users import make_user, sign_in

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


def test_events_are_kept_under_the_primary_key_as_django_stores_it(r: Any, settings: Any) -> None:
    settings.SESSIONS_AUDIT = True
    ann = make_user("ann")
    client, key = sign_in(ann)
    _other_client, other = sign_in(ann)
    assert api.revoke_session(keys.fingerprint(other), user=ann) is True
    assert client.post("/logout/").status_code == 200

    assert r.llen(keys.audit_key(conf.SESSION_REDIS_PREFIX, str(ann.pk))) == 4
    for user in (ann, ann.pk, str(ann.pk)):
        events = api.user_audit_events(user)
        assert [(e.event, e.fingerprint) for e in events] == [
            ("signed_out", keys.fingerprint(key)),
            ("revoked", keys.fingerprint(other)),
            ("created", keys.fingerprint(other)),
            ("created", keys.fingerprint(key)),
        ]
    assert events[-1].actor == ann.get_username()

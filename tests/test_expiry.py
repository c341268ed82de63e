"""Sliding (idle) and absolute expiry, against the real Redis with real waiting."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import record

from .helpers import redis_key, saved_session

pytestmark = pytest.mark.real_redis


def pretend_idle(r, key: str, remaining_ms: int) -> None:
    """As if the session's last request was long ago: an expiry ``remaining_ms``
    away and last-seen a minute back (a real record has both or neither: every
    script that writes last-seen sets the expiry in the same call)."""
    r.pexpire(key, remaining_ms)
    r.setrange(key, record.SEEN_OFFSET, record.field(int(r.time()[0]) - 60))


def test_load_slides_ttl_in_the_same_round_trip_without_rewriting_data(
    r, settings, count_round_trips
):
    settings.SESSION_COOKIE_AGE = 100
    s = saved_session(cart=[1, 2, 3])
    key = redis_key(s.session_key)
    SessionStore(s.session_key).load()  # warm the connection and script cache
    pretend_idle(r, key, 5_000)  # most of the idle window has passed
    before = r.get(key)
    count_round_trips.round_trips = 0

    loaded = SessionStore(s.session_key)
    assert loaded["cart"] == [1, 2, 3]

    assert count_round_trips.round_trips == 1
    assert 99_000 < r.pttl(key) <= 100_000
    after = r.get(key)
    # Only the last-seen field may differ: the data is not rewritten.
    assert after[: record.SEEN_OFFSET] == before[: record.SEEN_OFFSET]
    assert (
        after[record.SEEN_OFFSET + record.FIELD_WIDTH :]
        == before[record.SEEN_OFFSET + record.FIELD_WIDTH :]
    )


def test_idle_session_expires_and_activity_keeps_it_alive(r, settings):
    settings.SESSION_COOKIE_AGE = 2
    active = saved_session(a=1)
    idle = saved_session(b=2)
    for _ in range(4):  # 3.2 s in all: past the 2 s window, but never idle 2 s
        time.sleep(0.8)
        assert SessionStore(active.session_key).get("a") == 1
    assert SessionStore(active.session_key).exists(active.session_key)
    assert not SessionStore(idle.session_key).exists(idle.session_key)
    reader = SessionStore(idle.session_key)
    assert reader.get("b") is None
    assert reader.session_key is None  # an expired key is never adopted


def test_absolute_lifetime_ends_an_active_session(r, settings):
    settings.SESSION_COOKIE_AGE = 60
    settings.SESSIONS_ABSOLUTE_AGE = 2
    # Creation time is stored in whole seconds: start just after one begins, so
    # the deadline is a full 2 s away and the read after 1 s cannot race it.
    time.sleep(1.02 - time.time() % 1)
    s = saved_session(a=1)
    key = redis_key(s.session_key)
    assert r.pttl(key) <= 2_000  # server TTL is min(idle, remaining absolute)
    time.sleep(1.0)
    assert SessionStore(s.session_key).get("a") == 1
    assert r.pttl(key) <= 1_000 + 50  # the load did not extend past the deadline
    time.sleep(1.2)
    assert SessionStore(s.session_key).get("a") is None
    assert r.exists(key) == 0


def test_lowering_the_absolute_age_applies_to_existing_sessions(r, settings):
    settings.SESSION_COOKIE_AGE = 600
    settings.SESSIONS_ABSOLUTE_AGE = 3600
    s = saved_session(a=1)
    key = redis_key(s.session_key)
    settings.SESSIONS_ABSOLUTE_AGE = 30
    assert SessionStore(s.session_key).get("a") == 1
    assert r.pttl(key) <= 30_000
    settings.SESSIONS_ABSOLUTE_AGE = 1
    time.sleep(1.1)
    assert SessionStore(s.session_key).get("a") is None
    assert r.exists(key) == 0


def test_absolute_age_none_turns_the_cap_off(r, settings):
    settings.SESSION_COOKIE_AGE = 1000
    settings.SESSIONS_ABSOLUTE_AGE = None
    s = saved_session(a=1)
    assert SessionStore(s.session_key).get_expiry_age() == 1000
    assert 999_000 < r.pttl(redis_key(s.session_key)) <= 1_000_000


def test_expiry_age_and_date_never_exceed_remaining_absolute(r, settings):
    settings.SESSION_COOKIE_AGE = 14 * 86400
    settings.SESSIONS_ABSOLUTE_AGE = 3600
    s = saved_session(a=1)
    loaded = SessionStore(s.session_key)
    assert 3590 <= loaded.get_expiry_age() <= 3600
    limit = timezone.now() + timedelta(seconds=3601)
    assert loaded.get_expiry_date() <= limit
    # set_expiry() keeps working inside the cap...
    loaded.set_expiry(600)
    assert loaded.get_expiry_age() == 600
    loaded.set_expiry(timedelta(days=3))
    assert loaded.get_expiry_age() <= 3600
    loaded.set_expiry(timedelta(seconds=120))
    assert 118 <= loaded.get_expiry_age() <= 120
    loaded.set_expiry(0)
    assert loaded.get_expire_at_browser_close()
    assert loaded.get_expiry_age() <= 3600
    loaded.set_expiry(None)
    assert 3590 <= loaded.get_expiry_age() <= 3600


def test_custom_idle_from_set_expiry_is_stored_and_slides(r, settings):
    settings.SESSION_COOKIE_AGE = 1000
    s = saved_session(a=1)
    s.set_expiry(50)
    s.save()
    key = redis_key(s.session_key)
    assert 49_000 < r.pttl(key) <= 50_000
    pretend_idle(r, key, 1_000)
    SessionStore(s.session_key).load()
    assert 49_000 < r.pttl(key) <= 50_000


def test_datetime_expiry_is_fixed_not_sliding(r, settings):
    settings.SESSION_COOKIE_AGE = 1000
    s = saved_session(a=1)
    s.set_expiry(timezone.now() + timedelta(seconds=40))
    s.save()
    key = redis_key(s.session_key)
    assert 38_000 < r.pttl(key) <= 40_000
    r.pexpire(key, 20_000)  # a load must not push a fixed end further away
    SessionStore(s.session_key).load()
    assert r.pttl(key) <= 40_000


def test_expiry_in_the_past_ends_the_session_now(r, settings):
    s = saved_session(a=1)
    s.set_expiry(timezone.now() - timedelta(seconds=10))
    s.save()
    assert r.exists(redis_key(s.session_key)) == 0
    assert SessionStore(s.session_key).get("a") is None


@pytest.mark.django_db
def test_cookie_max_age_is_capped_by_the_absolute_deadline(client, settings, r):
    settings.SESSION_COOKIE_AGE = 14 * 86400
    settings.SESSIONS_ABSOLUTE_AGE = 100
    response = client.post("/write/", data=b'{"x": 1}', content_type="application/json")
    morsel = response.cookies[settings.SESSION_COOKIE_NAME]
    assert 98 <= int(morsel["max-age"]) <= 100
    time.sleep(1.1)
    response = client.post("/write/", data=b'{"y": 2}', content_type="application/json")
    assert int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) <= 99


async def test_async_load_slides_and_caps(r, settings):
    settings.SESSION_COOKIE_AGE = 100
    settings.SESSIONS_ABSOLUTE_AGE = 50
    s = SessionStore()
    await s.aset("a", 1)
    await s.asave()
    key = redis_key(s.session_key)
    assert r.pttl(key) <= 50_000
    loaded = SessionStore(s.session_key)
    assert await loaded.aget("a") == 1
    assert await loaded.aget_expiry_age() <= 50
    assert (await loaded.aget_expiry_date()) <= timezone.now() + timedelta(seconds=51)


def test_clear_before_load_replaces_data_but_keeps_the_absolute_deadline(r, settings):
    settings.SESSION_COOKIE_AGE = 600
    settings.SESSIONS_ABSOLUTE_AGE = 3
    s = saved_session(a=1, b=2)
    time.sleep(1.1)
    other = SessionStore(s.session_key)
    other.clear()  # never loaded: the save must replace, not merge
    other["c"] = 3
    other.save()
    assert dict(SessionStore(s.session_key).items()) == {"c": 3}
    # The replace did not restart the absolute lifetime from "now".
    assert r.pttl(redis_key(s.session_key)) <= 2_000


def _setrange_calls(r) -> int:
    return int(r.info("commandstats").get("cmdstat_setrange", {}).get("calls", 0))


@pytest.mark.single_server  # commandstats of one server
def test_a_load_in_the_second_last_seen_already_says_writes_nothing(r, settings):
    settings.SESSION_COOKIE_AGE = 100
    s = saved_session(a=1)
    key = redis_key(s.session_key)
    SessionStore(s.session_key).load()  # warm the connection and the script cache
    for _ in range(5):  # again if the server's second turned between the two steps
        now = int(r.time()[0])
        r.setrange(key, record.SEEN_OFFSET, record.field(now))
        r.pexpire(key, 5_000)
        before = r.get(key)
        calls = _setrange_calls(r)
        assert SessionStore(s.session_key)["a"] == 1
        if int(r.time()[0]) == now:
            break
    else:
        pytest.fail("the server's clock never held a second for two commands")
    assert _setrange_calls(r) == calls  # nothing written: last-seen was this second
    assert r.get(key) == before
    # Nor the expiry: this second's first touch slid it (one-second resolution).
    assert r.pttl(key) <= 5_000

    # A second later than last-seen: both written, in the same round trip.
    r.setrange(key, record.SEEN_OFFSET, record.field(now - 5))
    calls = _setrange_calls(r)
    assert SessionStore(s.session_key)["a"] == 1
    assert _setrange_calls(r) == calls + 1
    assert record.decode(r.get(key)).seen >= now
    assert 99_000 < r.pttl(key) <= 100_000


@pytest.mark.single_server  # the same second on the server for two commands
def test_a_lowered_absolute_age_applies_within_the_second(r, settings):
    settings.SESSION_COOKIE_AGE = 1000
    s = saved_session(a=1)
    key = redis_key(s.session_key)
    SessionStore(s.session_key).load()  # warm the connection and the script cache
    settings.SESSIONS_ABSOLUTE_AGE = 30  # lowered since the session was created
    for _ in range(5):
        now = int(r.time()[0])
        r.setrange(key, record.SEEN_OFFSET, record.field(now))
        assert SessionStore(s.session_key)["a"] == 1
        if int(r.time()[0]) == now:
            break
    else:
        pytest.fail("the server's clock never held a second for two commands")
    # Last-seen said this second, yet the new cap was applied at once.
    assert 0 < r.pttl(key) <= 30_000


def test_created_and_last_seen_are_kept_beside_the_data(r, settings):
    s = saved_session(a=1)
    key = redis_key(s.session_key)
    first = record.decode(r.get(key))
    assert abs(first.created - time.time()) <= 2
    assert first.seen >= first.created
    time.sleep(1.1)
    loaded = SessionStore(s.session_key)
    assert list(loaded.keys()) == ["a"]  # metadata is not among the session's keys
    after_load = record.decode(r.get(key))
    assert after_load.seen > first.seen  # refreshed by the load's own round trip
    assert after_load.created == first.created
    loaded["b"] = 2
    loaded.save()
    assert record.decode(r.get(key)).created == first.created

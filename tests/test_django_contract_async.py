"""Django's session-backend contract, checked on our engine (async ``a*`` API).

Async twins of ``test_django_contract.py``: the behaviours Django's
``SessionTestsMixin`` checks with ``aget``/``aset``/``asave``/``acycle_key``...
(Django 5.0/5.1), run on the engine's native ``redis.asyncio`` path against the
real Redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.test import override_settings
from django.utils import timezone

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys, record

from .helpers import redis_key, undecodable_record

pytestmark = pytest.mark.real_redis

SECURITY_LOGGER = "django.security.SuspiciousSession"


async def asaved_session(**data: object) -> SessionStore:
    """A session holding ``data``, saved to Redis through the async API."""
    session = SessionStore()
    await session.aupdate(data)
    await session.asave()
    assert session.session_key is not None
    return session


# -- the dict-like API ---------------------------------------------------------------


async def test_aget_on_empty_session_returns_none():
    assert await SessionStore().aget("cat") is None


async def test_aset_marks_modified_and_apop_returns_value():
    session = SessionStore()
    await session.aset("cat", "dog")
    assert session.modified is True
    assert await session.apop("cat") == "dog"
    assert await session.ahas_key("cat") is False


async def test_apop_marks_accessed_and_modified():
    session = SessionStore()
    await session.aset("some key", "exists")
    session.accessed = session.modified = False
    assert await session.apop("some key") == "exists"
    assert session.accessed is True
    assert session.modified is True
    assert await session.aget("some key") is None


async def test_apop_default_does_not_mark_modified():
    session = SessionStore()
    assert await session.apop("some key", "does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


async def test_apop_default_named_argument():
    session = SessionStore()
    assert await session.apop("some key", default="does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


async def test_apop_missing_key_without_default_raises_keyerror():
    with pytest.raises(KeyError):
        await SessionStore().apop("some key")


async def test_asetdefault_keeps_first_value():
    session = SessionStore()
    assert await session.asetdefault("foo", "bar") == "bar"
    assert await session.asetdefault("foo", "baz") == "bar"
    assert session.accessed is True
    assert session.modified is True


async def test_aupdate_marks_accessed_and_modified():
    session = SessionStore()
    await session.aupdate({"update key": 1})
    assert session.accessed is True
    assert session.modified is True
    assert await session.aget("update key", None) == 1


async def test_ahas_key_reads_without_modifying():
    session = SessionStore()
    await session.aset("some key", 1)
    session.accessed = session.modified = False
    assert await session.ahas_key("some key") is True
    assert session.accessed is True
    assert session.modified is False


async def test_avalues_reads_without_modifying():
    session = SessionStore()
    assert list(await session.avalues()) == []
    assert session.accessed is True
    await session.aset("some key", 1)
    session.accessed = session.modified = False
    assert list(await session.avalues()) == [1]
    assert session.accessed is True
    assert session.modified is False


async def test_akeys_reads_without_modifying():
    session = SessionStore()
    await session.aset("x", 1)
    session.accessed = session.modified = False
    assert list(await session.akeys()) == ["x"]
    assert session.accessed is True
    assert session.modified is False


async def test_aitems_reads_without_modifying():
    session = SessionStore()
    await session.aset("x", 1)
    session.accessed = session.modified = False
    assert list(await session.aitems()) == [("x", 1)]
    assert session.accessed is True
    assert session.modified is False


async def test_clear_of_aloaded_session_is_persisted(r):
    key = (await asaved_session(a=1, b=2)).session_key
    session = SessionStore(key)
    assert await session.aget("a") == 1  # loaded
    session.clear()
    await session.asave()
    assert await SessionStore(key).aload() == {}


async def test_clear_without_prior_aload_is_persisted(r):
    # SessionBase.clear() deliberately skips the load; asave() must still replace
    # the stored data, as every Django backend does.
    key = (await asaved_session(a=1, b=2)).session_key
    session = SessionStore(key)
    session.clear()
    await session.aset("c", 3)
    await session.asave()
    assert await SessionStore(key).aload() == {"c": 3}


# -- asave, aload, aexists, adelete ----------------------------------------------------


async def test_asave_creates_a_record_that_exists(r):
    session = SessionStore()
    await session.asave()
    assert session.session_key is not None
    assert await session.aexists(session.session_key) is True
    assert r.exists(redis_key(session.session_key)) == 1


async def test_asave_aload_round_trip(r):
    data = {"str": "value", "int": 7, "list": [1, "two"], "nested": {"a": None}}
    session = await asaved_session(**data)
    assert await SessionStore(session.session_key).aload() == data
    again = SessionStore(session.session_key)
    assert await again.aget("nested") == {"a": None}
    assert again.session_key == session.session_key


async def test_sync_and_async_paths_read_each_other(r):
    sync_written = SessionStore()
    sync_written["via"] = "sync"
    sync_written.save()
    assert await SessionStore(sync_written.session_key).aget("via") == "sync"
    async_written = await asaved_session(via="async")
    assert SessionStore(async_written.session_key).get("via") == "async"


async def test_asave_does_not_clear_data(r):
    session = SessionStore()
    await session.aset("a", "b")
    await session.asave()
    assert await session.aget("a") == "b"


async def test_asave_of_existing_session_keeps_key_and_updates_data(r):
    session = await asaved_session(a=1)
    key = session.session_key
    await session.apop("a")
    await session.aset("b", 3)
    await session.asave()
    assert session.session_key == key
    assert await SessionStore(key).aload() == {"b": 3}


async def test_acreate_then_asave(r):
    session = SessionStore()
    await session.acreate()
    assert session.session_key is not None
    assert session.modified is True
    await session.asave()
    assert await session.aexists(session.session_key) is True
    assert await SessionStore(session.session_key).aload() == {}


async def test_aexists(r):
    session = await asaved_session(a=1)
    assert await session.aexists(session.session_key) is True
    assert await session.aexists("0" * 32) is False
    assert await session.aexists(None) is False
    assert await session.aexists("") is False


async def test_adelete_by_key(r):
    session = SessionStore()
    await session.asave()
    key = session.session_key
    await session.adelete(key)
    assert await session.aexists(key) is False
    assert r.exists(redis_key(key)) == 0


async def test_adelete_without_key_deletes_own_session(r):
    session = await asaved_session(a=1)
    key = session.session_key
    await session.adelete()
    assert await session.aexists(key) is False


async def test_adelete_of_other_key_leaves_own_session(r):
    mine = await asaved_session(mine=1)
    other = await asaved_session(other=1)
    await mine.adelete(other.session_key)
    assert await mine.aexists(other.session_key) is False
    assert await mine.aexists(mine.session_key) is True
    await mine.aset("more", 2)
    await mine.asave()
    assert await SessionStore(mine.session_key).aload() == {"mine": 1, "more": 2}


async def test_aflush_deletes_record_and_forgets_key(r):
    session = SessionStore()
    await session.aset("foo", "bar")
    await session.asave()
    prev_key = session.session_key
    await session.aflush()
    assert await session.aexists(prev_key) is False
    assert session.session_key != prev_key
    assert session.session_key is None
    assert session.modified is True
    assert session.accessed is True
    assert dict(await session.aitems()) == {}


async def test_asave_after_aflush_creates_a_new_session(r):
    session = await asaved_session(foo="bar")
    prev_key = session.session_key
    await session.aflush()
    await session.aset("x", 1)
    await session.asave()
    assert session.session_key not in (None, prev_key)
    assert await SessionStore(session.session_key).aload() == {"x": 1}


# -- acycle_key --------------------------------------------------------------------


async def test_acycle_key_keeps_data_and_retires_old_key(r):
    session = SessionStore()
    await session.aset("a", "c")
    await session.aset("b", "d")
    await session.asave()
    prev_key = session.session_key
    prev_data = list(await session.aitems())
    await session.acycle_key()
    assert await session.aexists(prev_key) is False
    assert session.session_key != prev_key
    assert list(await session.aitems()) == prev_data
    assert await SessionStore(session.session_key).aload() == dict(prev_data)


async def test_acycle_key_with_no_session_cache(r):
    key = (await asaved_session(a="c", b="d")).session_key
    session = SessionStore(key)
    assert hasattr(session, "_session_cache") is False
    await session.acycle_key()
    assert sorted(await session.aitems()) == [("a", "c"), ("b", "d")]
    assert session.session_key != key
    assert await session.aexists(key) is False


async def test_acycle_key_of_unsaved_session_keeps_data(r):
    session = SessionStore()
    await session.aset("a", 1)
    await session.acycle_key()
    assert session.session_key is not None
    assert await session.aget("a") == 1
    assert await SessionStore(session.session_key).aload() == {"a": 1}


async def test_acycle_key_starts_a_new_absolute_lifetime(r):
    # Engine choice (3): the new key's absolute lifetime counts from the cycle.
    with override_settings(SESSIONS_ABSOLUTE_AGE=100, SESSION_COOKIE_AGE=1000):
        key = (await asaved_session(a=1)).session_key
        raw = r.get(redis_key(key))
        created = record.read_field(raw, record.CREATED_OFFSET)
        r.setrange(redis_key(key), record.CREATED_OFFSET, record.field(created - 90))
        session = SessionStore(key)
        assert await session.aget("a") == 1
        assert await session.aget_expiry_age() <= 10
        await session.acycle_key()
        assert await session.aget_expiry_age() >= 98
        assert 98 <= r.ttl(redis_key(session.session_key)) <= 100


# -- session keys ----------------------------------------------------------------


@pytest.mark.parametrize("bad_key", ["1", "", "1234567", "ABCDEFGHIJ", "abcd-efgh", "a" * 65])
async def test_invalid_keys_are_never_adopted(r, bad_key, count_round_trips):
    session = SessionStore(bad_key)
    assert session.session_key is None
    assert await session.aload() == {}
    assert await session.aexists(bad_key) is False
    await session.adelete(bad_key)
    # Refused before any Redis command is built from it (engine choice (1)).
    assert count_round_trips.round_trips == 0
    await session.asave()
    assert session.session_key not in (None, bad_key)
    assert await session.aget("cat") is None


async def test_invalid_key_gives_a_new_key_on_asave(r):
    session = SessionStore("1")
    await session.asave()
    assert session.session_key not in (None, "1")
    assert await session.aget("cat") is None
    assert await session.aexists(session.session_key) is True


async def test_aload_of_unknown_key_does_not_create_a_record(r):
    session = SessionStore("someunknownkey")
    assert await session.aload() == {}
    assert session.session_key is None
    assert await session.aexists(session.session_key) is False
    assert session.session_key != "someunknownkey"
    assert r.exists(redis_key("someunknownkey")) == 0


# -- acreate() and key collisions --------------------------------------------------


async def test_asave_must_create_on_existing_key_raises_create_error(r):
    existing = await asaved_session(owner="first")
    intruder = SessionStore()
    intruder._session_key = existing.session_key
    await intruder.aset("owner", "second")
    with pytest.raises(CreateError):
        await intruder.asave(must_create=True)
    assert await SessionStore(existing.session_key).aload() == {"owner": "first"}


async def test_acreate_retries_after_a_key_collision(r):
    existing = await asaved_session(owner="first")
    fresh = "f" * 32
    session = SessionStore()
    await session.aset("owner", "second")
    with mock.patch.object(
        SessionStore, "_aget_new_session_key", side_effect=[existing.session_key, fresh]
    ):
        await session.asave()
    assert session.session_key == fresh
    assert await SessionStore(existing.session_key).aload() == {"owner": "first"}
    assert await SessionStore(fresh).aload() == {"owner": "second"}


async def test_acreate_gives_up_when_every_key_collides(r):
    existing = await asaved_session(owner="first")
    session = SessionStore()
    with (
        mock.patch.object(SessionStore, "_aget_new_session_key", return_value=existing.session_key),
        pytest.raises(RuntimeError),
    ):
        await session.acreate()
    assert await SessionStore(existing.session_key).aload() == {"owner": "first"}


async def test_acycle_key_retries_after_a_key_collision(r):
    existing = await asaved_session(owner="first")
    session = await asaved_session(owner="second")
    old_key = session.session_key
    fresh = "e" * 32
    with mock.patch.object(
        SessionStore, "_aget_new_session_key", side_effect=[existing.session_key, fresh]
    ):
        await session.acycle_key()
    assert session.session_key == fresh
    assert await session.aexists(old_key) is False
    assert await SessionStore(existing.session_key).aload() == {"owner": "first"}
    assert await SessionStore(fresh).aload() == {"owner": "second"}


# -- no resurrection ---------------------------------------------------------------


async def test_asave_does_not_resurrect_a_session_deleted_elsewhere(r):
    s1 = SessionStore()
    await s1.aset("test_data", "value1")
    await s1.asave(must_create=True)
    key = s1.session_key

    await SessionStore(key).adelete()  # logout in another context

    await s1.aset("test_data", "value2")
    with pytest.raises(UpdateError):
        await s1.asave()
    assert r.exists(redis_key(key)) == 0
    assert await s1.aload() == {}


async def test_asave_of_unknown_key_never_loaded_raises_update_error(r):
    # Django's backends raise UpdateError here (a save only updates).
    stale = "1" * 32
    session = SessionStore(stale)
    with pytest.raises(UpdateError):
        await session.asave()
    assert r.exists(redis_key(stale)) == 0


async def test_concurrent_asave_and_adelete_never_resurrect(r):
    key = (await asaved_session(a=1)).session_key
    writer = SessionStore(key)
    assert await writer.aget("a") == 1
    await writer.aset("a", 2)
    deleter = SessionStore(key)
    results = await asyncio.gather(deleter.adelete(), writer.asave(), return_exceptions=True)
    # Whichever ran first, the deletion wins: the record is gone.
    assert r.exists(redis_key(key)) == 0
    assert all(res is None or isinstance(res, UpdateError) for res in results)


# -- expiry ------------------------------------------------------------------------


async def test_default_expiry_async():
    session = SessionStore()
    assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE
    await session.aset_expiry(0)
    assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE


async def test_custom_expiry_seconds_async():
    session = SessionStore()
    modification = timezone.now()
    await session.aset_expiry(10)
    assert await session.aget_expiry_date(modification=modification) == (
        modification + timedelta(seconds=10)
    )
    assert await session.aget_expiry_age(modification=modification) == 10


async def test_custom_expiry_timedelta_async():
    session = SessionStore()
    modification = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=modification):
        await session.aset_expiry(timedelta(seconds=10))
    assert await session.aget_expiry_date(modification=modification) == (
        modification + timedelta(seconds=10)
    )
    assert await session.aget_expiry_age(modification=modification) == 10


async def test_custom_expiry_datetime_async():
    session = SessionStore()
    modification = timezone.now()
    await session.aset_expiry(modification + timedelta(seconds=10))
    assert await session.aget_expiry_date(modification=modification) == (
        modification + timedelta(seconds=10)
    )
    assert await session.aget_expiry_age(modification=modification) == 10


async def test_custom_expiry_reset_async():
    session = SessionStore()
    await session.aset_expiry(None)
    await session.aset_expiry(10)
    await session.aset_expiry(None)
    assert await session.aget_expiry_age() == settings.SESSION_COOKIE_AGE
    assert await session.ahas_key("_session_expiry") is False


async def test_aget_expire_at_browser_close():
    session = SessionStore()
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False):
        await session.aset_expiry(10)
        assert await session.aget_expire_at_browser_close() is False
        await session.aset_expiry(0)
        assert await session.aget_expire_at_browser_close() is True
        await session.aset_expiry(None)
        assert await session.aget_expire_at_browser_close() is False
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        await session.aset_expiry(10)
        assert await session.aget_expire_at_browser_close() is False
        await session.aset_expiry(0)
        assert await session.aget_expire_at_browser_close() is True
        await session.aset_expiry(None)
        assert await session.aget_expire_at_browser_close() is True


async def test_aexpiry_kwargs_override_stored_expiry_without_loading(r):
    key = (await asaved_session(_session_expiry=600)).session_key
    session = SessionStore(key)
    modification = timezone.now()
    when = modification + timedelta(seconds=45)
    assert await session.aget_expiry_age(modification=modification, expiry=30) == 30
    assert await session.aget_expiry_age(modification=modification, expiry=when) == 45
    assert await session.aget_expiry_age(expiry=None) == settings.SESSION_COOKIE_AGE
    assert await session.aget_expiry_date(modification=modification, expiry=30) == (
        modification + timedelta(seconds=30)
    )
    assert await session.aget_expiry_date(modification=modification, expiry=when) == when
    assert session.accessed is False  # an explicit ``expiry`` must not cost a load
    assert await session.aget_expiry_age(modification=modification) == 600


async def test_long_custom_expiry_is_capped_by_absolute_age_async():
    # Engine choice (2): SESSIONS_ABSOLUTE_AGE (30 days) caps the age.
    session = SessionStore()
    await session.aset_expiry(60 * 86400)
    assert 30 * 86400 - 2 <= await session.aget_expiry_age() <= 30 * 86400
    modification = timezone.now()
    await session.aset_expiry(modification + timedelta(days=60))
    date = await session.aget_expiry_date(modification=modification)
    assert modification + timedelta(days=30) - timedelta(seconds=2) <= date
    assert date <= modification + timedelta(days=30, seconds=1)


async def test_long_custom_expiry_without_absolute_age_async(r):
    with override_settings(SESSIONS_ABSOLUTE_AGE=None):
        session = SessionStore()
        modification = timezone.now()
        await session.aset_expiry(60 * 86400)
        assert await session.aget_expiry_age(modification=modification) == 60 * 86400
        assert await session.aget_expiry_date(modification=modification) == (
            modification + timedelta(days=60)
        )
        await session.asave()
        assert 60 * 86400 - 2 <= r.ttl(redis_key(session.session_key)) <= 60 * 86400


async def test_seconds_expiry_is_applied_in_redis_async(r):
    session = SessionStore()
    await session.aset("a", 1)
    await session.aset_expiry(10)
    await session.asave()
    assert 0 < r.pttl(redis_key(session.session_key)) <= 10_000
    assert await SessionStore(session.session_key).aget_expiry_age() == 10


async def test_actual_expiry_async(r):
    # Regression for Django ticket #19200: an expiry in the past ends the session.
    session = SessionStore()
    await session.aset("foo", "bar")
    await session.aset_expiry(-timedelta(seconds=10))
    await session.asave()
    old_key = session.session_key
    new_session = SessionStore(old_key)
    assert await new_session.ahas_key("foo") is False
    assert new_session.session_key is None
    assert r.exists(redis_key(old_key)) == 0


async def test_actual_expiry_of_an_existing_session_async(r):
    session = await asaved_session(foo="bar")
    key = session.session_key
    await session.aset_expiry(-10)
    await session.asave()
    assert r.exists(redis_key(key)) == 0
    assert await SessionStore(key).ahas_key("foo") is False


async def test_expired_session_is_gone_for_a_new_reader_async(r):
    session = SessionStore()
    await session.aset("foo", "bar")
    # Stored with one-second resolution: a whole second 1 to 2 s ahead, so the
    # first read below cannot race the deadline on a busy machine.
    deadline = int(time.time()) + 2
    await session.aset_expiry(datetime.fromtimestamp(deadline, tz=UTC))
    await session.asave()
    key = session.session_key
    assert await SessionStore(key).aget("foo") == "bar"
    await asyncio.sleep(deadline - time.time() + 0.2)
    reader = SessionStore(key)
    assert await reader.aget("foo") is None
    assert reader.session_key is None


# -- corrupt records -----------------------------------------------------------------


async def test_corrupt_record_aloads_as_empty_session_and_is_removed(r, caplog):
    key = (await asaved_session(a=1)).session_key
    r.set(redis_key(key), undecodable_record(), ex=60)
    session = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert await session.aload() == {}
    assert session.session_key is None
    assert r.exists(redis_key(key)) == 0
    assert any(rec.name == SECURITY_LOGGER for rec in caplog.records)


async def test_garbage_record_aloads_as_empty_session(r, caplog):
    key = (await asaved_session(a=1)).session_key
    r.set(redis_key(key), b"garbage", ex=60)
    session = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert await session.aget("a") is None
    assert session.session_key is None
    assert r.exists(redis_key(key)) == 0
    assert any(rec.name == SECURITY_LOGGER for rec in caplog.records)


# -- test cookie, is_empty, aclear_expired -------------------------------------------


async def test_atest_cookie_helpers(r):
    session = SessionStore()
    assert await session.ahas_key(session.TEST_COOKIE_NAME) is False
    await session.aset_test_cookie()
    assert await session.atest_cookie_worked() is True
    await session.asave()
    assert await SessionStore(session.session_key).atest_cookie_worked() is True
    await session.adelete_test_cookie()
    assert await session.ahas_key(session.TEST_COOKIE_NAME) is False
    await session.asave()
    assert await SessionStore(session.session_key).atest_cookie_worked() is False


async def test_is_empty_after_async_use(r):
    session = SessionStore()
    assert session.is_empty() is True
    await session.aset("a", 1)
    await session.asave()
    assert session.is_empty() is False
    await session.aflush()
    assert session.is_empty() is True


async def test_aclear_expired_is_a_callable_classmethod(r):
    key = (await asaved_session(_auth_user_id="43")).session_key
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, "43")
    assert r.zcard(index) == 1
    r.delete(redis_key(key))
    await SessionStore.aclear_expired()
    assert r.exists(index) == 0


async def test_aclear_expired_leaves_live_sessions(r):
    session = await asaved_session(_auth_user_id="44", a=1)
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, "44")
    await session.aclear_expired()  # callable on an instance too, as in Django's test
    assert r.zcard(index) == 1
    assert await SessionStore(session.session_key).aget("a") == 1

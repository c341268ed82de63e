"""Django's session-backend contract, checked on our engine (sync API).

These mirror the behaviours that Django's ``SessionTestsMixin`` checks for its
own db/cache/file backends (``tests/sessions_tests/tests.py``), written afresh
for ``django_redis_sessions.backend.SessionStore`` against the real Redis. Where
the engine deliberately differs from a Django default, the test asserts the
engine's documented behaviour and says why in a comment.
"""

from __future__ import annotations

import logging
import string
import time
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core import management, signing
from django.test import override_settings
from django.utils import timezone

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys, record

from .helpers import redis_key, saved_session, undecodable_record

pytestmark = pytest.mark.real_redis

SECURITY_LOGGER = "django.security.SuspiciousSession"


def backdate_created(r, session_key: str, seconds: int) -> None:
    """Pretend the stored session was created ``seconds`` ago (header ``created``)."""
    raw = r.get(redis_key(session_key))
    created = record.read_field(raw, record.CREATED_OFFSET) - seconds
    r.setrange(redis_key(session_key), record.CREATED_OFFSET, record.field(created))


# -- a fresh session and the dict-like API -----------------------------------------


def test_new_session_is_untouched_and_empty(r):
    session = SessionStore()
    assert session.modified is False
    assert session.accessed is False
    assert session.session_key is None
    assert session.is_empty() is True


def test_get_on_empty_session_returns_none():
    assert SessionStore().get("cat") is None


def test_store_marks_modified_and_pop_returns_value():
    session = SessionStore()
    session["cat"] = "dog"
    assert session.modified is True
    assert session.pop("cat") == "dog"
    assert "cat" not in session


def test_pop_marks_accessed_and_modified():
    session = SessionStore()
    session["some key"] = "exists"
    session.accessed = session.modified = False
    assert session.pop("some key") == "exists"
    assert session.accessed is True
    assert session.modified is True
    assert session.get("some key") is None


def test_pop_default_does_not_mark_modified():
    session = SessionStore()
    assert session.pop("some key", "does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


def test_pop_default_named_argument():
    session = SessionStore()
    assert session.pop("some key", default="does not exist") == "does not exist"
    assert session.accessed is True
    assert session.modified is False


def test_pop_missing_key_without_default_raises_keyerror():
    with pytest.raises(KeyError):
        SessionStore().pop("some key")


def test_setdefault_keeps_first_value():
    session = SessionStore()
    assert session.setdefault("foo", "bar") == "bar"
    assert session.setdefault("foo", "baz") == "bar"
    assert session.accessed is True
    assert session.modified is True


def test_update_marks_accessed_and_modified():
    session = SessionStore()
    session.update({"update key": 1})
    assert session.accessed is True
    assert session.modified is True
    assert session.get("update key", None) == 1


def test_has_key_reads_without_modifying():
    session = SessionStore()
    session["some key"] = 1
    session.accessed = session.modified = False
    assert "some key" in session
    assert session.has_key("some key") is True
    assert session.accessed is True
    assert session.modified is False


def test_values_reads_without_modifying():
    session = SessionStore()
    assert list(session.values()) == []
    assert session.accessed is True
    session["some key"] = 1
    session.accessed = session.modified = False
    assert list(session.values()) == [1]
    assert session.accessed is True
    assert session.modified is False


def test_keys_reads_without_modifying():
    session = SessionStore()
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.keys()) == ["x"]
    assert session.accessed is True
    assert session.modified is False


def test_items_reads_without_modifying():
    session = SessionStore()
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.items()) == [("x", 1)]
    assert session.accessed is True
    assert session.modified is False


def test_clear_empties_and_marks_modified():
    session = SessionStore()
    session["x"] = 1
    session.accessed = session.modified = False
    assert list(session.items()) == [("x", 1)]
    session.clear()
    assert list(session.items()) == []
    assert session.accessed is True
    assert session.modified is True


def test_clear_of_loaded_session_is_persisted(r):
    key = saved_session(a=1, b=2).session_key
    session = SessionStore(key)
    assert session["a"] == 1  # loaded
    session.clear()
    session.save()
    assert session.session_key == key
    assert SessionStore(key).load() == {}


def test_clear_without_prior_load_is_persisted(r):
    # SessionBase.clear() deliberately skips the load; the next save must still
    # replace the stored data, as every Django backend does.
    key = saved_session(a=1, b=2).session_key
    session = SessionStore(key)
    session.clear()
    session["c"] = 3
    session.save()
    assert SessionStore(key).load() == {"c": 3}


# -- save, load, exists, delete --------------------------------------------------


def test_save_creates_a_record_that_exists(r):
    session = SessionStore()
    session.save()
    assert session.session_key is not None
    assert session.exists(session.session_key) is True
    assert r.exists(redis_key(session.session_key)) == 1


def test_save_load_round_trip(r):
    data = {"str": "value", "int": 7, "list": [1, "two"], "nested": {"a": None, "b": True}}
    session = saved_session(**data)
    assert SessionStore(session.session_key).load() == data
    again = SessionStore(session.session_key)
    assert again["nested"] == {"a": None, "b": True}
    assert again.session_key == session.session_key


def test_save_does_not_clear_data(r):
    session = SessionStore()
    session["a"] = "b"
    session.save()
    assert session["a"] == "b"


def test_save_of_existing_session_keeps_key_and_updates_data(r):
    session = saved_session(a=1)
    key = session.session_key
    session["a"] = 2
    del session["a"]
    session["b"] = 3
    session.save()
    assert session.session_key == key
    assert SessionStore(key).load() == {"b": 3}


def test_create_then_save(r):
    session = SessionStore()
    session.create()
    assert session.session_key is not None
    assert session.modified is True  # create() asks the middleware to send the cookie
    session.save()
    assert session.exists(session.session_key) is True
    assert SessionStore(session.session_key).load() == {}


def test_exists(r):
    session = saved_session(a=1)
    assert session.exists(session.session_key) is True
    assert session.exists("0" * 32) is False
    assert session.exists(None) is False
    assert session.exists("") is False


def test_delete_by_key(r):
    session = SessionStore()
    session.save()
    key = session.session_key
    session.delete(key)
    assert session.exists(key) is False
    assert r.exists(redis_key(key)) == 0


def test_delete_without_key_deletes_own_session(r):
    session = saved_session(a=1)
    key = session.session_key
    session.delete()
    assert session.exists(key) is False


def test_delete_of_other_key_leaves_own_session(r):
    mine = saved_session(mine=1)
    other = saved_session(other=1)
    mine.delete(other.session_key)
    assert mine.exists(other.session_key) is False
    assert mine.exists(mine.session_key) is True
    mine["more"] = 2
    mine.save()  # own state untouched: no UpdateError
    assert SessionStore(mine.session_key).load() == {"mine": 1, "more": 2}


def test_delete_of_unsaved_session_is_a_noop():
    session = SessionStore()
    session.delete()
    assert session.session_key is None


def test_flush_deletes_record_and_forgets_key(r):
    session = SessionStore()
    session["foo"] = "bar"
    session.save()
    prev_key = session.session_key
    session.flush()
    assert session.exists(prev_key) is False
    assert session.session_key != prev_key
    assert session.session_key is None
    assert session.modified is True
    assert session.accessed is True
    assert dict(session.items()) == {}


def test_save_after_flush_creates_a_new_session(r):
    session = saved_session(foo="bar")
    prev_key = session.session_key
    session.flush()
    session["x"] = 1
    session.save()
    assert session.session_key not in (None, prev_key)
    assert SessionStore(session.session_key).load() == {"x": 1}
    assert session.exists(prev_key) is False


# -- cycle_key -----------------------------------------------------------------


def test_cycle_key_keeps_data_and_retires_old_key(r):
    session = SessionStore()
    session["a"], session["b"] = "c", "d"
    session.save()
    prev_key = session.session_key
    prev_data = list(session.items())
    session.cycle_key()
    assert session.exists(prev_key) is False
    assert session.session_key != prev_key
    assert list(session.items()) == prev_data
    assert SessionStore(session.session_key).load() == dict(prev_data)


def test_cycle_key_with_no_session_cache(r):
    key = saved_session(a="c", b="d").session_key
    session = SessionStore(key)
    assert hasattr(session, "_session_cache") is False
    session.cycle_key()
    assert sorted(session.items()) == [("a", "c"), ("b", "d")]
    assert session.session_key != key
    assert session.exists(key) is False


def test_cycle_key_of_unsaved_session_keeps_data(r):
    session = SessionStore()
    session["a"] = 1
    session.cycle_key()
    assert session.session_key is not None
    assert session["a"] == 1
    assert SessionStore(session.session_key).load() == {"a": 1}


def test_cycle_key_then_save_keeps_new_key(r):
    session = saved_session(a=1)
    session.cycle_key()
    new_key = session.session_key
    session["b"] = 2
    session.save()
    assert session.session_key == new_key
    assert SessionStore(new_key).load() == {"a": 1, "b": 2}


@override_settings(SESSIONS_ABSOLUTE_AGE=100, SESSION_COOKIE_AGE=1000)
def test_cycle_key_starts_a_new_absolute_lifetime(r):
    # Engine choice (3): the new key's absolute lifetime counts from the cycle.
    key = saved_session(a=1).session_key
    backdate_created(r, key, 90)
    session = SessionStore(key)
    assert session["a"] == 1
    assert session.get_expiry_age() <= 10
    session.cycle_key()
    assert session.get_expiry_age() >= 98
    ttl = r.ttl(redis_key(session.session_key))
    assert 98 <= ttl <= 100


# -- session keys --------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_key",
    [
        "1",
        "a",
        "",
        "1234567",  # shorter than 8
        "ABCDEFGHIJ",  # upper case: engine choice (1), keys are [a-z0-9]{8,64}
        "abcd-efgh",
        "abcd efgh",
        "abcdefgh\n",
        "../../etc/passwd",
        "abcdefgh*",
        "ab\u00e9cdefgh",
        "a" * 65,  # longer than 64: engine choice (1)
    ],
)
def test_invalid_keys_are_never_adopted(r, bad_key, count_round_trips):
    session = SessionStore(bad_key)
    assert session.session_key is None
    assert session.load() == {}
    assert session.exists(bad_key) is False
    session.delete(bad_key)  # a no-op, and no error
    # Refused before any Redis command is built from it.
    assert count_round_trips.round_trips == 0
    session.save()
    assert session.session_key not in (None, bad_key)
    assert session.get("cat") is None


def test_invalid_key_gives_a_new_key_on_save(r):
    session = SessionStore("1")
    session.save()
    assert session.session_key != "1"
    assert session.session_key is not None
    assert session.get("cat") is None
    assert session.exists(session.session_key) is True


def test_upper_case_twin_of_a_real_key_is_not_adopted(r):
    # Engine choice (1): Django would look "ABC..." up; we refuse its shape.
    key = saved_session(a=1).session_key
    session = SessionStore(key.upper())
    assert session.session_key is None
    assert session.get("a") is None


def test_empty_string_session_key_is_rejected():
    session = SessionStore()
    session._session_key = ""
    assert session.session_key is None


def test_too_short_session_key_is_rejected():
    session = SessionStore()
    session._session_key = "1234567"
    assert session.session_key is None


@pytest.mark.parametrize("good_key", ["12345678", "abcdefgh", "a1" * 32])
def test_well_formed_session_key_is_kept(good_key):
    session = SessionStore()
    session._session_key = good_key
    assert session.session_key == good_key


def test_load_of_overlong_key_is_empty(count_round_trips):
    session = SessionStore()
    session._session_key = (string.ascii_letters + string.digits) * 20
    assert session.session_key is None
    assert session.load() == {}
    assert count_round_trips.round_trips == 0


def test_none_session_key():
    session = SessionStore(None)
    assert session.session_key is None
    assert session.load() == {}


def test_session_key_is_read_only():
    session = SessionStore()
    with pytest.raises(AttributeError):
        session.session_key = session._get_new_session_key()  # type: ignore[misc]


def test_new_keys_match_the_engine_key_format(r):
    session = saved_session(a=1)
    assert keys.is_valid_session_key(session.session_key)
    assert len(session.session_key) == 32


def test_load_of_unknown_key_does_not_create_a_record(r):
    session = SessionStore("someunknownkey")
    assert session.load() == {}
    assert session.session_key is None
    assert session.exists(session.session_key) is False
    assert session.session_key != "someunknownkey"
    assert r.exists(redis_key("someunknownkey")) == 0


def test_unknown_key_is_replaced_on_save(r):
    session = SessionStore("someunknownkey")
    session["a"] = 1
    session.save()
    assert session.session_key not in (None, "someunknownkey")
    assert r.exists(redis_key("someunknownkey")) == 0
    assert SessionStore(session.session_key).load() == {"a": 1}


# -- create() and key collisions ---------------------------------------------------


def test_save_must_create_on_existing_key_raises_create_error(r):
    existing = saved_session(owner="first")
    intruder = SessionStore()
    intruder._session_key = existing.session_key
    intruder["owner"] = "second"
    with pytest.raises(CreateError):
        intruder.save(must_create=True)
    assert SessionStore(existing.session_key).load() == {"owner": "first"}


def test_create_retries_after_a_key_collision(r):
    existing = saved_session(owner="first")
    fresh = "f" * 32
    session = SessionStore()
    session["owner"] = "second"
    with mock.patch.object(
        SessionStore, "_get_new_session_key", side_effect=[existing.session_key, fresh]
    ):
        session.save()
    assert session.session_key == fresh
    assert SessionStore(existing.session_key).load() == {"owner": "first"}
    assert SessionStore(fresh).load() == {"owner": "second"}


def test_create_gives_up_when_every_key_collides(r):
    existing = saved_session(owner="first")
    session = SessionStore()
    with (
        mock.patch.object(SessionStore, "_get_new_session_key", return_value=existing.session_key),
        pytest.raises(RuntimeError),
    ):
        session.create()
    assert SessionStore(existing.session_key).load() == {"owner": "first"}


def test_cycle_key_retries_after_a_key_collision(r):
    existing = saved_session(owner="first")
    session = saved_session(owner="second")
    old_key = session.session_key
    fresh = "e" * 32
    with mock.patch.object(
        SessionStore, "_get_new_session_key", side_effect=[existing.session_key, fresh]
    ):
        session.cycle_key()
    assert session.session_key == fresh
    assert session.exists(old_key) is False
    assert SessionStore(existing.session_key).load() == {"owner": "first"}
    assert SessionStore(fresh).load() == {"owner": "second"}


# -- no resurrection ---------------------------------------------------------------


def test_save_does_not_resurrect_a_session_deleted_elsewhere(r):
    s1 = SessionStore()
    s1["test_data"] = "value1"
    s1.save(must_create=True)
    key = s1.session_key

    SessionStore(key).delete()  # logout in another context

    s1["test_data"] = "value2"
    with pytest.raises(UpdateError):
        s1.save()
    assert r.exists(redis_key(key)) == 0
    assert s1.load() == {}


def test_save_of_unknown_key_never_loaded_raises_update_error(r):
    # Django's db, file and cache backends all raise UpdateError here (a save
    # only updates); the unknown key must not be created either.
    stale = "1" * 32
    session = SessionStore(stale)
    with pytest.raises(UpdateError):
        session.save()
    assert r.exists(redis_key(stale)) == 0


def test_save_of_loaded_session_deleted_elsewhere_raises(r):
    key = saved_session(a=1).session_key
    s1 = SessionStore(key)
    assert s1["a"] == 1
    other = SessionStore(key)
    other.flush()
    s1["a"] = 2
    with pytest.raises(UpdateError):
        s1.save()
    assert r.exists(redis_key(key)) == 0


# -- expiry ------------------------------------------------------------------------


def test_default_expiry():
    session = SessionStore()
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    session.set_expiry(0)  # browser close: the age stays the default
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE


def test_get_session_cookie_age():
    assert SessionStore().get_session_cookie_age() == settings.SESSION_COOKIE_AGE
    with override_settings(SESSION_COOKIE_AGE=1234):
        assert SessionStore().get_session_cookie_age() == 1234
        assert SessionStore().get_expiry_age() == 1234


def test_custom_expiry_seconds():
    session = SessionStore()
    modification = timezone.now()
    session.set_expiry(10)
    assert session.get_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert session.get_expiry_age(modification=modification) == 10


def test_custom_expiry_timedelta():
    session = SessionStore()
    modification = timezone.now()
    # set_expiry(timedelta) reads timezone.now(): pin it to ``modification``.
    with mock.patch("django.utils.timezone.now", return_value=modification):
        session.set_expiry(timedelta(seconds=10))
    assert session.get_expiry_date(modification=modification) == modification + timedelta(
        seconds=10
    )
    assert session.get_expiry_age(modification=modification) == 10


@pytest.mark.parametrize("use_tz", [True, False])
def test_custom_expiry_datetime(use_tz):
    with override_settings(USE_TZ=use_tz):
        session = SessionStore()
        modification = timezone.now()
        session.set_expiry(modification + timedelta(seconds=10))
        assert session.get_expiry_date(modification=modification) == modification + timedelta(
            seconds=10
        )
        assert session.get_expiry_age(modification=modification) == 10


def test_custom_expiry_reset():
    session = SessionStore()
    session.set_expiry(None)
    session.set_expiry(10)
    session.set_expiry(None)
    assert session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert "_session_expiry" not in session


def test_get_expire_at_browser_close():
    session = SessionStore()
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=False):
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(0)
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is False
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        session.set_expiry(10)
        assert session.get_expire_at_browser_close() is False
        session.set_expiry(0)
        assert session.get_expire_at_browser_close() is True
        session.set_expiry(None)
        assert session.get_expire_at_browser_close() is True


def test_expiry_kwargs_override_stored_expiry_without_loading(r):
    key = saved_session(_session_expiry=600).session_key
    session = SessionStore(key)
    modification = timezone.now()
    when = modification + timedelta(seconds=45)
    assert session.get_expiry_age(modification=modification, expiry=30) == 30
    assert session.get_expiry_age(modification=modification, expiry=when) == 45
    assert session.get_expiry_age(modification=modification, expiry=when.isoformat()) == 45
    assert session.get_expiry_age(expiry=None) == settings.SESSION_COOKIE_AGE
    assert session.get_expiry_age(expiry=0) == settings.SESSION_COOKIE_AGE
    assert session.get_expiry_date(modification=modification, expiry=30) == (
        modification + timedelta(seconds=30)
    )
    assert session.get_expiry_date(modification=modification, expiry=when) == when
    assert session.get_expiry_date(modification=modification, expiry=None) == (
        modification + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    )
    # An explicit ``expiry`` must not cost a load.
    assert session.accessed is False
    assert hasattr(session, "_session_cache") is False
    # Without it, the stored expiry is read.
    assert session.get_expiry_age(modification=modification) == 600


def test_long_custom_expiry_is_capped_by_absolute_age():
    # Engine choice (2): SESSIONS_ABSOLUTE_AGE (30 days) caps the age.
    session = SessionStore()
    session.set_expiry(60 * 86400)
    assert 30 * 86400 - 2 <= session.get_expiry_age() <= 30 * 86400
    modification = timezone.now()
    session.set_expiry(modification + timedelta(days=60))
    date = session.get_expiry_date(modification=modification)
    assert modification + timedelta(days=30) - timedelta(seconds=2) <= date
    assert date <= modification + timedelta(days=30, seconds=1)


@override_settings(SESSIONS_ABSOLUTE_AGE=None)
def test_long_custom_expiry_without_absolute_age(r):
    session = SessionStore()
    modification = timezone.now()
    session.set_expiry(60 * 86400)
    assert session.get_expiry_age(modification=modification) == 60 * 86400
    assert session.get_expiry_date(modification=modification) == modification + timedelta(days=60)
    session.save()
    assert 60 * 86400 - 2 <= r.ttl(redis_key(session.session_key)) <= 60 * 86400


@override_settings(SESSIONS_ABSOLUTE_AGE=90 * 86400)
def test_long_custom_expiry_within_larger_absolute_age(r):
    session = SessionStore()
    modification = timezone.now()
    session.set_expiry(modification + timedelta(days=60))
    assert session.get_expiry_age(modification=modification) == 60 * 86400
    session.save()
    assert 60 * 86400 - 2 <= r.ttl(redis_key(session.session_key)) <= 60 * 86400


def test_seconds_expiry_is_applied_in_redis(r):
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(10)
    session.save()
    assert 0 < r.pttl(redis_key(session.session_key)) <= 10_000
    assert SessionStore(session.session_key).get_expiry_age() == 10


def test_browser_close_session_lives_for_the_cookie_age_in_redis(r):
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(0)
    session.save()
    ttl = r.ttl(redis_key(session.session_key))
    assert settings.SESSION_COOKIE_AGE - 2 <= ttl <= settings.SESSION_COOKIE_AGE
    assert SessionStore(session.session_key).get_expire_at_browser_close() is True


def test_datetime_expiry_is_applied_in_redis(r):
    session = SessionStore()
    session.set_expiry(timezone.now() + timedelta(seconds=30))
    session.save()
    assert 0 < r.ttl(redis_key(session.session_key)) <= 30


def test_actual_expiry(r):
    # Regression for Django ticket #19200: an expiry in the past ends the session.
    session = SessionStore()
    session["foo"] = "bar"
    session.set_expiry(-timedelta(seconds=10))
    session.save()
    old_key = session.session_key
    new_session = SessionStore(old_key)
    assert "foo" not in new_session
    assert new_session.session_key is None
    assert r.exists(redis_key(old_key)) == 0


def test_actual_expiry_of_an_existing_session(r):
    session = saved_session(foo="bar")
    key = session.session_key
    session.set_expiry(-10)
    session.save()
    assert r.exists(redis_key(key)) == 0
    assert "foo" not in SessionStore(key)


def test_expired_session_is_gone_for_a_new_reader(r):
    session = SessionStore()
    session["foo"] = "bar"
    # Stored with one-second resolution: a whole second 1 to 2 s ahead, so the
    # first read below cannot race the deadline on a busy machine.
    deadline = int(time.time()) + 2
    session.set_expiry(datetime.fromtimestamp(deadline, tz=UTC))
    session.save()
    key = session.session_key
    assert SessionStore(key).get("foo") == "bar"
    time.sleep(deadline - time.time() + 0.2)
    reader = SessionStore(key)
    assert reader.get("foo") is None
    assert reader.session_key is None


# -- encode/decode and corrupt records --------------------------------------------


def test_decode_round_trip():
    session = SessionStore()
    data = {"a test key": "a test value"}
    assert session.decode(session.encode(data)) == data


@pytest.mark.parametrize("encoded", ["Zmxhc2tkajphbGtkamY=", "bad:encoded:value"])
def test_decode_failure_is_logged_to_security(caplog, encoded):
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert SessionStore().decode(encoded) == {}
    assert any(
        rec.name == SECURITY_LOGGER and "Session data corrupted" in rec.getMessage()
        for rec in caplog.records
    )


def test_decode_serializer_exception_gives_empty_session():
    session = SessionStore()
    encoded = signing.TimestampSigner(salt=session.key_salt).sign(b"invalid data")
    assert session.decode(encoded) == {}


@pytest.mark.parametrize(
    "raw",
    [
        b"garbage",
        b"1" + b"9" * 40,  # a header, then no metadata
        # A live header (created at import time), then a truncated metadata netstring.
        record.encode(
            record.Record(
                created=int(time.time()),
                seen=int(time.time()) - 50,
                deadline=0,
                idle=600,
                user_id="",
                data={},
            )
        )[:-2]
        + b"9:",
    ],
)
def test_corrupt_record_loads_as_empty_session_and_is_removed(r, caplog, raw):
    key = saved_session(a=1).session_key
    r.set(redis_key(key), raw, ex=60)
    session = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert session.load() == {}
    assert session.session_key is None  # never adopted
    assert r.exists(redis_key(key)) == 0
    assert any(rec.name == SECURITY_LOGGER for rec in caplog.records)
    # No raw key or digest in the log line, only the short fingerprint.
    assert key not in caplog.text


def test_undecodable_value_loads_as_empty_session(r, caplog):
    key = saved_session(a=1).session_key
    r.set(redis_key(key), undecodable_record(), ex=60)
    session = SessionStore(key)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert session.get("a") is None
    assert session.session_key is None
    assert r.exists(redis_key(key)) == 0
    assert any(rec.name == SECURITY_LOGGER for rec in caplog.records)


def test_save_over_a_record_corrupted_meanwhile_raises_update_error(r):
    session = saved_session(a=1)
    key = session.session_key
    r.set(redis_key(key), b"garbage", ex=60)
    session["a"] = 2
    with pytest.raises(UpdateError):
        session.save()
    assert r.get(redis_key(key)) == b"garbage"  # not overwritten


# -- is_empty, test cookie, clear_expired --------------------------------------------


def test_is_empty(r):
    session = SessionStore()
    assert session.is_empty() is True
    session["a"] = 1
    assert session.is_empty() is False
    session.save()
    assert session.is_empty() is False
    session.flush()
    assert session.is_empty() is True
    assert SessionStore("not a key").is_empty() is True


def test_is_empty_after_loading_unknown_key(r):
    session = SessionStore("0" * 32)
    assert session.is_empty() is False  # not loaded yet: the key may exist
    session.load()
    assert session.get("a") is None
    assert session.is_empty() is True


def test_test_cookie_helpers(r):
    session = SessionStore()
    assert session.has_key(session.TEST_COOKIE_NAME) is False
    session.set_test_cookie()
    assert session.test_cookie_worked() is True
    session.save()
    assert SessionStore(session.session_key).test_cookie_worked() is True
    session.delete_test_cookie()
    assert session.has_key(session.TEST_COOKIE_NAME) is False
    assert session.test_cookie_worked() is False
    session.save()
    assert SessionStore(session.session_key).test_cookie_worked() is False


def test_clear_expired_is_a_callable_classmethod(r):
    key = saved_session(_auth_user_id="42").session_key
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, "42")
    assert r.zcard(index) == 1
    r.delete(redis_key(key))  # the session ends without the engine noticing
    assert SessionStore.clear_expired() is None
    assert r.exists(index) == 0


def test_clearsessions_command_uses_the_engine(r):
    live = saved_session(_auth_user_id="7").session_key
    dead = saved_session(_auth_user_id="7").session_key
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, "7")
    assert r.zcard(index) == 2
    r.delete(redis_key(dead))
    management.call_command("clearsessions")
    assert r.zrange(index, 0, -1) == [keys.digest(live).encode()]
    assert SessionStore(live).get("_auth_user_id") == "7"


def test_clear_expired_leaves_live_sessions(r):
    session = saved_session(a=1)
    SessionStore.clear_expired()
    assert SessionStore(session.session_key).load() == {"a": 1}


def test_get_expiry_date_is_aware_under_use_tz():
    date = SessionStore().get_expiry_date()
    assert date.tzinfo is not None
    expected = datetime.now(UTC) + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    assert abs((date - expected).total_seconds()) < 5

"""Fast unit layer: the engine's scripts on fakeredis (with Lua), no server needed.

These run everywhere (no ``real_redis`` mark) and keep the scripts honest on the
in-process Redis that the example project and users' own unit tests may use. The
real server remains the proof: every behaviour here is also tested against it.
"""

from __future__ import annotations

import fakeredis
import pytest
from django.contrib.sessions.backends.base import UpdateError

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys, runner


@pytest.fixture
def fake(monkeypatch):
    server = fakeredis.FakeServer()
    client = fakeredis.FakeRedis(server=server)
    monkeypatch.setattr(runner, "get_client", lambda: client)
    monkeypatch.setattr(runner, "get_async_client", lambda: fakeredis.FakeAsyncRedis(server=server))
    return client


def index(fake, user_id: str) -> set[bytes]:
    return set(fake.zrange(keys.user_index_key(conf.SESSION_REDIS_PREFIX, user_id), 0, -1))


def test_create_load_merge_delete(fake):
    s = SessionStore()
    s.update({"a": 1, "b": [1, 2], "_auth_user_id": "7"})
    s.save()
    assert index(fake, "7") == {keys.digest(s.session_key).encode()}

    first, second = SessionStore(s.session_key), SessionStore(s.session_key)
    first["a"], second["b"] = 2, [3]
    first.save()
    second.save()
    assert dict(SessionStore(s.session_key).items()) == {"a": 2, "b": [3], "_auth_user_id": "7"}

    s.delete()
    assert index(fake, "7") == set()
    stale = SessionStore(s.session_key)
    stale._session_cache = {"a": 1}
    with pytest.raises(UpdateError):
        stale.save()


def test_cycle_moves_data_and_index(fake):
    s = SessionStore()
    s.update({"_auth_user_id": "9", "cart": ["x"]})
    s.save()
    old = s.session_key
    s.cycle_key()
    assert SessionStore(s.session_key)["cart"] == ["x"]
    assert not SessionStore().exists(old)
    assert index(fake, "9") == {keys.digest(s.session_key).encode()}


def test_ttl_is_min_of_idle_and_absolute(fake, settings):
    settings.SESSION_COOKIE_AGE = 600
    settings.SESSIONS_ABSOLUTE_AGE = 60
    s = SessionStore()
    s["a"] = 1
    s.save()
    assert (
        0
        < fake.ttl(keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(s.session_key)))
        <= 60
    )


async def test_async_round_trip(fake):
    s = SessionStore()
    await s.aset("_auth_user_id", "3")
    await s.asave()
    assert await SessionStore(s.session_key).aget("_auth_user_id") == "3"
    assert index(fake, "3") == {keys.digest(s.session_key).encode()}
    await s.aflush()
    assert index(fake, "3") == set()


def test_a_key_of_another_type_is_replaced_by_a_fresh_session(fake):
    s = SessionStore()
    s["a"] = 1
    s.save()
    name = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(s.session_key))
    fake.delete(name)
    fake.rpush(name, "x")
    fresh = SessionStore(s.session_key)
    assert fresh.load() == {}
    assert fresh.session_key is None
    assert not fake.exists(name)


def test_a_lost_reply_is_not_applied_twice_on_fakeredis_too(fake):
    """The receipt protocol runs on fakeredis's Lua as on Redis: a resent call with
    the same receipt returns the first reply."""
    from django_redis_sessions.storage.scripts import SINGLE, AuditArgs
    from django_redis_sessions.storage.steps import Script

    driver = runner.sync_driver()
    keys_, args = driver.script_args(Script(SINGLE.audit, ["k"], AuditArgs(10, 60, (b"e1",))))
    first = fake.eval(SINGLE.audit.text, len(keys_), *keys_, *args)
    again = fake.eval(SINGLE.audit.text, len(keys_), *keys_, *args)
    assert first == again == 1
    assert fake.lrange("k", 0, -1) == [b"e1"]

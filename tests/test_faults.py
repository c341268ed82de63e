"""Faults between the engine and Redis: lost replies, stalls, a full Redis, a foreign key.

A fault-injection proxy (``tests/faultproxy.py``) sits between redis-py and a real
``redis-server``. It lets Redis run a write script and then drops the reply (the
connection is cut, redis-py reconnects and resends the same call), or holds the
reply past ``SESSION_REDIS_SOCKET_TIMEOUT`` (redis-py times out and resends). Every
write operation, sync and async, runs under those faults, and each test checks the
promises on the server itself: the operation took effect exactly once, the caller
read the same outcome as without the fault, no session was lost, orphaned or
resurrected, and every index is exact.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.test import Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionStoreFull, SessionTooLarge
from django_redis_sessions.policies import audit
from django_redis_sessions.storage import keys, record
from django_redis_sessions.storage import ops as store
from django_redis_sessions.storage.scripts import SINGLE, LuaScript

from .faultproxy import FaultProxy, Matcher
from .servers import full_redis_server

AUDIT, CYCLE, DELETE, REVOKE = SINGLE.audit, SINGLE.cycle, SINGLE.delete, SINGLE.revoke
REVOKE_USER, ROTATE, SAVE = SINGLE.revoke_user, SINGLE.rotate, SINGLE.save

pytestmark = [pytest.mark.real_redis, pytest.mark.single_server]

HOST = "127.0.0.1"


def calls(script: LuaScript) -> Matcher:
    """Matches a call of ``script``, by EVALSHA or (first use on a server) EVAL."""
    sha, text = script.sha.encode(), script.text.encode()

    def match(command: list[bytes]) -> bool:
        name = command[0].upper()
        return (name == b"EVALSHA" and command[1] == sha) or (
            name == b"EVAL" and command[1] == text
        )

    return match


@pytest.fixture
def proxy(upstream_port: int, direct: redis.Redis, settings: Any) -> Iterator[FaultProxy]:
    """The engine talks to Redis through the proxy, with retries on."""
    with FaultProxy(upstream_port) as fault_proxy:
        settings.SESSION_REDIS_URL = f"redis://{HOST}:{fault_proxy.port}/0"
        settings.SESSION_REDIS_SOCKET_TIMEOUT = 0.5
        settings.SESSION_REDIS_CONNECT_TIMEOUT = 0.5
        settings.SESSION_REDIS_RETRIES = 2
        # Every script cached, so each call is one EVALSHA the proxy can match.
        for script in (SAVE, DELETE, CYCLE, REVOKE, REVOKE_USER, ROTATE, AUDIT):
            direct.script_load(script.text)
        yield fault_proxy
        assert fault_proxy.errors == []


def session_keys(direct: redis.Redis) -> set[bytes]:
    return set(direct.scan_iter(match=f"{conf.SESSION_REDIS_PREFIX}:s:*"))


def index_of(direct: redis.Redis, user_id: str) -> set[str]:
    return {
        m.decode()
        for m in direct.zrange(keys.user_index_key(conf.SESSION_REDIS_PREFIX, user_id), 0, -1)
    }


def run(sync: bool, session: SessionStore, method: str, *args: Any) -> Any:
    """``session.<method>(*args)``, or its native async twin ``a<method>``."""
    if sync:
        return getattr(session, method)(*args)
    return async_to_sync(getattr(session, f"a{method}"))(*args)


def new_session(data: dict[str, Any]) -> str:
    session = SessionStore()
    session.update(data)
    session.save()
    assert session.session_key is not None
    return session.session_key


# -- a lost reply, every write operation ------------------------------------------------

both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
#: drop: Redis runs the call, its reply is lost with the connection. stall: the
#: reply comes after the 0.5 s socket timeout (redis-py has resent by then). cut:
#: the connection dies before the call reaches Redis.
faults = pytest.mark.parametrize("fault", ["drop", "stall", "cut"])


def inject(proxy: FaultProxy, fault: str, script: LuaScript) -> None:
    if fault == "drop":
        proxy.drop_reply(calls(script))
    elif fault == "stall":
        proxy.stall(0.8, calls(script))
    else:
        proxy.cut(calls(script))


@both
@faults
def test_cycle_key_whose_reply_is_lost_keeps_the_session(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, fault: str
) -> None:
    """Case 1: a sign-in's cycle_key resent after its first run kept everything."""
    old_key = new_session({"cart": [1, 2]})
    session = SessionStore(old_key)
    session.load()
    session["_auth_user_id"] = "7"
    inject(proxy, fault, CYCLE)
    run(sync, session, "cycle_key")
    session.save()
    assert proxy.faults_fired == 1
    assert len([c for c in proxy.commands if calls(CYCLE)(c)]) == 2  # it was resent

    new_key = session.session_key
    assert new_key is not None
    assert new_key != old_key
    assert SessionStore(new_key).load() == {"cart": [1, 2], "_auth_user_id": "7"}
    assert SessionStore(old_key).load() == {}
    # One session, indexed once: no orphan from a second key.
    only = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(new_key)).encode()
    assert session_keys(direct) == {only}
    assert index_of(direct, "7") == {keys.digest(new_key)}


@both
@faults
def test_create_whose_reply_is_lost_makes_one_session(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, fault: str
) -> None:
    session = SessionStore()
    session["_auth_user_id"] = "8"
    session["a"] = 1
    inject(proxy, fault, SAVE)
    run(sync, session, "create")
    assert proxy.faults_fired == 1
    assert session.session_key is not None
    assert session_keys(direct) == {
        keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(session.session_key)).encode()
    }
    assert index_of(direct, "8") == {keys.digest(session.session_key)}
    assert SessionStore(session.session_key).load()["a"] == 1


@both
@faults
def test_sign_in_save_whose_reply_is_lost_is_saved_once(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, fault: str
) -> None:
    key = new_session({"a": 1})
    session = SessionStore(key)
    session.load()
    session["_auth_user_id"] = "9"
    session["b"] = 2
    inject(proxy, fault, SAVE)
    run(sync, session, "save")
    assert proxy.faults_fired == 1
    assert SessionStore(key).load() == {"a": 1, "b": 2, "_auth_user_id": "9"}
    assert index_of(direct, "9") == {keys.digest(key)}


@both
@faults
def test_delete_whose_reply_is_lost_reports_and_removes_once(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, fault: str
) -> None:
    key = new_session({"_auth_user_id": "10"})
    session = SessionStore(key)
    session.load()
    inject(proxy, fault, DELETE)
    run(sync, session, "delete")
    assert proxy.faults_fired == 1
    assert session_keys(direct) == set()
    assert index_of(direct, "10") == set()


@both
@faults
def test_rotation_whose_reply_is_lost_delivers_the_new_key(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, settings: Any, fault: str
) -> None:
    """Case 2: the resend of a rotation must report the rotation, not "key taken"."""
    key = new_session({"_auth_user_id": "11", "x": 1})
    settings.SESSIONS_ROTATE_AFTER = 60
    direct.setrange(  # created two minutes ago, so this load rotates
        keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key)),
        1,
        f"{int(time.time()) - 120:08x}",
    )
    session = SessionStore(key)
    inject(proxy, fault, ROTATE)
    data = run(sync, session, "load")
    assert proxy.faults_fired == 1
    assert data == {"_auth_user_id": "11", "x": 1}
    new_key = session.session_key
    assert new_key is not None
    assert new_key != key
    assert SessionStore(new_key).load()["x"] == 1
    assert index_of(direct, "11") == {keys.digest(new_key)}


@both
@faults
def test_revocation_whose_reply_is_lost_counts_what_it_ended(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, alice: Any, fault: str
) -> None:
    made = [new_session({"_auth_user_id": str(alice.pk)}) for _ in range(3)]
    inject(proxy, fault, REVOKE_USER)
    if sync:
        count = api.revoke_user_sessions(alice)
    else:
        count = async_to_sync(api.arevoke_user_sessions)(alice)
    assert proxy.faults_fired == 1
    assert count == 3
    assert session_keys(direct) == set()
    assert all(SessionStore(key).load() == {} for key in made)


@both
@faults
def test_audit_append_whose_reply_is_lost_logs_once(
    proxy: FaultProxy, direct: redis.Redis, sync: bool, settings: Any, fault: str
) -> None:
    settings.SESSIONS_AUDIT = True
    event = audit.make_event("revoked", fingerprint="0123456789ab", by="api")
    inject(proxy, fault, AUDIT)
    if sync:
        audit.record("12", [event])
    else:
        async_to_sync(audit.arecord)("12", [event])
    assert proxy.faults_fired == 1
    assert direct.llen(keys.audit_key(conf.SESSION_REDIS_PREFIX, "12")) == 1


# -- a full Redis (maxmemory, noeviction) -------------------------------------------------


@pytest.fixture
def full(tmp_path: Path, settings: Any) -> Iterator[redis.Redis]:
    """A Redis at its maxmemory; the engine's sessions were written before it filled."""
    with full_redis_server(tmp_path, maxmemory="4mb") as port:
        settings.SESSION_REDIS_URL = f"redis://{HOST}:{port}/0"
        client = redis.Redis(host=HOST, port=port)
        yield client
        client.close()


def fill(client: redis.Redis) -> None:
    """Write filler until Redis refuses a write."""
    chunk = b"x" * 64 * 1024
    for n in range(10_000):
        try:
            client.set(f"filler:{n}", chunk)
        except redis.exceptions.OutOfMemoryError:
            return
    raise AssertionError("Redis never filled up")


def test_a_full_redis_still_serves_reads_and_refuses_writes_cleanly(
    full: redis.Redis, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 4: reads answer 200 with the data; a write gets a clear error, loses nothing."""
    # No "full" warning logged by an earlier test within the interval.
    monkeypatch.setattr(store, "_last_full_warning", -float(store.FULL_WARNING_INTERVAL))
    client = Client(raise_request_exception=False)
    client.post("/write/", data=b'{"cart": [1, 2]}', content_type="application/json")
    key = client.cookies["sessionid"].value
    redis_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key))
    # Last-seen long ago, so each read has it to write (a read in the second
    # last-seen already says writes nothing, and so cannot see that Redis is full).
    full.setrange(redis_key, record.SEEN_OFFSET, record.field(int(time.time()) - 60))
    before = full.get(redis_key)
    fill(full)
    full.expire(redis_key, 5)  # the read must slide this back up

    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        for _ in range(3):
            response = client.get("/read/")
            assert response.status_code == 200
            assert response.json()["data"] == {"cart": [1, 2]}
    assert full.ttl(redis_key) > 60  # sliding still works when full
    full_warnings = [m for m in caplog.messages if "is full" in m]
    assert len(full_warnings) == 1  # one per interval, not one per read

    session = SessionStore(key)
    session["more"] = "x" * 1000
    with pytest.raises(SessionStoreFull, match="full"):
        session.save()
    response = client.post("/write/", data=b'{"more": 1}', content_type="application/json")
    assert response.status_code == 500
    stored = full.get(redis_key)
    assert stored is not None
    assert before is not None
    assert stored[33:] == before[33:]  # data and metadata as they were (the header slid)
    assert SessionStore(key).load() == {"cart": [1, 2]}


def test_a_full_redis_still_signs_out(full: redis.Redis) -> None:
    key = new_session({"_auth_user_id": "13"})
    fill(full)
    session = SessionStore(key)
    session.load()
    session.delete()
    assert SessionStore(key).load() == {}


# -- the size cap on what is stored --------------------------------------------------------


@both
def test_the_size_cap_holds_on_the_merged_result(sync: bool, settings: Any, r: redis.Redis) -> None:
    """Case 5: two requests each under the cap cannot add up past it."""
    settings.SESSION_REDIS_MAX_SIZE = 64 * 1024
    key = new_session({"small": 1})
    first, second = SessionStore(key), SessionStore(key)
    first.load()
    second.load()
    first["a"] = "x" * 40_000
    second["b"] = "y" * 40_000
    run(sync, first, "save")
    with pytest.raises(SessionTooLarge, match="SESSION_REDIS_MAX_SIZE"):
        run(sync, second, "save")
    stored = SessionStore(key).load()
    assert set(stored) == {"small", "a"}
    # The session stays usable: a small change still saves.
    third = SessionStore(key)
    third["c"] = 3
    third.save()
    assert SessionStore(key).load()["c"] == 3


# -- a key of another Redis type ------------------------------------------------------------


def test_a_key_of_another_type_is_removed_and_a_fresh_session_issued(
    r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Case 6: a list where a session lives answers like a corrupt record, not a 500."""
    key = new_session({"a": 1})
    redis_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key))
    r.delete(redis_key)
    r.rpush(redis_key, "not", "a", "session")
    client = Client()
    client.cookies["sessionid"] = key
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        response = client.get("/read/")
    assert response.status_code == 200
    assert response.json()["data"] == {}
    assert not r.exists(redis_key)
    assert any(keys.fingerprint(key) in m and "another type" in m for m in caplog.messages)
    assert all(key not in m for m in caplog.messages)


async def test_a_key_of_another_type_async(r: redis.Redis) -> None:
    key = new_session({"a": 1})
    redis_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key))
    r.delete(redis_key)
    r.hset(redis_key, "f", "v")
    session = SessionStore(key)
    assert await session.aload() == {}
    assert session.session_key is None
    assert not r.exists(redis_key)

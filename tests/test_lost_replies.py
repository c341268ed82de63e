"""A lost reply for every write operation, on one server and on a Redis Cluster.

``test_faults.py`` loses replies in a real TCP proxy, which sits in front of one
server. A Cluster's nodes announce their own addresses, so here the fault is made
inside redis-py's connection instead: the armed command is sent, Redis runs it,
its reply is read and thrown away, and the connection is closed as if the network
had failed. redis-py (and, on a Cluster, its cluster client, which also refreshes
the slot map) reconnects and resends. The suite runs these tests on both
topologies (``pytest --redis-cluster``).
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
import redis.asyncio.connection
import redis.connection
from asgiref.sync import async_to_sync

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.policies import audit
from django_redis_sessions.storage import Operations, keys, record, run, scripts

from .helpers import unlisted_users
from .test_rotation import age

pytestmark = pytest.mark.real_redis


class LostReplies:
    """Loses the reply of the next calls of the named scripts (``arm``)."""

    def __init__(self) -> None:
        self.shas: set[bytes] = set()
        self.times = 0
        self.fired = 0

    def arm(self, name: str, times: int = 1) -> None:
        every = [*scripts.SINGLE.all(), *scripts.CLUSTER.all()]
        self.shas = {s.sha.encode() for s in every if s.name == name}
        self.times = times

    def hit(self, sent: bytes) -> bool:
        if self.times and any(sha in sent for sha in self.shas):
            self.times -= 1
            self.fired += 1
            return True
        return False


def _packed(command: Any) -> bytes:
    if isinstance(command, bytes | bytearray | memoryview):
        return bytes(command)
    if isinstance(command, str):
        return command.encode()
    return b"".join(bytes(part) for part in command)


@pytest.fixture
def lost(monkeypatch: pytest.MonkeyPatch, settings: Any) -> LostReplies:
    settings.SESSION_REDIS_RETRIES = 2
    faults = LostReplies()
    sync_send = redis.connection.AbstractConnection.send_packed_command
    sync_read = redis.connection.AbstractConnection.read_response
    async_send = redis.asyncio.connection.AbstractConnection.send_packed_command
    async_read = redis.asyncio.connection.AbstractConnection.read_response

    def send(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        self._drs_lose = faults.hit(_packed(command))
        sync_send(self, command, *args, **kwargs)

    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        reply = sync_read(self, *args, **kwargs)
        if getattr(self, "_drs_lose", False):
            self._drs_lose = False
            self.disconnect()
            raise redis.ConnectionError("reply lost (injected by the test)")
        return reply

    async def asend(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        self._drs_lose = faults.hit(_packed(command))
        await async_send(self, command, *args, **kwargs)

    async def aread(self: Any, *args: Any, **kwargs: Any) -> Any:
        reply = await async_read(self, *args, **kwargs)
        if getattr(self, "_drs_lose", False):
            self._drs_lose = False
            await self.disconnect()
            raise redis.ConnectionError("reply lost (injected by the test)")
        return reply

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    monkeypatch.setattr(redis.connection.AbstractConnection, "read_response", read)
    monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "send_packed_command", asend)
    monkeypatch.setattr(redis.asyncio.connection.AbstractConnection, "read_response", aread)
    return faults


def call(sync: bool, target: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    if sync:
        return getattr(target, method)(*args, **kwargs)
    return async_to_sync(getattr(target, f"a{method}"))(*args, **kwargs)


def signed_in(user_id: str, **data: Any) -> str:
    session = SessionStore()
    session.update({"_auth_user_id": user_id, **data})
    session.save()
    assert session.session_key is not None
    return session.session_key


def live_digests(user_id: str) -> set[str]:
    """Digests of the user's sessions, by the listing (which prunes stale entries)."""
    return {digest for digest, _raw in run(Operations.user_records, user_id)}


both = pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])


@both
def test_create(lost: LostReplies, sync: bool, r: redis.Redis) -> None:
    session = SessionStore()
    session.update({"_auth_user_id": "21", "a": 1})
    lost.arm("save")
    call(sync, session, "create")
    assert lost.fired == 1
    assert session.session_key is not None
    assert live_digests("21") == {keys.digest(session.session_key)}
    assert r.zscore(keys.users_key(conf.SESSION_REDIS_PREFIX), "21") is not None


@both
def test_cycle_key(lost: LostReplies, sync: bool, r: redis.Redis) -> None:
    old_key = signed_in("", cart=[1])
    session = SessionStore(old_key)
    session.load()
    session["_auth_user_id"] = "22"
    # On one server cycle_key is one script; on a Cluster its first write is the
    # new record's save.
    lost.arm("save" if conf.SESSION_REDIS_CLUSTER else "cycle")
    call(sync, session, "cycle_key")
    assert lost.fired == 1
    assert session.session_key not in (None, old_key)
    assert SessionStore(session.session_key).load() == {"cart": [1], "_auth_user_id": "22"}
    assert SessionStore(old_key).load() == {}
    assert live_digests("22") == {keys.digest(session.session_key)}


@both
def test_merge_save(lost: LostReplies, sync: bool, r: redis.Redis) -> None:
    key = signed_in("23", a=1)
    session = SessionStore(key)
    session.load()
    session["b"] = 2
    lost.arm("save")
    call(sync, session, "save")
    assert lost.fired == 1
    assert SessionStore(key).load() == {"_auth_user_id": "23", "a": 1, "b": 2}


@both
def test_delete(lost: LostReplies, sync: bool, r: redis.Redis) -> None:
    key = signed_in("24")
    session = SessionStore(key)
    session.load()
    lost.arm("delete")
    call(sync, session, "delete")
    assert lost.fired == 1
    assert SessionStore(key).load() == {}
    assert live_digests("24") == set()
    assert unlisted_users(r) == set()


@both
def test_rotation(lost: LostReplies, sync: bool, r: Any, settings: Any) -> None:
    settings.SESSIONS_ROTATE_AFTER = 60
    key = signed_in("25", x=1)
    age(r, key)
    session = SessionStore(key)
    # One server: the rotate script; a Cluster: the copy's save.
    lost.arm("save" if conf.SESSION_REDIS_CLUSTER else "rotate")
    assert call(sync, session, "load") == {"_auth_user_id": "25", "x": 1}
    assert lost.fired == 1
    assert session.session_key not in (None, key)
    assert SessionStore(session.session_key).load()["x"] == 1
    assert live_digests("25") == {keys.digest(session.session_key)}
    assert unlisted_users(r) == set()


@both
def test_revoke_user_sessions(lost: LostReplies, sync: bool, alice: Any) -> None:
    made = [signed_in(str(alice.pk)) for _ in range(3)]
    lost.arm("revoke" if conf.SESSION_REDIS_CLUSTER else "revoke_user")
    if sync:
        count = api.revoke_user_sessions(alice)
    else:
        count = async_to_sync(api.arevoke_user_sessions)(alice)
    assert lost.fired == 1
    assert count == 3
    assert all(SessionStore(key).load() == {} for key in made)
    # Nothing of alice's is left, so the overview no longer lists her.
    assert str(alice.pk) not in {row.user_id for row in api.session_overview().users}


@both
def test_audit_append(lost: LostReplies, sync: bool, r: Any, settings: Any) -> None:
    settings.SESSIONS_AUDIT = True
    event = audit.make_event("revoked", fingerprint="0123456789ab", by="api")
    lost.arm("audit")
    call(sync, audit, "record", "26", [event])
    assert lost.fired == 1
    assert len(audit.read("26")) == 1


@pytest.mark.cluster_only
def test_a_claim_on_a_cluster(lost: LostReplies, r: Any) -> None:
    """The Cluster's own steps (claim, unindex) are writes under receipts too."""
    lost.arm("claim")
    key = signed_in("27")
    assert lost.fired == 1
    assert live_digests("27") == {keys.digest(key)}
    lost.arm("unindex")
    SessionStore(key).delete()
    assert lost.fired == 2
    assert live_digests("27") == set()


@both
def test_load_that_rewrites_the_metadata(lost: LostReplies, sync: bool, r: Any) -> None:
    """The load's own write (last-seen, a changed IP or user agent) is a resend-safe read."""
    key = signed_in("28", a=1)
    session = SessionStore(key)
    session.record_client({"ip": "203.0.113.9", "ua": "Browser/2"})
    lost.arm("load")
    assert call(sync, session, "load") == {"_auth_user_id": "28", "a": 1}
    assert lost.fired == 1
    [info] = api.list_user_sessions("28")
    assert (info.ip, info.user_agent) == ("203.0.113.9", "Browser/2")


@both
def test_discard_of_a_corrupt_record(lost: LostReplies, sync: bool, r: Any) -> None:
    key = signed_in("29")
    name = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key))
    r.set(name, b"1garbage")
    session = SessionStore(key)
    lost.arm("discard")
    assert call(sync, session, "load") == {}
    assert lost.fired == 1
    assert r.exists(name) == 0


@both
def test_rotation_confirmation(lost: LostReplies, sync: bool, r: Any, settings: Any) -> None:
    """The first request with a rotated key shortens the old key's stub once."""
    settings.SESSIONS_ROTATE_AFTER = 60
    key = signed_in("30")
    age(r, key)
    rotating = SessionStore(key)
    rotating.load()
    new_key = rotating.session_key
    assert new_key not in (None, key)
    old_name = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key))
    new_name = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(new_key))
    assert r.pttl(old_name) > 60_000  # unconfirmed: as long as the session
    lost.arm("confirm")
    assert call(sync, SessionStore(new_key), "load") == {"_auth_user_id": "30"}
    assert lost.fired == 1
    assert 0 < r.pttl(old_name) <= 30_000
    assert record.META_PENDING not in record.decode(r.get(new_name)).meta


@both
def test_removing_a_key_of_another_type(lost: LostReplies, sync: bool, r: Any) -> None:
    key = signed_in("31")
    name = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(key))
    r.delete(name)
    r.rpush(name, "x")
    lost.arm("foreign")
    assert call(sync, SessionStore(key), "load") == {}
    assert lost.fired == 1
    assert r.exists(name) == 0

"""Small helpers shared by the test modules."""

from __future__ import annotations

import time
from typing import Any

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys, record


def load_scripts() -> None:
    """Cache every engine script on the server (every primary of a cluster: each
    caches its own), so a counted request never pays the first use's EVAL."""
    from django_redis_sessions.storage import connection, scripts

    client = connection.get_client()
    for kind in (scripts.SINGLE, scripts.CLUSTER):
        for script in kind.all():
            client.script_load(script.text)


def index_members(client: Any, user_id: object) -> set[str]:
    """The digests in ``user_id``'s index, read straight from Redis."""
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(user_id))
    return {member.decode() for member in client.zrange(index, 0, -1)}


def unlisted_users(client: Any) -> set[str]:
    """Users who have a live session but are missing from the users index (the
    admin overview would hide them): must always be empty. Reads every session
    key of the run's prefix (on a Cluster, every primary's)."""
    prefix = keys.session_key_prefix(conf.SESSION_REDIS_PREFIX)
    listed = {m.decode() for m in client.zrange(keys.users_key(conf.SESSION_REDIS_PREFIX), 0, -1)}
    missing = set()
    for key in client.scan_iter(match=keys.escape_glob(prefix) + "*", count=1000):
        raw = client.get(key)
        if raw is None or raw[:1] == b">":
            continue
        user = record.decode_summary(raw).user_id
        if user and user not in listed:
            missing.add(user)
    return missing


def listed_without_index(client: Any) -> set[str]:
    """Users in the users index whose index is gone (a leak ``clearsessions`` and
    the overview remove)."""
    users = keys.users_key(conf.SESSION_REDIS_PREFIX)
    return {
        m.decode()
        for m in client.zrange(users, 0, -1)
        if not client.exists(keys.user_index_key(conf.SESSION_REDIS_PREFIX, m.decode()))
    }


def login(client: Any, username: str = "alice", password: str = "pw-alice") -> str:
    """Sign ``client`` in through the test login view; return its session key."""
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    value: str = client.cookies["sessionid"].value
    return value


def redis_key(session_key: str) -> str:
    """The Redis key that holds ``session_key``'s record."""
    return keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(session_key))


def saved_key(**data: object) -> str:
    """The key of a new session holding ``data``, saved to Redis."""
    key = saved_session(**data).session_key
    assert key is not None
    return key


def saved_session(**data: object) -> SessionStore:
    """A session holding ``data``, saved to Redis."""
    session = SessionStore()
    session.update(data)
    session.save()
    assert session.session_key is not None
    return session


def undecodable_record() -> bytes:
    """A well-formed record whose one value the JSON serializer cannot decode."""
    earlier = int(time.time()) - 100
    return record.encode(
        record.Record(
            created=earlier,
            seen=earlier,
            deadline=0,
            idle=600,
            user_id="",
            data={"a": b"{not json"},
        )
    )


# -- failover tests (Sentinel, Cluster): one event loop's view of the store --------------

FAILOVER_VALUE = "written async before the failover"


async def async_failover_session() -> str:
    """A new session saved through the async client, holding :data:`FAILOVER_VALUE`."""
    session = SessionStore()
    await session.aset("v", FAILOVER_VALUE)
    await session.asave()
    assert session.session_key is not None
    return session.session_key


async def async_failover_read(key: str) -> Any:
    return await SessionStore(key).aget("v")


async def cached_async_client() -> Any:
    """This event loop's cached async client (the failover tests check it is kept)."""
    from django_redis_sessions.storage import connection

    return connection.get_async_client()


def read_until_failed_over(browser: Any, killed: float, timeout: float) -> Any:
    """GET ``/read/`` until it answers 200; every answer before must be a 500 from
    ``SessionStoreError`` (never an anonymous page). Prints how long it took."""
    from django_redis_sessions.exceptions import SessionStoreError

    failed = 0
    while (response := browser.get("/read/")).status_code != 200:
        assert response.status_code == 500, response.content[:300]
        assert isinstance(response.exc_info[1], SessionStoreError)
        failed += 1
        assert time.monotonic() - killed < timeout, "no failover in time"
        time.sleep(0.05)
    outage = time.monotonic() - killed
    print(f"\nrequests failed for {outage:.1f} s after the kill ({failed + 1} requests)")
    return response

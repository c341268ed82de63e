"""Redis Cluster failover: a primary dies, its replica takes over, no session is lost.

The module starts its own cluster (``tests/servers.py``): 3 primaries, each with one
replica, on free loopback ports. The test signs a browser in until its session
lands on the primary that ``SESSION_REDIS_URL`` names (the hardest node to lose:
the one the client was configured with), waits until every replica has
acknowledged the writes (``WAIT``), and kills that primary with SIGKILL. Then:

* requests during the failover fail with a clear error (a 500 from
  ``SessionStoreError``), never an anonymous page or a new session;
* after the replica is promoted, the same cookie in the same process, with the
  same cached clients, sync and async, reads its data again: redis-py's cluster
  client learns the new slot owner by itself, no restart;
* writes, the user's index, listing and revocation work on the new primary.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster
from django.test import Client

from django_redis_sessions import api
from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.storage import connection, keys

from .helpers import (
    FAILOVER_VALUE,
    async_failover_read,
    async_failover_session,
    cached_async_client,
    login,
    read_until_failed_over,
    redis_key,
)
from .servers import redis_cluster

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

PRIMARIES = 3
#: Failure detection (cluster-node-timeout 2 s) plus the replica's election.
FAILOVER_TIMEOUT = 30
#: Sign-ins tried until one session lands on the chosen primary (1 in 3 each).
MAX_SIGN_INS = 60


@pytest.fixture
def cluster(tmp_path: Path, settings: Any) -> Iterator[list[int]]:
    """The engine on a fresh 3 x (primary + replica) cluster; ports, primaries first."""
    with redis_cluster(tmp_path, primaries=PRIMARIES, replicas=1) as ports:
        settings.SESSION_REDIS_URL = f"redis://127.0.0.1:{ports[0]}/0"
        settings.SESSION_REDIS_CLUSTER = True
        settings.SESSION_REDIS_SENTINELS = None
        connection.reset_clients()
        try:
            yield ports
        finally:
            connection.reset_clients()


def owner_port(client: redis.cluster.RedisCluster, name: str) -> int:
    """The port of the primary that serves ``name``'s slot, as ``client`` knows it."""
    return int(client.get_node_from_key(name).port)


def node(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=2)


def test_primary_failover_keeps_sessions_and_recovers_without_restart(
    cluster: list[int], alice: Any
) -> None:
    ports = cluster
    doomed = ports[0]  # the node SESSION_REDIS_URL names
    look = redis.cluster.RedisCluster(host="127.0.0.1", port=ports[1])
    runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
    try:
        for _ in range(MAX_SIGN_INS):
            browser = Client(raise_request_exception=False)
            key = login(browser)
            if owner_port(look, redis_key(key)) == doomed:
                break
        else:
            pytest.fail(f"no session landed on port {doomed} in {MAX_SIGN_INS} sign-ins")
        response = browser.post("/write/", {"cart": [3]}, content_type="application/json")
        assert response.status_code == 200
        sync_client = connection.get_client()
        assert isinstance(sync_client, redis.cluster.RedisCluster)
        # One event loop for the whole test: its cached async client must recover too.
        async_key = runner.run(async_failover_session())
        async_client = runner.run(cached_async_client())

        # "Replicated before the kill", made certain: every replica acknowledged.
        for port in ports[:PRIMARIES]:
            primary = node(port)
            assert primary.wait(1, 5000) == 1
            primary.close()
        doomed_node = node(doomed)
        pid = int(doomed_node.info("server")["process_id"])
        doomed_node.close()
        os.kill(pid, signal.SIGKILL)  # no goodbye to the replica or the other primaries
        killed = time.monotonic()

        # During the failover: a clear error, never a signed-out page.
        response = browser.get("/read/")
        assert response.status_code == 500
        error = response.exc_info[1]
        assert isinstance(error, SessionStoreUnavailable), repr(error)
        response = read_until_failed_over(browser, killed, FAILOVER_TIMEOUT)

        # Same process, same cached clients, same cookie: the data survived on the
        # promoted replica, which now owns the session's slot.
        read = response.json()
        assert (read["data"]["cart"], read["user"]) == ([3], "alice")
        # The doomed primary's replica (replica k follows primary k) was promoted and
        # holds the record. (Another node's slot map may lag a moment behind.)
        promoted = node(ports[PRIMARIES])
        assert promoted.info("replication")["role"] == "master"
        assert promoted.exists(redis_key(key)) == 1
        promoted.close()
        assert connection.get_client() is sync_client
        assert runner.run(cached_async_client()) is async_client
        assert runner.run(async_failover_read(async_key)) == FAILOVER_VALUE

        # Writes, the index, listing and revocation on the new primary.
        response = browser.post("/write/", {"n": 1}, content_type="application/json")
        assert response.status_code == 200
        read = browser.get("/read/").json()
        assert (read["data"]["cart"], read["data"]["n"], read["user"]) == ([3], 1, "alice")
        fingerprint = keys.fingerprint(key)
        assert fingerprint in {s.fingerprint for s in api.list_user_sessions(alice)}
        assert api.revoke_sessions([fingerprint], user=alice) == 1
        assert browser.get("/read/").json() == {"data": {}, "user": None}
        look.close()
        look = redis.cluster.RedisCluster(host="127.0.0.1", port=ports[PRIMARIES])
        assert look.get(redis_key(key)) is None
    finally:
        runner.close()
        look.close()

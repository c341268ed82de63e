"""Riding through a failover with no failed request (``SESSION_REDIS_RETRY_WINDOW``).

Every write the engine sends is safe to resend (``receipts.py``), so a request may
wait out a failover instead of failing. Each test starts its own servers, signs
browsers in, then kills a primary with SIGKILL while the browsers keep reading and
writing, one request after another: a Sentinel group (``down-after-milliseconds
1000``) and a Redis Cluster (``cluster-node-timeout 2000``). Every request must
answer 200 with the user still signed in; the requests that waited, and for how
long, are printed (the README quotes them). Acknowledged writes are counted
afterwards: Redis replicates asynchronously, so a write acknowledged by the old
primary just before it died may be missing; the test reports how many.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.cluster
from django.test import Client

from django_redis_sessions.storage import connection

from .helpers import login, redis_key
from .servers import redis_cluster
from .test_sentinel import SentinelGroup

pytestmark = [
    pytest.mark.real_redis,
    pytest.mark.django_db,
    pytest.mark.single_server,
    pytest.mark.failover,
]

BROWSERS = 3
#: Keep requesting this long after the failover completed.
AFTER = 1.0
#: Give up (and fail) if the failover has not completed by then.
FAILOVER_TIMEOUT = 45.0


@dataclass
class Traffic:
    """What the browsers saw while a primary died and a replica took over."""

    statuses: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    acknowledged: dict[int, int] = field(default_factory=dict)  # browser -> last n

    @property
    def waited(self) -> list[float]:
        return [t for t in self.latencies if t > 0.2]

    def report(self, what: str) -> str:
        waited = self.waited
        return (
            f"{what}: {len(self.statuses)} requests, "
            f"{sum(s >= 500 for s in self.statuses)} 5xx, {len(waited)} waited "
            f"(longest {max(waited, default=0):.2f} s, "
            f"total {sum(waited):.2f} s)"
        )


def ride(browsers: list[Client], failed_over: Any) -> Traffic:
    """Read and write round-robin until the failover is over, plus AFTER seconds."""
    traffic = Traffic()
    started = time.monotonic()
    done_at: float | None = None
    n = 0
    while done_at is None or time.monotonic() - done_at < AFTER:
        assert time.monotonic() - started < FAILOVER_TIMEOUT, traffic.report("no failover")
        n += 1
        for number, browser in enumerate(browsers):
            begin = time.monotonic()
            if n % 2:
                response = browser.post("/write/", {"n": n}, content_type="application/json")
                if response.status_code == 200:
                    traffic.acknowledged[number] = n
            else:
                response = browser.get("/read/")
                if response.status_code == 200:
                    assert response.json()["user"] == "alice"
            traffic.latencies.append(time.monotonic() - begin)
            traffic.statuses.append(response.status_code)
        if done_at is None and failed_over():
            done_at = time.monotonic()
    return traffic


def lost_writes(browsers: list[Client], traffic: Traffic) -> int:
    """Acknowledged writes the new primary does not have (async replication)."""
    lost = 0
    for number, browser in enumerate(browsers):
        data = browser.get("/read/").json()
        assert data["user"] == "alice"  # never signed out
        stored = data["data"].get("n", 0)
        lost += stored != traffic.acknowledged.get(number, 0)
    return lost


def check_and_report(
    browsers: list[Client], traffic: Traffic, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No request failed, some waited; print the figures the README quotes."""
    lost = lost_writes(browsers, traffic)
    with capsys.disabled():
        print(f"\n{traffic.report(what)}; acknowledged writes lost: {lost}")
    assert all(status == 200 for status in traffic.statuses), traffic.report(what)
    assert traffic.waited, "no request waited: the failover was not exercised"


def ride_settings(settings: Any) -> None:
    """Retries that span a failover; short timeouts, so a dead node is noticed soon."""
    # Longer than the slowest failover (a Sentinel's second attempt on a loaded
    # machine), not the usual 3 to 5 s.
    settings.SESSION_REDIS_RETRY_WINDOW = 30
    settings.SESSION_REDIS_SOCKET_TIMEOUT = 0.5
    settings.SESSION_REDIS_CONNECT_TIMEOUT = 0.5
    connection.reset_clients()


@contextmanager
def sentinel_engine(tmp_path: Path, settings: Any) -> Iterator[SentinelGroup]:
    """A primary, a replica and three Sentinels; the engine on them, riding failovers."""
    group = SentinelGroup(tmp_path)
    try:
        group.start()
        for name, value in group.settings().items():
            setattr(settings, name, value)
        ride_settings(settings)
        yield group
    finally:
        connection.reset_clients()
        group.stop()


def signed_in_browsers() -> list[Client]:
    browsers = [Client(raise_request_exception=False) for _ in range(BROWSERS)]
    for browser in browsers:
        login(browser)
    return browsers


def test_a_sentinel_failover_fails_no_request(
    tmp_path: Path, settings: Any, alice: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with sentinel_engine(tmp_path, settings) as group:
        browsers = signed_in_browsers()
        assert group.node(group.primary_port).wait(1, 5000) == 1
        group.kill_primary()
        promoted = ("127.0.0.1", group.replica_port)
        traffic = ride(browsers, lambda: group.master_address() == promoted)
        check_and_report(browsers, traffic, "Sentinel failover", capsys)


def test_a_cluster_primary_kill_fails_no_request(
    tmp_path: Path, settings: Any, alice: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with redis_cluster(tmp_path, primaries=3, replicas=1) as ports:
        settings.SESSION_REDIS_URL = f"redis://127.0.0.1:{ports[1]}/0"
        settings.SESSION_REDIS_CLUSTER = True
        settings.SESSION_REDIS_SENTINELS = None
        ride_settings(settings)
        try:
            browsers = signed_in_browsers()
            look = redis.cluster.RedisCluster(host="127.0.0.1", port=ports[1])
            key = browsers[0].cookies["sessionid"].value
            doomed = int(look.get_node_from_key(redis_key(key)).port)
            look.close()
            for port in ports[:3]:
                primary = redis.Redis(port=port, socket_timeout=2)
                assert primary.wait(1, 5000) == 1
                primary.close()
            victim = redis.Redis(port=doomed, socket_timeout=2)
            pid = int(victim.info("server")["process_id"])
            victim.close()
            replica_port = ports[3 + ports.index(doomed)]
            os.kill(pid, signal.SIGKILL)

            def promoted() -> bool:
                replica = redis.Redis(port=replica_port, socket_timeout=1)
                try:
                    return bool(replica.info("replication")["role"] == "master")
                finally:
                    replica.close()

            traffic = ride(browsers, promoted)
            check_and_report(browsers, traffic, "Cluster failover", capsys)
        finally:
            connection.reset_clients()


def test_a_dropped_pooled_connection_reconnects_to_the_promoted_primary(
    tmp_path: Path, settings: Any
) -> None:
    """redis-py reconnects a pooled connection whose socket dropped through
    ``connect_check_health()``, which retried the address it had: after a failover,
    the dead primary. The engine's Sentinel connections ask the Sentinels again."""
    with sentinel_engine(tmp_path, settings) as group:
        client = connection.get_client()
        pool: Any = client.connection_pool  # a SentinelConnectionPool
        pooled = pool.get_connection()
        assert (pooled.host, pooled.port) == ("127.0.0.1", group.primary_port)
        group.kill_primary()
        promoted = ("127.0.0.1", group.replica_port)
        deadline = time.monotonic() + FAILOVER_TIMEOUT
        while group.master_address() != promoted:
            assert time.monotonic() < deadline, "no failover in time"
            time.sleep(0.1)
        pooled.disconnect()  # its socket is gone; it still names the dead primary
        pooled.connect_check_health()  # what send_packed_command does next
        assert (pooled.host, pooled.port) == promoted
        pool.release(pooled)

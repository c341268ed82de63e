"""Redis Sentinel: sessions through a real primary, replica and three Sentinels.

The module starts its own processes from the ``redis-server`` binary on free
loopback ports (a primary, a replica of it and three Sentinels, with passwords on
both), shared by its tests and always stopped at the end. The failover test kills
the primary: the other tests go through the Sentinels too, so they pass whichever
server is the primary, in any order.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.test import AsyncClient, Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.checks import check_deploy, check_settings
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionStoreError, SessionStoreUnavailable
from django_redis_sessions.storage import connection, keys

from .helpers import (
    FAILOVER_VALUE,
    async_failover_read,
    async_failover_session,
    cached_async_client,
    read_until_failed_over,
)
from .servers import free_port

SERVICE = "sessions-main"
PRIMARY_PASSWORD = "primary-s3cret-pw"
SENTINEL_PASSWORD = "sentinel-s3cret-pw"
#: Every wait in this module is bounded by this many seconds.
STARTUP_TIMEOUT = 15.0
FAILOVER_TIMEOUT = 20.0


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class SentinelGroup:
    """A primary, its replica and three Sentinels monitoring it as ``SERVICE``."""

    folder: Path
    primary_port: int = field(default_factory=free_port)
    replica_port: int = field(default_factory=free_port)
    sentinel_ports: list[int] = field(default_factory=lambda: [free_port() for _ in range(3)])
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _start(self, name: str, *args: str) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not on PATH"
        self.processes[name] = subprocess.Popen(
            [binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def node(self, port: int, password: str = PRIMARY_PASSWORD) -> redis.Redis:
        return redis.Redis(port=port, password=password, socket_timeout=1)

    def start(self) -> None:
        data = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir")
        # Redis 7 waits 5 s before a diskless full sync, to batch replicas: not here.
        sync = ("--repl-diskless-sync-delay", "0")
        auth = ("--requirepass", PRIMARY_PASSWORD, "--masterauth", PRIMARY_PASSWORD)
        self._start(
            "primary", "--port", str(self.primary_port), *data, str(self.folder), *auth, *sync
        )
        replica_of = ("--replicaof", "127.0.0.1", str(self.primary_port))
        self._start(
            "replica",
            "--port",
            str(self.replica_port),
            *data,
            str(self.folder),
            *auth,
            *sync,
            *replica_of,
        )
        replica = self.node(self.replica_port)
        _wait_until(
            lambda: replica.info("replication").get("master_link_status") == "up",
            STARTUP_TIMEOUT,
            "the replica to sync",
        )
        replica.close()
        # Sentinels learn of replicas from the primary's INFO, every 10 s: start them
        # once the replica is in sync, so their first INFO already lists it.
        for number, port in enumerate(self.sentinel_ports):
            config = self.folder / f"sentinel-{number}.conf"  # Sentinel rewrites it
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.folder}\n"
                f"requirepass {SENTINEL_PASSWORD}\n"
                f"sentinel sentinel-pass {SENTINEL_PASSWORD}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel auth-pass {SERVICE} {PRIMARY_PASSWORD}\n"
                f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                f"sentinel failover-timeout {SERVICE} 3000\n"
            )
            self._start(f"sentinel-{number}", str(config), "--sentinel")

        for port in self.sentinel_ports:
            sentinel = self.node(port, SENTINEL_PASSWORD)
            # Failover needs each Sentinel to know the replica and its two peers
            # (peers announce themselves every 2 s through the primary).
            _wait_until(
                lambda sentinel=sentinel: (
                    (state := sentinel.sentinel_master(SERVICE))["num-other-sentinels"] == 2
                    and state["num-slaves"] == 1
                ),
                STARTUP_TIMEOUT,
                f"the Sentinel on port {port} to see its peers and the replica",
            )
            sentinel.close()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def kill_primary(self) -> None:
        process = self.processes["primary"]
        process.kill()  # SIGKILL: no goodbye to the replica or the Sentinels
        process.wait(timeout=5)

    def master_address(self) -> tuple[str, int] | None:
        """The primary as the Sentinels agree on it now (``None`` while they do not)."""
        addresses = set()
        for port in self.sentinel_ports:
            sentinel = self.node(port, SENTINEL_PASSWORD)
            try:
                answer: Any = sentinel.sentinel_get_master_addr_by_name(SERVICE)
            finally:
                sentinel.close()
            host, master_port = answer
            addresses.add((host.decode() if isinstance(host, bytes) else host, int(master_port)))
        return addresses.pop() if len(addresses) == 1 else None

    def settings(self) -> dict[str, Any]:
        return {
            "SESSION_REDIS_SENTINELS": [("127.0.0.1", port) for port in self.sentinel_ports],
            "SESSION_REDIS_SENTINEL_MASTER": SERVICE,
            "SESSION_REDIS_SENTINEL_KWARGS": {"password": SENTINEL_PASSWORD},
            "SESSION_REDIS_CONNECTION_KWARGS": {"password": PRIMARY_PASSWORD, "db": 0},
            # Nothing answers on it: if anything used the URL, the tests would fail.
            "SESSION_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelGroup]:
    servers = SentinelGroup(tmp_path_factory.mktemp("sentinel"))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def via_sentinel(group: SentinelGroup, settings: Any) -> SentinelGroup:
    for name, value in group.settings().items():
        setattr(settings, name, value)
    return group


def _no_secret_in(text: str) -> None:
    assert PRIMARY_PASSWORD not in text
    assert SENTINEL_PASSWORD not in text


# -- sessions through the Sentinels ------------------------------------------------------


@pytest.mark.real_redis
def test_sessions_through_sentinel(via_sentinel, alice):
    client = connection.get_client()
    pool = client.connection_pool
    assert isinstance(pool, redis.sentinel.SentinelConnectionPool)
    assert pool.is_master  # reads and writes: the primary, never a replica
    assert connection.describe_server(client) == f"sentinel service {SERVICE}"

    api.revoke_user_sessions(alice)  # user ids repeat across tests; this store does not reset
    browser = Client()
    assert browser.post("/login/", {"username": "alice", "password": "pw-alice"}).status_code == 200
    response = browser.post("/write/", {"cart": [1, 2]}, content_type="application/json")
    assert response.status_code == 200
    read = browser.get("/read/").json()
    assert (read["data"]["cart"], read["user"]) == ([1, 2], "alice")
    key = browser.cookies["sessionid"].value

    # The session lives on the server the Sentinels name as the primary.
    _host, port = pool.get_master_address()
    primary = via_sentinel.node(port)
    assert primary.info("replication")["role"] == "master"
    assert any(primary.scan_iter(match=f"{conf.SESSION_REDIS_PREFIX}:*"))
    primary.close()

    (listed,) = api.list_user_sessions(alice)
    assert listed.fingerprint == keys.fingerprint(key)
    assert api.revoke_user_sessions(alice) == 1
    assert browser.get("/read/").json() == {"data": {}, "user": None}  # signed out


@pytest.mark.real_redis
@pytest.mark.django_db(transaction=True)
async def test_async_sessions_through_sentinel(via_sentinel, alice):
    client = connection.get_async_client()
    assert isinstance(client.connection_pool, redis.asyncio.sentinel.SentinelConnectionPool)
    assert client.connection_pool.is_master
    assert connection.describe_server(client) == f"sentinel service {SERVICE}"

    await api.arevoke_user_sessions(alice)  # user ids repeat across tests
    browser = AsyncClient()
    response = await browser.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    response = await browser.post("/awrite/", {"v": "async"}, content_type="application/json")
    assert response.status_code == 200
    data = (await browser.get("/aread/")).json()["data"]
    assert (data["v"], data["_auth_user_id"]) == ("async", str(alice.pk))

    assert len(await api.alist_user_sessions(alice)) == 1
    assert await api.arevoke_user_sessions(alice) == 1
    assert (await browser.get("/aread/")).json()["data"] == {}


@pytest.mark.real_redis
def test_wrong_passwords_name_the_service_never_a_password(via_sentinel, settings):
    settings.SESSION_REDIS_SENTINEL_KWARGS = {"password": "not-the-sentinel-pw"}
    with pytest.raises(SessionStoreUnavailable) as info:
        SessionStore("a" * 32).load()
    assert f"sentinel service {SERVICE}" in str(info.value)
    assert info.value.server == f"sentinel service {SERVICE}"
    assert "not-the-sentinel-pw" not in str(info.value)

    settings.SESSION_REDIS_SENTINEL_KWARGS = {"password": SENTINEL_PASSWORD}
    settings.SESSION_REDIS_CONNECTION_KWARGS = {"password": "not-the-primary-pw"}
    with pytest.raises(SessionStoreError) as failed:
        SessionStore("a" * 32).load()
    assert f"sentinel service {SERVICE}" in str(failed.value)
    assert "not-the-primary-pw" not in str(failed.value)
    _no_secret_in(str(failed.value))


# -- failover ----------------------------------------------------------------------------


@pytest.mark.real_redis
def test_failover_keeps_sessions_and_recovers_without_restart(via_sentinel, alice):
    group = via_sentinel
    old_primary = group.master_address()
    assert old_primary is not None
    api.revoke_user_sessions(alice)  # user ids repeat across tests
    browser = Client(raise_request_exception=False)
    assert browser.post("/login/", {"username": "alice", "password": "pw-alice"}).status_code == 200
    assert (
        browser.post("/write/", {"cart": [3]}, content_type="application/json").status_code == 200
    )
    sync_client = connection.get_client()

    # One event loop for the whole test: its cached async client must recover too.
    runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
    try:
        async_key = runner.run(async_failover_session())
        async_client = runner.run(cached_async_client())

        # Make "replicated before the kill" certain: the replica acknowledged it all.
        primary = group.node(old_primary[1])
        assert primary.wait(1, 5000) == 1
        primary.close()

        group.kill_primary()
        killed = time.monotonic()

        # During the failover: a clear error naming the service, never a logout.
        response = browser.get("/read/")
        assert response.status_code == 500
        error = response.exc_info[1]  # type: ignore[attr-defined]
        assert isinstance(error, SessionStoreUnavailable)
        assert f"sentinel service {SERVICE}" in str(error)
        _no_secret_in(str(error))
        with pytest.raises(SessionStoreUnavailable):
            runner.run(async_failover_read(async_key))

        response = read_until_failed_over(browser, killed, FAILOVER_TIMEOUT)

        # Recovered in the same process with the same cached clients; the cookie is
        # still signed in and its data survived on the promoted replica.
        read = response.json()
        assert (read["data"]["cart"], read["user"]) == ([3], "alice")
        assert group.master_address() == ("127.0.0.1", group.replica_port)
        assert connection.get_client() is sync_client
        assert runner.run(cached_async_client()) is async_client
        assert runner.run(async_failover_read(async_key)) == FAILOVER_VALUE

        # Writes go to the new primary, index included.
        assert browser.post("/write/", {"n": 1}, content_type="application/json").status_code == 200
        read = browser.get("/read/").json()
        assert (read["data"]["cart"], read["data"]["n"], read["user"]) == ([3], 1, "alice")
        assert len(api.list_user_sessions(alice)) == 1
    finally:
        runner.close()


# -- configuration and checks (no server needed) -------------------------------------------


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize(
    "sentinels",
    [
        [],
        "127.0.0.1:26379",
        [("127.0.0.1",)],
        [("127.0.0.1", "26379")],
        [(26379, "127.0.0.1")],
        [("", 26379)],
        [("127.0.0.1", True)],
        [("127.0.0.1", 70000)],
    ],
)
def test_malformed_sentinels_are_e031(settings, sentinels):
    settings.SESSION_REDIS_SENTINELS = sentinels
    settings.SESSION_REDIS_SENTINEL_MASTER = SERVICE
    assert ids(check_settings()) == ["django_redis_sessions.E031"]
    with pytest.raises(ImproperlyConfigured):
        connection.get_client()


@pytest.mark.parametrize("master", [None, "", 5])
def test_missing_service_name_is_e031(settings, master):
    settings.SESSION_REDIS_SENTINELS = [("127.0.0.1", 26379)]
    settings.SESSION_REDIS_SENTINEL_MASTER = master
    assert ids(check_settings()) == ["django_redis_sessions.E031"]


def test_sentinel_kwargs_must_be_a_dict_and_are_not_echoed(settings):
    settings.SESSION_REDIS_SENTINELS = [("127.0.0.1", 26379)]
    settings.SESSION_REDIS_SENTINEL_MASTER = SERVICE
    settings.SESSION_REDIS_SENTINEL_KWARGS = ["password", SENTINEL_PASSWORD]
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E031"
    _no_secret_in(f"{error.msg} {error.hint}")


def test_good_sentinel_settings_are_clean_and_the_url_is_unused(settings):
    settings.SESSION_REDIS_SENTINELS = [("10.0.0.1", 26379), ["10.0.0.2", 26379]]
    settings.SESSION_REDIS_SENTINEL_MASTER = SERVICE
    settings.SESSION_REDIS_URL = "http://not-a-redis-url"
    assert check_settings() == []


def _factory(*, asynchronous: bool) -> Any:  # pragma: no cover - never called
    raise AssertionError


@pytest.mark.parametrize(
    ("name", "value"),
    [("SESSION_REDIS_CACHE_ALIAS", "redis"), ("SESSION_REDIS_CLIENT_FACTORY", _factory)],
)
def test_sentinels_with_another_client_source_is_e032(settings, name, value):
    settings.SESSION_REDIS_SENTINELS = [("127.0.0.1", 26379)]
    settings.SESSION_REDIS_SENTINEL_MASTER = SERVICE
    setattr(settings, name, value)
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E032"
    assert name in error.msg


def _deploy_ids(settings: Any) -> list[str]:
    settings.SESSION_COOKIE_SECURE = True
    return ids(check_deploy())


def test_plain_text_to_remote_sentinels_is_w010(settings):
    settings.SESSION_REDIS_SENTINELS = [("127.0.0.1", 26379), ("10.0.0.2", 26379)]
    settings.SESSION_REDIS_SENTINEL_MASTER = SERVICE
    settings.SESSION_REDIS_SENTINEL_KWARGS = {"password": SENTINEL_PASSWORD}
    assert _deploy_ids(settings) == ["django_redis_sessions.W010"]
    [warning] = check_deploy()
    assert "10.0.0.2" in warning.msg
    assert SERVICE in warning.msg
    _no_secret_in(warning.msg)

    settings.SESSION_REDIS_SENTINEL_KWARGS = {"ssl": True}
    assert _deploy_ids(settings) == ["django_redis_sessions.W010"]  # the primary's link
    settings.SESSION_REDIS_CONNECTION_KWARGS = {"ssl": True}
    assert _deploy_ids(settings) == []


def test_loopback_sentinels_are_not_w010(settings):
    settings.SESSION_REDIS_SENTINELS = [("127.0.0.1", 26379), ("localhost", 26380)]
    settings.SESSION_REDIS_SENTINEL_MASTER = SERVICE
    settings.SESSION_REDIS_URL = "redis://10.0.0.9:6379/0"  # unused: no warning for it
    assert _deploy_ids(settings) == []

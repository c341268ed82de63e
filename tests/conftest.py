"""Shared fixtures: the real Redis, round-trip counting, and the CI guard.

Tests marked ``real_redis`` need the Redis server named by ``SESSION_REDIS_URL``
(``DRS_TEST_REDIS_URL``, 127.0.0.1:6379 db 9 by default). When nothing answers
there and a ``redis-server`` binary is on PATH, the run starts its own on a free
loopback port (nothing persisted, its log in a temporary directory), points the
settings at it, exports its URL as ``DRS_TEST_REDIS_URL`` for subprocesses (and
xdist workers), and stops it at the end. Without a server or a binary, the
real-Redis tests are skipped with a reason; with ``DRS_REQUIRE_REAL_REDIS=1`` (set
by tox and CI) that is an error and *any* skipped test fails the run, so a green
CI always means the real-Redis tests ran.

With ``DRS_TEST_INSTALLED=1`` (set by tox) the run fails unless
``django_redis_sessions`` is the installed wheel in site-packages, not the checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sysconfig
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster
from django.conf import settings
from django.test.utils import override_settings

import django_redis_sessions
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import connection

from .servers import free_port, redis_cluster, redis_server, start_test_redis, stop_process

REQUIRE_REAL_REDIS = os.environ.get("DRS_REQUIRE_REAL_REDIS") == "1"
TEST_INSTALLED = os.environ.get("DRS_TEST_INSTALLED") == "1"


def _installed_package_problems() -> list[str]:
    """Why this run does not test the installed package (tox's wheel), if it does not."""
    package = Path(django_redis_sessions.__file__).resolve().parent
    site_dirs = {Path(p).resolve() for p in site.getsitepackages()}
    site_dirs |= {Path(sysconfig.get_path(k)).resolve() for k in ("purelib", "platlib")}
    problems = []
    if not any(d in package.parents for d in site_dirs):
        problems.append(
            f"django_redis_sessions was imported from {package}, not from site-packages "
            f"({', '.join(sorted(map(str, site_dirs)))}): the run would test the checkout"
        )
    # The example project's and the load app's subprocesses run from the tree's root,
    # with PYTHONPATH set to it: a package there is the one they would import.
    tree = Path(__file__).resolve().parent.parent
    if (tree / "django_redis_sessions").exists():
        problems.append(
            f"the test tree {tree} holds django_redis_sessions/, which the tests' "
            "subprocesses would import"
        )
    return problems


def pytest_report_header(config: pytest.Config) -> list[str]:
    where = Path(django_redis_sessions.__file__).resolve().parent
    lines = [f"django_redis_sessions: {where}"]
    if _OWN_REDIS is not None:
        lines.append(
            f"test Redis: none answered at {_OWN_REDIS[1]}; started redis-server at "
            f"{settings.SESSION_REDIS_URL} (log: {_OWN_REDIS[2]})"
        )
    else:
        lines.append(f"test Redis: {settings.SESSION_REDIS_URL}")
    return lines


def _ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


#: The redis-server this run started (process, the URL that did not answer, its log).
_OWN_REDIS: tuple[subprocess.Popen[bytes], str, Path] | None = None


def _ensure_test_redis() -> None:
    """No Redis at the configured URL: start one, if there is a binary to start.

    The settings (``SESSION_REDIS_URL``, the ``redis`` cache) are pointed at it, and
    ``DRS_TEST_REDIS_URL`` is exported, so that the tests' subprocesses and xdist
    workers (which inherit the environment and import ``tests.settings`` afresh) find
    this server instead of starting their own.
    """
    global _OWN_REDIS
    configured = settings.SESSION_REDIS_URL
    if _ping(configured) or shutil.which("redis-server") is None:
        return
    # The database number the configured URL names (db 9 by default), on the new port.
    database = redis.connection.parse_url(configured).get("db", 0)
    folder = Path(tempfile.mkdtemp(prefix="drs-test-redis-"))
    process, port = start_test_redis(folder)
    url = f"redis://127.0.0.1:{port}/{database}"
    _OWN_REDIS = (process, configured, folder / "redis-server.log")
    os.environ["DRS_TEST_REDIS_URL"] = url
    settings.SESSION_REDIS_URL = url
    caches = settings.CACHES
    if "redis" in caches:
        caches["redis"]["LOCATION"] = url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_REDIS is not None:
        stop_process(_OWN_REDIS[0])


def pytest_configure(config: pytest.Config) -> None:
    _ensure_test_redis()
    if not TEST_INSTALLED:
        return
    problems = _installed_package_problems()
    if problems:
        # An error, never a skip: a checkout tested in place of the wheel must not pass.
        raise pytest.UsageError(
            "DRS_TEST_INSTALLED=1 but the tests would not run against the installed wheel:\n  "
            + "\n  ".join(problems)
            + "\nRun pytest from a copy of the test tree (tox: .ci/stage_test_tree.py)."
        )


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-cluster",
        action="store_true",
        default=False,
        help="run the tests against a 3-primary Redis Cluster the suite starts "
        "(SESSION_REDIS_CLUSTER = True) instead of the single server",
    )


@pytest.fixture(scope="session", autouse=True)
def _redis_cluster_mode(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """With ``--redis-cluster``, every test's engine talks to a real Redis Cluster."""
    if not request.config.getoption("--redis-cluster"):
        yield
        return
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        url = f"redis://127.0.0.1:{ports[0]}/0"
        with override_settings(SESSION_REDIS_URL=url, SESSION_REDIS_CLUSTER=True):
            connection.reset_clients()
            yield
        connection.reset_clients()


def sync_client(url: str | None = None) -> redis.Redis:
    """A plain client on the test Redis: a ``RedisCluster`` in cluster mode."""
    url = url or settings.SESSION_REDIS_URL
    if getattr(settings, "SESSION_REDIS_CLUSTER", False):
        return redis.cluster.RedisCluster.from_url(url)  # type: ignore[return-value]
    return redis.Redis.from_url(url)


def async_client() -> redis.asyncio.Redis:
    if getattr(settings, "SESSION_REDIS_CLUSTER", False):
        return redis.asyncio.cluster.RedisCluster.from_url(settings.SESSION_REDIS_URL)  # type: ignore[return-value]
    return redis.asyncio.Redis.from_url(settings.SESSION_REDIS_URL)


def _redis_available() -> bool:
    return _ping(settings.SESSION_REDIS_URL)


_AVAILABLE: bool | None = None


def redis_available() -> bool:
    global _AVAILABLE
    if _AVAILABLE is None:
        _AVAILABLE = _redis_available()
    return _AVAILABLE


#: Modules left out of a ``--redis-cluster`` run, and why: they point the engine at
#: servers of their own, or check settings without touching Redis.
NOT_ON_CLUSTER = {
    "test_checks.py": "system checks: settings only",
    "test_conf.py": "the settings table: settings only",
    "test_client_factory.py": "builds its own clients (fakeredis, a plain server)",
    "test_cluster.py": "starts a cluster of its own",
    "test_cluster_failover.py": "a cluster of its own with replicas, a primary killed",
    "test_connection.py": "URLs, sockets and TLS of plain servers it starts",
    "test_example_project.py": "the example site, with its own settings",
    "test_fakeredis_unit.py": "fakeredis",
    "test_import_sessions.py": "source stores on the plain server (test_cluster.py imports)",
    "test_load.py": "gunicorn with the load app's own settings",
    "test_outages.py": "a server of its own that it stops and restarts",
    "test_quickstart.py": "a fresh startproject with README's settings, on the plain server",
    "test_sentinel.py": "a primary, a replica and Sentinels of its own",
}


def _on_cluster(item: pytest.Item) -> bool:
    return item.path.name not in NOT_ON_CLUSTER and "single_server" not in item.keywords


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--redis-cluster"):
        # Deselected, not skipped (a skip fails CI): test_cluster.py asserts what a
        # Cluster does where these assert what one server does.
        left_out = [item for item in items if not _on_cluster(item)]
    else:
        # Steps only a Cluster takes (claim, unindex), for the --redis-cluster runs.
        left_out = [item for item in items if "cluster_only" in item.keywords]
    if os.environ.get("DRS_FAILOVER_SUITES") != "1":
        # Each kills a primary under traffic and waits out the failover: run in the
        # tox environments that set DRS_FAILOVER_SUITES=1, not in all nine.
        left_out += [item for item in items if "failover" in item.keywords]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
    if redis_available():
        return
    if REQUIRE_REAL_REDIS:
        raise pytest.UsageError(
            f"DRS_REQUIRE_REAL_REDIS=1 but no Redis answers at {settings.SESSION_REDIS_URL} "
            "and there is no redis-server binary on PATH to start one: install Redis "
            "(e.g. apt install redis-server), or point DRS_TEST_REDIS_URL at a running "
            "server, instead of skipping the real-Redis tests."
        )
    skip = pytest.mark.skip(
        reason=f"no Redis at {settings.SESSION_REDIS_URL} and no redis-server binary to start"
    )
    for item in items:
        if "real_redis" in item.keywords:
            item.add_marker(skip)


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    # tests/custom_user needs its own settings (a swapped user model); tox runs
    # it with --ds=tests.settings_uuid_user and --ds=tests.settings_string_user.
    if collection_path.name == "custom_user" and settings.AUTH_USER_MODEL == "auth.User":
        return True
    return None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE_REAL_REDIS:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if reporter:
            reporter.write_line(
                f"DRS_REQUIRE_REAL_REDIS=1: {skipped} test(s) were skipped; "
                "skips are failures in CI.",
                red=True,
            )


def _delete_prefix(client: redis.Redis, prefix: str) -> None:
    pattern = prefix.replace("\\", "\\\\").replace("*", "\\*") + "*"
    batch = list(client.scan_iter(match=pattern, count=1000))
    for start in range(0, len(batch), 500):
        client.delete(*batch[start : start + 500])


@pytest.fixture(scope="session", autouse=True)
def _cleanup_run_keys(_redis_cluster_mode: None) -> Iterator[None]:
    yield
    if redis_available():
        client = sync_client()
        _delete_prefix(client, settings.SESSION_REDIS_PREFIX)
        client.close()


@pytest.fixture
def r() -> Iterator[redis.Redis]:
    """A plain client on the test Redis; the test's keys are removed afterwards."""
    if not redis_available():
        pytest.skip(f"no Redis at {settings.SESSION_REDIS_URL}")
    client = sync_client()
    yield client
    _delete_prefix(client, conf.SESSION_REDIS_PREFIX)
    client.close()


@pytest.fixture
async def ar() -> AsyncIterator[redis.asyncio.Redis]:
    if not redis_available():
        pytest.skip(f"no Redis at {settings.SESSION_REDIS_URL}")
    client = async_client()
    yield client
    await client.aclose()


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    # Clients are cached per settings; each test starts from a clean cache so a
    # fault-injection test cannot leak a broken client into the next one.
    connection.reset_clients()
    yield
    connection.reset_clients()


@pytest.fixture(autouse=True)
async def _close_async_clients(_fresh_clients: None) -> AsyncIterator[None]:
    # An asyncio client belongs to the test's event loop: close it in that loop,
    # before the loop itself is closed.
    yield
    await connection.aclose_clients()


#: What redis-py sends when it opens a connection (or, for a cluster client, maps
#: the slots): a cost of the pool, not of the request that happened to open it.
_CONNECTION_SETUP = re.compile(
    rb"\*\d+\r\n\$\d+\r\n(HELLO|CLIENT|AUTH|SELECT|CLUSTER|READONLY)\r\n"
)


class CommandCounter:
    """Counts commands and round trips sent by redis-py connections."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.commands: list[str] = []

    def record(self, args: Any) -> None:
        packed = args if isinstance(args, bytes) else b"".join(bytes(part) for part in args)
        if _CONNECTION_SETUP.match(packed):
            return
        self.round_trips += 1
        self.commands.append(str(args))


@pytest.fixture
def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> CommandCounter:
    """Count every packed send (one per round trip, pipelines included)."""
    counter = CommandCounter()
    sync_send = redis.connection.AbstractConnection.send_packed_command
    async_send = redis.asyncio.connection.AbstractConnection.send_packed_command

    def counting_send(self: Any, command: Any, check_health: bool = True) -> None:
        counter.record(command)
        sync_send(self, command, check_health)

    async def acounting_send(self: Any, command: Any, check_health: bool = True) -> None:
        counter.record(command)
        await async_send(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
    monkeypatch.setattr(
        redis.asyncio.connection.AbstractConnection, "send_packed_command", acounting_send
    )
    return counter


@pytest.fixture
def revocations() -> Iterator[list[dict[str, Any]]]:
    """Every ``session_revoked`` sent during the test, as its kwargs (with ``sender``)."""
    from django_redis_sessions.signals import session_revoked

    seen: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        seen.append({"sender": sender, **kwargs})

    session_revoked.connect(receiver, weak=False)
    yield seen
    session_revoked.disconnect(receiver)


@pytest.fixture
def policy_events() -> Iterator[list[dict[str, Any]]]:
    """Every policy signal sent during the test, as its kwargs plus ``signal``
    (the signal's name: ``"session_rotated"``, ``"session_ip_changed"``...)."""
    from django_redis_sessions import signals

    names = (
        "session_rotated",
        "session_limit_reached",
        "session_ip_changed",
        "session_user_agent_changed",
    )
    seen: list[dict[str, Any]] = []
    receivers = []
    for name in names:

        def receiver(sender: Any, name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal")
            seen.append({"signal": name, "sender": sender, **kwargs})

        getattr(signals, name).connect(receiver, weak=False)
        receivers.append((name, receiver))
    yield seen
    for name, receiver in receivers:
        getattr(signals, name).disconnect(receiver)


@pytest.fixture
def alice(db: None) -> Any:
    """A user with sessions to list and revoke (password ``pw-alice``)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("alice", "alice@example.com", "pw-alice")


@pytest.fixture
def bob(db: None) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("bob", "bob@example.com", "pw-bob")


# -- a server of a test module's own, for the fault proxy (tests/faultproxy.py) -----------


@pytest.fixture(scope="module")
def upstream_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A ``redis-server`` of the test module's own on a free loopback port."""
    port = free_port()
    with redis_server(
        "--port", str(port), "--bind", "127.0.0.1",
        ping={"host": "127.0.0.1", "port": port},
        tmp=tmp_path_factory.mktemp("faultproxy"),
    ):  # fmt: skip
        yield port


@pytest.fixture
def direct(upstream_port: int) -> Iterator[redis.Redis]:
    """A client straight to the server, past the proxy: what really happened there."""
    client = redis.Redis(host="127.0.0.1", port=upstream_port, socket_timeout=2)
    client.flushall()
    yield client
    client.close()

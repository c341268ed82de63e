"""The admin overview and a heavy user's pages at 1,000 to 10,000,000 sessions.

Run from the repository root (it starts and stops its own ``redis-server``)::

    python benchmarks/bench_scale.py [--sizes 1000,100000,1000000,10000000]
                                     [--port 6390] [--reps 20] [--heavy-reps 10]
                                     [--seed N] [--json PATH] [--plot DIR]

``--sizes 1000,100000`` is a quick run (about 40 s); the default four sizes build
10,000,000 sessions (about 4.5 minutes, 6 minutes in all on a 2-core machine) and
take about 6.5 GB of Redis memory.

What it does, on this checkout's ``django_redis_sessions``:

1. Starts a private ``redis-server`` on ``127.0.0.1:--port`` (``--save ''
   --appendonly no``, no ``maxmemory``), refusing a port where something already
   answers, and shuts it down at the end whatever happens.
2. Writes a **heavy user** with ``--heavy-sessions`` (10,000) sessions, each with
   its own realistic user agent and IP in the record's metadata.
3. Grows one store step by step (1,000 -> 100,000 -> 1,000,000 -> 10,000,000
   filler sessions, each step adding to the same database) with pipelined raw
   writes of the engine's own record format: values through the engine's
   ``codec.ValueCodec`` (JSON), records through ``storage.record.encode``, key
   names through ``storage.keys``. About 70% of the filler sessions are signed in
   (1 to 6 sessions per user, about 2.1 on average), 30% anonymous; every session
   carries the metadata ``SessionActivityMiddleware`` records (IP, user agent,
   device name), made by the engine's ``request_meta.client_meta``.
   Each signed-in session is in its user's index (score = its deadline), each
   user in the users index (score = latest sign-in, unix ms), TTLs as the save
   script sets them (``PXAT`` the sooner of last seen + idle and the deadline;
   an index ``EXPIREAT`` its top score + 1, the users index its largest). The
   build time and Redis ``used_memory`` are recorded at each size.
4. At each size, through HTTP (Django's test ``Client`` on an in-process
   configuration: admin, auth, ``SessionActivityMiddleware``, CSRF, messages),
   times in interleaved rounds: the admin's Sessions overview (page 1, page 5
   and the last page), as a superuser; the heavy user's own "your sessions"
   page and its JSON API, as that user; and the admin's page for that user.
   Medians, p95 and response sizes; round trips counted on one extra request.
5. Goals: overview page 1 at the largest size / at the smallest <= 1.5; the
   heavy user's own page < 100 ms and < 100 KB at the largest size.

``--plot DIR`` draws ``DIR/scale_pages_vs_store_size.png`` (``plots.py``). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import io
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ``python benchmarks/bench_scale.py`` puts benchmarks/ (not the repository root)
# on sys.path; benchmark the checkout's engine even when another one is installed.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if (_REPO_ROOT / "django_redis_sessions").is_dir():
    sys.path.insert(0, str(_REPO_ROOT))

import django  # noqa: E402
import hiredis  # noqa: E402
import redis  # noqa: E402
from benchlib import new_run_tag, packed_commands, session_counts_arg  # noqa: E402
from django.conf import settings  # noqa: E402
from plots import (  # noqa: E402
    MatplotlibMissing,
    machine_description,
    require_matplotlib,
    write_plots,
)

DEFAULT_SIZES = (1_000, 100_000, 1_000_000, 10_000_000)
DEFAULT_PORT = 6390
DEFAULT_REPS = 20
DEFAULT_HEAVY_REPS = 10
DEFAULT_HEAVY_SESSIONS = 10_000
WARMUP_REQUESTS = 2

#: Share of anonymous filler sessions, and how many sessions a signed-in user has
#: (drawn per user; mean about 2.1).
ANONYMOUS_SHARE = 0.30
SESSIONS_PER_USER = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6)
#: Filler user ids start here (the database's own users, the superuser and the
#: heavy user, have small ids).
FILLER_FIRST_UID = 1_000
#: The engine's defaults: absolute age 30 days, idle (SESSION_COOKIE_AGE) 14 days.
ABSOLUTE_AGE = 30 * 24 * 60 * 60
IDLE = 14 * 24 * 60 * 60
#: Sessions were created in the last CREATED_WITHIN seconds (less than IDLE, so
#: every one is still alive while the benchmark runs) and seen since.
CREATED_WITHIN = 13 * 24 * 60 * 60
#: Commands per pipelined round trip while building.
BUILD_BATCH = 10_000
#: Distinct user agents, and (IP, user agent) pairs, the filler draws from (the
#: heavy user's are all its own).
AGENT_POOL = 5_000
META_POOL = 50_000
PROGRESS_EVERY = 200_000

#: The overview's page size (RedisSessionAdmin.list_per_page) and the "later" page.
PER_PAGE = 50
LATER_PAGE = 5

GOAL_OVERVIEW_RATIO = 1.5
GOAL_HEAVY_MS = 100.0
GOAL_HEAVY_BYTES = 100 * 1024

ADMIN_BASE = "/admin/django_redis_sessions/redissession/"
OWN_BASE = "/account/sessions/"

#: The pages timed: name -> (label, client, heavy page or not).
PAGES: dict[str, tuple[str, str, bool]] = {
    "overview_p1": ("admin overview, page 1", "admin", False),
    "overview_p5": (f"admin overview, page {LATER_PAGE}", "admin", False),
    "overview_last": ("admin overview, last page", "admin", False),
    "heavy_own_page": ("heavy user: own page (HTML)", "heavy", True),
    "heavy_own_api": ("heavy user: own API (JSON)", "heavy", True),
    "heavy_admin_page": ("admin: heavy user's page", "admin", True),
}

_BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{major}.0.{build}.{patch} Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{major}.0.{build}.{patch} Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{ff}.0) Gecko/20100101 Firefox/{ff}.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{ff}.0) Gecko/20100101 Firefox/{ff}.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{safari}.{minor} Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS {ios}_{minor} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{ios}.{minor} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android {android}; Pixel {pixel}) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/{major}.0.{build}.{patch} Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{major}.0.{build}.{patch} Safari/537.36 Edg/{major}.0.{build}.{edge}",
)


def user_agent(rng: random.Random) -> str:
    """A realistic user agent; versions drawn, so nearly every call differs."""
    template = rng.choice(_BROWSERS)
    return template.format(
        major=rng.randint(110, 131),
        build=rng.randint(5000, 6800),
        patch=rng.randint(0, 250),
        edge=rng.randint(0, 120),
        ff=rng.randint(115, 133),
        safari=rng.randint(15, 18),
        ios=rng.randint(15, 18),
        minor=rng.randint(0, 6),
        android=rng.randint(11, 15),
        pixel=rng.randint(5, 9),
    )


def ip_address(rng: random.Random) -> str:
    return (
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    )


# -- our own redis-server ------------------------------------------------------------


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    directory: tempfile.TemporaryDirectory[str]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _port_answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_server(port: int, binary: str) -> Server:
    """A private redis-server on 127.0.0.1:port: no persistence, no memory cap."""
    if _port_answers(port):
        raise SystemExit(f"Something already listens on 127.0.0.1:{port}: choose another --port.")
    directory = tempfile.TemporaryDirectory(prefix="bench-scale-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--maxmemory", "0",
            "--dir", directory.name,
            "--loglevel", "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if process.poll() is not None:
                raise SystemExit(f"redis-server exited with status {process.returncode}") from None
            time.sleep(0.05)
    else:
        process.kill()
        raise SystemExit(f"redis-server did not answer on port {port}")
    client.close()
    return Server(port, process, directory)


def stop_server(server: Server) -> None:
    client = redis.Redis(port=server.port, socket_timeout=30)
    # The connection drops as the server exits, which redis-py reports as an error.
    with contextlib.suppress(redis.RedisError):
        client.shutdown(nosave=True)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
    server.directory.cleanup()


# -- Django --------------------------------------------------------------------------


def configure_django(redis_url: str, prefix: str) -> None:
    from django.contrib import admin
    from django.urls import include, path

    urls = types.ModuleType("bench_scale_urls")
    sys.modules[urls.__name__] = urls
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        USE_TZ=True,
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF=urls.__name__,
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_redis_sessions",
            "django.contrib.messages",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django_redis_sessions.middleware.SessionActivityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
        ],
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        SESSION_ENGINE="django_redis_sessions.backend",
        SESSION_REDIS_URL=redis_url,
        SESSION_REDIS_PREFIX=prefix,
    )
    django.setup()
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("admin/", admin.site.urls),
        path("account/sessions/", include("django_redis_sessions.urls")),
    ]
    from django.core.management import call_command

    call_command("migrate", run_syncdb=True, verbosity=0)


# -- building the store ----------------------------------------------------------------


@dataclass
class Build:
    """What the store holds so far, and how long each step took."""

    prefix: str
    rng: random.Random
    now: int
    filler: int = 0
    signed_in: int = 0
    anonymous: int = 0
    users: int = 0
    heavy: int = 0
    commands: int = 0
    next_uid: int = FILLER_FIRST_UID
    max_deadline: int = 0
    steps: list[dict[str, Any]] = field(default_factory=list)


class Writer:
    """Pipelined writes on a socket of its own, BUILD_BATCH commands per round trip.

    redis-py's pipeline spends most of a build in Python (argument encoding and
    reply parsing per command); here each command is packed by hiredis's
    ``pack_command`` (what redis-py uses too) and the replies are parsed by a
    ``hiredis.Reader``, so 10,000,000 sessions build in minutes. Every reply is
    checked: an error reply stops the build.
    """

    def __init__(self, port: int, build: Build) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()
        self.packed: list[bytes] = []
        self.build = build

    def command(self, *args: Any) -> None:
        self.packed.append(hiredis.pack_command(args))
        if len(self.packed) >= BUILD_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.packed:
            return
        expected = len(self.packed)
        self.sock.sendall(b"".join(self.packed))
        self.packed = []
        got = 0
        while got < expected:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("redis-server closed the connection during the build")
            self.reader.feed(chunk)
            while (reply := self.reader.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise SystemExit(f"redis-server refused a build command: {reply}")
                got += 1
        self.build.commands += expected

    def close(self) -> None:
        self.flush()
        self.sock.close()


@functools.cache
def _codec() -> Any:
    """The engine's value codec for Django's default serializer (JSON)."""
    from django.core.signing import JSONSerializer

    from django_redis_sessions.codec import ValueCodec

    return ValueCodec(JSONSerializer)


def client_meta(ip: str, agent: str) -> dict[str, str]:
    """The metadata the engine records for a request from ``ip`` with ``agent``:
    ``request_meta.client_meta`` itself (IP, user agent and, since the engine
    stores it, the device name parsed from the agent), on a request built for it."""
    from django.test import RequestFactory

    from django_redis_sessions.request_meta import client_meta as engine_client_meta

    request = RequestFactory().get("/", REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
    return engine_client_meta(request)


class Sampler:
    """Fast draws for the filler: a pool of recorded metadata (IP, user agent,
    device), times in a window, session digests."""

    def __init__(self, rng: random.Random, now: int) -> None:
        self.rng = rng
        self.now = now
        agents = [user_agent(rng) for _ in range(AGENT_POOL)]
        self.metas = [
            client_meta(ip_address(rng), agents[number % AGENT_POOL]) for number in range(META_POOL)
        ]

    def meta(self) -> dict[str, str]:
        return self.metas[int(self.rng.random() * META_POOL)]

    def times(self) -> tuple[int, int, int, int]:
        """created, seen, deadline and the expiry in ms the save script would set."""
        random_ = self.rng.random
        created = self.now - int(random_() * CREATED_WITHIN)
        seen = created + int(random_() * (self.now - created + 1))
        deadline = created + ABSOLUTE_AGE
        return created, seen, deadline, min(seen + IDLE, deadline) * 1000

    def digest(self) -> str:
        """The digest of a fresh session key (32 characters of [0-9a-f], a valid key)."""
        from django_redis_sessions.storage import keys

        return keys.digest(f"{self.rng.getrandbits(128):032x}")


def write_user(
    writer: Writer,
    build: Build,
    sampler: Sampler,
    uid: int,
    count: int,
    agents: Sequence[str] | None = None,
) -> None:
    """``count`` signed-in sessions of user ``uid``, its index and its users-index entry."""
    from django_redis_sessions.storage import keys, record

    prefix = build.prefix
    user_id = str(uid)
    # What django.contrib.auth.login() stores, encoded as the engine encodes it.
    data = _codec().encode(
        {
            "_auth_user_id": user_id,
            "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
            "_auth_user_hash": f"{sampler.rng.getrandbits(256):064x}",
        },
        str,
    )
    index = keys.user_index_key(prefix, user_id)
    latest_created = 0
    top = 0
    for number in range(count):
        created, seen, deadline, expires_ms = sampler.times()
        meta = client_meta(ip_address(sampler.rng), agents[number]) if agents else sampler.meta()
        raw = record.encode(record.Record(created, seen, deadline, IDLE, user_id, data, meta))
        digest = sampler.digest()
        writer.command("SET", keys.session_redis_key(prefix, digest), raw, "PXAT", expires_ms)
        writer.command("ZADD", index, deadline, digest)
        latest_created = max(latest_created, created)
        top = max(top, deadline)
    # The index lives as long as its longest-lived member (index_ttl in the scripts);
    # the users index scores the user by the latest sign-in, in ms.
    writer.command("EXPIREAT", index, top + 1)
    signed_in_ms = latest_created * 1000 + int(sampler.rng.random() * 1000)
    writer.command("ZADD", keys.users_key(prefix), signed_in_ms, user_id)
    build.max_deadline = max(build.max_deadline, top)


def write_anonymous(writer: Writer, build: Build, sampler: Sampler) -> None:
    from django_redis_sessions.storage import keys, record

    random_ = sampler.rng.random
    cart = [int(random_() * 10_000) for _ in range(3)]
    data = _codec().encode({"cart": cart, "currency": "EUR"}, str)
    created, seen, deadline, expires_ms = sampler.times()
    raw = record.encode(record.Record(created, seen, deadline, IDLE, "", data, sampler.meta()))
    key = keys.session_redis_key(build.prefix, sampler.digest())
    writer.command("SET", key, raw, "PXAT", expires_ms)


def finish_step(writer: Writer, build: Build) -> None:
    from django_redis_sessions.storage import keys

    # The users index lives as long as the longest-lived index it lists.
    writer.command("EXPIREAT", keys.users_key(build.prefix), build.max_deadline + 1)
    writer.close()


def write_heavy_user(port: int, build: Build, sampler: Sampler, uid: int, count: int) -> float:
    """The heavy user's sessions, each with its own user agent (drawn, not pooled)."""
    started = time.perf_counter()
    writer = Writer(port, build)
    agents = [user_agent(sampler.rng) for _ in range(count)]
    write_user(writer, build, sampler, uid, count, agents)
    finish_step(writer, build)
    build.heavy = count
    return time.perf_counter() - started


def grow_to(port: int, build: Build, sampler: Sampler, target: int) -> float:
    """Add filler sessions until there are ``target``; return the seconds it took.

    The garbage collector is off meanwhile: the build allocates nothing that lives
    on, and after the heavy user's pages the heap is large enough for collections
    to halve the build rate."""
    gc.collect()
    gc.disable()
    try:
        return _grow_to(port, build, sampler, target)
    finally:
        gc.enable()


def _grow_to(port: int, build: Build, sampler: Sampler, target: int) -> float:
    started = time.perf_counter()
    writer = Writer(port, build)
    random_ = sampler.rng.random
    next_report = (build.filler // PROGRESS_EVERY + 1) * PROGRESS_EVERY
    while build.filler < target:
        if random_() < ANONYMOUS_SHARE:
            write_anonymous(writer, build, sampler)
            build.anonymous += 1
            build.filler += 1
        else:
            # A user's sessions never cross a step: the last user of a step is cut short.
            drawn = SESSIONS_PER_USER[int(random_() * len(SESSIONS_PER_USER))]
            count = min(drawn, target - build.filler)
            write_user(writer, build, sampler, build.next_uid, count)
            build.next_uid += 1
            build.users += 1
            build.signed_in += count
            build.filler += count
        if build.filler >= next_report:
            next_report += PROGRESS_EVERY
            elapsed = time.perf_counter() - started
            print(
                f"\r  building: {build.filler:,}/{target:,} sessions ({elapsed:.0f} s)",
                end="",
                file=sys.stderr,
                flush=True,
            )
    finish_step(writer, build)
    if target >= PROGRESS_EVERY:
        print(file=sys.stderr)
    return time.perf_counter() - started


def memory_info(client: redis.Redis) -> dict[str, Any]:
    info = client.info("memory")
    return {
        "used_memory": int(info["used_memory"]),
        "used_memory_human": info.get("used_memory_human"),
        "used_memory_rss": int(info["used_memory_rss"]),
        "dbsize": int(client.dbsize()),
    }


# -- timing pages ------------------------------------------------------------------------


@contextmanager
def counting_round_trips() -> Iterator[list[list[str]]]:
    """Record each ``send_packed_command`` call (one round trip) as its command names."""
    trips: list[list[str]] = []
    connection_class = redis.connection.AbstractConnection
    original = connection_class.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        packed = command if isinstance(command, bytes) else b"".join(command)
        trips.append([args[0].decode().upper() for args in packed_commands(packed)])
        original(self, command, check_health)  # type: ignore[no-untyped-call]

    connection_class.send_packed_command = counted  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        connection_class.send_packed_command = original  # type: ignore[method-assign]


def _trip_summary(trips: list[list[str]]) -> list[str]:
    summary = []
    for names in trips:
        if len(names) == 1:
            summary.append(names[0])
        else:
            counts: dict[str, int] = {}
            for name in names:
                counts[name] = counts.get(name, 0) + 1
            summary.append("+".join(f"{n}x{c}" if c > 1 else n for n, c in counts.items()))
    return summary


def page_urls(heavy_uid: int, users: int) -> dict[str, str]:
    last = max(1, -(-users // PER_PAGE))
    return {
        "overview_p1": ADMIN_BASE,
        "overview_p5": f"{ADMIN_BASE}?p={LATER_PAGE}",
        "overview_last": f"{ADMIN_BASE}?p={last}",
        "heavy_own_page": OWN_BASE,
        "heavy_own_api": f"{OWN_BASE}api/",
        "heavy_admin_page": f"{ADMIN_BASE}user/{heavy_uid}/",
    }


def _percentile(samples: Sequence[float], pct: int) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    # Linear interpolation between closest ranks (numpy's default).
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def time_pages(
    clients: dict[str, Any], urls: dict[str, str], reps: int, heavy_reps: int
) -> dict[str, dict[str, Any]]:
    """Interleaved rounds: each round requests every page once (order rotated)."""
    names = list(PAGES)
    for name in names:
        for _ in range(WARMUP_REQUESTS):
            response = clients[PAGES[name][1]].get(urls[name])
            if response.status_code != 200:
                raise SystemExit(f"{urls[name]} answered {response.status_code}")
    samples: dict[str, list[float]] = {name: [] for name in names}
    sizes: dict[str, int] = {}
    rounds = max(reps, heavy_reps)
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            _label, who, heavy = PAGES[name]
            if number >= (heavy_reps if heavy else reps):
                continue
            client = clients[who]
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter_ns()
                response = client.get(urls[name])
                elapsed = time.perf_counter_ns() - start
            finally:
                gc.enable()
            if response.status_code != 200:
                raise SystemExit(f"{urls[name]} answered {response.status_code}")
            samples[name].append(elapsed / 1e6)
            sizes[name] = len(response.content)
        print(f"\r  timed {number + 1}/{rounds} rounds", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        client = clients[PAGES[name][1]]
        with counting_round_trips() as trips:
            response = client.get(urls[name])
        extra: dict[str, Any] = {}
        if name == "heavy_own_api":
            extra["sessions_listed"] = len(json.loads(response.content)["sessions"])
        results[name] = {
            "url": urls[name],
            "median_ms": statistics.median(samples[name]),
            "p95_ms": _percentile(samples[name], 95),
            "min_ms": min(samples[name]),
            "max_ms": max(samples[name]),
            "samples_ms": samples[name],
            "bytes": sizes[name],
            "round_trips": len(trips),
            "trip_commands": _trip_summary(trips),
            **extra,
        }
    return results


#: What ``--commands`` times at each size: (label, arguments, largest size to run it at).
#: The store-wide walks cost what the store holds by nature (they read every key),
#: so they stop at COMMANDS_WALK_LIMIT to keep the run in minutes.
COMMANDS_WALK_LIMIT = 1_000_000


def command_runs(heavy_uid: int) -> list[tuple[str, list[str], int | None]]:
    uid = str(heavy_uid)
    walk = COMMANDS_WALK_LIMIT
    return [
        ("list_sessions <heavy> --limit 50 --jsonl",
         ["list_sessions", "--id", uid, "--limit", "50", "--jsonl"], None),
        ("list_sessions --all --limit 50 --jsonl",
         ["list_sessions", "--all", "--limit", "50", "--jsonl"], None),
        ("revoke_sessions <heavy> --dry-run", ["revoke_sessions", "--id", uid, "--dry-run"], None),
        ("revoke_sessions --all --dry-run", ["revoke_sessions", "--all", "--dry-run"], walk),
        ("clearsessions", ["clearsessions"], walk),
    ]  # fmt: skip


def time_commands(heavy_uid: int, size: int) -> list[dict[str, Any]]:
    """One timed run of each management command (stdout discarded), and its round trips."""
    from django.core.management import call_command

    rows = []
    for label, arguments, limit in command_runs(heavy_uid):
        if limit is not None and size > limit:
            continue
        out = io.StringIO()
        gc.collect()
        with counting_round_trips() as trips:
            start = time.perf_counter()
            call_command(*arguments, stdout=out, stderr=io.StringIO())
            elapsed = time.perf_counter() - start
        rows.append(
            {
                "command": label,
                "seconds": elapsed,
                "round_trips": len(trips),
                "output_bytes": len(out.getvalue().encode()),
            }
        )
        print(f"  {label}: {elapsed * 1000:,.1f} ms, {len(trips):,} round trips", file=sys.stderr)
    return rows


# -- report ------------------------------------------------------------------------------


def _mib(value: int) -> str:
    return f"{value / 2**20:,.1f} MiB"


def _status(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(results: dict[str, Any]) -> None:
    config = results["config"]
    print(f"\n{config['machine']}; Django {config['django']}, redis-py {config['redis_py']}")
    print(
        f"Store under prefix {config['prefix']!r} on a private redis-server "
        f"(port {config['port']}); heavy user {config['heavy_user_id']} with "
        f"{config['heavy_sessions']:,} sessions in every size"
    )
    print("\nBuild (pipelined writes of the engine's record format, growing one store)")
    print(
        f"  {'size':>11} {'sessions':>11} {'signed in':>10} {'users':>10} {'step s':>8} "
        f"{'total s':>8} {'sess/s':>9} {'used_memory':>13} {'rss':>13} {'keys':>11}"
    )
    for step in results["build"]:
        print(
            f"  {step['size']:>11,} {step['total_sessions']:>11,} {step['signed_in']:>10,} "
            f"{step['users']:>10,} {step['seconds']:>8.1f} {step['cumulative_seconds']:>8.1f} "
            f"{step['sessions_per_s']:>9,.0f} {_mib(step['used_memory']):>13} "
            f"{_mib(step['used_memory_rss']):>13} {step['dbsize']:>11,}"
        )
    print(f"  heavy user's {config['heavy_sessions']:,} sessions: {results['heavy_build_s']:.2f} s")
    sizes = [step["size"] for step in results["build"]]
    print("\nPages through HTTP (Django test Client): median / p95 ms, response bytes, trips")
    header = "  " + f"{'page':<38}" + "".join(f"{size:>24,}" for size in sizes)
    print(header)
    for page in results["pages"].values():
        cells = "".join(
            f"{row['median_ms']:>8.1f} /{row['p95_ms']:>7.1f} {row['bytes']:>7,}"
            if row["bytes"] < 10_000_000
            else f"{row['median_ms']:>8.1f} /{row['p95_ms']:>7.1f} {row['bytes'] / 1e6:>5.1f}MB"
            for row in page["by_size"]
        )
        print(f"  {page['label']:<38}{cells}")
        trips = "".join(f"{row['round_trips']:>24}" for row in page["by_size"])
        print(f"  {'  round trips':<38}{trips}")
    if results.get("commands"):
        print("\nManagement commands (one run each): seconds, round trips")
        for step in results["commands"]:
            for row in step["runs"]:
                print(
                    f"  {step['size']:>12,}  {row['command']:<44} "
                    f"{row['seconds']:>9.3f} s {row['round_trips']:>8,}"
                )
    print("\nGoals")
    for goal in results["goals"]:
        flag = "" if goal["primary"] else " (info)"
        print(f"  [{_status(goal['ok'])}] {goal['goal']}: {goal['value']}{flag}")


def goals_of(results: dict[str, Any]) -> list[dict[str, Any]]:
    pages = results["pages"]
    first, last = results["build"][0]["size"], results["build"][-1]["size"]
    p1 = pages["overview_p1"]["by_size"]
    ratio = p1[-1]["median_ms"] / p1[0]["median_ms"]
    goals = [
        {
            "goal": f"overview page 1 median at {last:,} / at {first:,} <= {GOAL_OVERVIEW_RATIO}",
            "value": round(ratio, 3),
            "ok": ratio <= GOAL_OVERVIEW_RATIO,
            "primary": True,
        }
    ]
    for name in ("heavy_own_page", "heavy_own_api", "heavy_admin_page"):
        row = pages[name]["by_size"][-1]
        primary = name == "heavy_own_page"
        label = pages[name]["label"]
        goals.append(
            {
                "goal": f"{label} at {last:,}: median < {GOAL_HEAVY_MS:.0f} ms",
                "value": f"{row['median_ms']:.1f} ms (p95 {row['p95_ms']:.1f} ms)",
                "ok": row["median_ms"] < GOAL_HEAVY_MS,
                "primary": primary,
            }
        )
        goals.append(
            {
                "goal": f"{label} at {last:,}: < {GOAL_HEAVY_BYTES // 1024} KB",
                "value": f"{row['bytes']:,} bytes",
                "ok": row["bytes"] < GOAL_HEAVY_BYTES,
                "primary": primary,
            }
        )
    return goals


# -- main ----------------------------------------------------------------------------------


def _sizes_arg(text: str) -> list[int]:
    return sorted(set(session_counts_arg(text)))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the admin overview and a heavy user's pages at growing store sizes "
        "(on a private redis-server it starts and stops).",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes_arg,
        default=list(DEFAULT_SIZES),
        metavar="N,N,...",
        help="filler sessions at each measured size, grown in one store "
        f"(default: {','.join(map(str, DEFAULT_SIZES))})",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port of the private redis-server on 127.0.0.1 (default: {DEFAULT_PORT}; "
        "refused when something already listens there)",
    )
    parser.add_argument("--redis-server", default="redis-server", help="the binary to start")
    parser.add_argument(
        "--reps",
        type=int,
        default=DEFAULT_REPS,
        help=f"timed requests of each overview page per size (default: {DEFAULT_REPS})",
    )
    parser.add_argument(
        "--heavy-reps",
        type=int,
        default=DEFAULT_HEAVY_REPS,
        help=f"timed requests of each heavy-user page per size (default: {DEFAULT_HEAVY_REPS})",
    )
    parser.add_argument(
        "--heavy-sessions",
        type=int,
        default=DEFAULT_HEAVY_SESSIONS,
        help=f"sessions of the heavy user (default: {DEFAULT_HEAVY_SESSIONS:,})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated store")
    parser.add_argument(
        "--commands",
        action="store_true",
        help="also time the management commands at each size (the store-wide walks up "
        f"to {COMMANDS_WALK_LIMIT:,} sessions)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--plot", metavar="DIR", help="also draw DIR/scale_pages_vs_store_size.png")
    args = parser.parse_args(argv)
    if args.port == 6379:
        parser.error("--port 6379 is the shared Redis's port: use another one")
    if args.reps < 1 or args.heavy_reps < 1 or args.heavy_sessions < 1:
        parser.error("--reps, --heavy-reps and --heavy-sessions must be >= 1")
    if args.plot:
        try:
            require_matplotlib()
        except MatplotlibMissing as exc:
            parser.error(str(exc))
    return args


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM: stop like Ctrl-C does, through the finally that stops the server.
    print(f"\nStopped by signal {signum}", file=sys.stderr)
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    server = start_server(args.port, args.redis_server)
    try:
        return run(args, server, started)
    finally:
        stop_server(server)
        print(f"  redis-server on port {server.port} shut down", file=sys.stderr)


def run(args: argparse.Namespace, server: Server, started: float) -> int:
    prefix = new_run_tag()
    configure_django(server.url, prefix)
    from django.contrib.auth import get_user_model
    from django.test import Client

    import django_redis_sessions

    print(f"Engine: {django_redis_sessions.__file__}", file=sys.stderr)
    client = redis.Redis.from_url(server.url)
    user_model = get_user_model()
    superuser = user_model.objects.create_superuser("admin", "admin@example.com", "x")
    heavy = user_model.objects.create_user("heavy", "heavy@example.com", "x")
    build = Build(prefix, random.Random(args.seed), int(time.time()))
    empty = memory_info(client)
    print(f"  writing the heavy user's {args.heavy_sessions:,} sessions", file=sys.stderr)
    sampler = Sampler(build.rng, build.now)
    heavy_build_s = write_heavy_user(server.port, build, sampler, heavy.pk, args.heavy_sessions)
    # Sign in through the engine (one more session each; the heavy user then has
    # heavy_sessions + 1).
    clients = {"admin": Client(), "heavy": Client()}
    clients["admin"].force_login(superuser)
    clients["heavy"].force_login(heavy)
    pages: dict[str, dict[str, Any]] = {
        name: {"label": label, "client": who, "heavy": is_heavy, "by_size": []}
        for name, (label, who, is_heavy) in PAGES.items()
    }
    cumulative = 0.0
    commands: list[dict[str, Any]] = []
    for size in args.sizes:
        print(f"Size {size:,}", file=sys.stderr)
        seconds = grow_to(server.port, build, sampler, size)
        cumulative += seconds
        added = build.filler - (build.steps[-1]["size"] if build.steps else 0)
        step = {
            "size": size,
            "filler_sessions": build.filler,
            "total_sessions": build.filler + build.heavy + 2,
            "signed_in": build.signed_in,
            "anonymous": build.anonymous,
            "users": build.users,
            "heavy_sessions": build.heavy,
            "commands": build.commands,
            "seconds": seconds,
            "cumulative_seconds": cumulative,
            "sessions_per_s": added / seconds if seconds > 0 else 0.0,
            **memory_info(client),
        }
        build.steps.append(step)
        print(
            f"  built in {seconds:.1f} s ({step['sessions_per_s']:,.0f} sessions/s); "
            f"used_memory {_mib(step['used_memory'])}",
            file=sys.stderr,
        )
        client.memory_purge()
        urls = page_urls(heavy.pk, build.users + 2)
        timed = time_pages(clients, urls, args.reps, args.heavy_reps)
        for name, row in timed.items():
            pages[name]["by_size"].append({"size": size, **row})
        if args.commands:
            commands.append({"size": size, "runs": time_commands(heavy.pk, size)})
    redis_version = client.info("server").get("redis_version")
    results: dict[str, Any] = {
        "config": {
            "sizes": args.sizes,
            "reps": args.reps,
            "heavy_reps": args.heavy_reps,
            "warmup_requests": WARMUP_REQUESTS,
            "heavy_sessions": args.heavy_sessions,
            "heavy_user_id": heavy.pk,
            "seed": args.seed,
            "prefix": prefix,
            "port": server.port,
            "anonymous_share": ANONYMOUS_SHARE,
            "sessions_per_user": list(SESSIONS_PER_USER),
            "build_batch": BUILD_BATCH,
            "per_page": PER_PAGE,
            "engine": django_redis_sessions.__file__,
            "python": platform.python_version(),
            "django": django.get_version(),
            "redis_py": redis.__version__,
            "redis_server": redis_version,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "machine": machine_description(redis_version),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        },
        "empty_memory": empty,
        "heavy_build_s": heavy_build_s,
        "build": build.steps,
        "pages": pages,
        "commands": commands,
    }
    results["goals"] = goals_of(results)
    results["config"]["elapsed_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    print(f"\n({results['config']['elapsed_s']} s)")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"Results written to {args.json}")
    if args.plot:
        write_plots(results, args.plot)
    return 0 if all(goal["ok"] for goal in results["goals"] if goal["primary"]) else 1


if __name__ == "__main__":
    sys.exit(main())

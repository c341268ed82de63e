"""Side-by-side benchmark of Django session engines on Redis, in one process.

Run from the repository root against a local Redis (db 15 by default)::

    python benchmarks/bench_sessions.py [--redis-url URL] [--rounds N] [--requests N]
                                        [--sessions N] [--json PATH]

Every contender serves the same signed-in request through Django's real
``SessionMiddleware`` + ``AuthenticationMiddleware``, called directly on
``RequestFactory`` requests built before the clock starts, with sliding expiry:

* ``baseline`` (reference): an in-memory ``SessionBase`` and no Redis at all, so
  the cost every row shares (Django, the ORM user lookup) can be subtracted;
* ``floor``: the same in-memory store plus exactly one bare ``GETEX key EX
  <idle>`` per request: what "Django + one Redis round trip" costs at best;
* ``ours``: ``django_redis_sessions.backend`` with its defaults;
* ``django-redis-sessions``: the PyPI package, ``SESSION_SAVE_EVERY_REQUEST=True``
  (the only way it slides);
* ``cache``: ``django.contrib.sessions.backends.cache`` on django-redis,
  ``SESSION_SAVE_EVERY_REQUEST=True``.

The machine this runs on may be noisy, so contenders run in interleaved rounds
(each round runs every contender once, in a rotated order) and the report uses
medians. Round trips are counted in a separate, untimed pass, and memory is
measured with ``MEMORY USAGE`` on every key a contender wrote for ``--sessions``
signed-in users. All keys live under one random run prefix and are deleted at
the end, whatever happens. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import secrets
import statistics
import sys
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

# ``python benchmarks/bench_sessions.py`` puts benchmarks/ (not the repository root)
# on sys.path; benchmark the checkout's engine even when it is not installed.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if (_REPO_ROOT / "django_redis_sessions").is_dir() and str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import django  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.sessions.backends.base import CreateError, SessionBase  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# Defaults sized for < ~90 s on a 2-core machine (most of it is the timed rounds).
DEFAULT_ROUNDS = 30
DEFAULT_REQUESTS = 150
DEFAULT_SESSIONS = 1000
WARMUP_REQUESTS = 20
COUNTED_REQUESTS = 20
#: Size of the value the floor's GETEX fetches: about what a signed-in session
#: (user id, backend path, auth hash, a few keys) weighs once encoded.
FLOOR_VALUE_BYTES = 300
AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"

GOAL_FLOOR_RATIO = 1.2
GOAL_SPEEDUP = 2.5
GOAL_ROUND_TRIPS = 1
GOAL_MEMORY_RATIO = 1.3


# -- the reference engines ----------------------------------------------------
#
# SESSION_ENGINE must name an importable module exposing ``SessionStore``; the two
# reference stores are registered as tiny modules so this benchmark stays one file.

_MEMORY_SESSIONS: dict[str, dict[str, Any]] = {}


class MemorySessionStore(SessionBase):
    """Sessions kept as dicts in this process: Django's session machinery, no I/O."""

    def load(self) -> dict[str, Any]:
        session_key = self.session_key
        data = _MEMORY_SESSIONS.get(session_key) if session_key else None
        if data is None:
            self._session_key = None
            return {}
        # A copy, as a real engine hands out a freshly decoded dict.
        return dict(data)

    def exists(self, session_key: str) -> bool:
        return session_key in _MEMORY_SESSIONS

    def create(self) -> None:
        while True:
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            return self.create()
        if must_create and self.session_key in _MEMORY_SESSIONS:
            raise CreateError
        _MEMORY_SESSIONS[self.session_key] = dict(self._get_session(no_load=must_create))
        return None

    def delete(self, session_key: str | None = None) -> None:
        session_key = session_key or self.session_key
        if session_key is not None:
            _MEMORY_SESSIONS.pop(session_key, None)

    @classmethod
    def clear_expired(cls) -> None:
        return None


class FloorSessionStore(MemorySessionStore):
    """The memory store plus exactly one bare ``GETEX key EX <idle>`` per load.

    Nothing is serialized and saves never touch Redis: the only cost on top of
    Django's own machinery is the one round trip that slides a ~300-byte value,
    the least any Redis engine with sliding expiry can do.
    """

    client: ClassVar[redis.Redis | None] = None
    key_prefix: ClassVar[str] = ""

    def load(self) -> dict[str, Any]:
        data = super().load()
        if self.session_key is not None:
            assert self.client is not None
            self.client.getex(self.key_prefix + self.session_key, ex=settings.SESSION_COOKIE_AGE)
        return data


def _register_engine(name: str, store: type[SessionBase]) -> str:
    module = types.ModuleType(name)
    module.SessionStore = store  # type: ignore[attr-defined]
    sys.modules[name] = module
    return name


BASELINE_ENGINE = _register_engine("bench_sessions_baseline_engine", MemorySessionStore)
FLOOR_ENGINE = _register_engine("bench_sessions_floor_engine", FloorSessionStore)


# -- contenders ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Contender:
    name: str
    label: str
    engine: str
    #: In effect while this contender's requests run: how a load-only engine slides.
    save_every_request: bool
    #: Whether its sessions live in Redis (and so get memory figures).
    in_redis: bool
    #: Key tag under the run prefix; equal lengths keep key-name memory comparable.
    tag: str


#: Reference rows: no goals, no "ours faster" figure.
REFERENCES = ("baseline", "floor")
COMPETITORS = ("django-redis-sessions", "cache")

CONTENDERS = [
    # Django + the ORM user lookup and no session I/O at all: what every row pays.
    Contender(
        name="baseline",
        label="baseline: memory, no Redis",
        engine=BASELINE_ENGINE,
        save_every_request=False,
        in_redis=False,
        tag="bas",
    ),
    Contender(
        name="floor",
        label="floor: memory + 1 GETEX",
        engine=FLOOR_ENGINE,
        save_every_request=False,
        in_redis=False,
        tag="flr",
    ),
    Contender(
        name="ours",
        label="ours (django_redis_sessions)",
        engine="django_redis_sessions.backend",
        # Our load slides the expiry itself, so nothing needs saving on reads.
        save_every_request=False,
        in_redis=True,
        tag="our",
    ),
    Contender(
        name="django-redis-sessions",
        label="django-redis-sessions 0.6",
        engine="redis_sessions.session",
        # Its load is a plain GET: saving every request is the only way it slides.
        save_every_request=True,
        in_redis=True,
        tag="drs",
    ),
    Contender(
        name="cache",
        label="cache backend + django-redis",
        engine="django.contrib.sessions.backends.cache",
        save_every_request=True,
        in_redis=True,
        tag="cch",
    ),
]


# -- settings ------------------------------------------------------------------


def configure_django(redis_url: str, run_prefix: str) -> None:
    """Settings for every contender at once; the per-contender ones are switched later.

    django-redis-sessions reads ``SESSION_REDIS`` once, at import, so it must be
    right here rather than switched per contender.
    """
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS=["testserver"],
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django_redis_sessions",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        CACHES={
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "sessions": {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": f"{run_prefix}:cch",
            },
        },
        SESSION_CACHE_ALIAS="sessions",
        SESSION_ENGINE=BASELINE_ENGINE,
        SESSION_SAVE_EVERY_REQUEST=False,
        # ours: defaults apart from where it lives.
        SESSION_REDIS_URL=redis_url,
        SESSION_REDIS_PREFIX=f"{run_prefix}:our",
        # django-redis-sessions: "url" is its own option and, unlike host/port/db,
        # carries a password, TLS or a unix socket from --redis-url unchanged.
        SESSION_REDIS={"url": redis_url, "prefix": f"{run_prefix}:drs"},
    )
    django.setup()


@contextmanager
def contender_settings(contender: Contender) -> Iterator[None]:
    """Put a contender's SESSION_ENGINE and SESSION_SAVE_EVERY_REQUEST in effect.

    Assigned on the configured settings rather than through ``override_settings``:
    its extra settings layer makes each read of an *unset* setting raise twice,
    which costs an engine that reads optional settings with defaults on every
    request (ours: ~25 µs) a price it never pays in production.
    """
    wanted = {
        "SESSION_ENGINE": contender.engine,
        "SESSION_SAVE_EVERY_REQUEST": contender.save_every_request,
    }
    saved = {name: getattr(settings, name) for name in wanted}
    for name, value in wanted.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(settings, name, value)


# -- requests ------------------------------------------------------------------

Handler = Callable[[HttpRequest], HttpResponse]


def read_view(request: HttpRequest) -> HttpResponse:
    # Reading request.user loads the session (and the user) like any signed-in page.
    return HttpResponse(str(request.user.pk))


def modify_view(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    counter = request.session.get("counter", 0) + 1
    request.session["counter"] = counter
    return HttpResponse(f"{user_id}:{counter}")


SCENARIOS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "read": read_view,
    "modify": modify_view,
}
SCENARIO_TITLES = {
    "read": "Read-only signed-in request (view reads request.user)",
    "modify": "Signed-in request that modifies one session key (a counter)",
}


def build_chain(contender: Contender, view: Handler) -> Handler:
    """Django's middleware, constructed while the contender's engine is configured.

    SessionMiddleware resolves SESSION_ENGINE in ``__init__``, so each contender
    needs its own instance.
    """
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    with contender_settings(contender):
        chain: Handler = SessionMiddleware(AuthenticationMiddleware(view))
    return chain


def sign_in(contender: Contender, user: Any) -> str:
    """A signed-in session for ``user`` as ``django.contrib.auth.login`` makes it."""
    from django.contrib.auth import login
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = import_module(contender.engine).SessionStore()
    request.user = AnonymousUser()
    login(request, user, backend=AUTH_BACKEND)
    request.session.save()
    session_key: str = request.session.session_key
    return session_key


def make_requests(session_key: str, count: int) -> list[HttpRequest]:
    """Requests carrying the session cookie, built outside the timed region."""
    from django.test import RequestFactory

    factory = RequestFactory()
    factory.cookies[settings.SESSION_COOKIE_NAME] = session_key
    return [factory.get("/") for _ in range(count)]


# -- round-trip counting -------------------------------------------------------


def _packed_commands(packed: bytes) -> list[list[bytes]]:
    """Split RESP-encoded commands (as sent by redis-py) into argument lists."""
    commands: list[list[bytes]] = []
    pos = 0
    while pos < len(packed) and packed[pos : pos + 1] == b"*":
        end = packed.index(b"\r\n", pos)
        argc = int(packed[pos + 1 : end])
        pos = end + 2
        args: list[bytes] = []
        for _ in range(argc):
            end = packed.index(b"\r\n", pos)
            length = int(packed[pos + 1 : end])
            pos = end + 2
            args.append(packed[pos : pos + length])
            pos += length + 2
        commands.append(args)
    return commands


def _script_names() -> dict[bytes, str]:
    from django_redis_sessions import store

    scripts = (store.LOAD, store.SAVE, store.DELETE, store.CYCLE, store.DISCARD)
    return {script.sha.encode(): script.name for script in scripts}


class RoundTripCounter:
    """Counts calls to ``send_packed_command``: one call is one round trip.

    Pipelines pack all their commands into one call, so they count once too.
    """

    def __init__(self) -> None:
        self.round_trips = 0
        self.trips: list[str] = []
        self._scripts = _script_names()

    def _describe(self, args: list[bytes]) -> str:
        name = args[0].decode().upper()
        if name == "EVALSHA" and len(args) > 1:
            return f"EVALSHA({self._scripts.get(args[1], args[1][:8].decode())})"
        return name

    def record(self, command: Any) -> None:
        self.round_trips += 1
        chunks = [command] if isinstance(command, bytes | str) else command
        packed = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        self.trips.append("+".join(self._describe(a) for a in _packed_commands(packed)))

    @contextmanager
    def installed(self) -> Iterator[RoundTripCounter]:
        connection_class = redis.connection.AbstractConnection
        original = connection_class.send_packed_command
        counter = self

        def counting(self: Any, command: Any, check_health: bool = True) -> None:
            counter.record(command)
            original(self, command, check_health)

        connection_class.send_packed_command = counting  # type: ignore[method-assign]
        try:
            yield self
        finally:
            connection_class.send_packed_command = original  # type: ignore[method-assign]


# -- measurement ---------------------------------------------------------------


@dataclass
class Timing:
    samples_us: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_us)

    @property
    def iqr_pct(self) -> float:
        """Interquartile range as a share of the median: how noisy the rounds were."""
        if len(self.samples_us) < 4:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.samples_us, n=4)
        return 100.0 * (q3 - q1) / self.median


def time_batch(chain: Handler, requests: Sequence[HttpRequest]) -> float:
    """Mean µs per request for one batch; the GC stays off so its pauses land nowhere."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for request in requests:
            chain(request)
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    return elapsed / len(requests) / 1000.0


@dataclass
class Bench:
    redis_url: str
    run_prefix: str
    rounds: int
    requests: int
    sessions: int
    client: redis.Redis
    contenders: list[Contender]
    users: dict[str, Any] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)
    chains: dict[tuple[str, str], Handler] = field(default_factory=dict)

    # -- setup -----------------------------------------------------------------

    def setup(self) -> None:
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        FloorSessionStore.client = self.client
        FloorSessionStore.key_prefix = f"{self.run_prefix}:flr:"
        for contender in self.contenders:
            user = User.objects.create_user(f"bench-{contender.name}", password="x")
            self.users[contender.name] = user
            with contender_settings(contender):
                key = sign_in(contender, user)
            self.session_keys[contender.name] = key
            if contender.name == "floor":
                self.client.set(
                    FloorSessionStore.key_prefix + key,
                    secrets.token_hex(FLOOR_VALUE_BYTES // 2),
                    ex=settings.SESSION_COOKIE_AGE,
                )
            for scenario, view in SCENARIOS.items():
                self.chains[contender.name, scenario] = build_chain(contender, view)

    def run_once(self, contender: Contender, scenario: str, count: int) -> list[bytes]:
        requests = make_requests(self.session_keys[contender.name], count)
        chain = self.chains[contender.name, scenario]
        with contender_settings(contender):
            return [chain(request).content for request in requests]

    def warm_up_and_check(self) -> None:
        """Open connections, load scripts, and prove every contender is signed in.

        A contender whose session silently failed to load would serve an
        anonymous user very fast; that must stop the run, not win it.
        """
        for contender in self.contenders:
            expected = str(self.users[contender.name].pk).encode()
            for body in self.run_once(contender, "read", WARMUP_REQUESTS):
                if body != expected:
                    raise SystemExit(
                        f"{contender.name}: read-only request saw user {body!r}, "
                        f"expected {expected!r}: the session did not load."
                    )
            bodies = self.run_once(contender, "modify", WARMUP_REQUESTS)
            counters = [int(body.split(b":")[1]) for body in bodies]
            user_ids = {body.split(b":")[0] for body in bodies}
            if user_ids != {expected} or counters != list(
                range(counters[0], counters[0] + len(counters))
            ):
                raise SystemExit(
                    f"{contender.name}: modifying requests returned {bodies[:3]!r}...: "
                    "the user or the counter did not persist between requests."
                )

    # -- timing ----------------------------------------------------------------

    def time_rounds(self) -> dict[str, dict[str, Timing]]:
        timings = {s: {c.name: Timing() for c in self.contenders} for s in SCENARIOS}
        total = self.rounds * len(SCENARIOS) * len(self.contenders)
        done = 0
        for round_index in range(self.rounds):
            # Rotating the order spreads drift (thermal, other tenants) over everyone.
            shift = round_index % len(self.contenders)
            order = self.contenders[shift:] + self.contenders[:shift]
            for scenario in SCENARIOS:
                for contender in order:
                    requests = make_requests(self.session_keys[contender.name], self.requests)
                    chain = self.chains[contender.name, scenario]
                    with contender_settings(contender):
                        sample = time_batch(chain, requests)
                    timings[scenario][contender.name].samples_us.append(sample)
                    done += 1
            print(f"\r  timed {done}/{total} batches", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return timings

    def count_round_trips(self) -> dict[str, dict[str, dict[str, Any]]]:
        result: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SCENARIOS}
        for scenario in SCENARIOS:
            for contender in self.contenders:
                counter = RoundTripCounter()
                with counter.installed():
                    self.run_once(contender, scenario, COUNTED_REQUESTS)
                per_request = counter.round_trips / COUNTED_REQUESTS
                trips = Counter(counter.trips)
                result[scenario][contender.name] = {
                    "round_trips": per_request,
                    "commands": {k: v / COUNTED_REQUESTS for k, v in trips.items()},
                }
        return result

    # -- memory ----------------------------------------------------------------

    def contender_keys(self, contender: Contender) -> list[bytes]:
        pattern = _escape_glob(f"{self.run_prefix}:{contender.tag}:") + "*"
        return list(self.client.scan_iter(match=pattern, count=1000))

    def delete_keys(self, keys: list[bytes]) -> None:
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])

    def measure_memory(self) -> dict[str, dict[str, Any]]:
        """Bytes per signed-in session: every key a contender wrote for N users."""
        from django.contrib.auth.models import User

        users = User.objects.bulk_create(
            User(username=f"bench-mem-{i}", password="!") for i in range(self.sessions)
        )
        if users[0].pk is None:  # backends that cannot return ids from bulk inserts
            users = list(User.objects.filter(username__startswith="bench-mem-"))
        result: dict[str, dict[str, Any]] = {}
        for contender in self.contenders:
            if not contender.in_redis:
                continue
            # Start from nothing so only these N sessions (and their indexes) count.
            self.delete_keys(self.contender_keys(contender))
            with contender_settings(contender):
                for user in users:
                    sign_in(contender, user)
            keys = self.contender_keys(contender)
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                # SAMPLES 0: exact figures for sorted sets (the per-user index).
                pipe.memory_usage(key, samples=0)
            sizes = pipe.execute()
            by_kind: Counter[str] = Counter()
            for key, size in zip(keys, sizes, strict=True):
                by_kind[_key_kind(key.decode(), self.run_prefix, contender.tag)] += size
            result[contender.name] = {
                "bytes_per_session": sum(sizes) / self.sessions,
                "keys_per_session": len(keys) / self.sessions,
                "bytes_per_session_by_kind": {k: v / self.sessions for k, v in by_kind.items()},
            }
        return result

    def cleanup(self) -> int:
        keys = list(self.client.scan_iter(match=_escape_glob(self.run_prefix) + ":*", count=1000))
        self.delete_keys(keys)
        return len(keys)


def _escape_glob(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def _key_kind(key: str, run_prefix: str, tag: str) -> str:
    rest = key[len(f"{run_prefix}:{tag}:") :]
    if tag == "our":
        return {"s": "session", "u": "user index"}.get(rest.split(":", 1)[0], "other")
    return "session"


# -- report --------------------------------------------------------------------


def _commands_text(commands: dict[str, float]) -> str:
    return ", ".join(name if n == 1 else f"{name} x{n:g}" for name, n in commands.items())


def _goal(text: str, value: float, ok: bool) -> dict[str, Any]:
    return {"goal": text, "value": value, "ok": ok}


def summarize(
    bench: Bench,
    timings: dict[str, dict[str, Timing]],
    trips: dict[str, dict[str, dict[str, Any]]],
    memory: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    goals: list[dict[str, Any]] = []
    for scenario, per in timings.items():
        base = per["baseline"].median
        floor = per["floor"].median
        ours = per["ours"].median
        rows = {}
        for name, timing in per.items():
            median = timing.median
            rows[name] = {
                "median_us": median,
                "iqr_pct": timing.iqr_pct,
                "samples_us": timing.samples_us,
                "ratio_to_floor": median / floor,
                # What the session engine adds on top of Django + the user lookup.
                "session_cost_us": median - base,
                "ours_speedup": median / ours,
                "ours_speedup_on_session_cost": _safe_ratio(median - base, ours - base),
                **trips[scenario][name],
            }
        scenarios[scenario] = rows
        goals.append(
            _goal(
                f"{scenario}: ours <= {GOAL_FLOOR_RATIO}x floor",
                ours / floor,
                ours / floor <= GOAL_FLOOR_RATIO,
            )
        )
        goals.extend(
            _goal(
                f"{scenario}: ours >= {GOAL_SPEEDUP}x faster than {name}",
                per[name].median / ours,
                per[name].median / ours >= GOAL_SPEEDUP,
            )
            for name in COMPETITORS
        )
        ours_trips = trips[scenario]["ours"]["round_trips"]
        goals.append(
            _goal(
                f"{scenario}: ours makes {GOAL_ROUND_TRIPS} round trip per request",
                ours_trips,
                ours_trips == GOAL_ROUND_TRIPS,
            )
        )
    if memory:
        ours_bytes = memory["ours"]["bytes_per_session"]
        for row in memory.values():
            row["ours_ratio"] = ours_bytes / row["bytes_per_session"]
        ratio = memory["django-redis-sessions"]["ours_ratio"]
        goals.append(
            _goal(
                f"memory: ours <= {GOAL_MEMORY_RATIO}x django-redis-sessions",
                ratio,
                ratio <= GOAL_MEMORY_RATIO,
            )
        )
    return {
        "config": {
            "redis_url": _redacted(bench.redis_url),
            "rounds": bench.rounds,
            "requests_per_batch": bench.requests,
            "sessions_for_memory": bench.sessions,
            "python": platform.python_version(),
            "django": django.get_version(),
            "redis_py": redis.__version__,
            "redis_server": bench.client.info("server").get("redis_version"),
            "hiredis": _hiredis_version(),
        },
        "labels": {c.name: c.label for c in bench.contenders},
        "scenarios": scenarios,
        "memory": memory,
        "goals": goals,
    }


def _safe_ratio(numerator: float, denominator: float) -> float | None:
    # A session cost at or below zero is noise around the baseline: no ratio.
    return numerator / denominator if denominator > 0 else None


def _hiredis_version() -> str | None:
    try:
        import hiredis
    except ImportError:
        return None
    version: str = hiredis.__version__
    return version


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def print_report(results: dict[str, Any]) -> None:
    config = results["config"]
    labels = results["labels"]
    print(
        f"\nDjango {config['django']}, redis-py {config['redis_py']} "
        f"(hiredis {config['hiredis'] or 'no'}), Redis {config['redis_server']}, "
        f"Python {config['python']}; medians of {config['rounds']} interleaved rounds x "
        f"{config['requests_per_batch']} requests per contender and scenario."
    )
    for scenario, rows in results["scenarios"].items():
        print(f"\n{SCENARIO_TITLES[scenario]}")
        print(
            f"  {'contender':<29} {'µs/req':>7} {'iqr':>4} {'vs floor':>8} "
            f"{'ours faster':>11} | {'session µs':>10} {'ours faster':>11} | "
            f"{'trips':>5}  commands per request"
        )
        print("  " + "-" * 125)
        for name, row in rows.items():
            theirs = name not in (*REFERENCES, "ours")
            print(
                f"  {labels[name]:<29} {row['median_us']:>7.1f} {row['iqr_pct']:>3.0f}% "
                f"{row['ratio_to_floor']:>7.2f}x "
                f"{_ratio_text(row['ours_speedup'] if theirs else None):>11} | "
                f"{row['session_cost_us']:>10.1f} "
                f"{_ratio_text(row['ours_speedup_on_session_cost'] if theirs else None):>11} | "
                f"{row['round_trips']:>5g}  {_commands_text(row['commands']) or '-'}"
            )
    memory = results["memory"]
    if memory:
        sessions = config["sessions_for_memory"]
        print(f"\nRedis memory per signed-in session ({sessions} users, one session each)")
        print(f"  {'contender':<29} {'bytes':>7} {'keys':>5} {'ours/it':>8}  bytes by key kind")
        print("  " + "-" * 80)
        for name, row in memory.items():
            kinds = ", ".join(
                f"{kind} {size:.0f}"
                for kind, size in sorted(row["bytes_per_session_by_kind"].items())
            )
            ratio = None if name == "ours" else row.get("ours_ratio")
            print(
                f"  {labels[name]:<29} {row['bytes_per_session']:>7.0f} "
                f"{row['keys_per_session']:>5.2f} {_ratio_text(ratio):>8}  {kinds}"
            )
    print("\nGoals")
    for goal in results["goals"]:
        print(f"  [{'PASS' if goal['ok'] else 'FAIL'}] {goal['goal']}: {goal['value']:.2f}")


# -- main ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Django session engines on Redis side by side.",
    )
    parser.add_argument(
        "--redis-url",
        default=DEFAULT_REDIS_URL,
        help=f"Redis to use; only keys under a random run prefix are touched "
        f"(default: {DEFAULT_REDIS_URL})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=DEFAULT_ROUNDS,
        help=f"interleaved rounds; medians are taken over them (default: {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"requests per contender, scenario and round (default: {DEFAULT_REQUESTS})",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=DEFAULT_SESSIONS,
        help=f"signed-in sessions per contender for the memory figures; 0 skips them "
        f"(default: {DEFAULT_SESSIONS})",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1 or args.sessions < 0:
        parser.error("--rounds and --requests must be >= 1, --sessions >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = redis.Redis.from_url(args.redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        print(f"No Redis at {_redacted(args.redis_url)}: {exc}", file=sys.stderr)
        return 2
    run_prefix = f"drsbench-{secrets.token_hex(4)}"
    configure_django(args.redis_url, run_prefix)
    bench = Bench(
        redis_url=args.redis_url,
        run_prefix=run_prefix,
        rounds=args.rounds,
        requests=args.requests,
        sessions=args.sessions,
        client=client,
        contenders=CONTENDERS,
    )
    started = time.monotonic()
    print(f"Keys under {run_prefix}:* on {_redacted(args.redis_url)}", file=sys.stderr)
    try:
        bench.setup()
        bench.warm_up_and_check()
        trips = bench.count_round_trips()
        timings = bench.time_rounds()
        memory = bench.measure_memory() if args.sessions else {}
        results = summarize(bench, timings, trips, memory)
    finally:
        removed = bench.cleanup()
        print(f"  removed {removed} keys under {run_prefix}:*", file=sys.stderr)
    results["config"]["elapsed_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    print(f"\n({results['config']['elapsed_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"Results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

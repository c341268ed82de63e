"""Side-by-side benchmark of Django session engines on Redis, in one process.

Run from the repository root against a local Redis (db 15 by default)::

    python benchmarks/bench_sessions.py [--redis-url URL] [--rounds N] [--requests N]
                                        [--sessions N] [--json PATH] [--plot DIR]

The primary scenarios measure the session store: one signed-in request through
Django's real ``SessionMiddleware`` alone, with sliding expiry. The view reads
``_auth_user_id`` and ``_auth_user_hash`` from the session (and, when modifying,
increments a counter in it). Secondary scenarios run the full stack
(``SessionMiddleware`` + ``AuthenticationMiddleware``, the view reads
``request.user``, so an ORM user lookup is included). The chains are called
directly on ``RequestFactory`` requests built before the clock starts.

Contenders, all sliding the expiry:

* ``baseline`` (reference): an in-memory ``SessionBase`` and no Redis at all, so
  the cost every row shares (Django's machinery) can be subtracted;
* ``floor``: the same in-memory store plus exactly one bare ``GETEX key EX
  <idle>`` per request: what "Django + one Redis round trip" costs at best;
* ``ours``: ``django_redis_sessions.backend`` with its defaults;
* ``django-redis-sessions``: the PyPI package, ``SESSION_SAVE_EVERY_REQUEST=True``
  (the only way it slides);
* ``cache``: ``django.contrib.sessions.backends.cache`` on django-redis,
  ``SESSION_SAVE_EVERY_REQUEST=True``.

The machine this runs on may be noisy, so contenders run in interleaved rounds
(each round runs every contender once, in a rotated order) and the report uses
medians. Round trips are counted in a separate, untimed pass, split into those
before the response (the load) and those while it is sent (the save).

Our engine alone is also timed with and without
``django_redis_sessions.middleware.SessionActivityMiddleware`` right after
``SessionMiddleware``, on the primary read-only request (same rounds, own
rotation): (a) without it; (b) with it, the same ``REMOTE_ADDR`` and
``User-Agent`` on every request (the load script compares the metadata, the
middleware re-sends the cookie); (c) with it, ``REMOTE_ADDR`` alternating between
two addresses (the load script rewrites the record every request). Reported as
µs medians, b/a and c/a, and round trips per request (expected: 1 each). Memory is
measured with ``MEMORY USAGE`` on every key a contender wrote for ``--sessions``
signed-in users, for two session payloads. Every contender's keys start with the
same random 6-character run tag, all deleted at the end whatever happens.
``--plot DIR`` draws ``DIR/latency_by_engine.png`` (``plots.py``, matplotlib). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
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

# ``python benchmarks/bench_sessions.py`` puts benchmarks/ (not the repository root)
# on sys.path; benchmark the checkout's engine even when it is not installed.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if (_REPO_ROOT / "django_redis_sessions").is_dir() and str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import django  # noqa: E402
import redis  # noqa: E402
from benchlib import (  # noqa: E402
    Timing,
    add_run_arguments,
    connect,
    new_run_tag,
    packed_commands,
    redacted,
    session_modify_view,
    session_read_view,
    time_batch,
)
from django.conf import settings  # noqa: E402
from django.contrib.sessions.backends.base import CreateError, SessionBase  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from plots import (  # noqa: E402
    MatplotlibMissing,
    machine_description,
    require_matplotlib,
    write_plots,
)

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
#: Every contender's keys start with ``<run tag>:``. The tag is as short as a
#: production prefix and the same for every contender, so key names weigh the
#: same everywhere and the memory figures compare the engines, not our naming.
#: The second, richer payload for the memory figures: a signed-in session plus a
#: few small keys a shop would keep. Size classes of Redis's allocator (jemalloc)
#: round every allocation up, so one payload alone can flatter or penalize an
#: engine by where it happens to land.
RICH_EXTRA: dict[str, Any] = {
    "cart": [1017, 2203, 3391],
    "currency": "EUR",
    "theme": "dark",
    "seen_welcome": True,
    "newsletter_prompted": False,
}
PAYLOADS: dict[str, dict[str, Any]] = {"signed-in": {}, "signed-in+5": RICH_EXTRA}
PAYLOAD_TITLES = {
    "signed-in": "signed-in session (what login() writes: user id, backend, auth hash)",
    "signed-in+5": "richer session (signed in + cart list, currency, theme, 2 flags)",
}

GOAL_FLOOR_RATIO = 1.2
GOAL_SPEEDUP = 2.5
#: A modifying request: at least as fast as this competitor's.
GOAL_MODIFY_SPEEDUP = 1.0
MODIFY_RIVAL = "django-redis-sessions"
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


#: Reference rows: no goals, no "ours faster" figure.
REFERENCES = ("baseline", "floor")
COMPETITORS = ("django-redis-sessions", "cache")

CONTENDERS = [
    # Django's machinery and no session I/O at all: what every row pays.
    Contender(
        name="baseline",
        label="baseline: memory, no Redis",
        engine=BASELINE_ENGINE,
        save_every_request=False,
        in_redis=False,
    ),
    Contender(
        name="floor",
        label="floor: memory + 1 GETEX",
        engine=FLOOR_ENGINE,
        save_every_request=False,
        in_redis=False,
    ),
    Contender(
        name="ours",
        label="ours (django_redis_sessions)",
        engine="django_redis_sessions.backend",
        # Our load slides the expiry itself, so nothing needs saving on reads.
        save_every_request=False,
        in_redis=True,
    ),
    Contender(
        name="django-redis-sessions",
        label="django-redis-sessions 0.6",
        engine="redis_sessions.session",
        # Its load is a plain GET: saving every request is the only way it slides.
        save_every_request=True,
        in_redis=True,
    ),
    Contender(
        name="cache",
        label="cache backend + django-redis",
        engine="django.contrib.sessions.backends.cache",
        save_every_request=True,
        in_redis=True,
    ),
]


# -- settings ------------------------------------------------------------------


def configure_django(redis_url: str, run_tag: str) -> None:
    """Settings for every contender at once; the per-contender ones are switched later.

    django-redis-sessions reads ``SESSION_REDIS`` once, at import, so it must be
    right here rather than switched per contender. Every engine gets the run tag
    as its prefix: ours writes ``<tag>:s:<digest>`` and ``<tag>:u:<user id>``,
    django-redis-sessions ``<tag>:<key>``, the cache backend
    ``<tag>:1:django.contrib.sessions.cache<key>`` (django-redis's key function).
    Those shapes cannot collide, and memory is measured one contender at a time.
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
                "KEY_PREFIX": run_tag,
            },
        },
        SESSION_CACHE_ALIAS="sessions",
        SESSION_ENGINE=BASELINE_ENGINE,
        SESSION_SAVE_EVERY_REQUEST=False,
        # ours: defaults apart from where it lives.
        SESSION_REDIS_URL=redis_url,
        SESSION_REDIS_PREFIX=run_tag,
        # django-redis-sessions: "url" is its own option and, unlike host/port/db,
        # carries a password, TLS or a unix socket from --redis-url unchanged.
        SESSION_REDIS={"url": redis_url, "prefix": run_tag},
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


def auth_read_view(request: HttpRequest) -> HttpResponse:
    # Reading request.user loads the session (and the user) like any signed-in page.
    return HttpResponse(str(request.user.pk))


def auth_modify_view(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    counter = request.session.get("counter", 0) + 1
    request.session["counter"] = counter
    return HttpResponse(f"{user_id}:{counter}")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str
    title: str
    view: Handler
    #: "read" (nothing changes) or "modify" (one key changes): picks the goals.
    kind: str
    #: Primary scenarios measure the session store and are what goals are judged on;
    #: secondary ones add AuthenticationMiddleware and the ORM user lookup.
    primary: bool
    with_auth: bool


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            name="read",
            title="PRIMARY - read-only signed-in request, SessionMiddleware only "
            "(view reads _auth_user_id and _auth_user_hash)",
            view=session_read_view,
            kind="read",
            primary=True,
            with_auth=False,
        ),
        Scenario(
            name="modify",
            title="PRIMARY - signed-in request that modifies the session, "
            "SessionMiddleware only (view also increments a counter)",
            view=session_modify_view,
            kind="modify",
            primary=True,
            with_auth=False,
        ),
        Scenario(
            name="auth-read",
            title="SECONDARY (full stack) - read-only, SessionMiddleware + "
            "AuthenticationMiddleware (view reads request.user: session + ORM user lookup)",
            view=auth_read_view,
            kind="read",
            primary=False,
            with_auth=True,
        ),
        Scenario(
            name="auth-modify",
            title="SECONDARY (full stack) - modifying, SessionMiddleware + "
            "AuthenticationMiddleware (view reads request.user, increments a counter)",
            view=auth_modify_view,
            kind="modify",
            primary=False,
            with_auth=True,
        ),
    )
}


def build_chain(contender: Contender, scenario: Scenario, view: Handler | None = None) -> Handler:
    """Django's middleware, constructed while the contender's engine is configured.

    SessionMiddleware resolves SESSION_ENGINE in ``__init__``, so each contender
    needs its own instance.
    """
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    inner = view or scenario.view
    with contender_settings(contender):
        if scenario.with_auth:
            inner = AuthenticationMiddleware(inner)
        chain: Handler = SessionMiddleware(inner)
    return chain


def sign_in(contender: Contender, user: Any, extra: dict[str, Any] | None = None) -> str:
    """A signed-in session for ``user`` as ``django.contrib.auth.login`` makes it.

    ``extra`` keys are added after the login, as a view would, before the save.
    """
    from django.contrib.auth import login
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = import_module(contender.engine).SessionStore()
    request.user = AnonymousUser()
    login(request, user, backend=AUTH_BACKEND)
    if extra:
        request.session.update(extra)
    request.session.save()
    session_key: str = request.session.session_key
    return session_key


def make_requests(
    session_key: str, count: int, metas: Sequence[dict[str, str]] | None = None
) -> list[HttpRequest]:
    """Requests carrying the session cookie, built outside the timed region.

    ``metas``, when given, holds one dict of extra ``request.META`` entries per
    request (``REMOTE_ADDR``, ``HTTP_USER_AGENT``).
    """
    from django.test import RequestFactory

    factory = RequestFactory()
    factory.cookies[settings.SESSION_COOKIE_NAME] = session_key
    if metas is None:
        return [factory.get("/") for _ in range(count)]
    return [factory.get("/", **meta) for meta in metas]


# -- SessionActivityMiddleware -------------------------------------------------
#
# Our engine only, read-only signed-in request (the view of the ``read``
# scenario), with and without ``SessionActivityMiddleware`` right after
# ``SessionMiddleware`` (as in MIDDLEWARE: SessionMiddleware wraps it). Each
# variant has its own user and session, so one variant's metadata never makes
# another's load rewrite the record.

ACTIVITY_MIDDLEWARE = "django_redis_sessions.middleware.SessionActivityMiddleware"
#: Client addresses (documentation ranges) and a real browser's user agent.
CLIENT_IPS = ("203.0.113.7", "198.51.100.23")
CLIENT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True, kw_only=True)
class ActivityVariant:
    name: str
    label: str
    with_middleware: bool
    #: Each request comes from the other of CLIENT_IPS than the one before it, so
    #: the load script finds a changed IP and rewrites the record every time.
    alternate_ip: bool


ACTIVITY_VARIANTS = (
    ActivityVariant(
        name="plain",
        label="(a) ours, SessionMiddleware only",
        with_middleware=False,
        alternate_ip=False,
    ),
    ActivityVariant(
        name="activity-same",
        label="(b) + activity mw, same IP/UA",
        with_middleware=True,
        alternate_ip=False,
    ),
    ActivityVariant(
        name="activity-ip-alternates",
        label="(c) + activity mw, IP alternates",
        with_middleware=True,
        alternate_ip=True,
    ),
)
ACTIVITY_PLAIN = ACTIVITY_VARIANTS[0].name


def build_activity_chain(
    contender: Contender, variant: ActivityVariant, view: Handler | None = None
) -> Handler:
    """SessionMiddleware, then (if the variant has it) SessionActivityMiddleware, then the view.

    Nested the way Django builds MIDDLEWARE = [SessionMiddleware,
    SessionActivityMiddleware]: the later entry wraps the view, the earlier one
    wraps it, so the session exists when the activity middleware runs.
    """
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.utils.module_loading import import_string

    inner = view or session_read_view
    with contender_settings(contender):
        if variant.with_middleware:
            inner = import_string(ACTIVITY_MIDDLEWARE)(inner)
        chain: Handler = SessionMiddleware(inner)
    return chain


def _activity_session_key(run_tag: str, session_key: str) -> str:
    from django_redis_sessions.storage import keys

    return keys.session_redis_key(run_tag, keys.digest(session_key))


# -- round-trip counting -------------------------------------------------------


def _script_names() -> dict[bytes, str]:
    from django_redis_sessions.storage.scripts import SINGLE

    scripts = (SINGLE.load, SINGLE.save, SINGLE.delete, SINGLE.cycle, SINGLE.discard)
    return {script.sha.encode(): script.name for script in scripts}


#: The two phases of a request as ``SessionMiddleware`` runs it: the session loads
#: when the view first touches it, and saves in ``process_response``, after the
#: view returned (only then is it known what to write).
PHASES = ("view", "save")

#: What each of our round trips is, for the report.
OUR_TRIP_ROLES = {
    "EVALSHA(load)": "load script: reads the session and slides its expiry",
    "EVALSHA(save)": "save script: writes the changed keys and the user index, atomically",
}


class RoundTripCounter:
    """Counts calls to ``send_packed_command``: one call is one round trip.

    Pipelines pack all their commands into one call, so they count once too. Each
    trip is recorded with the phase it happened in (``phase`` is set by the
    caller before each request and switched by :meth:`marking`).
    """

    def __init__(self) -> None:
        self.round_trips = 0
        self.phase = PHASES[0]
        #: One list per request: (phase, commands) for each round trip.
        self.requests: list[list[tuple[str, str]]] = []
        self._scripts = _script_names()

    def start_request(self) -> None:
        self.phase = PHASES[0]
        self.requests.append([])

    def marking(self, view: Handler) -> Handler:
        """``view``, switching to the save phase once it has returned."""

        def marked(request: HttpRequest) -> HttpResponse:
            response = view(request)
            self.phase = PHASES[1]
            return response

        return marked

    def _describe(self, args: list[bytes]) -> str:
        name = args[0].decode().upper()
        if name == "EVALSHA" and len(args) > 1:
            return f"EVALSHA({self._scripts.get(args[1], args[1][:8].decode())})"
        return name

    def record(self, command: Any) -> None:
        self.round_trips += 1
        chunks = [command] if isinstance(command, bytes | str) else command
        packed = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        described = "+".join(self._describe(a) for a in packed_commands(packed))
        if not self.requests:
            self.requests.append([])
        self.requests[-1].append((self.phase, described))

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


def _trip_summary(counter: RoundTripCounter) -> dict[str, Any]:
    """Per-request round trips of ``COUNTED_REQUESTS`` counted requests, by phase."""
    per_request = counter.round_trips / COUNTED_REQUESTS
    by_phase: dict[str, Counter[str]] = {phase: Counter() for phase in PHASES}
    for trips in counter.requests:
        for phase, described in trips:
            by_phase[phase][described] += 1
    sequences = Counter(tuple(trips) for trips in counter.requests)
    return {
        "round_trips": per_request,
        # Trips while SessionMiddleware.process_response saves.
        "save_round_trips": sum(by_phase["save"].values()) / COUNTED_REQUESTS,
        "commands": {
            phase: {k: v / COUNTED_REQUESTS for k, v in trips.items()}
            for phase, trips in by_phase.items()
        },
        # The most common per-request sequence, and how many requests had it.
        "trip_sequence": [list(t) for t in sequences.most_common(1)[0][0]],
        "requests_with_that_sequence": sequences.most_common(1)[0][1],
        "requests_counted": COUNTED_REQUESTS,
    }


# -- measurement ---------------------------------------------------------------


@dataclass
class Bench:
    redis_url: str
    run_tag: str
    rounds: int
    requests: int
    sessions: int
    client: redis.Redis
    contenders: list[Contender]
    users: dict[str, Any] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)
    chains: dict[tuple[str, str], Handler] = field(default_factory=dict)
    #: The SessionActivityMiddleware variants (our engine only), by variant name.
    activity_users: dict[str, Any] = field(default_factory=dict)
    activity_keys: dict[str, str] = field(default_factory=dict)
    activity_chains: dict[str, Handler] = field(default_factory=dict)
    #: Requests sent so far per variant: picks the next request's IP.
    activity_sent: Counter[str] = field(default_factory=Counter)
    #: Set during warm-up: each variant's stored record length and cookie max-age.
    activity_checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- setup -----------------------------------------------------------------

    def setup(self) -> None:
        from django.contrib.auth.models import User
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        FloorSessionStore.client = self.client
        FloorSessionStore.key_prefix = f"{self.run_tag}:f:"
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
            for name, scenario in SCENARIOS.items():
                self.chains[contender.name, name] = build_chain(contender, scenario)
        ours = self.ours
        for variant in ACTIVITY_VARIANTS:
            user = User.objects.create_user(f"bench-activity-{variant.name}", password="x")
            self.activity_users[variant.name] = user
            with contender_settings(ours):
                self.activity_keys[variant.name] = sign_in(ours, user)
            self.activity_chains[variant.name] = build_activity_chain(ours, variant)

    @property
    def ours(self) -> Contender:
        return next(c for c in self.contenders if c.name == "ours")

    def activity_requests(self, variant: ActivityVariant, count: int) -> list[HttpRequest]:
        """``count`` requests of ``variant`` (the same IP throughout, or alternating)."""
        sent = self.activity_sent[variant.name]
        self.activity_sent[variant.name] += count
        metas = [
            {
                "REMOTE_ADDR": CLIENT_IPS[(sent + i) % 2 if variant.alternate_ip else 0],
                "HTTP_USER_AGENT": CLIENT_USER_AGENT,
            }
            for i in range(count)
        ]
        return make_requests(self.activity_keys[variant.name], count, metas)

    def run_activity(
        self, variant: ActivityVariant, count: int, counter: RoundTripCounter | None = None
    ) -> list[tuple[HttpRequest, HttpResponse]]:
        requests = self.activity_requests(variant, count)
        if counter is None:
            chain = self.activity_chains[variant.name]
        else:
            chain = build_activity_chain(self.ours, variant, counter.marking(session_read_view))
        done = []
        with contender_settings(self.ours):
            for request in requests:
                if counter is not None:
                    counter.start_request()
                done.append((request, chain(request)))
        return done

    def run_once(
        self,
        contender: Contender,
        scenario: str,
        count: int,
        counter: RoundTripCounter | None = None,
    ) -> list[bytes]:
        requests = make_requests(self.session_keys[contender.name], count)
        if counter is None:
            chain = self.chains[contender.name, scenario]
        else:
            # The same chain, its view wrapped to tell the load from the save.
            chain = build_chain(
                contender, SCENARIOS[scenario], counter.marking(SCENARIOS[scenario].view)
            )
        bodies = []
        with contender_settings(contender):
            for request in requests:
                if counter is not None:
                    counter.start_request()
                bodies.append(chain(request).content)
        return bodies

    def warm_up_and_check(self) -> None:
        """Open connections, load scripts, and prove every contender is signed in.

        A contender whose session silently failed to load would serve an
        anonymous user very fast; that must stop the run, not win it.
        """
        for contender in self.contenders:
            expected = str(self.users[contender.name].pk).encode()
            for name, scenario in SCENARIOS.items():
                bodies = self.run_once(contender, name, WARMUP_REQUESTS)
                if scenario.kind == "read":
                    if any(body != expected for body in bodies):
                        raise SystemExit(
                            f"{contender.name} ({name}): read-only request saw user "
                            f"{bodies[0]!r}, expected {expected!r}: the session did not load."
                        )
                    continue
                counters = [int(body.split(b":")[1]) for body in bodies]
                user_ids = {body.split(b":")[0] for body in bodies}
                if user_ids != {expected} or counters != list(
                    range(counters[0], counters[0] + len(counters))
                ):
                    raise SystemExit(
                        f"{contender.name} ({name}): modifying requests returned "
                        f"{bodies[:3]!r}...: the user or the counter did not persist "
                        "between requests."
                    )
        self._warm_up_activity()

    def _warm_up_activity(self) -> None:
        """Warm up the activity variants, checking each request does what it should.

        One request at a time: the view saw the user; with the middleware the
        session cookie is re-sent with a positive max-age (without it, no cookie),
        and the stored record now holds this request's IP and user agent (so with
        alternating IPs every request rewrote it); without the middleware nothing
        is recorded.
        """
        from django_redis_sessions.api import list_user_sessions

        for variant in ACTIVITY_VARIANTS:
            user = self.activity_users[variant.name]
            expected = str(user.pk).encode()
            key = self.activity_keys[variant.name]
            max_ages = set()
            for _ in range(WARMUP_REQUESTS):
                [(request, response)] = self.run_activity(variant, 1)
                problem = ""
                cookie = response.cookies.get(settings.SESSION_COOKIE_NAME)
                [info] = list_user_sessions(user) or [None]
                if response.content != expected:
                    problem = f"the view saw {response.content!r}, expected {expected!r}"
                elif variant.with_middleware:
                    if cookie is None or cookie.value != key or not int(cookie["max-age"] or 0):
                        problem = f"session cookie not re-sent with a max-age: {cookie!r}"
                    elif info is None or (info.ip, info.user_agent) != (
                        request.META["REMOTE_ADDR"],
                        CLIENT_USER_AGENT,
                    ):
                        problem = f"stored client is not this request's: {info!r}"
                    else:
                        max_ages.add(int(cookie["max-age"]))
                elif cookie is not None:
                    problem = f"a cookie was sent without the middleware: {cookie!r}"
                elif info is None or info.ip is not None:
                    problem = f"metadata recorded without the middleware: {info!r}"
                if problem:
                    raise SystemExit(f"ours, activity variant {variant.name}: {problem}.")
            self.activity_checks[variant.name] = {
                "record_bytes": self.client.strlen(_activity_session_key(self.run_tag, key)),
                "cookie_max_age": sorted(max_ages),
            }

    # -- timing ----------------------------------------------------------------

    def time_rounds(self) -> tuple[dict[str, dict[str, Timing]], dict[str, Timing]]:
        """Scenario timings, and the activity variants' (the same rounds)."""
        timings = {s: {c.name: Timing() for c in self.contenders} for s in SCENARIOS}
        activity = {v.name: Timing() for v in ACTIVITY_VARIANTS}
        total = self.rounds * (len(SCENARIOS) * len(self.contenders) + len(ACTIVITY_VARIANTS))
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
            shift = round_index % len(ACTIVITY_VARIANTS)
            for variant in ACTIVITY_VARIANTS[shift:] + ACTIVITY_VARIANTS[:shift]:
                requests = self.activity_requests(variant, self.requests)
                with contender_settings(self.ours):
                    sample = time_batch(self.activity_chains[variant.name], requests)
                activity[variant.name].samples_us.append(sample)
                done += 1
            print(f"\r  timed {done}/{total} batches", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        return timings, activity

    def count_round_trips(self) -> dict[str, dict[str, dict[str, Any]]]:
        result: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in SCENARIOS}
        for scenario in SCENARIOS:
            for contender in self.contenders:
                counter = RoundTripCounter()
                with counter.installed():
                    self.run_once(contender, scenario, COUNTED_REQUESTS, counter)
                result[scenario][contender.name] = _trip_summary(counter)
        return result

    def count_activity_round_trips(self) -> dict[str, dict[str, Any]]:
        """Round trips of each activity variant, counted as :meth:`count_round_trips` does."""
        result: dict[str, dict[str, Any]] = {}
        for variant in ACTIVITY_VARIANTS:
            counter = RoundTripCounter()
            with counter.installed():
                self.run_activity(variant, COUNTED_REQUESTS, counter)
            result[variant.name] = _trip_summary(counter)
        return result

    # -- memory ----------------------------------------------------------------

    def run_keys(self) -> list[bytes]:
        pattern = _escape_glob(f"{self.run_tag}:") + "*"
        return list(self.client.scan_iter(match=pattern, count=1000))

    def delete_keys(self, keys: list[bytes]) -> None:
        for start in range(0, len(keys), 500):
            self.client.delete(*keys[start : start + 500])

    def measure_memory(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Bytes per session for each payload: every key a contender wrote for N users.

        Contenders share the run tag, so each one starts from an empty run (the
        timed sessions are gone by then): every key present afterwards is its own.
        """
        from django.contrib.auth.models import User

        users = User.objects.bulk_create(
            User(username=f"bench-mem-{i}", password="!") for i in range(self.sessions)
        )
        if users[0].pk is None:  # backends that cannot return ids from bulk inserts
            users = list(User.objects.filter(username__startswith="bench-mem-"))
        result: dict[str, dict[str, dict[str, Any]]] = {}
        for payload, extra in PAYLOADS.items():
            rows: dict[str, dict[str, Any]] = {}
            for contender in self.contenders:
                if not contender.in_redis:
                    continue
                self.delete_keys(self.run_keys())
                with contender_settings(contender):
                    for user in users:
                        sign_in(contender, user, extra)
                rows[contender.name] = self._memory_of_run(contender)
            self.delete_keys(self.run_keys())
            result[payload] = rows
        return result

    def _memory_of_run(self, contender: Contender) -> dict[str, Any]:
        keys = self.run_keys()
        kinds = [_key_kind(key.decode(), self.run_tag, contender) for key in keys]
        pipe = self.client.pipeline(transaction=False)
        for key, kind in zip(keys, kinds, strict=True):
            # SAMPLES 0: exact figures for sorted sets (the per-user index).
            pipe.memory_usage(key, samples=0)
            if kind == "session":
                pipe.strlen(key)
        answers = iter(pipe.execute())
        by_kind: Counter[str] = Counter()
        name_lengths: dict[str, list[int]] = {}
        for key, kind in zip(keys, kinds, strict=True):
            name_lengths.setdefault(kind, []).append(len(key))
        total = value_bytes = transient = 0
        for kind in kinds:
            size = next(answers)
            by_kind[kind] += size
            if kind == RECEIPT_KIND:
                transient += size
            else:
                total += size
            if kind == "session":
                value_bytes += next(answers)
        lasting_keys = sum(kind != RECEIPT_KIND for kind in kinds)
        return {
            # What stays: the receipts expire a minute after the writes.
            "bytes_per_session": total / self.sessions,
            "transient_bytes_per_session": transient / self.sessions,
            "keys_per_session": lasting_keys / self.sessions,
            "bytes_per_session_by_kind": {k: v / self.sessions for k, v in by_kind.items()},
            # The stored session value alone (STRLEN), before Redis's own overhead.
            "value_bytes_per_session": value_bytes / self.sessions,
            # Mean key name length per kind: the prefix is the same for everyone.
            "key_name_length_by_kind": {
                kind: statistics.fmean(lengths) for kind, lengths in name_lengths.items()
            },
        }

    def cleanup(self) -> int:
        keys = self.run_keys()
        self.delete_keys(keys)
        return len(keys)


def _escape_glob(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


#: Our write receipts (``<prefix>:o:<id>``): each write's reply, kept for a minute
#: so a resent script has one run's effect (``receipts.py``). Measured right after
#: the sign-ins they belong to every session; a minute later they are gone, so the
#: per-session figure leaves them out and the report shows them on their own.
RECEIPT_KIND = "receipt (60 s)"


def _key_kind(key: str, run_tag: str, contender: Contender) -> str:
    if contender.name == "ours":
        rest = key[len(f"{run_tag}:") :]
        kinds = {"s": "session", "u": "user index", "users": "users index", "o": RECEIPT_KIND}
        return kinds.get(rest.split(":", 1)[0], "other")
    return "session"


# -- report --------------------------------------------------------------------


def _commands_text(commands: dict[str, float]) -> str:
    return ", ".join(name if n == 1 else f"{name} x{n:g}" for name, n in commands.items())


def _phases_text(commands: dict[str, dict[str, float]]) -> str:
    return " | ".join(_commands_text(commands[phase]) or "-" for phase in PHASES)


def _goal(text: str, value: float, ok: bool, *, primary: bool) -> dict[str, Any]:
    return {"goal": text, "value": value, "ok": ok, "primary": primary}


def _scenario_goals(
    scenario: Scenario, per: dict[str, Timing], trips: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """A read: within GOAL_FLOOR_RATIO of the floor and GOAL_SPEEDUP times faster
    than each competitor sliding its expiry. A modifying request: at least as fast
    as django-redis-sessions (which overwrites the whole session where ours merges
    the changed keys). Either: one round trip where the engine can choose."""
    name, primary = scenario.name, scenario.primary
    ours = per["ours"].median
    goals = []
    if scenario.kind == "read":
        floor_ratio = ours / per["floor"].median
        goals.append(
            _goal(
                f"{name}: ours <= {GOAL_FLOOR_RATIO}x floor",
                floor_ratio,
                floor_ratio <= GOAL_FLOOR_RATIO,
                primary=primary,
            )
        )
        for competitor in COMPETITORS:
            speedup = per[competitor].median / ours
            goals.append(
                _goal(
                    f"{name}: ours >= {GOAL_SPEEDUP}x faster than {competitor}",
                    speedup,
                    speedup >= GOAL_SPEEDUP,
                    primary=primary,
                )
            )
        value = trips["ours"]["round_trips"]
        text = f"{name}: ours read-only = {GOAL_ROUND_TRIPS} round trip"
    else:
        speedup = per[MODIFY_RIVAL].median / ours
        goals.append(
            _goal(
                f"{name}: ours >= {GOAL_MODIFY_SPEEDUP}x as fast as {MODIFY_RIVAL}",
                speedup,
                speedup >= GOAL_MODIFY_SPEEDUP,
                primary=primary,
            )
        )
        value = trips["ours"]["save_round_trips"]
        text = f"{name}: ours save = {GOAL_ROUND_TRIPS} round trip"
    goals.append(_goal(text, value, value == GOAL_ROUND_TRIPS, primary=primary))
    return goals


def summarize_activity(
    bench: Bench, timings: dict[str, Timing], trips: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The activity variants against (a), ours without the middleware."""
    plain = timings[ACTIVITY_PLAIN]
    rows: dict[str, Any] = {}
    for variant in ACTIVITY_VARIANTS:
        timing = timings[variant.name]
        # Same round, adjacent batches: a ratio per round, then its median, is the
        # figure least moved by drift; the ratio of the medians is shown beside it.
        paired = [
            mine / theirs for mine, theirs in zip(timing.samples_us, plain.samples_us, strict=True)
        ]
        rows[variant.name] = {
            "label": variant.label,
            "with_middleware": variant.with_middleware,
            "ip_alternates": variant.alternate_ip,
            "median_us": timing.median,
            "iqr_pct": timing.iqr_pct,
            "samples_us": timing.samples_us,
            "ratio_to_plain": timing.median / plain.median,
            "paired_ratio_to_plain": statistics.median(paired),
            "extra_us": timing.median - plain.median,
            **bench.activity_checks[variant.name],
            **trips[variant.name],
        }
    return {
        "title": "SessionActivityMiddleware - read-only signed-in request, ours only "
        "(view reads _auth_user_id and _auth_user_hash)",
        "middleware": "SessionMiddleware [+ SessionActivityMiddleware]",
        "client": {"ips": list(CLIENT_IPS), "user_agent": CLIENT_USER_AGENT},
        "rows": rows,
    }


def summarize(
    bench: Bench,
    timings: dict[str, dict[str, Timing]],
    trips: dict[str, dict[str, dict[str, Any]]],
    memory: dict[str, dict[str, dict[str, Any]]],
    activity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    goals: list[dict[str, Any]] = []
    for scenario_name, per in timings.items():
        scenario = SCENARIOS[scenario_name]
        base = per["baseline"].median
        floor = per["floor"].median
        ours = per["ours"].median
        rows: dict[str, Any] = {}
        for name, timing in per.items():
            median = timing.median
            rows[name] = {
                "median_us": median,
                "iqr_pct": timing.iqr_pct,
                "samples_us": timing.samples_us,
                "ratio_to_floor": median / floor,
                # What the session engine adds on top of Django's own machinery.
                "session_cost_us": median - base,
                "ours_speedup": median / ours,
                "ours_speedup_on_session_cost": _safe_ratio(median - base, ours - base),
                **trips[scenario_name][name],
            }
        scenarios[scenario_name] = {
            "title": scenario.title,
            "primary": scenario.primary,
            "middleware": "SessionMiddleware"
            + (" + AuthenticationMiddleware" if scenario.with_auth else ""),
            "rows": rows,
        }
        goals.extend(_scenario_goals(scenario, per, trips[scenario_name]))
    for payload, rows in memory.items():
        ours_bytes = rows["ours"]["bytes_per_session"]
        for row in rows.values():
            row["ours_ratio"] = ours_bytes / row["bytes_per_session"]
        ratio = rows["django-redis-sessions"]["ours_ratio"]
        goals.append(
            _goal(
                f"memory ({payload}): ours <= {GOAL_MEMORY_RATIO}x django-redis-sessions",
                ratio,
                ratio <= GOAL_MEMORY_RATIO,
                # The figure is the plain signed-in session; the richer one
                # shows how much allocator size classes move it.
                primary=payload == "signed-in",
            )
        )
    redis_version = bench.client.info("server").get("redis_version")
    return {
        "config": {
            "redis_url": redacted(bench.redis_url),
            "run_tag": bench.run_tag,
            "rounds": bench.rounds,
            "requests_per_batch": bench.requests,
            "sessions_for_memory": bench.sessions,
            "python": platform.python_version(),
            "django": django.get_version(),
            "redis_py": redis.__version__,
            "redis_server": redis_version,
            "hiredis": _hiredis_version(),
            "machine": machine_description(redis_version),
            "date": time.strftime("%Y-%m-%d"),
        },
        "labels": {c.name: c.label for c in bench.contenders},
        "scenarios": scenarios,
        "activity_middleware": activity,
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


def _ratio_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _print_scenario(scenario: dict[str, Any], labels: dict[str, str]) -> None:
    print(f"\n{scenario['title']}")
    print(
        f"  {'contender':<29} {'µs/req':>7} {'iqr':>4} {'vs floor':>8} "
        f"{'ours faster':>11} | {'session µs':>10} {'ours faster':>11} | "
        f"{'trips':>5} {'save':>4}  round trips per request: view | save"
    )
    print("  " + "-" * 134)
    for name, row in scenario["rows"].items():
        theirs = name not in (*REFERENCES, "ours")
        print(
            f"  {labels[name]:<29} {row['median_us']:>7.1f} {row['iqr_pct']:>3.0f}% "
            f"{row['ratio_to_floor']:>7.2f}x "
            f"{_ratio_text(row['ours_speedup'] if theirs else None):>11} | "
            f"{row['session_cost_us']:>10.1f} "
            f"{_ratio_text(row['ours_speedup_on_session_cost'] if theirs else None):>11} | "
            f"{row['round_trips']:>5g} {row['save_round_trips']:>4g}  "
            f"{_phases_text(row['commands'])}"
        )


def _print_our_trips(scenarios: dict[str, Any]) -> None:
    print("\nOur round trips, one by one (a typical request of each scenario, after warm-up)")
    for name, scenario in scenarios.items():
        row = scenario["rows"]["ours"]
        same = f"{row['requests_with_that_sequence']}/{row['requests_counted']} requests"
        sequence = row["trip_sequence"] or [["-", "none"]]
        for number, (phase, described) in enumerate(sequence, start=1):
            role = OUR_TRIP_ROLES.get(described, "")
            head = f"{name:<12} ({same})" if number == 1 else ""
            print(f"  {head:<30} {number}. {phase:<4}  {described:<14} {role}")


def _print_activity(activity: dict[str, Any]) -> None:
    rows = activity["rows"]
    print(f"\n{activity['title']}")
    print(
        f"  {'variant':<33} {'µs/req':>7} {'iqr':>4} {'vs (a)':>7} {'paired':>7} "
        f"{'extra µs':>8} | {'record':>6} {'trips':>5} {'save':>4}  "
        "round trips per request: view | save"
    )
    print("  " + "-" * 120)
    for row in rows.values():
        print(
            f"  {row['label']:<33} {row['median_us']:>7.1f} {row['iqr_pct']:>3.0f}% "
            f"{row['ratio_to_plain']:>6.2f}x {row['paired_ratio_to_plain']:>6.2f}x "
            f"{row['extra_us']:>8.1f} | {row['record_bytes']:>4} B "
            f"{row['round_trips']:>5g} {row['save_round_trips']:>4g}  "
            f"{_phases_text(row['commands'])}"
        )
    same, alternating = (rows[v.name] for v in ACTIVITY_VARIANTS[1:])
    print(
        f"  b/a = {same['ratio_to_plain']:.2f}x, c/a = {alternating['ratio_to_plain']:.2f}x "
        "(ratios of the medians; 'paired' is the median of the per-round ratios). "
        "record: the stored value's length."
    )
    ages = sorted({age for row in rows.values() for age in row["cookie_max_age"]})
    print(
        "  Checked on every warm-up request: with the middleware the session cookie was "
        f"re-sent (max-age {', '.join(map(str, ages)) or '-'} s) and the stored record held "
        "that request's IP and user agent; without it, no cookie and nothing recorded."
    )
    ok = all(row["round_trips"] == GOAL_ROUND_TRIPS for row in rows.values())
    print(
        f"  [{'OK' if ok else '!!'}] round trips per request: "
        + ", ".join(f"{row['label'][:3]} {row['round_trips']:g}" for row in rows.values())
        + f" (expected {GOAL_ROUND_TRIPS} for each)"
    )


def _print_memory(memory: dict[str, Any], labels: dict[str, str], config: dict[str, Any]) -> None:
    sessions = config["sessions_for_memory"]
    tag = config["run_tag"]
    print(
        f"\nRedis memory per session ({sessions} users, one session each; every "
        f'contender\'s prefix is the same {len(tag)}-character run tag, keys "{tag}:...")'
    )
    for payload, rows in memory.items():
        print(f"  {PAYLOAD_TITLES[payload]}")
        print(
            f"    {'contender':<29} {'bytes':>6} {'keys':>5} {'value':>6} {'ours/it':>8}"
            "  bytes by key kind (mean key name length)"
        )
        print("    " + "-" * 104)
        for name, row in rows.items():
            lengths = row["key_name_length_by_kind"]
            kinds = ", ".join(
                f"{kind} {size:.0f} ({lengths[kind]:.0f} ch)"
                for kind, size in sorted(row["bytes_per_session_by_kind"].items())
            )
            ratio = None if name == "ours" else row.get("ours_ratio")
            if row.get("transient_bytes_per_session"):
                kinds += " (receipts expire after 60 s: not counted in bytes)"
            print(
                f"    {labels[name]:<29} {row['bytes_per_session']:>6.0f} "
                f"{row['keys_per_session']:>5.2f} {row['value_bytes_per_session']:>6.0f} "
                f"{_ratio_text(ratio):>8}  {kinds}"
            )


def print_report(results: dict[str, Any]) -> None:
    config = results["config"]
    labels = results["labels"]
    print(
        f"\nDjango {config['django']}, redis-py {config['redis_py']} "
        f"(hiredis {config['hiredis'] or 'no'}), Redis {config['redis_server']}, "
        f"Python {config['python']}; medians of {config['rounds']} interleaved rounds x "
        f"{config['requests_per_batch']} requests per contender and scenario."
    )
    for scenario in results["scenarios"].values():
        _print_scenario(scenario, labels)
    _print_our_trips(results["scenarios"])
    if results.get("activity_middleware"):
        _print_activity(results["activity_middleware"])
    if results["memory"]:
        _print_memory(results["memory"], labels, config)
    for primary, title in (
        (True, "Goals, PRIMARY (judged: session store, SessionMiddleware only; memory)"),
        (False, "Goals, secondary (for information: full stack; richer-session memory)"),
    ):
        print(f"\n{title}")
        for goal in results["goals"]:
            if goal["primary"] is primary:
                status = "PASS" if goal["ok"] else "FAIL"
                print(f"  [{status}] {goal['goal']}: {goal['value']:.2f}")


# -- main ----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Django session engines on Redis side by side.",
    )
    add_run_arguments(
        parser,
        redis_url=DEFAULT_REDIS_URL,
        rounds=DEFAULT_ROUNDS,
        requests=DEFAULT_REQUESTS,
        requests_per="contender, scenario",
    )
    parser.add_argument(
        "--sessions",
        type=int,
        default=DEFAULT_SESSIONS,
        help=f"signed-in sessions per contender for the memory figures; 0 skips them "
        f"(default: {DEFAULT_SESSIONS})",
    )
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="also draw DIR/latency_by_engine.png (needs matplotlib)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1 or args.sessions < 0:
        parser.error("--rounds and --requests must be >= 1, --sessions >= 0")
    if args.plot:
        # Before the run, not after minutes of it.
        try:
            require_matplotlib()
        except MatplotlibMissing as exc:
            parser.error(str(exc))
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    client = connect(args.redis_url)
    if client is None:
        return 2
    run_tag = new_run_tag()
    configure_django(args.redis_url, run_tag)
    bench = Bench(
        redis_url=args.redis_url,
        run_tag=run_tag,
        rounds=args.rounds,
        requests=args.requests,
        sessions=args.sessions,
        client=client,
        contenders=CONTENDERS,
    )
    started = time.monotonic()
    print(f"Keys under {run_tag}:* on {redacted(args.redis_url)}", file=sys.stderr)
    try:
        bench.setup()
        bench.warm_up_and_check()
        trips = bench.count_round_trips()
        activity_trips = bench.count_activity_round_trips()
        timings, activity_timings = bench.time_rounds()
        activity = summarize_activity(bench, activity_timings, activity_trips)
        memory = bench.measure_memory() if args.sessions else {}
        results = summarize(bench, timings, trips, memory, activity)
    finally:
        removed = bench.cleanup()
        print(f"  removed {removed} keys under {run_tag}:*", file=sys.stderr)
    results["config"]["elapsed_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    print(f"\n({results['config']['elapsed_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"Results written to {args.json}")
    if args.plot:
        write_plots(results, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Revoking a user's sessions at any store size, and the index cleanup's throughput.

Run from the repository root against a local Redis (db 15 by default)::

    python benchmarks/bench_revoke.py [--redis-url URL] [--rounds N] [--small N]
                                      [--large N] [--store-sizes N,N,...]
                                      [--stale FRACTION] [--seed N]
                                      [--overview-rounds N] [--overview]
                                      [--json PATH] [--plot DIR]

``--large 100000`` gives a quick run (~50 s); the default 1,000,000 takes about
three minutes (``--overview`` adds the admin overview, which bench_scale.py now
measures through HTTP) and about 0.5 GB of Redis memory while it runs.

It measures, on this checkout's ``django_redis_sessions``:

1. **Revocation cost versus store size.** Stores (one prefix each, in the same
   Redis database) are filled with real session records, most of them signed in
   (so there are many user indexes too): ``--small`` and ``--large`` sessions and,
   between them, one store per power of ten (1,000, 10,000, 100,000 and 1,000,000
   by default; ``--store-sizes`` lists them instead). In every round, user 42 signs
   in 10 sessions through the real engine (``SessionStore().save()``, which
   maintains the user index) in each store, and
   ``django_redis_sessions.api.revoke_user_sessions(42)`` ends them; only that
   call is timed. Rounds interleave the stores (the order rotates each round), and
   the medians are compared: the goal is time(large) / time(small) <= 1.5. Before
   the other stores exist, the small store is also timed on its own, as a
   reference for what the shared database's size might add. The stores between
   the smallest and the largest are deleted once the revocation is measured, so
   the overview and the cleanup below see the small and large stores only.
2. **Round trips of one revocation** of 10 sessions (calls to redis-py's
   ``send_packed_command``; a pipeline counts once). Expected: 2, a ``ZRANGE`` of
   the user's index and one ``EVALSHA`` of the revoke script.
3. **Admin overview cost versus store size**: ``django_redis_sessions.api.
   session_overview()`` (what the admin's overview page shows: one ``SCAN`` walk
   that counts the sessions and finds the user indexes, and per batch of indexes
   one ``activity.lua`` call that reads each indexed session's header on the
   server and returns two numbers per user). Timed on the small store alone
   (before the large one exists), then on both stores in ``--overview-rounds``
   interleaved rounds; reported as seconds, sessions per second and µs per session
   (medians), with the round trips of one call on each. Every call's totals
   (sessions, signed-in sessions, users) must equal what the filler wrote
   (OK/MISMATCH; a mismatch makes the exit status 1). ``SCAN`` walks the whole
   database whatever its ``MATCH``, so the small store's figure with the large
   store in the same database shows what a big neighbour in the database costs the
   overview.
4. **Index cleanup throughput** (what ``manage.py clearsessions`` runs):
   ````Operations.clear_expired```` on the large store after a share of the
   signed-in filler sessions were deleted behind the engine's back (``UNLINK``),
   which leaves their index entries stale. Two passes, each with its own fresh
   stale share: the first is timed (entries examined per second), the second runs
   under ``tracemalloc`` for the peak Python memory (tracemalloc slows Python down,
   so that pass's time is shown but is not the throughput figure). Each pass must
   prune exactly the entries made stale.

Every key is under a random 6-character run tag (``<tag>:small:...`` and
``<tag>:large:...``), deleted at the end with ``SCAN`` + ``UNLINK`` whatever
happens; filler keys also carry a one-hour TTL. ``--plot DIR`` draws
``DIR/revoke_vs_store_size.png`` (``plots.py``, matplotlib). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import secrets
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# ``python benchmarks/bench_revoke.py`` puts benchmarks/ (not the repository root)
# on sys.path; benchmark the checkout's engine even when it is not installed.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if (_REPO_ROOT / "django_redis_sessions").is_dir() and str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import django  # noqa: E402
import redis  # noqa: E402
from benchlib import (  # noqa: E402
    Timing,
    connect,
    new_run_tag,
    packed_commands,
    redacted,
    session_counts_arg,
)
from django.conf import settings  # noqa: E402
from plots import (  # noqa: E402
    MatplotlibMissing,
    machine_description,
    require_matplotlib,
    write_plots,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_ROUNDS = 200
DEFAULT_SMALL = 1_000
DEFAULT_LARGE = 1_000_000
DEFAULT_STALE = 0.10
#: Interleaved rounds of the admin overview (small and large store each round):
#: one call on 1,000,000 sessions takes about 20 s, so few rounds.
DEFAULT_OVERVIEW_ROUNDS = 3
#: Rounds of the overview of the small store alone (cheap), before the large exists.
OVERVIEW_ALONE_ROUNDS = 20
#: Untimed rounds per store first: connections, script loading, warm caches.
WARMUP_ROUNDS = 10

#: The revoked user and how many sessions it has each round (filler users start
#: at FILLER_FIRST_UID, so they never share its index).
TARGET_USER_ID = 42
TARGET_SESSIONS = 10
FILLER_FIRST_UID = 1000
#: Each filler user has this many sessions; every ANONYMOUS_EVERY-th filler
#: session is anonymous (20%: no user, no index entry).
SESSIONS_PER_FILLER_USER = 3
ANONYMOUS_EVERY = 5
#: Filler keys expire by themselves should a run be killed before its cleanup.
FILLER_TTL = 3600
#: Filler records' lifetimes, as the engine's defaults would write them.
FILLER_ABSOLUTE_AGE = 30 * 24 * 60 * 60
FILLER_IDLE = 14 * 24 * 60 * 60
#: Commands per pipelined round trip while building the filler.
BUILD_BATCH = 5000
#: How often (in sessions) building the large store reports progress.
PROGRESS_EVERY = 50_000
#: Keys per UNLINK (stale entries, final cleanup) and per SCAN call.
DELETE_BATCH = 1000

#: The smallest and the largest store; those between are "mid01", "mid02", ...
#: Every store name has the same length, so key names weigh the same in all.
STORE_NAMES = ("small", "large")

GOAL_RATIO = 1.5
GOAL_ROUND_TRIPS = 2


# -- settings ------------------------------------------------------------------


def configure_django(redis_url: str, prefix: str) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        USE_TZ=True,
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django_redis_sessions",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        SESSION_ENGINE="django_redis_sessions.backend",
        SESSION_REDIS_URL=redis_url,
        SESSION_REDIS_PREFIX=prefix,
    )
    django.setup()


def use_store(prefix: str) -> None:
    """Point the engine (and the API) at one store.

    The app reads its settings through ``conf``, cached until cleared; assigning
    on the configured settings and clearing the cache avoids the extra settings
    layer ``override_settings`` adds (see bench_sessions.py). The Redis client
    does not depend on the prefix, so the same connection serves both stores.
    """
    from django_redis_sessions.conf import conf

    settings.SESSION_REDIS_PREFIX = prefix
    conf.reset()


# -- stores and their filler ---------------------------------------------------


@dataclass
class Store:
    name: str
    prefix: str
    #: Filler sessions (the target user's 10 come on top, and go, each round).
    sessions: int
    signed_in: int = 0
    users: int = 0
    commands: int = 0
    build_s: float = 0.0
    #: Disjoint shares of the signed-in filler (digests), one per cleanup pass.
    stale: list[list[str]] = field(default_factory=list)


def build_filler(
    client: redis.Redis,
    store: Store,
    stale_fraction: float,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write ``store.sessions`` real session records under the store's prefix.

    Pipelined raw writes, ``BUILD_BATCH`` commands per round trip: ``SET key
    record EX 3600`` per session and, for a signed-in one, ``ZADD`` of its digest
    (scored by its deadline, as the engine does) to its user's index, which gets
    a one-hour ``EXPIRE`` too. Two disjoint ``stale_fraction`` shares of the
    signed-in sessions are remembered for the cleanup passes.
    """
    from django_redis_sessions.storage import keys, record

    rng = random.Random(seed)
    now = int(time.time())
    deadline = now + FILLER_ABSOLUTE_AGE
    pipe = client.pipeline(transaction=False)
    pending = 0
    store.stale = [[], []]
    started = time.perf_counter()
    for number in range(store.sessions):
        digest = keys.digest(secrets.token_hex(16))
        if number % ANONYMOUS_EVERY == ANONYMOUS_EVERY - 1:
            user_id = ""
            data = {"theme": b'"dark"'}
        else:
            uid = FILLER_FIRST_UID + store.signed_in // SESSIONS_PER_FILLER_USER
            user_id = str(uid)
            data = {"_auth_user_id": b'"%d"' % uid}
        raw = record.encode(
            record.Record(
                created=now,
                seen=now,
                deadline=deadline,
                idle=FILLER_IDLE,
                user_id=user_id,
                data=data,
            )
        )
        pipe.set(keys.session_redis_key(store.prefix, digest), raw, ex=FILLER_TTL)
        pending += 1
        if user_id:
            index = keys.user_index_key(store.prefix, user_id)
            pipe.zadd(index, {digest: deadline})
            pending += 1
            if store.signed_in % SESSIONS_PER_FILLER_USER == 0:  # the user's first session
                pipe.expire(index, FILLER_TTL)
                # Listed in the users index, as a sign-in lists its user.
                pipe.zadd(keys.users_key(store.prefix), {user_id: now * 1000 + store.users})
                pending += 2
                store.users += 1
            store.signed_in += 1
            draw = rng.random()
            if draw < stale_fraction:
                store.stale[0].append(digest)
            elif draw < 2 * stale_fraction:
                store.stale[1].append(digest)
        if pending >= BUILD_BATCH:
            pipe.execute()
            store.commands += pending
            pending = 0
            if progress is not None:
                progress(number + 1)
    if pending:
        pipe.execute()
        store.commands += pending
    store.build_s = time.perf_counter() - started


def delete_keys(client: redis.Redis, names: Sequence[str | bytes]) -> int:
    """``UNLINK`` in batches; return how many keys existed."""
    removed = 0
    for start in range(0, len(names), DELETE_BATCH):
        removed += int(client.unlink(*names[start : start + DELETE_BATCH]))
    return removed


def cleanup(client: redis.Redis, run_tag: str) -> int:
    """Delete every key under ``<run tag>:`` (SCAN + UNLINK, in batches)."""
    from django_redis_sessions.storage.keys import escape_glob

    removed = 0
    batch: list[bytes] = []
    for name in client.scan_iter(match=escape_glob(f"{run_tag}:") + "*", count=DELETE_BATCH):
        batch.append(name)
        if len(batch) >= DELETE_BATCH:
            removed += delete_keys(client, batch)
            batch = []
    if batch:
        removed += delete_keys(client, batch)
    return removed


# -- revocation ------------------------------------------------------------------


def sign_in_target() -> None:
    """The target user's sessions, through the real engine (index maintained)."""
    from django.contrib.auth import SESSION_KEY

    from django_redis_sessions.backend import SessionStore

    for _ in range(TARGET_SESSIONS):
        session = SessionStore()
        session[SESSION_KEY] = str(TARGET_USER_ID)
        session.save()


def timed_revoke(store: Store) -> float:
    """µs for one ``revoke_user_sessions`` of the target's 10 sessions in ``store``."""
    from django_redis_sessions.api import revoke_user_sessions

    use_store(store.prefix)
    # Collect before the sign-ins, not right before the call: a full collection
    # walks every object and leaves the CPU caches cold, which would add some
    # 400 µs (on a 2-core VM) to a call that is not otherwise slowed by it.
    gc.collect()
    sign_in_target()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        ended = revoke_user_sessions(TARGET_USER_ID)
        elapsed = time.perf_counter_ns() - start
    finally:
        gc.enable()
    if ended != TARGET_SESSIONS:
        raise SystemExit(
            f"{store.name} store: revoke_user_sessions ended {ended} sessions, "
            f"expected {TARGET_SESSIONS}."
        )
    return elapsed / 1000.0


def time_alone(store: Store, rounds: int) -> Timing:
    for _ in range(WARMUP_ROUNDS):
        timed_revoke(store)
    return Timing([timed_revoke(store) for _ in range(rounds)])


def time_interleaved(stores: Sequence[Store], rounds: int) -> dict[str, Timing]:
    """Rounds over every store, the order rotating each round (with two stores, it
    alternates)."""
    for _ in range(WARMUP_ROUNDS):
        for store in stores:
            timed_revoke(store)
    timings = {store.name: Timing() for store in stores}
    for number in range(rounds):
        shift = number % len(stores)
        order = [*stores[shift:], *stores[:shift]]
        for store in order:
            timings[store.name].samples_us.append(timed_revoke(store))
        if (number + 1) % 20 == 0 or number + 1 == rounds:
            print(f"\r  timed {number + 1}/{rounds} rounds", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return timings


# -- round trips -------------------------------------------------------------------


def _command_names(packed: bytes) -> list[bytes]:
    """Names of the commands redis-py sends at once; ``EVALSHA(<sha>)`` for scripts."""
    names: list[bytes] = []
    for args in packed_commands(packed):
        name = args[0].upper()
        names.append(name + b"(" + args[1] + b")" if name == b"EVALSHA" else name)
    return names


@contextmanager
def counting_round_trips() -> Iterator[list[str]]:
    """Record each ``send_packed_command`` call (one round trip) as its commands."""
    from django_redis_sessions.storage.scripts import SINGLE

    script_names = {
        script.sha: script.name
        for script in (SINGLE.load, SINGLE.save, SINGLE.delete, SINGLE.revoke, SINGLE.revoke_user)
    }
    trips: list[str] = []
    connection_class = redis.connection.AbstractConnection
    original = connection_class.send_packed_command

    def describe(name: bytes) -> str:
        text = name.decode()
        for sha, script in script_names.items():
            text = text.replace(f"({sha})", f"({script})")
        return text

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        chunks = [command] if isinstance(command, bytes | str) else command
        packed = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        trips.append("+".join(describe(name) for name in _command_names(packed)))
        original(self, command, check_health)

    connection_class.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield trips
    finally:
        connection_class.send_packed_command = original  # type: ignore[method-assign]


def count_revoke_round_trips(store: Store) -> list[str]:
    """The round trips of one revoke of the target's 10 sessions (after warm-up)."""
    from django_redis_sessions.api import revoke_user_sessions

    use_store(store.prefix)
    sign_in_target()
    with counting_round_trips() as trips:
        ended = revoke_user_sessions(TARGET_USER_ID)
    if ended != TARGET_SESSIONS:
        raise SystemExit(f"counted revoke ended {ended} sessions, expected {TARGET_SESSIONS}")
    return trips


# -- admin overview ------------------------------------------------------------------


def timed_overview(store: Store) -> tuple[float, Any]:
    """Seconds for one ``session_overview()`` of ``store``, and what it returned.

    The garbage collector runs before the call and stays on during it: on a large
    store the call allocates a row per signed-in user, and the collections that
    triggers are part of what the admin page pays.
    """
    from django_redis_sessions.api import session_overview

    use_store(store.prefix)
    gc.collect()
    start = time.perf_counter()
    overview = session_overview()
    return time.perf_counter() - start, overview


def overview_totals(store: Store, overview: Any) -> dict[str, Any]:
    """The overview's totals next to what the filler wrote; ``ok`` when all agree."""
    found = {"users": overview.signed_in_users}
    expected = {"users": store.users}
    # Above EXACT_TOTALS_LIMIT keys the session totals are estimates (a sample of
    # keys): only exact totals are compared.
    if overview.totals.exact:
        found |= {"sessions": overview.sessions, "signed_in": overview.signed_in}
        expected |= {"sessions": store.sessions, "signed_in": store.signed_in}
    return {"found": found, "expected": expected, "ok": found == expected}


@dataclass
class OverviewRun:
    """The overview's timings on one store (µs samples) and the totals of each call."""

    timing: Timing = field(default_factory=Timing)
    totals: list[dict[str, Any]] = field(default_factory=list)
    db_keys: int = 0

    def add(self, store: Store, seconds: float, overview: Any) -> None:
        self.timing.samples_us.append(seconds * 1e6)
        self.totals.append(overview_totals(store, overview))

    def as_dict(self, store: Store) -> dict[str, Any]:
        seconds = self.timing.median / 1e6
        mismatches = [t for t in self.totals if not t["ok"]]
        return {
            "sessions": store.sessions,
            "db_keys": self.db_keys,
            "median_s": seconds,
            # Few rounds: the spread (max - min) / median says more than an IQR.
            "range_pct": 100.0
            * (max(self.timing.samples_us) - min(self.timing.samples_us))
            / self.timing.median,
            "samples_s": [us / 1e6 for us in self.timing.samples_us],
            "sessions_per_s": store.sessions / seconds if seconds > 0 else 0.0,
            "us_per_session": self.timing.median / store.sessions,
            # The totals of the first call, and whether every call's agreed.
            "totals": self.totals[0],
            "totals_ok": not mismatches,
            "mismatches": mismatches,
        }


def time_overview_alone(client: redis.Redis, store: Store, rounds: int) -> OverviewRun:
    run = OverviewRun(db_keys=int(client.dbsize()))
    timed_overview(store)  # warm-up: imports, connection
    for _ in range(rounds):
        run.add(store, *timed_overview(store))
    return run


def time_overview_interleaved(
    client: redis.Redis, stores: Sequence[Store], rounds: int
) -> dict[str, OverviewRun]:
    """Rounds over every store, the order alternating each round."""
    db_keys = int(client.dbsize())
    runs = {store.name: OverviewRun(db_keys=db_keys) for store in stores}
    for number in range(rounds):
        order = stores if number % 2 == 0 else list(reversed(stores))
        for store in order:
            runs[store.name].add(store, *timed_overview(store))
        print(
            f"\r  overview: timed {number + 1}/{rounds} rounds",
            end="",
            file=sys.stderr,
            flush=True,
        )
    print(file=sys.stderr)
    return runs


def count_overview_round_trips(store: Store) -> dict[str, Any]:
    """Round trips of one overview of ``store``, tallied by kind.

    A trip's kind is the distinct commands it sends (a pipeline of 800 ``GETRANGE``
    is one ``GETRANGE`` trip of 800 commands).
    """
    from django_redis_sessions.api import session_overview

    use_store(store.prefix)
    with counting_round_trips() as trips:
        session_overview()
    by_kind: dict[str, dict[str, int]] = {}
    for described in trips:
        names = described.split("+")
        kind = "+".join(dict.fromkeys(names))
        tally = by_kind.setdefault(kind, {"trips": 0, "commands": 0})
        tally["trips"] += 1
        tally["commands"] += len(names)
    return {"round_trips": len(trips), "by_kind": by_kind}


# -- cleanup throughput --------------------------------------------------------------


def cleanup_pass(
    client: redis.Redis, store: Store, stale: list[str], *, trace_memory: bool
) -> dict[str, Any]:
    """Delete ``stale`` sessions behind the engine's back, then run ``clear_expired``."""
    from django_redis_sessions.storage import Operations, keys, run

    use_store(store.prefix)
    made_stale = delete_keys(client, [keys.session_redis_key(store.prefix, d) for d in stale])
    gc.collect()
    if trace_memory:
        tracemalloc.start()
    try:
        started = time.perf_counter()
        stats = run(Operations.clear_expired)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if trace_memory else None
    finally:
        if trace_memory:
            tracemalloc.stop()
    return {
        "traced": trace_memory,
        "selected": len(stale),
        "made_stale": made_stale,
        **asdict(stats),
        "seconds": elapsed,
        "entries_per_s": stats.entries_examined / elapsed if elapsed > 0 else 0.0,
        "peak_python_bytes": peak,
        "pruned_matches_stale": stats.entries_pruned == made_stale,
    }


# -- report --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def _mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def _status(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _trips_text(trips: dict[str, Any] | None) -> str:
    if trips is None:
        return "-"
    return f"{trips['round_trips']:,}"


def _trip_kinds_text(trips: dict[str, Any]) -> str:
    return ", ".join(
        f"{kind} x{tally['trips']:,}"
        + (f" ({tally['commands']:,} commands)" if tally["commands"] != tally["trips"] else "")
        for kind, tally in trips["by_kind"].items()
    )


def _print_overview(overview: dict[str, Any], build: dict[str, Any]) -> None:
    rows = [
        ("small, alone (before the large store)", "small_alone"),
        (f"small ({build['small']['sessions']:,}), large in the db", "small"),
        (f"large ({build['large']['sessions']:,})", "large"),
    ]
    print(
        "\nAdmin overview: django_redis_sessions.api.session_overview() (one SCAN walk "
        "counting sessions and finding user indexes; per batch, one activity.lua call "
        "reading each indexed session's header on the server)"
    )
    print(
        f"  small alone: median of {overview['alone_rounds']} rounds; small and large: "
        f"median of {overview['rounds']} interleaved rounds (the order alternates); "
        "range: (max - min) / median"
    )
    print(
        f"  {'store':<38} {'db keys':>9} {'seconds':>8} {'range':>5} {'sessions/s':>11} "
        f"{'µs/session':>10} {'trips':>6}  totals (sessions / signed in / users)"
    )
    print("  " + "-" * 128)
    for label, name in rows:
        row = overview[name]
        found = row["totals"]["found"]
        status = "OK" if row["totals_ok"] else "MISMATCH"
        print(
            f"  {label:<38} {row['db_keys']:>9,} {row['median_s']:>8.3f} "
            f"{row['range_pct']:>4.0f}% {row['sessions_per_s']:>11,.0f} "
            f"{row['us_per_session']:>10.2f} {_trips_text(row.get('round_trips')):>6}  "
            f"{status}: {found['sessions']:,} / {found['signed_in']:,} / {found['users']:,}"
        )
        if not row["totals_ok"]:
            for mismatch in row["mismatches"][:3]:
                print(
                    f"    MISMATCH: found {mismatch['found']}, filler wrote {mismatch['expected']}"
                )
    for label, name in rows:
        trips = overview[name].get("round_trips")
        if trips is not None:
            print(f"  round trips, {label}: {trips['round_trips']:,} = {_trip_kinds_text(trips)}")


def print_report(results: dict[str, Any]) -> None:
    config = results["config"]
    print(
        f"\nDjango {config['django']}, redis-py {config['redis_py']}, Redis "
        f"{config['redis_server']}, Python {config['python']}; {config['cpus']} CPUs "
        f"({config['cpu']}); run tag {config['run_tag']}."
    )

    print("\nFiller (real records, pipelined raw writes)")
    print(
        f"  {'store':<6} {'sessions':>10} {'signed in':>10} {'users':>8} "
        f"{'commands':>10} {'seconds':>8} {'sessions/s':>11}"
    )
    for name, build in results["build"].items():
        rate = build["sessions"] / build["seconds"] if build["seconds"] > 0 else 0.0
        print(
            f"  {name:<6} {build['sessions']:>10,} {build['signed_in']:>10,} "
            f"{build['users']:>8,} {build['commands']:>10,} {build['seconds']:>8.1f} "
            f"{rate:>11,.0f}"
        )
    print(f"  Redis memory added by the large store: {_mib(results['large_store_memory_bytes'])}")

    revoke = results["revoke"]
    print(
        f"\nrevoke_user_sessions({TARGET_USER_ID}): ends {TARGET_SESSIONS} sessions; "
        f"median of {config['rounds']} interleaved rounds (timed: the call alone)"
    )
    print(f"  {'store':<50} {'median µs':>10} {'iqr':>5} {'p90 µs':>8} {'vs small':>8}")
    rows = [(f"{row['store']} ({row['sessions']:,} sessions)", row) for row in revoke["by_store"]]
    rows.append(("reference: small, before the other stores existed", revoke["small_alone"]))
    smallest = revoke["small"]["median_us"]
    for label, row in rows:
        print(
            f"  {label:<50} {row['median_us']:>10.1f} {row['iqr_pct']:>4.0f}% "
            f"{row['p90_us']:>8.1f} {row['median_us'] / smallest:>7.2f}x"
        )
    ok = revoke["ratio"] <= GOAL_RATIO
    print(f"  ratio large / small: {revoke['ratio']:.2f}x (goal <= {GOAL_RATIO}x: {_status(ok)})")

    trips = results["round_trips"]
    print(
        f"\nRound trips of one revoke of {TARGET_SESSIONS} sessions: {len(trips)} "
        f"({', '.join(trips) or 'none'})"
    )

    if results.get("overview"):
        _print_overview(results["overview"], results["build"])

    print(f"\nclear_expired() on the large store (prefix {config['prefixes'][-1]})")
    print(
        f"  {'pass':<12} {'made stale':>10} {'indexes':>8} {'examined':>9} {'pruned':>8} "
        f"{'idx gone':>8} {'SCANs':>6} {'seconds':>8} {'entries/s':>10} {'peak Python':>12}"
    )
    for row in results["cleanup"]:
        label = "tracemalloc" if row["traced"] else "timed"
        peak = "-" if row["peak_python_bytes"] is None else _mib(row["peak_python_bytes"])
        print(
            f"  {label:<12} {row['made_stale']:>10,} {row['indexes']:>8,} "
            f"{row['entries_examined']:>9,} {row['entries_pruned']:>8,} "
            f"{row['indexes_removed']:>8,} {row['scan_calls']:>6,} {row['seconds']:>8.2f} "
            f"{row['entries_per_s']:>10,.0f} {peak:>12}"
        )

    print("\nGoals")
    for goal in results["goals"]:
        print(f"  [{_status(goal['ok'])}] {goal['goal']}: {goal['value']}")


# -- main ------------------------------------------------------------------------------


def _store_sizes_arg(text: str) -> list[int]:
    """``--store-sizes``: comma-separated session counts (``1000,10_000,1e5`` too)."""
    return session_counts_arg(text)


def default_store_sizes(small: int, large: int) -> list[int]:
    """``small``, one store per power of ten strictly between, and ``large``."""
    sizes = [small]
    power = 1
    while power <= small:
        power *= 10
    while power < large:
        sizes.append(power)
        power *= 10
    sizes.append(large)
    return sizes


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark revoking a user's sessions at several store sizes, and the "
        "user-index cleanup (clearsessions).",
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
        help=f"interleaved rounds (one revoke per store each); medians are taken over "
        f"them (default: {DEFAULT_ROUNDS})",
    )
    parser.add_argument(
        "--small",
        type=int,
        help=f"filler sessions in the small store (default: {DEFAULT_SMALL:,})",
    )
    parser.add_argument(
        "--large",
        type=int,
        help=f"filler sessions in the large store (default: {DEFAULT_LARGE:,}; "
        "100000 for a quick run)",
    )
    parser.add_argument(
        "--store-sizes",
        type=_store_sizes_arg,
        metavar="N,N,...",
        help="sessions in each store whose revocation is timed, instead of --small, "
        "--large and one store per power of ten between them (the default: "
        f"{','.join(map(str, default_store_sizes(DEFAULT_SMALL, DEFAULT_LARGE)))}); "
        "the smallest and largest are the small and large stores",
    )
    parser.add_argument(
        "--stale",
        type=float,
        default=DEFAULT_STALE,
        help=f"share of the large store's signed-in sessions deleted before each "
        f"cleanup pass (default: {DEFAULT_STALE})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed choosing the stale sessions")
    parser.add_argument(
        "--overview-rounds",
        type=int,
        default=DEFAULT_OVERVIEW_ROUNDS,
        help=f"interleaved rounds of the admin overview, session_overview() (one call per "
        f"store each; default: {DEFAULT_OVERVIEW_ROUNDS})",
    )
    parser.add_argument(
        "--overview",
        dest="no_overview",
        action="store_false",
        help="also time session_overview() here (off by default: the overview reads one "
        "page of the users index, and bench_scale.py measures it through HTTP up to ten "
        "million sessions)",
    )
    parser.add_argument(
        "--no-overview",
        dest="no_overview",
        action="store_true",
        default=True,
        help="skip the admin overview measurement (the default)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--plot",
        metavar="DIR",
        help="also draw DIR/revoke_vs_store_size.png (needs matplotlib)",
    )
    args = parser.parse_args(argv)
    if args.store_sizes is not None:
        if args.small is not None or args.large is not None:
            parser.error("--store-sizes replaces --small and --large: give one or the other")
        args.store_sizes = sorted(set(args.store_sizes))
    else:
        small = DEFAULT_SMALL if args.small is None else args.small
        large = DEFAULT_LARGE if args.large is None else args.large
        if small < 1 or large <= small:
            parser.error("--small must be >= 1 and --large larger than --small")
        args.store_sizes = default_store_sizes(small, large)
    if len(args.store_sizes) < 2:
        parser.error("--store-sizes needs at least two different sizes")
    args.small, args.large = args.store_sizes[0], args.store_sizes[-1]
    if args.rounds < 1 or args.overview_rounds < 1:
        parser.error("--rounds and --overview-rounds must be >= 1")
    if not 0 < args.stale <= 0.5:
        parser.error("--stale must be in (0, 0.5]: two disjoint shares are deleted")
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
    small = Store("small", f"{run_tag}:small", args.small)
    large = Store("large", f"{run_tag}:large", args.large)
    middle = [
        Store(f"mid{number:02d}", f"{run_tag}:mid{number:02d}", size)
        for number, size in enumerate(args.store_sizes[1:-1], start=1)
    ]
    stores = [small, *middle, large]
    configure_django(args.redis_url, small.prefix)
    started = time.monotonic()
    print(f"Keys under {run_tag}:* on {redacted(args.redis_url)}", file=sys.stderr)

    def building(store: Store) -> Callable[[int], None]:
        next_report = [PROGRESS_EVERY]

        def report(count: int) -> None:
            if count < next_report[0]:
                return
            next_report[0] += PROGRESS_EVERY
            print(
                f"\r  {store.name} store: {count:,}/{store.sessions:,} sessions",
                end="",
                file=sys.stderr,
                flush=True,
            )

        return report

    try:
        build_filler(client, small, args.stale, args.seed)
        print(f"  small store built in {small.build_s:.1f} s; timing it alone", file=sys.stderr)
        small_alone = time_alone(small, args.rounds)
        overview_alone: OverviewRun | None = None
        overview_trips: dict[str, dict[str, Any]] = {}
        if not args.no_overview:
            print("  timing the small store's overview alone", file=sys.stderr)
            overview_alone = time_overview_alone(client, small, OVERVIEW_ALONE_ROUNDS)
            overview_trips = {"small_alone": count_overview_round_trips(small)}
        for number, store in enumerate(middle):
            build_filler(client, store, args.stale, args.seed + 2 + number, building(store))
            print(
                f"\n  {store.name} store ({store.sessions:,}) built in {store.build_s:.1f} s",
                file=sys.stderr,
            )
        memory_before = _used_memory(client)
        build_filler(client, large, args.stale, args.seed + 1, building(large))
        print(f"\n  large store built in {large.build_s:.1f} s", file=sys.stderr)
        large_memory = _used_memory(client) - memory_before
        timings = time_interleaved(stores, args.rounds)
        trips = count_revoke_round_trips(large)
        # The overview and the cleanup are measured on the small and large stores
        # only, with nothing else in the database, as before the middle stores.
        for store in middle:
            removed_middle = cleanup(client, store.prefix)
            print(f"  removed the {store.name} store ({removed_middle:,} keys)", file=sys.stderr)
        # Before the cleanup passes, which delete sessions: the overview's totals
        # must still equal what the filler wrote.
        overview: dict[str, Any] | None = None
        if overview_alone is not None:
            runs = time_overview_interleaved(client, [small, large], args.overview_rounds)
            for store in (small, large):
                overview_trips[store.name] = count_overview_round_trips(store)
            overview = {
                "rounds": args.overview_rounds,
                "alone_rounds": OVERVIEW_ALONE_ROUNDS,
                "small_alone": overview_alone.as_dict(small),
                "small": runs["small"].as_dict(small),
                "large": runs["large"].as_dict(large),
            }
            for name, counted in overview_trips.items():
                overview[name]["round_trips"] = counted
        passes = [
            cleanup_pass(client, large, large.stale[0], trace_memory=False),
            cleanup_pass(client, large, large.stale[1], trace_memory=True),
        ]
    finally:
        cleanup_started = time.perf_counter()
        removed = cleanup(client, run_tag)
        print(
            f"  removed {removed:,} keys under {run_tag}:* in "
            f"{time.perf_counter() - cleanup_started:.1f} s",
            file=sys.stderr,
        )

    ratio = timings["large"].median / timings["small"].median
    goals = [
        {
            "goal": f"revoke time large/small <= {GOAL_RATIO}x",
            "value": round(ratio, 3),
            "ok": ratio <= GOAL_RATIO,
        },
        {
            "goal": f"one revoke of {TARGET_SESSIONS} sessions = {GOAL_ROUND_TRIPS} round trips",
            "value": len(trips),
            "ok": len(trips) == GOAL_ROUND_TRIPS,
        },
    ]
    for row in passes:
        label = "tracemalloc pass" if row["traced"] else "timed pass"
        goals.append(
            {
                "goal": f"clear_expired ({label}) pruned exactly the entries made stale",
                "value": f"{row['entries_pruned']:,} pruned / {row['made_stale']:,} made stale",
                "ok": row["pruned_matches_stale"],
            }
        )
    redis_version = client.info("server").get("redis_version")
    results: dict[str, Any] = {
        "config": {
            "redis_url": redacted(args.redis_url),
            "run_tag": run_tag,
            "prefixes": [store.prefix for store in stores],
            "rounds": args.rounds,
            "warmup_rounds": WARMUP_ROUNDS,
            "small": args.small,
            "large": args.large,
            "store_sizes": args.store_sizes,
            "stale": args.stale,
            "seed": args.seed,
            "overview_rounds": None if args.no_overview else args.overview_rounds,
            "python": platform.python_version(),
            "django": django.get_version(),
            "redis_py": redis.__version__,
            "redis_server": redis_version,
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "machine": machine_description(redis_version),
            "date": time.strftime("%Y-%m-%d"),
        },
        "build": {
            store.name: {
                "sessions": store.sessions,
                "signed_in": store.signed_in,
                "users": store.users,
                "commands": store.commands,
                "seconds": store.build_s,
            }
            for store in stores
        },
        "large_store_memory_bytes": large_memory,
        "revoke": {
            "small": timings["small"].as_dict(),
            "large": timings["large"].as_dict(),
            "small_alone": small_alone.as_dict(),
            "ratio": ratio,
            "by_store": [
                {
                    "store": store.name,
                    "sessions": store.sessions,
                    **timings[store.name].as_dict(),
                    "ratio_to_small": timings[store.name].median / timings["small"].median,
                }
                for store in stores
            ],
        },
        "round_trips": trips,
        "overview": overview,
        "cleanup": passes,
        "goals": goals,
        "removed_keys": removed,
    }
    results["config"]["elapsed_s"] = round(time.monotonic() - started, 1)
    print_report(results)
    print(f"\n({results['config']['elapsed_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"Results written to {args.json}")
    if args.plot:
        write_plots(results, args.plot)
    overview_ok = overview is None or all(
        overview[name]["totals_ok"] for name in ("small_alone", "small", "large")
    )
    return 0 if overview_ok and all(goal["ok"] for goal in goals) else 1


if __name__ == "__main__":
    sys.exit(main())

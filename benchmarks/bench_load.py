"""Throughput of the load app under gunicorn: our engine vs Django's cache backend.

Run from the repository root against a local Redis (db 15 by default); needs
gunicorn (the ``example`` extra) and django-redis::

    python benchmarks/bench_load.py [--redis-url URL] [--rounds N] [--requests N]
                                    [--clients N] [--write-every N] [--json PATH]

Two servers run at once, each ``python -m gunicorn`` serving ``tests/loadapp``
with the same configuration (gthread, 1 worker x 8 threads, keep-alive) on a
free loopback port: one with our engine (``django_redis_sessions.backend``,
defaults), one with ``django.contrib.sessions.backends.cache`` on a django-redis
cache with ``SESSION_SAVE_EVERY_REQUEST = True`` (its only way to slide the idle
timeout). Both use the same Redis and the same SQLite file of users.

The same client load drives each in turn: ``--clients`` threads, each one
signed-in user with its own session and its own keep-alive connection, sending
requests back to back (a closed loop). The mix is 90% reads, 10% writes: of every
``--write-every`` (10) requests of a client, one is ``POST /write/`` (sets one
session key) and the rest ``GET /read/`` (loads the session and the user, as a
signed-in page does). Rounds are interleaved (each round runs both servers, in
an order rotated every round) and the report gives medians over rounds: requests
per second, the ratio ours/theirs, and CPU per request of the servers, of this
client process and of Redis. Every response must be a 200, or the run stops.
Every Redis key written starts with a random 6-character run tag and is deleted
at the end whatever happens; both servers are always stopped. See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ``python benchmarks/bench_load.py`` puts benchmarks/ (not the repository root) on
# sys.path; the load app lives in tests/loadapp and the engine in the checkout.
_REPO_ROOT = Path(__file__).resolve().parent.parent
if str(_REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(_REPO_ROOT))

import redis  # noqa: E402
from benchlib import Timing, add_run_arguments, connect, new_run_tag, redacted  # noqa: E402

from tests.loadapp.client import Client, Jar  # noqa: E402
from tests.loadapp.prepare import PASSWORD, username  # noqa: E402
from tests.loadapp.server import (  # noqa: E402
    LoadServer,
    app_env,
    load_server,
    prepare_database,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_ROUNDS = 10
#: Requests per server and round, split evenly over the clients.
DEFAULT_REQUESTS = 1600
DEFAULT_CLIENTS = 8
DEFAULT_WRITE_EVERY = 10
#: One gthread worker process with 8 threads: keep-alive connections, and no
#: imbalance between worker processes (with several, gunicorn leaves each
#: persistent connection on whichever worker accepted it, often all on one).
DEFAULT_WORKERS = 1
DEFAULT_THREADS = 8
WARMUP_PER_CLIENT = 30
GOAL_RATIO = 1.5
#: With ``--floor``: ours against the store that makes one bare GET per request.
GOAL_ONE_GET_RATIO = 0.97
#: ``--page``: what the reads request (``tests/loadapp/views.py``).
READ_PATHS = {"read": "/read/", "peek": "/peek/"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

CONTENDERS = {
    "ours": "ours: django_redis_sessions (SAVE_EVERY_REQUEST off)",
    "cache": "cache backend + django-redis (SAVE_EVERY_REQUEST on)",
}
#: With ``--floor``: the same app with sessions in the worker's own memory (no
#: network, nothing saved on a read), the most any session store could give it;
#: and the cache backend doing one GET per read and nothing else (no sliding), the
#: cheapest a store that makes one Redis round trip per request can be.
FLOOR = {
    "memory": "floor: sessions in the worker's memory (no Redis)",
    "cache-get": "one GET: cache backend, SAVE_EVERY_REQUEST off",
}


LABELS = {**CONTENDERS, **FLOOR}


def process_cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of ``pids`` (their threads included), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def redis_cpu_seconds(client: redis.Redis) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


@dataclass
class Side:
    """One server and the clients that drive it."""

    name: str
    server: LoadServer
    clients: list[Client] = field(default_factory=list)
    #: Per client: how many requests it has sent (the mix continues across rounds).
    sent: list[int] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    server_cpu_us: list[float] = field(default_factory=list)
    client_cpu_us: list[float] = field(default_factory=list)
    redis_cpu_us: list[float] = field(default_factory=list)
    busy_pct: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


def one_request(side: Side, index: int, write_every: int, read_path: str) -> int:
    client = side.clients[index]
    op = side.sent[index]
    side.sent[index] = op + 1
    if op % write_every == write_every - 1:
        status, _ = client.post("/write/", {"key": f"t{op % 7}", "value": str(op)})
    else:
        status, _ = client.get(read_path)
    return status


def drive(
    side: Side, per_client: int, write_every: int, read_path: str
) -> tuple[float, dict[int, int]]:
    """Every client sends ``per_client`` requests back to back; the wall time."""
    start_line = threading.Barrier(len(side.clients) + 1)
    counts: list[dict[int, int]] = [{} for _ in side.clients]

    def run(index: int) -> None:
        mine = counts[index]
        start_line.wait()
        for _ in range(per_client):
            status = one_request(side, index, write_every, read_path)
            mine[status] = mine.get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(side.clients))]
    for thread in threads:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    merged: dict[int, int] = {}
    for mine in counts:
        for status, count in mine.items():
            merged[status] = merged.get(status, 0) + count
    return elapsed, merged


def sign_in_all(side: Side, clients: int) -> None:
    for index in range(clients):
        client = Client(side.server.host, side.server.port, Jar())
        status, body = client.post("/signin/", {"username": username(index), "password": PASSWORD})
        if status != 200 or not client.jar.value:
            raise RuntimeError(f"{side.name}: sign-in failed ({status}): {body[:200]!r}")
        side.clients.append(client)
        side.sent.append(0)


def check_statuses(side: Side, statuses: dict[int, int]) -> None:
    for status, count in statuses.items():
        side.statuses[status] = side.statuses.get(status, 0) + count
    if set(statuses) != {200}:
        raise RuntimeError(
            f"{side.name}: responses other than 200: {statuses}\n{side.server.output()[-2000:]}"
        )


def run_rounds(
    sides: list[Side],
    rounds: int,
    per_client: int,
    write_every: int,
    read_path: str,
    r: redis.Redis,
) -> None:
    cores = os.cpu_count() or 1
    for round_ in range(rounds):
        shift = round_ % len(sides)
        for side in sides[shift:] + sides[:shift]:
            server_pids = [side.server.pid, *side.server.worker_pids()]
            server_before = process_cpu_seconds(server_pids)
            client_before = time.process_time()
            redis_before = redis_cpu_seconds(r)
            elapsed, statuses = drive(side, per_client, write_every, read_path)
            redis_after = redis_cpu_seconds(r)
            client_cpu = time.process_time() - client_before
            server_cpu = process_cpu_seconds(server_pids) - server_before
            check_statuses(side, statuses)
            count = sum(statuses.values())
            side.rps.append(count / elapsed)
            side.server_cpu_us.append(1e6 * server_cpu / count)
            side.client_cpu_us.append(1e6 * client_cpu / count)
            # The INFO round trips themselves are noise next to ~1,600 requests.
            side.redis_cpu_us.append(1e6 * (redis_after - redis_before) / count)
            side.busy_pct.append(
                100.0 * (server_cpu + client_cpu + redis_after - redis_before) / (elapsed * cores)
            )
        line = "  ".join(f"{s.name} {s.rps[-1]:,.0f}/s" for s in sides)
        print(f"  round {round_ + 1}/{rounds}: {line}", file=sys.stderr)


def cleanup(r: redis.Redis, run_tag: str) -> int:
    removed = 0
    batch: list[bytes] = []
    for name in r.scan_iter(match=f"{run_tag}:*", count=1000):
        batch.append(name)
        if len(batch) >= 500:
            removed += int(r.delete(*batch))
            batch = []
    if batch:
        removed += int(r.delete(*batch))
    return removed


def report(sides: list[Side], args: argparse.Namespace) -> dict[str, Any]:
    ours, cache = sides[:2]
    paired = [a / b for a, b in zip(ours.rps, cache.rps, strict=True)]
    ratio = statistics.median(ours.rps) / statistics.median(cache.rps)
    print(
        f"\nThroughput, {args.clients} clients, {args.write_every - 1}:1 reads:writes, "
        f"reads GET {READ_PATHS[args.page]}, "
        f"{args.rounds} rounds x {args.requests} requests per server (medians over rounds)\n"
    )
    header = (
        f"{'server':<52} {'req/s':>7} {'iqr':>5} {'server CPU':>11} {'client CPU':>11} "
        f"{'Redis CPU':>10} {'busy':>5}"
    )
    print(header)
    print("-" * len(header))
    results: dict[str, Any] = {}
    for side in sides:
        rps = Timing(side.rps)
        print(
            f"{LABELS[side.name]:<52} {rps.median:>7,.0f} {rps.iqr_pct:>4.0f}% "
            f"{statistics.median(side.server_cpu_us):>8,.0f} µs "
            f"{statistics.median(side.client_cpu_us):>8,.0f} µs "
            f"{statistics.median(side.redis_cpu_us):>7,.0f} µs "
            f"{statistics.median(side.busy_pct):>4.0f}%"
        )
        results[side.name] = {
            "label": LABELS[side.name],
            "rps_median": rps.median,
            "rps_iqr_pct": rps.iqr_pct,
            "rps_samples": side.rps,
            "server_cpu_us_per_request": statistics.median(side.server_cpu_us),
            "client_cpu_us_per_request": statistics.median(side.client_cpu_us),
            "redis_cpu_us_per_request": statistics.median(side.redis_cpu_us),
            "busy_pct": statistics.median(side.busy_pct),
            "statuses": side.statuses,
        }
    ok = ratio >= GOAL_RATIO
    print(
        f"\nours / cache: {ratio:.2f}x (median of per-round ratios "
        f"{statistics.median(paired):.2f}x); goal >= {GOAL_RATIO}x: {'PASS' if ok else 'FAIL'}"
    )
    print(
        "CPU columns are per request: the server (gunicorn master and workers), "
        "this client process (all its threads), and the Redis server (all its clients); "
        "busy = their sum / (wall time x cores)."
    )
    for side in sides[2:]:
        versus = statistics.median(side.rps) / statistics.median(cache.rps)
        print(f"{side.name} / cache: {versus:.2f}x ({LABELS[side.name]})")
        results[f"{side.name}_ratio"] = versus
    results["ratio"] = ratio
    results["paired_ratio_median"] = statistics.median(paired)
    results["goal"] = {"goal": f"ours >= {GOAL_RATIO}x cache req/s", "value": ratio, "ok": ok}
    one_get = next((side for side in sides if side.name == "cache-get"), None)
    if one_get is not None:
        versus = statistics.median(ours.rps) / statistics.median(one_get.rps)
        paired_one_get = [a / b for a, b in zip(ours.rps, one_get.rps, strict=True)]
        one_get_ok = versus >= GOAL_ONE_GET_RATIO
        print(
            f"ours / cache-get: {versus:.2f}x (median of per-round ratios "
            f"{statistics.median(paired_one_get):.2f}x); goal >= {GOAL_ONE_GET_RATIO}x: "
            f"{'PASS' if one_get_ok else 'FAIL'}"
        )
        results["one_get_ratio"] = versus
        results["one_get_goal"] = {
            "goal": f"ours >= {GOAL_ONE_GET_RATIO}x the one-GET store's req/s",
            "value": versus,
            "ok": one_get_ok,
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add_run_arguments(
        parser,
        redis_url=DEFAULT_REDIS_URL,
        rounds=DEFAULT_ROUNDS,
        requests=DEFAULT_REQUESTS,
        requests_per="server",
    )
    parser.add_argument(
        "--clients",
        type=int,
        default=DEFAULT_CLIENTS,
        help=f"concurrent clients (threads, one session each) (default: {DEFAULT_CLIENTS})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"gunicorn gthread worker processes per server (default: {DEFAULT_WORKERS})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads per gunicorn worker (default: {DEFAULT_THREADS})",
    )
    parser.add_argument(
        "--write-every",
        type=int,
        default=DEFAULT_WRITE_EVERY,
        help=f"one request in N writes the session (default: {DEFAULT_WRITE_EVERY}: 90/10)",
    )
    parser.add_argument(
        "--page",
        choices=sorted(READ_PATHS),
        default="read",
        help="what a read requests: 'read' (default), a signed-in page that loads the "
        "session and then the user from the database; 'peek', a page that reads the "
        "session alone (no query)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run the app with sessions in the worker's memory (the ceiling for any "
        "store; needs --workers 1) and with a cache backend that only GETs (no sliding)",
    )
    args = parser.parse_args(argv)
    if args.floor and args.workers != 1:
        parser.error("--floor keeps sessions in one process's memory: use --workers 1")
    if min(args.clients, args.write_every, args.workers, args.threads) < 1:
        parser.error("--clients, --write-every, --workers and --threads must be >= 1")
    if args.requests < args.clients:
        parser.error("--requests must be >= --clients")
    r = connect(args.redis_url)
    if r is None:
        return 1
    run_tag = new_run_tag()
    started = time.monotonic()
    per_client = args.requests // args.clients
    gunicorn_args = ["--worker-class", "gthread", "--workers", str(args.workers)]
    gunicorn_args += ["--threads", str(args.threads)]
    print(
        f"Redis {redacted(args.redis_url)}, run tag {run_tag}, gunicorn "
        f"{' '.join(gunicorn_args)}, {args.clients} clients x {per_client} "
        f"requests per round",
        file=sys.stderr,
    )
    read_path = READ_PATHS[args.page]
    results: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, ExitStack() as stack:
            folder = Path(tmp)
            db_path = folder / "users.sqlite3"
            prepare_database(db_path, args.clients)
            sides: list[Side] = []
            for name in [*CONTENDERS, *(FLOOR if args.floor else [])]:
                env = app_env(
                    engine=name, redis_url=args.redis_url, prefix=run_tag, db_path=db_path
                )
                server = stack.enter_context(
                    load_server(env, folder / f"{name}.log", gunicorn_args)
                )
                sides.append(Side(name, server))
            for side in sides:
                sign_in_all(side, args.clients)
                stack.callback(lambda s=side: [c.close() for c in s.clients])
                # Warm-up: connections, Lua scripts, Django's lazy imports.
                _, statuses = drive(side, WARMUP_PER_CLIENT, args.write_every, read_path)
                check_statuses(side, statuses)
                side.statuses.clear()
            run_rounds(sides, args.rounds, per_client, args.write_every, read_path, r)
            results = report(sides, args)
    finally:
        removed = cleanup(r, run_tag)
        print(f"  removed {removed} keys under {run_tag}:*", file=sys.stderr)
    results["config"] = {
        "redis_url": redacted(args.redis_url),
        "run_tag": run_tag,
        "rounds": args.rounds,
        "requests": args.requests,
        "clients": args.clients,
        "write_every": args.write_every,
        "page": args.page,
        "gunicorn": gunicorn_args,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    print(f"\n({results['config']['elapsed_s']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Pieces the benchmark scripts share: round statistics, RESP parsing, URL redaction,
run tags, connecting and the common command-line options.

The scripts are run as ``python benchmarks/<script>.py``, so this folder is on
``sys.path`` and they import this module by its plain name.
"""

from __future__ import annotations

import argparse
import gc
import secrets
import statistics
import string
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.http import HttpRequest, HttpResponse


@dataclass
class Timing:
    """Per-round samples (µs) of one measured thing, and their summary."""

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

    @property
    def p90(self) -> float:
        if len(self.samples_us) < 10:
            return max(self.samples_us)
        return statistics.quantiles(self.samples_us, n=10)[-1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_us": self.median,
            "iqr_pct": self.iqr_pct,
            "p90_us": self.p90,
            "samples_us": self.samples_us,
        }


def packed_commands(packed: bytes) -> list[list[bytes]]:
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


def session_counts_arg(text: str) -> list[int]:
    """A command-line list of session counts: comma-separated, ``1000,10_000,1e5``
    forms accepted, each at least 1 (an ``argparse`` type)."""
    import argparse

    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            size = int(float(part)) if "e" in part.lower() else int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of sessions: {part!r}") from None
        if size < 1:
            raise argparse.ArgumentTypeError(f"session counts must be >= 1, got {size}")
        sizes.append(size)
    return sizes


def redacted(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


#: Every contender's keys live under one random tag of this shape, as short as a
#: production prefix such as "session".
RUN_TAG_LENGTH = 6
RUN_TAG_ALPHABET = string.ascii_lowercase + string.digits


def new_run_tag() -> str:
    return "".join(secrets.choice(RUN_TAG_ALPHABET) for _ in range(RUN_TAG_LENGTH))


def connect(url: str) -> redis.Redis | None:
    """A client on ``url`` that answered PING, or ``None`` (the reason is printed)."""
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        print(f"No Redis at {redacted(url)}: {exc}", file=sys.stderr)
        return None
    return client


def add_run_arguments(
    parser: argparse.ArgumentParser,
    *,
    redis_url: str,
    rounds: int,
    requests: int | None = None,
    requests_per: str = "",
) -> None:
    """The options every benchmark shares: --redis-url, --rounds, [--requests], --json."""
    parser.add_argument(
        "--redis-url",
        default=redis_url,
        help=f"Redis to use; only keys under a random run prefix are touched "
        f"(default: {redis_url})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=rounds,
        help=f"interleaved rounds; medians are taken over them (default: {rounds})",
    )
    if requests is not None:
        parser.add_argument(
            "--requests",
            type=int,
            default=requests,
            help=f"requests per {requests_per} and round (default: {requests})",
        )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")


# -- the views every benchmark times -----------------------------------------------


def session_read_view(request: HttpRequest) -> HttpResponse:
    # What a signed-in page needs from the store: the user id and the auth hash.
    session = request.session
    user_id = session[SESSION_KEY]
    if not session[HASH_SESSION_KEY]:
        raise AssertionError("signed-in session without an auth hash")
    return HttpResponse(user_id)


def session_modify_view(request: HttpRequest) -> HttpResponse:
    session = request.session
    user_id = session[SESSION_KEY]
    if not session[HASH_SESSION_KEY]:
        raise AssertionError("signed-in session without an auth hash")
    counter = session.get("counter", 0) + 1
    session["counter"] = counter
    return HttpResponse(f"{user_id}:{counter}")


def time_batch(chain: Callable[[HttpRequest], Any], requests: Sequence[HttpRequest]) -> float:
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

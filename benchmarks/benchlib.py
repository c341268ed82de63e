"""Pieces both benchmark scripts use: round statistics, RESP parsing, URL redaction.

The scripts are run as ``python benchmarks/<script>.py``, so this folder is on
``sys.path`` and they import this module by its plain name.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit


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


def redacted(url: str) -> str:
    """``url`` without its password, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))

"""The progress line of the commands that walk the whole store.

``revoke_sessions --all`` (and by fingerprint without a user), ``clearsessions``
and ``list_sessions --all`` walk every key with ``SCAN``. On a terminal they show
one line on stderr, redrawn in place at most ``INTERVAL`` apart (the last state is
always drawn) and ended with a newline; when stderr is not a terminal (a pipe, a
log, cron) they print nothing extra. ``--no-progress`` turns the line off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

from django.core.management import CommandParser

from ..storage import Operations, run
from ..storage.plans import ScanProgress
from ..storage.steps import Commands, Steps

#: Seconds between two redraws at least (about five a second).
INTERVAL = 0.2


def add_argument(parser: CommandParser) -> None:
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="Do not show the progress line (shown only when stderr is a terminal).",
    )


def _dbsize(ops: Operations) -> Steps[int]:
    # Every key of the database (summed over the primaries of a Cluster, one
    # round trip each): the approximate total of a SCAN walk.
    (size,) = yield Commands([("DBSIZE",)], "count keys")
    return int(size)


def keys_in_store() -> int:
    return run(_dbsize)


def share(scanned: int, total: int) -> str:
    """``~1,500 of ~20,000 keys (8%)``: ``scanned`` and ``total`` are estimates."""
    scanned = min(scanned, total)
    percent = f"{scanned / total:.0%}" if total else "100%"
    return f"~{scanned:,} of ~{total:,} keys ({percent})"


class ProgressLine:
    """One status line redrawn in place on a terminal stream; silent elsewhere."""

    def __init__(
        self,
        stream: Any,
        *,
        enabled: bool = True,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.active = enabled and stream.isatty()
        self.interval = INTERVAL if interval is None else interval
        self.clock = clock
        self.drawn_at: float | None = None
        self.pending: str | None = None
        self.width = 0

    def show(self, text: str) -> None:
        """Draw ``text`` now, or when the next redraw is due (or at ``close``)."""
        if not self.active:
            return
        self.pending = text
        now = self.clock()
        if self.drawn_at is None or now - self.drawn_at >= self.interval:
            self._draw(now)

    def _draw(self, now: float) -> None:
        text = self.pending or ""
        self.pending = None
        # Spaces cover the end of a longer previous line (no terminal codes needed).
        self._write("\r" + text + " " * max(0, self.width - len(text)))
        self.width = len(text)
        self.drawn_at = now

    def _write(self, text: str) -> None:
        if hasattr(self.stream, "style_func"):
            # A command's OutputWrapper: no ending, and no error colouring on stderr.
            self.stream.write(text, style_func=lambda s: s, ending="")
        else:
            self.stream.write(text)
        self.stream.flush()

    def erase(self) -> None:
        """Blank the line (before other output to the same terminal); the next
        ``show`` draws it again."""
        if self.active and self.width:
            self._write("\r" + " " * self.width + "\r")
            self.width = 0

    def close(self) -> None:
        """Draw the last state if a redraw was held back, and end the line."""
        if not self.active:
            return
        if self.pending is not None:
            self._draw(self.clock())
        if self.width:
            self._write("\n")
        self.active = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScanLine(ProgressLine):
    """The progress of a store-wide walk: keys scanned (of ``DBSIZE``, one round
    trip per node when the line is shown), keys matched, sessions acted on."""

    def __init__(self, stream: Any, verb: str, *, enabled: bool = True) -> None:
        super().__init__(stream, enabled=enabled)
        self.verb = verb
        self.total = keys_in_store() if self.active else 0

    def report(self, state: ScanProgress) -> None:
        self.show(
            f"Scanned {share(state.scanned, self.total)}: "
            f"{state.matched:,} matched, {state.done:,} {self.verb}"
        )

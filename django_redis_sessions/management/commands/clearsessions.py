"""``manage.py clearsessions``, with statistics and progress for this engine.

Django's own ``clearsessions`` calls ``SessionStore.clear_expired()``, which
works with this engine too but prints nothing. This command replaces it when
``django_redis_sessions`` comes before ``django.contrib.sessions`` in
``INSTALLED_APPS`` (or when ``django.contrib.sessions`` is not installed, as this
engine does not need it). For any other engine it does what Django's does.

Sessions expire by themselves through their Redis TTL; what is cleaned here is
the user indexes: entries of ended sessions are pruned and empty indexes go.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.management import BaseCommand, CommandError, CommandParser

from ...exceptions import SessionStoreError
from ...storage import Operations, run
from ...storage.index_ops import CLEANUP_BATCH
from ...storage.plans import CleanupStats, Progress
from ...storage.steps import Commands, Steps
from ..progress import ProgressLine, add_argument, share

ENGINE = "django_redis_sessions.backend"


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _clear_expired(
    ops: Operations, sized: bool, progress: Callable[[int], Progress | None]
) -> Steps[CleanupStats]:
    # DBSIZE counts every key of the database: enough to estimate how far the SCAN
    # has got, which is all progress needs.
    keys_in_db = 0
    if sized:
        (size,) = yield Commands([("DBSIZE",)], "dbsize")
        keys_in_db = int(size)
    return (yield from ops.clear_expired(progress(keys_in_db)))


class Command(BaseCommand):
    help = (
        "Prune the user indexes of sessions that have ended, in SCAN batches "
        "(never KEYS). Progress is shown on stderr when it is a terminal, or per "
        "batch at --verbosity 2."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SESSION_ENGINE != ENGINE:
            engine = import_module(settings.SESSION_ENGINE)
            try:
                engine.SessionStore.clear_expired()
            except NotImplementedError:
                raise CommandError(
                    f"Session engine '{settings.SESSION_ENGINE}' doesn't support clearing "
                    "expired sessions."
                ) from None
            return
        verbosity: int = options["verbosity"]
        # Per-batch lines (--verbosity 2) take the place of the progress line.
        line = ProgressLine(self.stderr, enabled=verbosity == 1 and not options["no_progress"])
        started = time.perf_counter()
        try:
            with line:
                sized = line.active or verbosity >= 2
                stats = run(
                    _clear_expired, sized, lambda total: self._progress(verbosity, line, total)
                )
        except SessionStoreError as exc:
            raise CommandError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        if verbosity:
            rate = stats.entries_examined / elapsed if elapsed > 0 else 0.0
            self.stdout.write(
                f"Checked {_count(stats.indexes, 'user index', 'user indexes')} "
                f"({_count(stats.entries_examined, 'entry', 'entries')}) in {elapsed:.1f} s "
                f"({rate:.0f} entries/s): pruned "
                f"{_count(stats.entries_pruned, 'entry', 'entries')} of ended sessions, "
                f"removed {_count(stats.indexes_removed, 'empty index', 'empty indexes')}."
            )
            changes = []
            if stats.users_listed:
                # After an upgrade: users whose index predates the users index.
                changes.append(
                    f"listed {_count(stats.users_listed, 'missing user', 'missing users')}"
                )
            if stats.users_removed:
                changes.append(
                    f"dropped {_count(stats.users_removed, 'user', 'users')} with no session left"
                )
            if changes:
                self.stdout.write(f"Users index (the admin overview's): {', '.join(changes)}.")

    def _progress(self, verbosity: int, line: ProgressLine, keys_in_db: int) -> Progress | None:
        if verbosity < 2 and not line.active:
            return None

        def report(stats: CleanupStats) -> None:
            scanned = stats.scan_calls * CLEANUP_BATCH
            if verbosity >= 2:
                self.stdout.write(
                    f"  batch {stats.scan_calls}: {stats.indexes} indexes, "
                    f"{stats.entries_examined} entries examined, {stats.entries_pruned} pruned "
                    f"(about {min(1.0, scanned / max(1, keys_in_db)):.0%} of the keyspace scanned)"
                )
            line.show(
                f"Scanned {share(scanned, keys_in_db)}: "
                f"{_count(stats.indexes, 'index', 'indexes')}, {stats.entries_pruned:,} pruned"
            )

        return report

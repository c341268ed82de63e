"""``manage.py list_sessions``: a user's live sessions, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from ... import api
from ...exceptions import SessionStoreError
from ..progress import ScanLine, add_argument
from ..users import label, plural, resolve_users

#: A user agent can be kilobytes long; the table shows its start.
USER_AGENT_WIDTH = 60
COLUMNS = ("FINGERPRINT", "CREATED", "LAST SEEN", "EXPIRES", "IP", "USER AGENT")
#: ``--all`` streams its table, so its columns have fixed widths (a longer value
#: pushes the rest of its row along).
ALL_COLUMNS = ("FINGERPRINT", "USER", *COLUMNS[1:])
ALL_WIDTHS = (12, 8, 19, 19, 19, 15)


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _row(info: api.SessionInfo) -> tuple[str, ...]:
    user_agent = info.user_agent or "-"
    if len(user_agent) > USER_AGENT_WIDTH:
        user_agent = user_agent[: USER_AGENT_WIDTH - 1] + "…"
    return (
        info.fingerprint,
        _time(info.created),
        _time(info.last_seen),
        _time(info.expires),
        info.ip or "-",
        user_agent,
    )


def _row_of_store(info: api.SessionInfo) -> tuple[str, ...]:
    fingerprint, *rest = _row(info)
    return (fingerprint, info.user_id or "-", *rest)


def _streamed(row: tuple[str, ...]) -> str:
    cells = [cell.ljust(width) for cell, width in zip(row, ALL_WIDTHS, strict=False)]
    return "  ".join([*cells, row[-1]]).rstrip()


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns two spaces apart, the last one unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]])
        for row in rows
    ]


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"a positive whole number is needed, not '{value}'")
    return number


class Command(BaseCommand):
    help = (
        "List a user's live sessions (fingerprint, created, last seen, expires, IP, "
        "user agent), most recently active first, or with --all every session in the "
        "store, streamed as it is read (SCAN). Never shows a session key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", nargs="?", help="Username or email (a primary key with --id).")
        parser.add_argument(
            "--id", action="store_true", dest="by_id", help="Read the user as a primary key."
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everyone",
            help="Every session in the store, signed-in and anonymous, in no particular "
            "order, printed as it is read.",
        )
        parser.add_argument(
            "--limit",
            type=_positive,
            metavar="N",
            help="Stop after N sessions (with --all, reading no more than needed).",
        )
        formats = parser.add_mutually_exclusive_group()
        formats.add_argument(
            "--json", action="store_true", help="Print a JSON array of the sessions instead."
        )
        formats.add_argument(
            "--jsonl",
            action="store_true",
            help="Print one JSON object per line (the fields of --json) instead.",
        )
        add_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["everyone"]:
            if options["user"] is not None or options["by_id"]:
                raise CommandError("--all lists every session: do not name a user with it.")
            try:
                self._list_everything(options)
            except SessionStoreError as exc:
                raise CommandError(str(exc)) from exc
            return
        if options["user"] is None:
            raise CommandError("Name a user, or use --all to list every session.")
        (user,) = resolve_users([options["user"]], options["by_id"])
        try:
            if options["limit"] is not None:
                # The page's records only (Redis sorts the headers): a user with
                # thousands of sessions costs what is shown.
                page = api.user_sessions_page(user, limit=options["limit"])
                sessions, total = list(page.sessions), page.total
            else:
                sessions = api.list_user_sessions(user)
                total = len(sessions)
        except SessionStoreError as exc:
            raise CommandError(str(exc)) from exc
        if options["jsonl"]:
            for info in sessions:
                self.stdout.write(json.dumps(info.as_dict()))
            return
        if options["json"]:
            self.stdout.write(json.dumps([info.as_dict() for info in sessions], indent=2))
            return
        if not sessions:
            self.stdout.write(f"{label(user)}: no sessions")
            return
        shown = "" if len(sessions) == total else f", the {len(sessions)} latest shown"
        self.stdout.write(f"{label(user)}: {plural(total)}{shown} (times in UTC)")
        for line in table([COLUMNS, *(_row(info) for info in sessions)]):
            self.stdout.write(line.rstrip())

    def _list_everything(self, options: dict[str, Any]) -> None:
        """Write each session as it is read: the store is never held in memory."""
        line = ScanLine(self.stderr, "listed", enabled=not options["no_progress"])
        if options["json"]:
            self.stdout.write("[", ending="")
        elif not options["jsonl"]:
            self.stdout.write(_streamed(ALL_COLUMNS))

        emitted = 0

        def emit(info: api.SessionInfo) -> None:
            nonlocal emitted
            line.erase()  # rows and the progress line may share one terminal
            if options["jsonl"]:
                self.stdout.write(json.dumps(info.as_dict()))
            elif options["json"]:
                separator = ",\n  " if emitted else "\n  "
                self.stdout.write(separator + json.dumps(info.as_dict()), ending="")
            else:
                self.stdout.write(_streamed(_row_of_store(info)))
            emitted += 1

        with line:
            count = api.scan_sessions(emit, limit=options["limit"], progress=line.report)
        if options["json"]:
            self.stdout.write("\n]" if count else "]")
        elif not options["jsonl"]:
            stopped = "" if count != options["limit"] else f", stopped at --limit {count}"
            self.stdout.write(f"{plural(count)} listed (times in UTC{stopped}).")

"""``manage.py list_sessions``: a user's live sessions, as a table or JSON."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from ... import api
from ...exceptions import SessionStoreError
from ..users import label, plural, resolve_users

#: A user agent can be kilobytes long; the table shows its start.
USER_AGENT_WIDTH = 60
COLUMNS = ("FINGERPRINT", "CREATED", "LAST SEEN", "EXPIRES", "IP", "USER AGENT")


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


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns two spaces apart, the last one unpadded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]])
        for row in rows
    ]


class Command(BaseCommand):
    help = (
        "List a user's live sessions (fingerprint, created, last seen, expires, IP, "
        "user agent), most recently active first. Never shows a session key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", help="Username or email (a primary key with --id).")
        parser.add_argument(
            "--id", action="store_true", dest="by_id", help="Read the user as a primary key."
        )
        parser.add_argument(
            "--json", action="store_true", help="Print a JSON array of the sessions instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        (user,) = resolve_users([options["user"]], options["by_id"])
        try:
            sessions = api.list_user_sessions(user)
        except SessionStoreError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps([info.as_dict() for info in sessions], indent=2))
            return
        if not sessions:
            self.stdout.write(f"{label(user)}: no sessions")
            return
        self.stdout.write(f"{label(user)}: {plural(len(sessions))} (times in UTC)")
        for line in table([COLUMNS, *(_row(info) for info in sessions)]):
            self.stdout.write(line.rstrip())

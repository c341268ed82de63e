"""``manage.py revoke_sessions``: end users' sessions, or every session."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management import BaseCommand, CommandError, CommandParser

from ... import api
from ...conf import conf
from ...exceptions import SessionStoreError
from ...signals import By
from ..progress import ScanLine, add_argument
from ..users import NOTHING_CHANGED, label, plural, resolve_users


def _when(info: api.SessionInfo) -> str:
    return info.last_seen.strftime("%Y-%m-%d %H:%M:%S UTC")


class Command(BaseCommand):
    # Tests (and callers) may pass their own stdin, as with createsuperuser.
    stealth_options = ("stdin",)
    help = (
        "End every session of the given users (each a username, an email, or with "
        "--id a primary key), or with --all every session in the store. A revoked "
        "session's next request is anonymous."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "users", nargs="*", metavar="user", help="Username or email (a primary key with --id)."
        )
        parser.add_argument(
            "--id", action="store_true", dest="by_id", help="Read each user as a primary key."
        )
        parser.add_argument(
            "--keep-newest",
            action="store_true",
            help="Keep each user's most recently active session.",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            dest="everyone",
            help="End every session in the store, signed-in and anonymous.",
        )
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation of --all."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be ended; change nothing."
        )
        add_argument(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        names: list[str] = options["users"]
        if options["everyone"]:
            if names:
                raise CommandError("--all ends every session: do not name users with it.")
            if options["keep_newest"] or options["by_id"]:
                flag = "--keep-newest" if options["keep_newest"] else "--id"
                raise CommandError(f"{flag} cannot be combined with --all.")
        elif not names:
            raise CommandError("Name at least one user, or use --all to end every session.")
        try:
            if options["everyone"]:
                self._revoke_everything(options)
            else:
                self._revoke_users(names, options)
        except SessionStoreError as exc:
            raise CommandError(str(exc)) from exc

    def _revoke_users(self, names: list[str], options: dict[str, Any]) -> None:
        users = resolve_users(names, options["by_id"])
        for user in users:
            if options["dry_run"]:
                sessions = api.list_user_sessions(user)
                doomed = sessions[1:] if options["keep_newest"] else sessions
                self.stdout.write(f"{label(user)}: {plural(len(doomed))} would be ended")
                for info in doomed:
                    ip = info.ip or "-"
                    self.stdout.write(f"  {info.fingerprint}  last seen {_when(info)}  ip {ip}")
                continue
            ended = api.revoke_user_sessions(
                user, keep_newest=options["keep_newest"], by=By.COMMAND
            )
            self.stdout.write(f"{label(user)}: {plural(ended)} ended")

    def _revoke_everything(self, options: dict[str, Any]) -> None:
        scope = f"every session under prefix '{conf.SESSION_REDIS_PREFIX}'"
        if options["dry_run"]:
            with self._progress_line("counted", options) as line:
                count = api.revoke_all_sessions(dry_run=True, progress=line.report)
            self.stdout.write(f"{plural(count)} would be ended ({scope}).")
            return
        if not options["yes"]:
            stdin: Any = options.get("stdin") or sys.stdin
            if not stdin.isatty():
                raise CommandError(
                    f"--all ends {scope} and signs everyone out: add --yes to confirm "
                    f"when not running interactively. {NOTHING_CHANGED}"
                )
            self.stdout.write(
                f"This ends {scope}: everyone is signed out. Type 'yes' to continue: ", ending=""
            )
            self.stdout.flush()
            if stdin.readline().strip() != "yes":
                self.stdout.write(f"Cancelled. {NOTHING_CHANGED}")
                return
        with self._progress_line("ended", options) as line:
            count = api.revoke_all_sessions(by=By.COMMAND, progress=line.report)
        self.stdout.write(f"{plural(count)} ended ({scope}).")

    def _progress_line(self, verb: str, options: dict[str, Any]) -> ScanLine:
        return ScanLine(self.stderr, verb, enabled=not options["no_progress"])

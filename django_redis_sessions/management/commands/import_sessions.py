"""``manage.py import_sessions``: move live sessions from another engine, signed in."""

from __future__ import annotations

import time
from typing import Any

import redis
from django.core.exceptions import ImproperlyConfigured
from django.core.management import BaseCommand, CommandError, CommandParser

from ... import importers
from ...exceptions import SessionStoreError

SOURCES = ("cache", "django-redis-sessions", "db")


class Command(BaseCommand):
    help = (
        "Copy the live sessions of another session engine into this one under the same "
        "keys, so users stay signed in across the switch. Sessions this engine already "
        "holds are never overwritten. Run it right after switching SESSION_ENGINE."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="source",
            required=True,
            choices=SOURCES,
            help="cache: Django's cache or cached_db engine on a django-redis cache; "
            "django-redis-sessions: that package's keys; db: Django's session table.",
        )
        parser.add_argument(
            "--cache-alias",
            default="default",
            help="With --from cache: the CACHES alias the old engine used (SESSION_CACHE_ALIAS).",
        )
        parser.add_argument(
            "--url",
            help="With --from django-redis-sessions: the Redis URL it used.",
        )
        parser.add_argument(
            "--prefix",
            default="session",
            help="With --from django-redis-sessions: its SESSION_REDIS_PREFIX "
            '(default "session"; "" for none).',
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["source"]
        if source == "django-redis-sessions" and not options["url"]:
            raise CommandError("--from django-redis-sessions needs --url (the Redis it used).")
        report = importers.ImportReport()
        started = time.monotonic()
        try:
            for session_key, data in self._sessions(source, options):
                importers.import_session(session_key, data, report)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        except redis.RedisError as exc:
            # The old store (django-redis-sessions' Redis, or the cache's).
            raise CommandError(
                f"Cannot read the {source} store: {exc} Imported {report.imported} before that."
            ) from exc
        except SessionStoreError as exc:
            raise CommandError(f"{exc} Imported {report.imported} before it failed.") from exc
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Imported {report.imported} sessions ({report.signed_in} signed in) from "
            f"{source} in {elapsed:.1f} s; {report.already_here} were already here, "
            f"{report.skipped} skipped."
        )
        for reason, count in sorted(report.reasons.items()):
            self.stdout.write(f"  skipped {count}: {reason}")

    def _sessions(self, source: str, options: dict[str, Any]) -> importers.Source:
        if source == "cache":
            return importers.from_cache(options["cache_alias"])
        if source == "db":
            return importers.from_database()
        return importers.from_django_redis_sessions(options["url"], options["prefix"])

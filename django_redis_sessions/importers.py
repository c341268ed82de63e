"""Reading sessions out of other engines' stores, to move them here signed in.

Each source yields ``(session_key, data)`` pairs for the sessions it still holds
alive. ``import_session`` writes one into this engine under the *same* key, so the
browser's cookie keeps working: the user stays signed in across the switch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis
from django.contrib.sessions.backends.base import CreateError
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .backend import SessionStore
from .storage import keys

#: The cache keys Django's ``cache`` and ``cached_db`` engines use for a session.
CACHE_KEY_PREFIXES = ("django.contrib.sessions.cache", "django.contrib.sessions.cached_db")

Source = Iterator[tuple[str, dict[str, Any] | None]]


def from_cache(alias: str) -> Source:
    """Sessions of Django's cache engines in a django-redis cache (walked with ``SCAN``)."""
    try:
        cache = caches[alias]
    except Exception as exc:  # InvalidCacheBackendError, or a broken configuration
        raise ImproperlyConfigured(f"No cache {alias!r} in CACHES.") from exc
    iter_keys = getattr(cache, "iter_keys", None)
    if iter_keys is None:
        raise ImproperlyConfigured(
            f"Cache {alias!r} cannot list its keys: only a django-redis cache can be "
            "imported from (other caches cannot be walked)."
        )
    for prefix in CACHE_KEY_PREFIXES:
        for cache_key in iter_keys(f"{prefix}*"):
            data = cache.get(cache_key)
            yield cache_key[len(prefix) :], data if isinstance(data, dict) else None


def from_django_redis_sessions(url: str, prefix: str) -> Source:
    """Sessions written by the ``django-redis-sessions`` package (``<prefix>:<key>``)."""
    client = redis.Redis.from_url(url)
    pattern = f"{prefix}:*" if prefix else "*"
    decoder = SessionStore()
    try:
        for name in client.scan_iter(match=pattern, count=1000):
            session_key = name.decode("utf-8", "replace")[len(prefix) + 1 if prefix else 0 :]
            if not keys.is_valid_session_key(session_key):
                continue  # not a session of that engine (another app's key)
            value = client.get(name)
            yield session_key, _decode(decoder, value if isinstance(value, bytes) else None)
    finally:
        client.close()


def from_database() -> Source:
    """Unexpired sessions of Django's ``db`` and ``cached_db`` engines."""
    from django.apps import apps

    if not apps.is_installed("django.contrib.sessions"):
        raise ImproperlyConfigured(
            "django.contrib.sessions is not in INSTALLED_APPS: there is no session table to "
            "import from."
        )
    from django.contrib.sessions.models import Session

    decoder = SessionStore()
    sessions = Session.objects.filter(expire_date__gt=timezone.now()).order_by("pk")
    for row in sessions.iterator(chunk_size=1000):
        yield row.session_key, _decode(decoder, row.session_data.encode())


def _decode(decoder: SessionStore, value: bytes | None) -> dict[str, Any] | None:
    if value is None:
        return None  # expired between the listing and the read
    # SessionBase.decode checks the signature (salted with the class name, which
    # every Django engine and this one share) and returns {} for anything forged.
    data = decoder.decode(value.decode("utf-8", "replace"))
    return data or None


@dataclass
class ImportReport:
    """What an import did, by outcome."""

    imported: int = 0
    already_here: int = 0
    skipped: int = 0
    signed_in: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def import_session(session_key: str, data: dict[str, Any] | None, report: ImportReport) -> None:
    """Store one session under its own key, unless this engine already has that key."""
    if not keys.is_valid_session_key(session_key):
        report.skip("not a valid session key")
        return
    if not data:
        report.skip("empty, expired or unreadable")
        return
    store = SessionStore(session_key)
    store._session_cache = dict(data)
    try:
        # must_create is SET NX: a session this engine already holds (a user who
        # signed in again after the switch) is never overwritten by the old copy.
        store.save(must_create=True)
    except CreateError:
        report.already_here += 1
        return
    report.imported += 1
    report.signed_in += "_auth_user_id" in data

"""Every exception the package raises to its users, beyond Django's ``CreateError``/``UpdateError``.

The API re-exports :class:`AmbiguousFingerprint` (``api.AmbiguousFingerprint``).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.utils.translation import ngettext

__all__ = [
    "AmbiguousFingerprint",
    "SessionLimitReached",
    "SessionStoreError",
    "SessionStoreFull",
    "SessionStoreUnavailable",
    "SessionTooLarge",
]


class SessionStoreError(Exception):
    """Redis failed to serve a session operation.

    Raised instead of treating the session as missing: a Redis outage must show up
    as an error, never as every user silently signed out. The message names the
    server (``host:port`` or socket path) and never its password.
    """

    def __init__(self, message: str, server: str) -> None:
        super().__init__(message)
        self.server = server


class SessionStoreUnavailable(SessionStoreError):
    """Redis could not be reached, or did not answer within the timeout."""


class SessionStoreFull(SessionStoreError):
    """Redis refused a write because it reached ``maxmemory`` (policy ``noeviction``).

    Raised for writes only, with nothing written: a script refused this way stops
    at its first write. Reads still serve the session (its expiry still slides;
    last-seen is not updated while Redis is full).
    """


class SessionTooLarge(ValueError):
    """A save would store more than ``SESSION_REDIS_MAX_SIZE`` bytes of session data.

    Checked before any Redis command on what this request holds, and again inside
    the save script on the merged result (so concurrent requests, each under the
    cap, cannot add up past it): either way the stored session keeps its previous
    data.
    The message gives both sizes and the session's fingerprint, never its key.
    """

    def __init__(self, size: int, limit: int, fingerprint: str) -> None:
        super().__init__(
            f"Session {fingerprint}: its data is {size:,} bytes serialized, more than "
            f"SESSION_REDIS_MAX_SIZE ({limit:,} bytes); nothing was saved."
        )
        self.size = size
        self.limit = limit
        self.fingerprint = fingerprint


class SessionLimitReached(PermissionDenied):
    """A login would exceed ``SESSIONS_MAX_PER_USER`` (action "refuse").

    A ``PermissionDenied``, so an unhandled one is Django's 403 page; a login view
    can catch it and show its message (or use ``forms.SessionLimitAuthenticationForm``,
    which refuses before signing in).
    """

    def __init__(self, limit: int) -> None:
        super().__init__(
            ngettext(
                "You are already signed in on %(limit)d session, the most allowed. Sign "
                "out on another device first.",
                "You are already signed in on %(limit)d sessions, the most allowed. Sign "
                "out on another device first.",
                limit,
            )
            % {"limit": limit}
        )
        self.limit = limit


class AmbiguousFingerprint(ValueError):
    """More than one session has this fingerprint (name the user to tell them apart)."""


class WrongTypeKey(SessionStoreError):
    """A session's Redis key holds another type (a list, a hash): not our record.

    Raised by a load (Redis answered ``WRONGTYPE``); the engine treats the key like a
    corrupt record: logs it by fingerprint, removes it and issues a fresh session.
    """


class CorruptRecord(ValueError):
    """Stored bytes that are not a session record this version can read (internal:
    the engine logs it by fingerprint and issues a fresh session)."""

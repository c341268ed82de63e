"""Seeing and ending sessions: the Python API behind the commands and the admin.

Every function takes a user object or a primary key (integer, UUID, string: any
user model), and has a native async twin with an ``a`` prefix. Listing and
revoking a user's sessions reads only that user's index, so the cost follows the
user's sessions, never the size of the store. A revoked session is deleted from
Redis before the call returns: its next request is anonymous.

Sessions are named by their *fingerprint* (the first 12 hex digits of the
digest under which Redis stores them): stable, short, and useless as a cookie.
No function here takes or returns a session key except to recognise the
caller's own session (``current``/``keep``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.module_loading import import_string

from . import audit, encryption, keys
from .audit import AuditEvent
from .conf import conf
from .index_store import (
    AsyncIndexStorage,
    IndexStorage,
    Overview,
    UserActivity,
    shown_fingerprint,
)
from .record import META_IP, META_USER_AGENT, CorruptRecord, decode, decode_summary
from .signals import session_revoked
from .storages import async_index_storage, index_storage

logger = logging.getLogger("django_redis_sessions")
security_logger = logging.getLogger("django.security.SuspiciousSession")

#: Values of the ``by`` argument and of the signal's ``by``.
BY_API = "api"
BY_COMMAND = "command"
BY_ADMIN = "admin"
BY_USER = "user"
BY_PASSWORD_CHANGE = "password_change"  # noqa: S105 - a label, not a password
BY_LIMIT = "limit"  # SESSION_REDIS_MAX_SESSIONS_PER_USER ended it at a new sign-in

_FINGERPRINT_DIGITS = frozenset("0123456789abcdef")


class AmbiguousFingerprint(ValueError):
    """More than one session has this fingerprint (name the user to tell them apart)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One live session as listings show it. Times are aware datetimes in UTC."""

    fingerprint: str
    user_id: str
    created: datetime
    last_seen: datetime
    #: When the session ends if it stays idle (``None``: it does not slide).
    idle_expiry: datetime | None
    #: When it ends whatever the activity (``None``: no absolute lifetime).
    absolute_expiry: datetime | None
    ip: str | None = None
    user_agent: str | None = None
    #: Whether this is the session of the request (or key) given as ``current``.
    current: bool = False

    @property
    def expires(self) -> datetime:
        """The sooner of the two expiries: when the session ends if left alone."""
        ends = [when for when in (self.idle_expiry, self.absolute_expiry) if when is not None]
        return min(ends) if ends else self.last_seen

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 strings)."""
        data = asdict(self)
        data["expires"] = self.expires
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


# -- arguments -------------------------------------------------------------------


def user_id_of(user: Any) -> str:
    """The id under which ``user``'s sessions are indexed, as Django's login stores it.

    Accepts a user instance or a primary key of ``AUTH_USER_MODEL`` (an ``int``,
    a ``UUID``, a string). Raises ``ValueError`` for an anonymous or unsaved user
    and for a value that is not a valid primary key of the user model.
    """
    if getattr(user, "is_anonymous", False) is True:
        raise ValueError("An anonymous user has no sessions to list or revoke.")
    meta = getattr(user, "_meta", None)
    if meta is not None:
        if user.pk is None:
            raise ValueError(f"User {user!r} is not saved: it has no sessions.")
        return str(meta.pk.value_to_string(user))
    if user is None or isinstance(user, bool):
        raise ValueError(f"{user!r} is not a user or a user's primary key.")
    model = get_user_model()
    try:
        value = model._meta.pk.to_python(user)
    except ValidationError as exc:
        raise ValueError(
            f"{user!r} is not a valid primary key for {model._meta.label}: "
            + " ".join(str(message) for message in exc.messages)
        ) from None
    if value is None or value == "":
        raise ValueError(f"{user!r} is not a user or a user's primary key.")
    return str(value)


def _session_of(current: Any) -> Any:
    if isinstance(current, HttpRequest):
        return getattr(current, "session", None)
    return current


def digests_of(current: Any) -> frozenset[str]:
    """Digests of the session(s) named by a request, a session, a key or several."""
    current = _session_of(current)
    if current is None:
        return frozenset()
    if isinstance(current, SessionBase):
        current = current.session_key
        if current is None:
            return frozenset()  # a session not saved yet has no key to match
    if isinstance(current, str):
        return (
            frozenset({keys.digest(current)}) if keys.is_valid_session_key(current) else frozenset()
        )
    if isinstance(current, Iterable):
        return frozenset().union(*(digests_of(item) for item in current))
    raise TypeError(f"Expected a request, a session or a session key, got {current!r}.")


def check_fingerprint(fingerprint: Any) -> str:
    """``fingerprint`` if it has the shape of one, else ``ValueError``."""
    if (
        not isinstance(fingerprint, str)
        or len(fingerprint) != keys.FINGERPRINT_LENGTH
        or not _FINGERPRINT_DIGITS.issuperset(fingerprint)
    ):
        raise ValueError(
            f"{fingerprint!r} is not a session fingerprint "
            f"({keys.FINGERPRINT_LENGTH} lowercase hexadecimal digits)."
        )
    return fingerprint


# -- reading records ---------------------------------------------------------------


def _when(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _info(
    digest: str, raw: bytes, user_id: str, current: Collection[str], now: float
) -> SessionInfo | None:
    fingerprint = shown_fingerprint(digest, raw)
    try:
        summary = decode_summary(raw)
    except CorruptRecord as exc:
        security_logger.warning(
            "Session %s: unreadable record skipped in a listing (%s).", fingerprint, exc
        )
        return None
    if summary.user_id != user_id:
        return None  # the entry is stale: the session now belongs to someone else
    deadline = summary.deadline
    if conf.SESSION_REDIS_ABSOLUTE_AGE:
        # A lowered SESSION_REDIS_ABSOLUTE_AGE applies at once, as in the load.
        cap = summary.created + conf.SESSION_REDIS_ABSOLUTE_AGE
        deadline = min(deadline, cap) if deadline else cap
    idle_expiry = _when(summary.seen + summary.idle) if summary.idle else None
    info = SessionInfo(
        fingerprint=fingerprint,
        user_id=user_id,
        created=_when(summary.created),
        last_seen=_when(summary.seen),
        idle_expiry=idle_expiry,
        absolute_expiry=_when(deadline) if deadline else None,
        ip=summary.meta.get(META_IP),
        user_agent=summary.meta.get(META_USER_AGENT),
        current=digest in current,
    )
    if info.expires.timestamp() <= now:
        return None  # past its deadline; its next load deletes it
    return info


def _infos(records: list[tuple[str, bytes]], user_id: str, current: Any) -> list[SessionInfo]:
    now = time.time()
    mine = digests_of(current)
    infos = [info for d, raw in records if (info := _info(d, raw, user_id, mine, now)) is not None]
    infos.sort(key=lambda info: (info.last_seen, info.created), reverse=True)
    return infos


# -- announcing revocations ----------------------------------------------------------


def _actor_name(actor: Any) -> str:
    get_username = getattr(actor, "get_username", None)
    return str(get_username()) if callable(get_username) else str(actor)


def announce_revocation(
    user_id: str | None, digests: list[str], by: str, actor: Any
) -> dict[str, Any] | None:
    """Log each ended session and build the signal's arguments (None: nothing ended)."""
    if not digests:
        return None
    fingerprints = tuple(keys.fingerprint_of_digest(d) for d in digests)
    # Who did it goes into the audit line too: "by admin" alone does not say which
    # of several staff members ended someone's session.
    source = by if actor is None else f"{by}: {_actor_name(actor)}"
    for fingerprint in fingerprints:
        logger.info(
            "Session %s of user %s revoked (by %s)", fingerprint, user_id or "(anonymous)", source
        )
    return {
        "user_id": user_id,
        "fingerprints": fingerprints,
        "count": len(digests),
        "by": by,
        "actor": actor,
    }


def user_model() -> type[Any]:
    return get_user_model()


def _storage() -> IndexStorage:
    return index_storage()


def _astorage() -> AsyncIndexStorage:
    return async_index_storage()


# -- the API -------------------------------------------------------------------------


def session_limit_for(user: Any, current: Any = None) -> int | None:
    """The limit ``user`` is at (a new sign-in would be refused), else ``None``.

    Only with ``SESSION_REDIS_SESSION_LIMIT_ACTION = "refuse"``; ``current`` (the
    signing-in request) is not counted.
    """
    limit = conf.SESSION_REDIS_MAX_SESSIONS_PER_USER
    if not limit or conf.SESSION_REDIS_SESSION_LIMIT_ACTION != "refuse":
        return None
    others = [info for info in list_user_sessions(user, current=current) if not info.current]
    return limit if len(others) >= limit else None


def list_user_sessions(user: Any, current: Any = None) -> list[SessionInfo]:
    """The user's live sessions, most recently active first.

    ``current`` (a request, a session or a session key) marks the caller's own
    session with ``current=True``. Reading does not extend any session.
    """
    user_id = user_id_of(user)
    return _infos(_storage().user_records(user_id), user_id, current)


async def alist_user_sessions(user: Any, current: Any = None) -> list[SessionInfo]:
    user_id = user_id_of(user)
    return _infos(await _astorage().user_records(user_id), user_id, current)


def revoke_user_sessions(
    user: Any,
    keep: Any = None,
    *,
    keep_newest: bool = False,
    by: str = BY_API,
    actor: Any = None,
) -> int:
    """End every session of ``user`` except ``keep``; return how many ended.

    ``keep`` is a request, a session or a session key (usually the caller's
    own, for "sign out my other devices"). ``keep_newest`` also keeps the
    user's most recently active session.
    """
    return revoke_keeping_digests(user, digests_of(keep), by, actor, keep_newest)


def revoke_keeping_digests(
    user: Any, keep: Collection[str], by: str, actor: Any = None, keep_newest: bool = False
) -> int:
    """:func:`revoke_user_sessions` with the sessions to keep given as digests.

    For callers that know sessions only by digest (the password-change hook).
    """
    user_id = user_id_of(user)
    ended = _storage().revoke_user(user_id, keep, keep_newest)
    if (kwargs := announce_revocation(user_id, ended, by, actor)) is not None:
        session_revoked.send(sender=user_model(), **kwargs)
    return len(ended)


async def arevoke_user_sessions(
    user: Any,
    keep: Any = None,
    *,
    keep_newest: bool = False,
    by: str = BY_API,
    actor: Any = None,
) -> int:
    user_id = user_id_of(user)
    ended = await _astorage().revoke_user(user_id, digests_of(keep), keep_newest)
    if (kwargs := announce_revocation(user_id, ended, by, actor)) is not None:
        await session_revoked.asend(sender=user_model(), **kwargs)
    return len(ended)


def revoke_sessions(
    user: Any, fingerprints: Iterable[str], *, by: str = BY_API, actor: Any = None
) -> int:
    """End the sessions of ``user`` with these fingerprints; return how many ended.

    Only the user's own sessions are considered: a fingerprint of another user's
    session ends nothing. One script on one server, whatever the number: it matches
    the fingerprints and ends the sessions together, so a key rotating meanwhile
    cannot slip past it (a Cluster makes passes, ``cluster.py``).
    """
    user_id = user_id_of(user)
    wanted = {check_fingerprint(f) for f in fingerprints}
    # Matched inside the revoking script, by the fingerprint the session was shown
    # under (kept across key rotations): a key changing now cannot slip past it.
    ended = _storage().revoke_user(user_id, only=wanted) if wanted else []
    if (kwargs := announce_revocation(user_id, ended, by, actor)) is not None:
        session_revoked.send(sender=user_model(), **kwargs)
    return len(ended)


async def arevoke_sessions(
    user: Any, fingerprints: Iterable[str], *, by: str = BY_API, actor: Any = None
) -> int:
    user_id = user_id_of(user)
    wanted = {check_fingerprint(f) for f in fingerprints}
    ended = await _astorage().revoke_user(user_id, only=wanted) if wanted else []
    if (kwargs := announce_revocation(user_id, ended, by, actor)) is not None:
        await session_revoked.asend(sender=user_model(), **kwargs)
    return len(ended)


def _decoded(records: list[tuple[str, bytes]], user_id: str) -> dict[str, dict[str, Any] | None]:
    serializer = import_string(conf.SESSION_SERIALIZER)()
    cipher = encryption.current()
    found: dict[str, dict[str, Any] | None] = {}
    for digest, raw in records:
        fingerprint = keys.fingerprint_of_digest(digest)
        try:
            stored = decode(raw)
            if stored.user_id != user_id:
                continue  # a stale entry: the session now belongs to someone else
            values = stored.data if cipher is None else cipher.open(stored.data)
            found[fingerprint] = {k: serializer.loads(v) for k, v in values.items()}
        except Exception:  # noqa: BLE001 - a corrupt record, or any serializer error
            found[fingerprint] = None
    return found


def sessions_data(user: Any) -> dict[str, dict[str, Any] | None]:
    """The decoded data of each of ``user``'s live sessions, by fingerprint.

    For the admin's optional data view (``SESSION_REDIS_ADMIN_SHOW_DATA``): the
    same two round trips as :func:`list_user_sessions`, whatever the number of
    sessions. ``None`` stands for a record that cannot be decoded. Reading does
    not extend any session.
    """
    user_id = user_id_of(user)
    return _decoded(_storage().user_records(user_id), user_id)


async def asessions_data(user: Any) -> dict[str, dict[str, Any] | None]:
    user_id = user_id_of(user)
    return _decoded(await _astorage().user_records(user_id), user_id)


def user_audit_events(user: Any, limit: int | None = None) -> list[AuditEvent]:
    """``user``'s audit trail (``SESSION_REDIS_AUDIT``), newest first.

    At most ``limit`` events (``None``: all that are kept, up to
    ``SESSION_REDIS_AUDIT_MAX_EVENTS``), none older than
    ``SESSION_REDIS_AUDIT_RETENTION``. One round trip. Events recorded before the
    audit was turned off are still returned until they expire.
    """
    return audit.read(user_id_of(user), limit)


async def auser_audit_events(user: Any, limit: int | None = None) -> list[AuditEvent]:
    return await audit.aread(user_id_of(user), limit)


def session_overview() -> Overview:
    """Totals and each signed-in user's session count and last activity.

    Walks the store with ``SCAN``: cost grows with the store (the admin's
    overview page), unlike everything above.
    """
    return _storage().overview(conf.SESSION_REDIS_ABSOLUTE_AGE or 0)


async def asession_overview() -> Overview:
    return await _astorage().overview(conf.SESSION_REDIS_ABSOLUTE_AGE or 0)


def users_activity(users: Iterable[Any]) -> list[UserActivity]:
    """:class:`UserActivity` of these users (those with live sessions only)."""
    storage = _storage()
    indexes = [storage.index_key(user_id_of(u)).encode() for u in users]
    return storage.users_activity(indexes, conf.SESSION_REDIS_ABSOLUTE_AGE or 0)


async def ausers_activity(users: Iterable[Any]) -> list[UserActivity]:
    storage = _astorage()
    indexes = [storage.index_key(user_id_of(u)).encode() for u in users]
    return await storage.users_activity(indexes, conf.SESSION_REDIS_ABSOLUTE_AGE or 0)


def _single(matches: list[str], fingerprint: str) -> str | None:
    if len(matches) > 1:
        raise AmbiguousFingerprint(
            f"{len(matches)} sessions have the fingerprint {fingerprint}: name the user too."
        )
    return matches[0] if matches else None


def revoke_session(
    fingerprint: str, user: Any = None, *, by: str = BY_API, actor: Any = None
) -> bool:
    """End the session with this fingerprint; return whether one was ended.

    With ``user``, only that user's sessions are considered (cost: the user's
    sessions), so a fingerprint of somebody else's session is simply not found;
    the match and the ending are one script, and a session whose key rotated since
    its fingerprint was shown is still found by it.
    Without it, the store is searched with ``SCAN`` (cost: the whole store),
    which also finds anonymous sessions.
    """
    fingerprint = check_fingerprint(fingerprint)
    storage = _storage()
    owner: str | None
    if user is not None:
        owner = user_id_of(user)
        ended = storage.revoke_user(owner, only={fingerprint})
    else:
        digest = _single(storage.find(fingerprint), fingerprint)
        owner = storage.revoke_digest(digest) if digest else None
        ended = [digest] if digest and owner is not None else []
    if (kwargs := announce_revocation(owner or None, ended, by, actor)) is not None:
        session_revoked.send(sender=user_model(), **kwargs)
    return bool(ended)


async def arevoke_session(
    fingerprint: str, user: Any = None, *, by: str = BY_API, actor: Any = None
) -> bool:
    fingerprint = check_fingerprint(fingerprint)
    storage = _astorage()
    owner: str | None
    if user is not None:
        owner = user_id_of(user)
        ended = await storage.revoke_user(owner, only={fingerprint})
    else:
        digest = _single(await storage.find(fingerprint), fingerprint)
        owner = await storage.revoke_digest(digest) if digest else None
        ended = [digest] if digest and owner is not None else []
    if (kwargs := announce_revocation(owner or None, ended, by, actor)) is not None:
        await session_revoked.asend(sender=user_model(), **kwargs)
    return bool(ended)


def _announce_all(count: int, by: str, actor: Any) -> dict[str, Any] | None:
    if not count:
        return None
    logger.warning(
        "Every session under prefix %r revoked: %d ended (by %s)",
        conf.SESSION_REDIS_PREFIX,
        count,
        by,
    )
    return {"user_id": None, "fingerprints": (), "count": count, "by": by, "actor": actor}


def revoke_all_sessions(*, dry_run: bool = False, by: str = BY_API, actor: Any = None) -> int:
    """End every session in the store, signed-in and anonymous; return how many.

    Walks the prefix with ``SCAN`` and deletes with ``UNLINK`` in batches. With
    ``dry_run`` it only counts.
    """
    count = _storage().purge(dry_run=dry_run)
    if not dry_run and (kwargs := _announce_all(count, by, actor)) is not None:
        session_revoked.send(sender=user_model(), **kwargs)
    return count


async def arevoke_all_sessions(
    *, dry_run: bool = False, by: str = BY_API, actor: Any = None
) -> int:
    count = await _astorage().purge(dry_run=dry_run)
    if not dry_run and (kwargs := _announce_all(count, by, actor)) is not None:
        await session_revoked.asend(sender=user_model(), **kwargs)
    return count


def revoke_other_sessions(request: HttpRequest, *, by: str = BY_USER) -> int:
    """ "Sign out everywhere else": end the request user's other sessions."""
    user = request.user
    if not user.is_authenticated:
        return 0
    return revoke_user_sessions(user, keep=request, by=by, actor=user)


async def arevoke_other_sessions(request: HttpRequest, *, by: str = BY_USER) -> int:
    user = await request.auser()
    if not user.is_authenticated:
        return 0
    return await arevoke_user_sessions(user, keep=request, by=by, actor=user)

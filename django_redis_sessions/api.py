"""Seeing and ending sessions: the Python API behind the commands and the admin.

Every function has a native async twin with an ``a`` prefix, with the same
arguments. One rule for the arguments: a function's *subject* comes first and
positional (the user, as a :data:`UserRef`, for a function about a user's
sessions; the fingerprint(s) for a function that ends named sessions; the request
for ``revoke_other_sessions``), then whatever else it cannot do without
(``record_audit_event``'s event name, ``scan_sessions``' callback); every option is
keyword-only. A user that only narrows the search for named sessions is the
keyword ``user=``. A user is a :data:`UserRef`: a user instance or its primary
key (an integer, a UUID or a string: any user model); anything else raises
``TypeError``, an anonymous or unsaved user or a malformed key ``ValueError``. Listing and
revoking a user's sessions reads only that user's index, so the cost follows the
user's sessions, never the size of the store. A revoked session is deleted from
Redis before the call returns: its next request is anonymous.

Sessions are named by their *fingerprint* (the first 12 hex digits of the
digest under which Redis stores them): stable, short, and useless as a cookie.
No function here takes or returns a session key except to recognise the
caller's own session (``current``/``keep``).

``__all__`` is the documented API (README, "Python API"). What it is built on
lives where its name says: turning arguments into index ids and digests in
``identifiers.py``, ending sessions and announcing it in ``revocation.py``, the
``by=`` values in ``signals.By``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest
from django.utils.module_loading import import_string

from .conf import conf
from .exceptions import AmbiguousFingerprint, CorruptRecord
from .identifiers import UserRef, check_fingerprint, digests_of, user_id_of
from .policies import audit, encryption
from .policies.audit import AuditEvent
from .revocation import announce_revocation, announce_store_revocation, announced, revoking
from .signals import By
from .storage import Operations, arun, keys, run
from .storage.index_ops import ACTIVITY_READ_CAP, shown_fingerprint
from .storage.plans import Overview, ScanProgress, ScanReport, UserActivity
from .storage.record import (
    META_DEVICE,
    META_IP,
    META_USER_AGENT,
    decode,
    decode_summary,
    is_stub,
)
from .storage.steps import Steps

__all__ = [
    "AmbiguousFingerprint",
    "AuditEvent",
    "ScanProgress",
    "SessionInfo",
    "SessionPage",
    "UserRef",
    "alist_user_sessions",
    "arecord_audit_event",
    "arevoke_all_sessions",
    "arevoke_other_sessions",
    "arevoke_session",
    "arevoke_sessions",
    "arevoke_user_sessions",
    "ascan_sessions",
    "asession_limit_for",
    "asession_overview",
    "asessions_data",
    "auser_audit_events",
    "auser_sessions_page",
    "ausers_activity",
    "list_user_sessions",
    "record_audit_event",
    "revoke_all_sessions",
    "revoke_other_sessions",
    "revoke_session",
    "revoke_sessions",
    "revoke_user_sessions",
    "scan_sessions",
    "session_limit_for",
    "session_overview",
    "sessions_data",
    "user_audit_events",
    "user_sessions_page",
    "users_activity",
]

security_logger = logging.getLogger("django.security.SuspiciousSession")


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
    #: The device name recorded with the user agent (``devices.device_name``):
    #: ``""`` when it would only repeat the user agent, ``None`` for a record
    #: written before device names were recorded. Pages show
    #: ``devices.shown_device(user_agent, device)``.
    device: str | None = None

    @property
    def expires(self) -> datetime:
        """The sooner of the two expiries: when the session ends if left alone."""
        ends = [when for when in (self.idle_expiry, self.absolute_expiry) if when is not None]
        return min(ends) if ends else self.last_seen

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 strings), without ``device``."""
        data = asdict(self)
        # The recorded name is raw material for pages, which show
        # devices.shown_device(user_agent, device) (the JSON view adds it).
        del data["device"]
        data["expires"] = self.expires
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in data.items()}


# -- reading records ---------------------------------------------------------------


def _when(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _info(
    digest: str, raw: bytes, user_id: str | None, current: Collection[str], now: float
) -> SessionInfo | None:
    """The listing of one record: of ``user_id``'s, or (``None``) of whoever's."""
    if user_id is None and is_stub(raw):
        return None  # a rotated key's forwarding stub: its session is listed under its new key
    fingerprint = shown_fingerprint(digest, raw)
    try:
        summary = decode_summary(raw)
    except CorruptRecord as exc:
        security_logger.warning(
            "Session %s: unreadable record skipped in a listing (%s).", fingerprint, exc
        )
        return None
    if user_id is None:
        user_id = summary.user_id
    elif summary.user_id != user_id:
        return None  # the entry is stale: the session now belongs to someone else
    deadline = summary.deadline
    if conf.SESSIONS_ABSOLUTE_AGE:
        # A lowered SESSIONS_ABSOLUTE_AGE applies at once, as in the load.
        cap = summary.created + conf.SESSIONS_ABSOLUTE_AGE
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
        device=summary.meta.get(META_DEVICE),
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


# -- the API: each sync/async pair is one generator of storage steps, two drivers --


def session_limit_for(user: UserRef, *, current: Any = None) -> int | None:
    """The limit ``user`` is at (a new sign-in would be refused), else ``None``.

    Only with ``SESSIONS_LIMIT_ACTION = "refuse"``; ``current`` (the
    signing-in request) is not counted.
    """
    limit = conf.SESSIONS_MAX_PER_USER
    if not limit or conf.SESSIONS_LIMIT_ACTION != "refuse":
        return None
    others = [info for info in list_user_sessions(user, current=current) if not info.current]
    return limit if len(others) >= limit else None


async def asession_limit_for(user: UserRef, *, current: Any = None) -> int | None:
    limit = conf.SESSIONS_MAX_PER_USER
    if not limit or conf.SESSIONS_LIMIT_ACTION != "refuse":
        return None
    listed = await alist_user_sessions(user, current=current)
    others = [info for info in listed if not info.current]
    return limit if len(others) >= limit else None


def list_user_sessions(user: UserRef, *, current: Any = None) -> list[SessionInfo]:
    """The user's live sessions, most recently active first.

    ``current`` (a request, a session or a session key) marks the caller's own
    session with ``current=True``. Reading does not extend any session.
    """
    return run(_listing, user_id_of(user), current)


async def alist_user_sessions(user: UserRef, *, current: Any = None) -> list[SessionInfo]:
    return await arun(_listing, user_id_of(user), current)


def _listing(ops: Operations, user_id: str, current: Any) -> Steps[list[SessionInfo]]:
    return _infos((yield from ops.user_records(user_id)), user_id, current)


@dataclass(frozen=True, slots=True)
class SessionPage:
    """One page of a user's sessions (:func:`user_sessions_page`)."""

    #: The page's sessions, as :func:`list_user_sessions` shows them.
    sessions: list[SessionInfo]
    #: The user's live sessions, on every page.
    total: int
    offset: int
    limit: int
    #: With ``with_data``: the decoded data of each session on the page, by
    #: fingerprint (``None`` for a record that cannot be decoded).
    data: dict[str, dict[str, Any] | None] | None = None

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def has_previous(self) -> bool:
        return self.offset > 0


def user_sessions_page(
    user: UserRef,
    *,
    offset: int = 0,
    limit: int = 50,
    current: Any = None,
    with_data: bool = False,
) -> SessionPage:
    """One page of the user's live sessions and how many there are.

    The session named by ``current`` (a request, a session or a session key)
    comes first, marked ``current=True``; the others follow by last activity,
    most recent first. The cost is the page's: on one server a single round trip,
    in which Redis reads each session's small header (never its data) and sends
    back only the page's records; a Cluster pipelines the headers' reads per
    node, then reads the page. ``limit=0`` counts only. ``with_data`` also
    decodes the page's session data (the admin's data view). Reading does not
    extend any session.
    """
    user_id = user_id_of(user)
    return run(_paging, user_id, offset, limit, digests_of(current), with_data)


async def auser_sessions_page(
    user: UserRef,
    *,
    offset: int = 0,
    limit: int = 50,
    current: Any = None,
    with_data: bool = False,
) -> SessionPage:
    user_id = user_id_of(user)
    return await arun(_paging, user_id, offset, limit, digests_of(current), with_data)


def _paging(
    ops: Operations,
    user_id: str,
    offset: int,
    limit: int,
    current: frozenset[str],
    with_data: bool,
) -> Steps[SessionPage]:
    offset, limit = max(0, offset), max(0, limit)
    absolute_age = conf.SESSIONS_ABSOLUTE_AGE or 0
    page = yield from ops.user_page(user_id, offset, limit, absolute_age, current)
    now = time.time()
    shown = [
        (info, digest, raw)
        for digest, raw in page.records
        if (info := _info(digest, raw, user_id, current, now)) is not None
    ]
    data = None
    if with_data:
        decoded = _decoded([(digest, raw) for _info_, digest, raw in shown], user_id)
        data = {
            info.fingerprint: decoded.get(keys.fingerprint_of_digest(digest))
            for info, digest, _raw in shown
        }
    return SessionPage([info for info, _d, _r in shown], page.total, offset, limit, data)


def revoke_user_sessions(
    user: UserRef,
    *,
    keep: Any = None,
    keep_newest: bool = False,
    by: str = By.API,
    actor: Any = None,
) -> int:
    """End every session of ``user`` except ``keep``; return how many ended.

    ``keep`` is a request, a session or a session key (usually the caller's
    own, for "sign out my other devices"). ``keep_newest`` also keeps the
    user's most recently active session.
    """
    return len(run(revoking, user_id_of(user), by, actor, digests_of(keep), keep_newest))


async def arevoke_user_sessions(
    user: UserRef,
    *,
    keep: Any = None,
    keep_newest: bool = False,
    by: str = By.API,
    actor: Any = None,
) -> int:
    return len(await arun(revoking, user_id_of(user), by, actor, digests_of(keep), keep_newest))


def revoke_sessions(
    fingerprints: Iterable[str], *, user: UserRef, by: str = By.API, actor: Any = None
) -> int:
    """End the sessions of ``user`` with these fingerprints; return how many ended.

    Only the user's own sessions are considered: a fingerprint of another user's
    session ends nothing. One script on one server, whatever the number: it matches
    the fingerprints and ends the sessions together, so a key rotating meanwhile
    cannot slip past it (a Cluster makes passes, ``storage/index_ops.py``).
    """
    return len(run(_revoking_shown, user_id_of(user), _fingerprints(fingerprints), by, actor))


async def arevoke_sessions(
    fingerprints: Iterable[str], *, user: UserRef, by: str = By.API, actor: Any = None
) -> int:
    wanted = _fingerprints(fingerprints)
    return len(await arun(_revoking_shown, user_id_of(user), wanted, by, actor))


def _fingerprints(fingerprints: Iterable[str]) -> set[str]:
    return {check_fingerprint(f) for f in fingerprints}


def _revoking_shown(
    ops: Operations, user_id: str, wanted: set[str], by: str, actor: Any
) -> Steps[list[str]]:
    # Matched inside the revoking script, by the fingerprint the session was shown
    # under (kept across key rotations): a key changing now cannot slip past it.
    if not wanted:
        return []
    return (yield from revoking(ops, user_id, by, actor, only=wanted))


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


def sessions_data(user: UserRef) -> dict[str, dict[str, Any] | None]:
    """The decoded data of each of ``user``'s live sessions, by fingerprint.

    For the admin's optional data view (``SESSIONS_ADMIN_SHOW_DATA``): the
    same two round trips as :func:`list_user_sessions`, whatever the number of
    sessions. ``None`` stands for a record that cannot be decoded. Reading does
    not extend any session.
    """
    return run(_reading_data, user_id_of(user))


async def asessions_data(user: UserRef) -> dict[str, dict[str, Any] | None]:
    return await arun(_reading_data, user_id_of(user))


def _reading_data(ops: Operations, user_id: str) -> Steps[dict[str, dict[str, Any] | None]]:
    return _decoded((yield from ops.user_records(user_id)), user_id)


def scan_sessions(
    emit: Callable[[SessionInfo], Any],
    *,
    limit: int | None = None,
    progress: ScanReport | None = None,
) -> int:
    """Call ``emit`` with every live session in the store, signed-in and anonymous,
    as it is read; return how many were emitted.

    Walks the prefix with ``SCAN`` in batches (cost: the whole store), in no
    particular order, holding one batch at a time. After ``limit`` sessions it
    stops, having read no more records than it needed. ``progress`` is called
    with a :class:`ScanProgress` after each batch. Reading does not extend any
    session; ``user_id`` is ``""`` for an anonymous session.
    """
    return run(_scanning, emit, limit, progress)


async def ascan_sessions(
    emit: Callable[[SessionInfo], Any],
    *,
    limit: int | None = None,
    progress: ScanReport | None = None,
) -> int:
    return await arun(_scanning, emit, limit, progress)


def _scanning(
    ops: Operations,
    emit: Callable[[SessionInfo], Any],
    limit: int | None,
    progress: ScanReport | None,
) -> Steps[int]:
    def shown(records: list[tuple[str, bytes]]) -> int:
        # The walk hands over no more records than the limit still allows.
        now = time.time()
        infos = [info for d, raw in records if (info := _info(d, raw, None, (), now))]
        for info in infos:
            emit(info)
        return len(infos)

    return (yield from ops.walk_sessions(shown, limit, progress)).done


def user_audit_events(user: UserRef, *, limit: int | None = None) -> list[AuditEvent]:
    """``user``'s audit trail (``SESSIONS_AUDIT``), newest first.

    At most ``limit`` events (``None``: all that are kept, up to
    ``SESSIONS_AUDIT_MAX_EVENTS``), none older than
    ``SESSIONS_AUDIT_RETENTION``. One round trip. Events recorded before the
    audit was turned off are still returned until they expire.
    """
    return audit.read(user_id_of(user), limit)


async def auser_audit_events(user: UserRef, *, limit: int | None = None) -> list[AuditEvent]:
    return await audit.aread(user_id_of(user), limit)


def record_audit_event(
    user: UserRef,
    event: str,
    *,
    fingerprint: str | None = None,
    by: str | None = By.API,
    actor: Any = None,
    request: HttpRequest | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Add an application's own event (``"mfa_reset"``, say) to ``user``'s audit trail.

    Nothing is recorded while ``SESSIONS_AUDIT`` is off. ``fingerprint`` names
    the session concerned (a session key given by mistake is stored as its
    fingerprint), ``actor`` who did it (stored as a username), ``request`` gives
    the IP address and user agent (as the privacy settings allow), ``detail`` a
    small dict (at most 16 entries, values cut at 256 characters). One round
    trip; raises :class:`~django_redis_sessions.exceptions.SessionStoreError` when
    Redis fails (unlike the trail's own receivers, which only log it).
    """
    made = audit.custom_event(
        event, fingerprint=fingerprint, by=by, actor=actor, request=request, detail=detail
    )
    audit.record(user_id_of(user), [made])


async def arecord_audit_event(
    user: UserRef,
    event: str,
    *,
    fingerprint: str | None = None,
    by: str | None = By.API,
    actor: Any = None,
    request: HttpRequest | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    made = audit.custom_event(
        event, fingerprint=fingerprint, by=by, actor=actor, request=request, detail=detail
    )
    await audit.arecord(user_id_of(user), [made])


def session_overview(*, offset: int = 0, limit: int = 50) -> Overview:
    """One page of signed-in users (most recent sign-in first) and the store's totals.

    Reads the users index and the listed users' indexes only, so a page costs the
    same at a thousand sessions and at ten million. The totals are exact while
    the database holds up to 10,000 keys, and estimated from a random sample of
    keys above that (:class:`~django_redis_sessions.storage.plans.StoreTotals`).
    """
    return run(Operations.overview, conf.SESSIONS_ABSOLUTE_AGE or 0, offset, limit)


async def asession_overview(*, offset: int = 0, limit: int = 50) -> Overview:
    return await arun(Operations.overview, conf.SESSIONS_ABSOLUTE_AGE or 0, offset, limit)


def users_activity(users: Iterable[UserRef], *, exact: bool = True) -> list[UserActivity]:
    """:class:`UserActivity` of these users (those with live sessions only).

    ``exact=False`` reads at most ``ACTIVITY_READ_CAP`` of each user's sessions
    (as the admin overview does) and estimates the rest (``estimated=True``)."""
    return run(_activity_of, [user_id_of(u) for u in users], exact)


async def ausers_activity(users: Iterable[UserRef], *, exact: bool = True) -> list[UserActivity]:
    return await arun(_activity_of, [user_id_of(u) for u in users], exact)


def _activity_of(ops: Operations, user_ids: list[str], exact: bool) -> Steps[list[UserActivity]]:
    indexes = [ops.index_key(user_id).encode() for user_id in user_ids]
    cap = 0 if exact else ACTIVITY_READ_CAP
    return (yield from ops.users_activity(indexes, conf.SESSIONS_ABSOLUTE_AGE or 0, cap))


def _single(matches: list[str], fingerprint: str) -> str | None:
    if len(matches) > 1:
        raise AmbiguousFingerprint(
            f"{len(matches)} sessions have the fingerprint {fingerprint}: name the user too."
        )
    return matches[0] if matches else None


def revoke_session(
    fingerprint: str,
    *,
    user: UserRef | None = None,
    by: str = By.API,
    actor: Any = None,
    progress: ScanReport | None = None,
) -> bool:
    """End the session with this fingerprint; return whether one was ended.

    With ``user``, only that user's sessions are considered (cost: the user's
    sessions), so a fingerprint of somebody else's session is simply not found;
    the match and the ending are one script, and a session whose key rotated since
    its fingerprint was shown is still found by it.
    Without it, the store is searched with ``SCAN`` (cost: the whole store),
    which also finds anonymous sessions; ``progress`` is then called with a
    :class:`ScanProgress` after each ``SCAN`` batch.
    """
    user_id = None if user is None else user_id_of(user)
    return run(_revoking_one, check_fingerprint(fingerprint), user_id, by, actor, progress)


async def arevoke_session(
    fingerprint: str,
    *,
    user: UserRef | None = None,
    by: str = By.API,
    actor: Any = None,
    progress: ScanReport | None = None,
) -> bool:
    user_id = None if user is None else user_id_of(user)
    wanted = check_fingerprint(fingerprint)
    return await arun(_revoking_one, wanted, user_id, by, actor, progress)


def _revoking_one(
    ops: Operations,
    fingerprint: str,
    user_id: str | None,
    by: str,
    actor: Any,
    progress: ScanReport | None = None,
) -> Steps[bool]:
    """End the session ``fingerprint`` names (among ``user_id``'s, or store-wide)."""
    if user_id is not None:
        return bool((yield from revoking(ops, user_id, by, actor, only={fingerprint})))
    digest = _single((yield from ops.find(fingerprint, progress)), fingerprint)
    owner = (yield from ops.revoke_digest(digest)) if digest else None
    if digest is None or owner is None:
        return False
    yield from announced(announce_revocation(owner or None, [digest], by, actor))
    return True


def revoke_all_sessions(
    *,
    dry_run: bool = False,
    by: str = By.API,
    actor: Any = None,
    progress: ScanReport | None = None,
) -> int:
    """End every session in the store, signed-in and anonymous; return how many.

    Walks the prefix with ``SCAN`` and deletes with ``UNLINK`` in batches. With
    ``dry_run`` it only counts. ``progress`` is called with a :class:`ScanProgress`
    after each batch.
    """
    return run(_purging, dry_run, by, actor, progress)


async def arevoke_all_sessions(
    *,
    dry_run: bool = False,
    by: str = By.API,
    actor: Any = None,
    progress: ScanReport | None = None,
) -> int:
    return await arun(_purging, dry_run, by, actor, progress)


def _purging(
    ops: Operations, dry_run: bool, by: str, actor: Any, progress: ScanReport | None = None
) -> Steps[int]:
    count = yield from ops.purge(dry_run=dry_run, progress=progress)
    if not dry_run:
        yield from announced(announce_store_revocation(count, by, actor))
    return count


def revoke_other_sessions(request: HttpRequest, *, by: str = By.USER) -> int:
    """ "Sign out everywhere else": end the request user's other sessions."""
    user = request.user
    if not user.is_authenticated:
        return 0
    return revoke_user_sessions(user, keep=request, by=by, actor=user)


async def arevoke_other_sessions(request: HttpRequest, *, by: str = By.USER) -> int:
    user = await request.auser()
    if not user.is_authenticated:
        return 0
    return await arevoke_user_sessions(user, keep=request, by=by, actor=user)

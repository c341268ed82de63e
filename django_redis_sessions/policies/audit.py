"""The audit trail: a bounded log of each user's session events, kept in Redis.

Off by default; ``SESSIONS_AUDIT = True`` turns it on. The receivers below
are always connected (``apps.py``) and return at once when it is off, so a site
without the audit sends no Redis command for it and no request changes.

What is recorded, in the log of the user concerned:

* ``created``: a sign-in (Django's ``user_logged_in``, from ``login()`` and
  ``alogin()``), with the new session's fingerprint and the request's IP address
  and user agent (as the privacy settings allow: ``SESSIONS_RECORD_IP``,
  ``SESSIONS_TRUNCATE_IP``...);
* ``signed_out``: a sign-out (``user_logged_out``);
* ``revoked``: each session this package's API, commands, admin, "your
  sessions" page or password-change hook ended (``session_revoked``), with
  ``by`` and the ``actor``'s username. A store-wide revocation has no user and is
  not recorded per user;
* the policies' events, one receiver per signal: ``rotated``
  (``session_rotated``), ``limit_ended`` (``session_limit_reached`` with
  ``action="end_oldest"``, one per ended session), ``login_refused``
  (``session_limit_reached`` with ``action="refuse"``), ``ip_changed``
  (``session_ip_changed``) and ``user_agent_changed``
  (``session_user_agent_changed``), with ``by="policy"`` and a ``detail`` of what
  the policy saw and did;
* an application's own events, through ``api.record_audit_event()``.

Expiry is not recorded. Redis ends a session by its TTL and tells nobody; the
user's index entry is pruned later, mostly inside the Lua scripts (by deadline
at every indexed save, by an existence check at the next sign-in) or together
with the whole index when its own TTL runs out. The Python side only sees the
few entries a listing or ``clearsessions`` happens to prune first, at a time
unrelated to the expiry: logging those would make a trail where the absence of
an ``expired`` event means nothing. A session of the log that is neither live
nor signed out nor revoked ended by expiry.

Storage: one Redis list per user, ``<prefix>:a:<user id>``, newest event first,
each event a compact JSON object::

    {"t": 1767225600, "e": "revoked", "fp": "3f2a9c0d1e2b", "by": "admin",
     "actor": "root", "ip": null, "ua": null, "detail": {}}

Sessions appear by fingerprint only, never by key. Each write is one round trip,
a script (``scripts/audit.lua``) of ``LPUSH`` + ``LTRIM`` (to
``SESSIONS_AUDIT_MAX_EVENTS``) + ``EXPIRE`` (``SESSIONS_AUDIT_RETENTION``)
under the receipt protocol (``receipts.py``), so a resend after a lost reply
appends nothing twice: a log holds at most that many events, and disappears that
long after its newest event; reads leave out events older than the retention. A
write that fails (Redis unreachable) never fails the sign-in, sign-out or
revocation that caused it: the event is dropped with a warning on the
``django_redis_sessions`` logger.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from ..conf import conf
from ..exceptions import SessionStoreError
from ..request_meta import client_meta
from ..signals import (
    By,
    Event,
    session_ip_changed,
    session_limit_reached,
    session_revoked,
    session_rotated,
    session_user_agent_changed,
)
from ..storage import Operations, arun, keys, run
from ..storage.record import META_IP, META_USER_AGENT
from ..storage.steps import Steps

logger = logging.getLogger("django_redis_sessions")

# Sign-in and sign-out are recorded with ``by`` ``By.LOGIN`` or ``By.LOGOUT``; a
# revocation keeps its own ``by`` (``"api"``, ``"admin"``...); a policy's event
# says ``By.POLICY``; an application's own event says what it passes.

#: Revocations recorded from their policy's own signal instead (the session limit
#: sends ``session_limit_reached``, recorded as ``limit_ended``, which also names
#: the new session), so that one ended session is one event.
_RECORDED_AS_SESSION_EVENTS = frozenset({By.LIMIT})

#: Bounds on what one event may carry: a ``detail`` comes from code we do not
#: control, and every user's log is kept for months.
MAX_DETAIL_ITEMS = 16
MAX_TEXT = 256
_SHORT_TEXT = 150

_FINGERPRINT = re.compile(f"[0-9a-f]{{{keys.FINGERPRINT_LENGTH}}}")
_DIGEST = re.compile(f"[0-9a-f]{{{2 * keys.DIGEST_SIZE}}}")
#: What Django's generator makes: 32 characters of [a-z0-9]. A digest is 32 hex
#: digits, which this also matches; it is tried first.
_GENERATED_KEY = re.compile(r"[a-z0-9]{32}")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event of a user's audit trail. ``time`` is an aware datetime in UTC."""

    time: datetime
    event: str
    #: The session's fingerprint (``None`` when the event concerns no single one).
    fingerprint: str | None = None
    #: What caused it: ``"login"``, ``"logout"``, ``"policy"``, or a revocation's
    #: ``by`` (``"api"``, ``"command"``, ``"admin"``, ``"user"``, ...).
    by: str | None = None
    #: The username of who asked for it, when known.
    actor: str | None = None
    #: The client IP address of the request behind it, when known.
    ip: str | None = None
    #: The user agent of that request, when known.
    user_agent: str | None = None
    detail: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``time`` as an ISO 8601 string)."""
        return {
            "time": self.time.isoformat(),
            "event": self.event,
            "fingerprint": self.fingerprint,
            "by": self.by,
            "actor": self.actor,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "detail": dict(self.detail),
        }


# -- building events ------------------------------------------------------------------


def _text(value: Any, limit: int = MAX_TEXT) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:limit] or None


def safe_fingerprint(value: Any) -> str | None:
    """``value`` as a fingerprint: a session key or a digest becomes its fingerprint.

    Whatever a caller passes, the trail never stores a session key.
    """
    if not isinstance(value, str):
        return None
    if _FINGERPRINT.fullmatch(value):
        return value
    if _DIGEST.fullmatch(value):
        return keys.fingerprint_of_digest(value)
    if keys.is_valid_session_key(value):
        return keys.fingerprint(value)
    return None


def _scrubbed(value: str) -> str:
    # A detail value with the shape of a key Django generated is almost certainly
    # one (a digest is hex only): keep its fingerprint, never the key.
    if _GENERATED_KEY.fullmatch(value) and not _DIGEST.fullmatch(value):
        return keys.fingerprint(value)
    return value


def _detail(detail: Mapping[Any, Any] | None) -> dict[str, str]:
    if not detail:
        return {}
    items = list(detail.items())[:MAX_DETAIL_ITEMS]
    return {
        str(key)[:64]: _scrubbed(_text(value) or "") for key, value in items if value is not None
    }


def actor_name(actor: Any) -> str | None:
    """The username of ``actor`` (a user, or anything printable), or ``None``."""
    if actor is None:
        return None
    get_username = getattr(actor, "get_username", None)
    return _text(get_username() if callable(get_username) else actor, _SHORT_TEXT)


def make_event(
    event: str,
    *,
    fingerprint: Any = None,
    by: str | None = None,
    actor: Any = None,
    ip: str | None = None,
    user_agent: str | None = None,
    detail: Mapping[Any, Any] | None = None,
    when: float | None = None,
) -> AuditEvent:
    """An event, bounded and cleaned for storage (a key given as ``fingerprint`` is digested)."""
    return AuditEvent(
        time=datetime.fromtimestamp(int(time.time() if when is None else when), tz=UTC),
        event=_text(event, 64) or "unknown",
        fingerprint=safe_fingerprint(fingerprint),
        by=_text(by, 64),
        actor=actor_name(actor),
        ip=_text(ip, 64),
        user_agent=_text(user_agent),
        detail=_detail(detail),
    )


def encode_event(event: AuditEvent) -> bytes:
    """The compact JSON an event is stored as."""
    stored = {
        "t": int(event.time.timestamp()),
        "e": event.event,
        "fp": event.fingerprint,
        "by": event.by,
        "actor": event.actor,
        "ip": event.ip,
        "ua": event.user_agent,
        "detail": event.detail,
    }
    return json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_event(raw: bytes | str) -> AuditEvent | None:
    """The event stored as ``raw``, or ``None`` when it is not one."""
    try:
        stored = json.loads(raw)
        when = datetime.fromtimestamp(int(stored["t"]), tz=UTC)
        detail = stored.get("detail") or {}
        if not isinstance(detail, dict):
            return None
        return AuditEvent(
            time=when,
            event=str(stored["e"]),
            fingerprint=_text(stored.get("fp")),
            by=_text(stored.get("by")),
            actor=_text(stored.get("actor")),
            ip=_text(stored.get("ip")),
            user_agent=_text(stored.get("ua")),
            detail={str(k): str(v) for k, v in detail.items()},
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError):
        return None


def _recent(raws: Sequence[bytes | str], retention: int) -> list[AuditEvent]:
    oldest = time.time() - retention
    events: list[AuditEvent] = []
    for raw in raws:
        event = decode_event(raw)
        if event is None:
            logger.warning("Audit trail: an unreadable entry was skipped.")
            continue
        if event.time.timestamp() < oldest:
            break  # newest first: everything after it is older still
        events.append(event)
    return events


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive whole number or None, not {limit!r}.")


# -- storage ------------------------------------------------------------------------
#
# The log's reads and writes are storage operations (``storage/index_ops.py``:
# ``append_audit``, ``read_audit``); this module decides what goes in and out.


def _stop(limit: int | None) -> int:
    """How many events to read for ``limit``."""
    most = conf.SESSIONS_AUDIT_MAX_EVENTS
    return most if limit is None else min(limit, most)


def _append(ops: Operations, user_id: str, events: Sequence[AuditEvent]) -> Steps[None]:
    encoded = [encode_event(event) for event in events]
    yield from ops.append_audit(
        user_id, encoded, conf.SESSIONS_AUDIT_MAX_EVENTS, conf.SESSIONS_AUDIT_RETENTION
    )


def _read(ops: Operations, user_id: str, limit: int | None) -> Steps[list[AuditEvent]]:
    raws = yield from ops.read_audit(user_id, _stop(limit))
    return _recent(raws, conf.SESSIONS_AUDIT_RETENTION)


def record(user_id: str, events: Sequence[AuditEvent]) -> None:
    """Add ``events`` to ``user_id``'s log (nothing when the audit is off).

    Raises :class:`~django_redis_sessions.exceptions.SessionStoreError` when
    Redis fails; the signal receivers catch it.
    """
    if conf.SESSIONS_AUDIT and events and user_id:
        run(_append, user_id, events)


async def arecord(user_id: str, events: Sequence[AuditEvent]) -> None:
    if conf.SESSIONS_AUDIT and events and user_id:
        await arun(_append, user_id, events)


def read(user_id: str, limit: int | None = None) -> list[AuditEvent]:
    """``user_id``'s events within the retention, newest first (at most ``limit``).

    Reads whatever is stored, even with the audit off (a log lasts until its
    retention runs out).
    """
    _check_limit(limit)
    return run(_read, user_id, limit)


async def aread(user_id: str, limit: int | None = None) -> list[AuditEvent]:
    _check_limit(limit)
    return await arun(_read, user_id, limit)


# -- signal receivers -------------------------------------------------------------------
#
# Always connected, sync (Django runs a sync receiver of ``asend`` — alogin,
# alogout, the async API — through ``sync_to_async``), and a no-op when the audit
# is off. None may fail the sign-in, sign-out or revocation that sent the signal.


def _record_safely(user_id: str, events: Sequence[AuditEvent]) -> None:
    try:
        record(user_id, events)
    except SessionStoreError as exc:
        logger.warning(
            "Audit trail: %d event(s) of user %s not recorded: %s", len(events), user_id, exc
        )
    except Exception:  # an audit write must never break a sign-in: log it, go on
        logger.warning(
            "Audit trail: %d event(s) of user %s not recorded.",
            len(events),
            user_id,
            exc_info=True,
        )


def _user_id(user: Any) -> str | None:
    """The id the session index uses for ``user`` (as Django's login stores it)."""
    meta = getattr(user, "_meta", None)
    if meta is None or getattr(user, "pk", None) is None:
        return None
    return str(meta.pk.value_to_string(user))


def _client(request: Any) -> tuple[str | None, str | None]:
    """The request's IP address and user agent, as the privacy settings allow."""
    if request is None or not hasattr(request, "META"):
        return None, None
    meta = client_meta(request)
    return meta.get(META_IP), meta.get(META_USER_AGENT)


def _session_fingerprint(request: Any) -> str | None:
    session = getattr(request, "session", None)
    if not isinstance(session, SessionBase):
        return None
    key = session.session_key
    # None when login() flushed another user's session: the new key is only
    # chosen when the response saves it.
    return (
        keys.fingerprint(key) if isinstance(key, str) and keys.is_valid_session_key(key) else None
    )


def _request_event(event: str, by: str, request: Any, user: Any) -> tuple[str, AuditEvent] | None:
    user_id = _user_id(user)
    if user_id is None:
        return None
    ip, agent = _client(request)
    return user_id, make_event(
        event,
        fingerprint=_session_fingerprint(request),
        by=by,
        actor=user,
        ip=ip,
        user_agent=agent,
    )


def on_user_logged_in(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_in``: a ``created`` event for the new session."""
    if not conf.SESSIONS_AUDIT:
        return
    if (found := _request_event(Event.CREATED, By.LOGIN, request, user)) is not None:
        _record_safely(found[0], [found[1]])


def on_user_logged_out(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
    """``user_logged_out``: a ``signed_out`` event (sent before Django flushes the session)."""
    if not conf.SESSIONS_AUDIT:
        return
    if (found := _request_event(Event.SIGNED_OUT, By.LOGOUT, request, user)) is not None:
        _record_safely(found[0], [found[1]])


def on_session_revoked(
    sender: Any,
    user_id: str | None = None,
    fingerprints: Sequence[str] = (),
    by: str | None = None,
    actor: Any = None,
    **kwargs: Any,
) -> None:
    """``session_revoked``: one ``revoked`` event per session, in one write."""
    if not conf.SESSIONS_AUDIT or not user_id or by in _RECORDED_AS_SESSION_EVENTS:
        return
    now = time.time()
    events = [
        make_event(Event.REVOKED, fingerprint=fp, by=by, actor=actor, when=now)
        for fp in fingerprints
    ]
    _record_safely(user_id, events)


def _record_policy_event(
    user_id: str | None, event: str, fingerprint: str | None, detail: Mapping[str, Any]
) -> None:
    if conf.SESSIONS_AUDIT and user_id:
        _record_safely(
            str(user_id),
            [make_event(event, fingerprint=fingerprint, by=By.POLICY, detail=detail)],
        )


def on_session_rotated(
    sender: Any,
    user_id: str | None = None,
    fingerprint: str | None = None,
    old_fingerprint: str | None = None,
    **kwargs: Any,
) -> None:
    """``session_rotated``: a ``rotated`` event under the new fingerprint."""
    _record_policy_event(user_id, Event.ROTATED, fingerprint, {"from": old_fingerprint})


def on_session_limit_reached(
    sender: Any,
    user_id: str | None = None,
    action: str = "",
    fingerprint: str | None = None,
    ended: Sequence[str] = (),
    limit: int | None = None,
    **kwargs: Any,
) -> None:
    """``session_limit_reached``: ``login_refused``, or one ``limit_ended`` per ended session."""
    if not conf.SESSIONS_AUDIT or not user_id:
        return
    if action == "refuse":
        _record_policy_event(user_id, Event.LOGIN_REFUSED, fingerprint, {"limit": limit})
        return
    now = time.time()
    detail = {"limit": limit, "new_session": fingerprint}
    events = [
        make_event(Event.LIMIT_ENDED, fingerprint=fp, by=By.POLICY, detail=detail, when=now)
        for fp in ended
    ]
    _record_safely(str(user_id), events)


def on_session_ip_changed(
    sender: Any,
    user_id: str | None = None,
    fingerprint: str | None = None,
    old_network: str | None = None,
    new_network: str | None = None,
    action: str | None = None,
    **kwargs: Any,
) -> None:
    """``session_ip_changed``: an ``ip_changed`` event."""
    detail = {"from": old_network, "to": new_network, "action": action}
    _record_policy_event(user_id, Event.IP_CHANGED, fingerprint, detail)


def on_session_user_agent_changed(
    sender: Any,
    user_id: str | None = None,
    fingerprint: str | None = None,
    action: str | None = None,
    **kwargs: Any,
) -> None:
    """``session_user_agent_changed``: a ``user_agent_changed`` event."""
    _record_policy_event(user_id, Event.USER_AGENT_CHANGED, fingerprint, {"action": action})


def custom_event(
    event: str,
    *,
    fingerprint: Any = None,
    by: str | None = None,
    actor: Any = None,
    request: Any = None,
    detail: Mapping[Any, Any] | None = None,
) -> AuditEvent:
    """An application's own event (``api.record_audit_event``), bounded and cleaned."""
    if not isinstance(event, str) or not event:
        raise ValueError(f"An audit event needs a name (a non-empty string), not {event!r}.")
    ip, agent = _client(request)
    return make_event(
        event,
        fingerprint=fingerprint,
        by=by,
        actor=actor,
        ip=ip,
        user_agent=agent,
        detail=detail,
    )


def connect_receivers() -> None:
    """Connect the receivers (``AppConfig.ready``); each is a no-op while the audit is off."""
    from django.contrib.auth.signals import user_logged_in, user_logged_out

    uid = "django_redis_sessions.audit"
    user_logged_in.connect(on_user_logged_in, dispatch_uid=f"{uid}.login")
    user_logged_out.connect(on_user_logged_out, dispatch_uid=f"{uid}.logout")
    session_revoked.connect(on_session_revoked, dispatch_uid=f"{uid}.revoked")
    session_rotated.connect(on_session_rotated, dispatch_uid=f"{uid}.rotated")
    session_limit_reached.connect(on_session_limit_reached, dispatch_uid=f"{uid}.limit")
    session_ip_changed.connect(on_session_ip_changed, dispatch_uid=f"{uid}.ip")
    session_user_agent_changed.connect(
        on_session_user_agent_changed, dispatch_uid=f"{uid}.user_agent"
    )

"""``SESSION_ENGINE = "django_redis_sessions.backend"``: Django sessions in Redis.

The class follows Django's ``SessionBase`` contract (sync and, natively on
``redis.asyncio``, async) and adds:

* sliding expiry in the load's own round trip, capped by an absolute lifetime;
* delta saves: only keys this request changed are written, so two concurrent
  requests that change different keys both persist;
* a per-user index kept exact on login, logout, ``cycle_key`` and delete;
* no resurrection: saving a session deleted elsewhere raises ``UpdateError``.

All Redis work is in ``store.py``; this module decides *what* to write.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from django.apps import apps
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import (
    VALID_KEY_CHARS,
    CreateError,
    SessionBase,
    UpdateError,
)
from django.core.exceptions import ImproperlyConfigured
from django.core.signing import JSONSerializer
from django.dispatch import Signal
from django.utils.crypto import get_random_string
from django.views.decorators.debug import sensitive_variables

from . import encryption, keys, record, rotation
from .auth import note_in_use
from .client import client_network
from .conf import conf
from .exceptions import (
    SessionLimitReached,
    SessionStoreError,
    SessionStoreFull,
    SessionStoreUnavailable,
    SessionTooLarge,
)
from .signals import session_event, session_revoked
from .storages import async_index_storage, index_storage
from .store import (
    AsyncSessionStorage,
    CyclePlan,
    CycleResult,
    ForeignKey,
    RotatePlan,
    RotateResult,
    SaveOutcome,
    SaveResult,
    SessionStorage,
    WritePlan,
)

security_logger = logging.getLogger("django.security.SuspiciousSession")
logger = logging.getLogger("django_redis_sessions")

#: Key collisions among 165-bit random keys do not happen; a loop that keeps
#: colliding means something else is wrong, and must not spin for ever.
_NEW_KEY_ATTEMPTS = 10
_FIELD_MAX = record.FIELD_MAX


#: Set once the app is known to be installed: every SessionStore checks, and
#: INSTALLED_APPS only changes in tests (``_forget_app_check``, a conf reset hook).
_app_found = False


def _require_app() -> None:
    global _app_found
    if _app_found or not apps.ready:
        return
    if apps.is_installed("django_redis_sessions"):
        _app_found = True
        return
    raise ImproperlyConfigured(
        'SESSION_ENGINE is "django_redis_sessions.backend" but "django_redis_sessions" '
        "is not in INSTALLED_APPS: add it so its system checks, commands and admin "
        "load. (django_redis_sessions.E010)"
    )


@conf.on_reset
def _forget_app_check() -> None:
    global _app_found
    _app_found = False


#: Django's JSONSerializer.dumps builds a new encoder on every call (its compact
#: separators are not json's defaults). Every save encodes every value to find
#: what changed, so for that exact serializer we reuse one encoder: same bytes.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


def _compact_json_dumps(value: Any) -> bytes:
    return _COMPACT_JSON.encode(value).encode("latin-1")


_codecs: dict[type[Any], tuple[Any, Callable[[Any], bytes]]] = {}


def _codec_for(serializer: type[Any]) -> tuple[Any, Callable[[Any], bytes]]:
    """One serializer instance (and its encoding function) per serializer class."""
    try:
        return _codecs[serializer]
    except KeyError:
        codec = serializer()
        dumps = _compact_json_dumps if serializer is JSONSerializer else codec.dumps
        _codecs[serializer] = (codec, dumps)
        return codec, dumps


#: Metadata that belongs to a key, not to the session's client: cycle_key leaves it.
_NEW_SESSION_DROPS = frozenset({record.META_ROTATED, record.META_ORIGIN, record.META_PENDING})


def _clamp(value: int) -> int:
    return max(0, min(value, _FIELD_MAX))


class SessionStore(SessionBase):
    """Sessions in Redis with sliding and absolute expiry and a per-user index."""

    #: Set when Redis was unreachable for this session and ``SESSION_REDIS_ON_OUTAGE``
    #: is ``"degrade"``: the request goes on with an empty session (or, when a save
    #: failed, with what it had) that writes nothing, reports itself unmodified (so
    #: no cookie is set or deleted for it) and keeps the key the browser sent.
    degraded = False
    #: The failure that degraded the session (``None`` while it is not degraded).
    _outage: SessionStoreUnavailable | None = None
    #: Set while ``cycle_key`` runs: its ``create()`` must raise, never degrade.
    _no_degrade = False

    def __init__(self, session_key: str | None = None) -> None:
        _require_app()
        super().__init__(session_key)
        self._codec, self._dumps = _codec_for(self.serializer)
        # SESSION_REDIS_ENCRYPTION_KEYS: None (off) leaves values as encoded.
        self._cipher = encryption.current()
        # What the request-metadata middleware says about this request's client
        # (see record_client); empty without the middleware.
        self._client_meta: dict[str, str] = {}
        self._client_meta_pairs = b""
        #: Set when this request's user agent differs from the one the session
        #: recorded and ``SESSION_REDIS_USER_AGENT_CHANGE`` is ``"flag"``.
        self.user_agent_changed = False
        #: Set when this request's IP network differs from the recorded one and
        #: ``SESSION_REDIS_IP_CHANGE`` is ``"flag"``.
        self.ip_changed = False
        #: Signals queued by a load or save, sent when it ends (see _queue).
        self._signals: list[tuple[Signal, Any, dict[str, Any]]] = []

    # -- state tied to the current key ----------------------------------------
    #
    # What Redis holds for the current key, as last read or written: the encoded
    # values (to find what a save changed), the header fields and the indexed
    # user. ``_stored is None`` means "never read": a save then replaces the data.

    # Django's SessionMiddleware saves and re-sends the cookie of a modified
    # session: a degraded one has nothing it could save, so it is never modified
    # (its cookie is left as the browser has it).
    @property
    def modified(self) -> bool:
        return self._modified and not self.degraded

    @modified.setter
    def modified(self, value: bool) -> None:
        self._modified = value

    def _reset_stored(self) -> None:
        self._stored: dict[str, bytes] | None = None
        self._in_store = False
        self._created: int | None = None
        self._deadline = 0
        self._idle = 0
        self._stored_user = ""
        self._meta: dict[str, str] = {}

    def _set_session_key(self, value: str | None) -> None:
        SessionBase._set_session_key(self, value)
        self._reset_stored()

    _session_key = property(SessionBase._get_session_key, _set_session_key)

    def _validate_session_key(self, key: str | None) -> bool:
        # Stricter than Django's "8 characters or more": anything but [a-z0-9]{8,64}
        # is treated as no session, before any Redis command is built from it.
        return keys.is_valid_session_key(key)

    def _get_new_session_key(self) -> str:
        # No EXISTS round trip: creation uses SET NX, so a collision is detected
        # by the write itself.
        return get_random_string(32, VALID_KEY_CHARS)

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    @staticmethod
    def _storage() -> SessionStorage:
        return index_storage()

    @staticmethod
    def _astorage() -> AsyncSessionStorage:
        return async_index_storage()

    # -- request metadata ----------------------------------------------------------

    def record_client(self, meta: dict[str, str]) -> None:
        """Record this request's client (``ip``, ``ua``) with the session.

        Called by the request-metadata middleware before the session loads: the
        load script then updates the stored values in its own round trip when
        they changed, and saves and ``cycle_key`` write them.
        """
        self._client_meta = dict(meta)
        self._client_meta_pairs = record.encode_meta_pairs(meta)

    def _client_verdict(self) -> bool:
        """Apply the binding policies to a just-loaded session; whether it must end.

        ``SESSION_REDIS_USER_AGENT_CHANGE`` and ``SESSION_REDIS_IP_CHANGE`` compare
        the client the session recorded with this request's (both only known with
        the request-metadata middleware). Off, this is two attribute reads.
        """
        ua_policy = conf.SESSION_REDIS_USER_AGENT_CHANGE
        ip_policy = conf.SESSION_REDIS_IP_CHANGE
        if not ua_policy and not ip_policy:
            return False
        end = False
        if ua_policy and self._user_agent_differs():
            self.user_agent_changed = True
            end = self._violation("user_agent_changed", "user agent changed", ua_policy, {})
        if ip_policy:
            change = self._ip_network_change()
            if change is not None:
                self.ip_changed = True
                stored, current = change
                detail = {"from": stored, "to": current}
                what = f"IP network changed ({stored} -> {current})"
                end = self._violation("ip_changed", what, ip_policy, detail) or end
        return end

    # -- signals -------------------------------------------------------------------
    #
    # Policy events are queued while a load or save runs and sent when it ends:
    # with send() from load/save, with asend() from aload/asave, so a receiver that
    # writes to Redis (the audit trail) never blocks an event loop.

    def _queue(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        self._signals.append((signal, sender, kwargs))

    def _send_queued(self) -> None:
        queued, self._signals = self._signals, []
        for signal, sender, kwargs in queued:
            signal.send(sender=sender, **kwargs)

    async def _asend_queued(self) -> None:
        queued, self._signals = self._signals, []
        for signal, sender, kwargs in queued:
            await signal.asend(sender=sender, **kwargs)

    def _queue_limit(self, plan: WritePlan, ended: tuple[str, ...]) -> None:
        """Log and signal the sessions a sign-in ended for the session limit."""
        from . import api

        kwargs = api.announce_revocation(plan.user_id, list(ended), api.BY_LIMIT, None)
        if kwargs is not None:
            self._queue(session_revoked, api.user_model(), **kwargs)
        new = keys.fingerprint_of_digest(plan.digest)
        for digest in ended:
            self._queue(
                session_event,
                SessionStore,
                event="limit_ended",
                user_id=plan.user_id,
                fingerprint=keys.fingerprint_of_digest(digest),
                detail={"limit": str(conf.SESSION_REDIS_MAX_SESSIONS_PER_USER), "new_session": new},
            )

    def _violation(self, event: str, what: str, policy: str, detail: dict[str, str]) -> bool:
        """Log and signal one binding violation; whether the policy ends the session."""
        fingerprint = keys.fingerprint(self.session_key) if self.session_key else None
        security_logger.warning(
            "Session %s of user %s: %s mid-session; %s.",
            fingerprint or "-",
            self._stored_user or "(anonymous)",
            what,
            "the session was ended" if policy == "end" else "flagged",
        )
        self._queue(
            session_event,
            SessionStore,
            event=event,
            user_id=self._stored_user or None,
            fingerprint=fingerprint,
            detail={**detail, "action": policy},
        )
        return policy == "end"

    def _user_agent_differs(self) -> bool:
        current = self._client_meta.get(record.META_USER_AGENT)
        stored = self._meta.get(record.META_USER_AGENT)
        if not current or not stored:
            return False
        # Both were cut at SESSION_REDIS_USER_AGENT_MAX_LENGTH, which may have
        # changed since the stored one was recorded: compare what both still hold,
        # or a changed cap would look like every browser changing at once.
        length = min(len(current), len(stored))
        return current[:length] != stored[:length]

    def _ip_network_change(self) -> tuple[str, str] | None:
        """The stored and current networks when they differ, else ``None``."""
        current = self._client_meta.get(record.META_IP)
        stored = self._meta.get(record.META_IP)
        if not current or not stored or current == stored:
            return None
        before = client_network(stored)
        after = client_network(current)
        # A dual-stack browser moves between IPv4 and IPv6 on its own (Happy
        # Eyeballs): a change of family is not a change of network we can judge.
        if before is None or after is None or before.version != after.version:
            return None
        return None if before == after else (str(before), str(after))

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint pages show for this session (kept across key rotations)."""
        if self.session_key is None:
            return None
        return self._meta.get(record.META_ORIGIN) or keys.fingerprint(self.session_key)

    def touch(self) -> None:
        """Load the session now if it is not loaded (which slides its expiry)."""
        self._get_session()  # type: ignore[attr-defined]

    async def atouch(self) -> None:
        await self._aget_session()  # type: ignore[attr-defined]

    def stored_expiry_age(self) -> int | None:
        """Seconds until the stored session ends, as of its last load or save.

        What the request-metadata middleware gives the cookie's ``max-age``:
        the idle window the load just slid, never past the absolute deadline.
        ``None`` when the session is not in Redis or never slides nor ends.
        """
        if not self._in_store or self.session_key is None:
            return None
        deadline = self._deadline
        cap = self._absolute_deadline()
        if cap is not None and (not deadline or cap < deadline):
            deadline = cap
        remaining = [self._idle] if self._idle else []
        if deadline:
            remaining.append(deadline - int(time.time()))
        return max(0, min(remaining)) if remaining else None

    # -- expiry ------------------------------------------------------------------

    def _created_or_now(self) -> int:
        return self._created if self._created is not None else int(time.time())

    def _absolute_deadline(self) -> int | None:
        """When this session must end whatever the activity (Unix seconds), if ever.

        An explicit ``set_expiry(datetime)`` is already in Django's own figure;
        this is the cap that ``SESSION_REDIS_ABSOLUTE_AGE`` puts on top of it.
        """
        absolute_age = conf.SESSION_REDIS_ABSOLUTE_AGE
        return self._created_or_now() + absolute_age if absolute_age else None

    def _cap_age(self, age: int, modification: datetime | None) -> int:
        deadline = self._absolute_deadline()
        if deadline is None:
            return age
        now = modification.timestamp() if modification is not None else time.time()
        return min(age, int(deadline - now))

    def _cap_date(self, date: datetime) -> datetime:
        deadline = self._absolute_deadline()
        if deadline is None:
            return date
        cap = datetime.fromtimestamp(deadline, tz=UTC)
        cap = cap.astimezone(date.tzinfo) if date.tzinfo else cap.astimezone().replace(tzinfo=None)
        return min(date, cap)

    def get_expiry_age(self, **kwargs: Any) -> int:
        return self._cap_age(super().get_expiry_age(**kwargs), kwargs.get("modification"))

    async def aget_expiry_age(self, **kwargs: Any) -> int:
        age = await super().aget_expiry_age(**kwargs)
        return self._cap_age(age, kwargs.get("modification"))

    def get_expiry_date(self, **kwargs: Any) -> datetime:
        return self._cap_date(super().get_expiry_date(**kwargs))

    async def aget_expiry_date(self, **kwargs: Any) -> datetime:
        return self._cap_date(await super().aget_expiry_date(**kwargs))

    def _policy(self, data: dict[str, Any], created: int, now: int) -> tuple[int, int]:
        """``(idle, deadline)`` to store, from ``set_expiry`` and the settings."""
        absolute_age = conf.SESSION_REDIS_ABSOLUTE_AGE
        deadline = created + absolute_age if absolute_age else 0
        idle = conf.SESSION_COOKIE_AGE
        expiry = data.get("_session_expiry")
        if isinstance(expiry, datetime | str) and expiry:
            # set_expiry(datetime/timedelta): a fixed end, no sliding.
            when = datetime.fromisoformat(expiry) if isinstance(expiry, str) else expiry
            fixed = max(1, int(when.timestamp()))
            deadline = min(deadline, fixed) if deadline else fixed
            idle = 0
        elif isinstance(expiry, int) and not isinstance(expiry, bool) and expiry:
            if expiry > 0:
                idle = expiry
            else:  # a negative age: already expired, as Django's cookie would be
                deadline, idle = max(1, now + expiry), 0
        return _clamp(idle), _clamp(deadline)

    # -- key rotation (rotation.py) -------------------------------------------------

    def _switch_key(self, new_key: str) -> None:
        """Carry on under ``new_key`` with what is known of the session (no reset)."""
        SessionBase._set_session_key(self, new_key)
        # Django re-sends the cookie only for a modified session; the save that
        # follows writes nothing when nothing else changed.
        self.modified = True

    @sensitive_variables("session_key", "new_key")
    def _follow(self, session_key: str, stub: bytes, hops: int) -> bool:
        """Move to the key a rotation stub names; ``False`` for a stub that does not open."""
        new_key = rotation.open_stub(session_key, stub) if hops < 2 else None
        if new_key is None:
            security_logger.warning(
                "Session %s: a rotation stub that does not open with its key; removed.",
                keys.fingerprint(session_key),
            )
            self._session_key = None
            return False
        SessionBase._set_session_key(self, new_key)
        self.modified = True
        return True

    @sensitive_variables("session_key", "new_key")
    def _rotation_plan(self, session_key: str) -> tuple[RotatePlan, str] | None:
        """A rotation to a fresh key when the current one is old enough, else ``None``."""
        rotate_after = conf.SESSION_REDIS_ROTATE_AFTER
        if not rotate_after or self._created is None:
            return None
        since = self._meta.get(record.META_ROTATED)
        base = int(since) if since and since.isdigit() else self._created
        if time.time() - base < rotate_after:
            return None
        new_key = self._get_new_session_key()
        return RotatePlan(
            old_digest=keys.digest(session_key),
            new_digest=keys.digest(new_key),
            expected_user_id=self._stored_user,
            sealed=rotation.seal(session_key, new_key),
        ), new_key

    @sensitive_variables("session_key", "new_key")
    def _rotated(
        self, session_key: str, rotating: tuple[RotatePlan, str], result: int, stub: bytes | None
    ) -> None:
        plan, new_key = rotating
        if result == RotateResult.ROTATED:
            self._switch_key(new_key)
            self._meta = {**self._meta, record.META_ROTATED: str(int(time.time()))}
            note_in_use(plan.new_digest)
            logger.info(
                "Session %s of user %s rotated to %s.",
                keys.fingerprint_of_digest(plan.old_digest),
                self._stored_user or "(anonymous)",
                keys.fingerprint_of_digest(plan.new_digest),
            )
            self._queue(
                session_event,
                SessionStore,
                event="rotated",
                user_id=self._stored_user or None,
                fingerprint=keys.fingerprint_of_digest(plan.new_digest),
                detail={"from": keys.fingerprint_of_digest(plan.old_digest)},
            )
        elif stub is not None:
            # Another request rotated it between our load and now: follow it.
            moved = rotation.open_stub(session_key, stub)
            if moved is not None:
                self._switch_key(moved)
        # A taken key, a session gone meanwhile or a user mismatch: keep the key;
        # the next request tries again.

    # -- load ------------------------------------------------------------------

    @sensitive_variables("session_key")
    def _adopt(self, raw: bytes | None) -> tuple[dict[str, Any], bool]:
        """Session data from a loaded record, and whether the record was corrupt."""
        if raw is None:
            # Unknown or expired key: never adopt it, a new one is issued on save.
            self._session_key = None
            return {}, False
        session_key = self.session_key
        try:
            stored = record.decode(raw)
            values = stored.data if self._cipher is None else self._cipher.open(stored.data)
            data = {key: self._codec.loads(value) for key, value in values.items()}
        except Exception as exc:  # noqa: BLE001 - any serializer may raise anything
            fingerprint = keys.fingerprint(session_key) if session_key else "-"
            security_logger.warning(
                "Session %s: stored data could not be decoded (%s); the record was "
                "removed and an empty session used instead.",
                fingerprint,
                exc.__class__.__name__,
            )
            self._session_key = None
            return {}, True
        self._stored = dict(values)
        self._in_store = True
        self._created = stored.created
        self._deadline = stored.deadline
        self._idle = stored.idle
        self._stored_user = stored.user_id
        self._meta = stored.meta
        return data, False

    @sensitive_variables("session_key")
    def load(self) -> dict[str, Any]:
        session_key = self.session_key
        try:
            return self._load(0)
        except SessionStoreUnavailable as exc:
            if not self._may_degrade():
                raise
            # The key the browser sent, even if a rotation stub was being followed.
            self._session_key = session_key
            self._degrade(exc, "load")
            return {}
        finally:
            self._send_queued()

    @sensitive_variables("session_key")
    async def aload(self) -> dict[str, Any]:
        session_key = self.session_key
        try:
            return await self._aload(0)
        except SessionStoreUnavailable as exc:
            if not self._may_degrade():
                raise
            self._session_key = session_key
            self._degrade(exc, "load")
            return {}
        finally:
            await self._asend_queued()

    # -- outages (SESSION_REDIS_ON_OUTAGE) -------------------------------------------

    def _may_degrade(self, plan: WritePlan | None = None) -> bool:
        """Whether this failure may degrade the session instead of raising.

        Never under ``cycle_key`` (a login needs Redis), never for a save that
        changes who is signed in (a login or logout must not look done when it
        was not), and only with ``SESSION_REDIS_ON_OUTAGE = "degrade"``.
        """
        if conf.SESSION_REDIS_ON_OUTAGE != "degrade" or self._no_degrade:
            return False
        return plan is None or plan.user_id == plan.expected_user_id

    def _degrade(self, exc: SessionStoreUnavailable, action: str) -> None:
        """Go on without Redis for the rest of this request; one warning line."""
        self.degraded = True
        self._outage = exc
        session_key = self.session_key
        logger.warning(
            "Session store Redis at %s is unreachable (%s, %s): session %s is served %s "
            'for this request (SESSION_REDIS_ON_OUTAGE = "degrade"); nothing was written.',
            exc.server,
            action,
            exc.__cause__.__class__.__name__ if exc.__cause__ is not None else "error",
            keys.fingerprint(session_key) if session_key else "(new)",
            "empty and unsaved" if action == "load" else "without saving its changes",
        )

    def _refuse_degraded(self, action: str) -> SessionStoreUnavailable:
        """The error for an operation a degraded session cannot do without Redis."""
        assert self._outage is not None
        server = self._outage.server
        error = SessionStoreUnavailable(
            f"Session store Redis at {server} is unreachable: {action} needs it, and this "
            "request's session could not be loaded.",
            server,
        )
        error.__cause__ = self._outage
        return error

    # A rotation commits only with a response that delivered the new key: the old
    # key's stub lives as long as the session until a request arrives with the new
    # key itself (not through the stub), and is then cut to the grace period.

    def _confirm_rotation(self, storage: SessionStorage, digest: str) -> None:
        old_digest = self._meta.pop(record.META_PENDING)
        try:
            storage.confirm_rotation(
                digest, old_digest, int(conf.SESSION_REDIS_ROTATE_GRACE * 1000)
            )
        except SessionStoreError as exc:
            # The old key just keeps working longer; the next request confirms.
            logger.info("Session %s: rotation not confirmed yet (%s).", digest[:12], exc)

    async def _aconfirm_rotation(self, storage: AsyncSessionStorage, digest: str) -> None:
        old_digest = self._meta.pop(record.META_PENDING)
        try:
            await storage.confirm_rotation(
                digest, old_digest, int(conf.SESSION_REDIS_ROTATE_GRACE * 1000)
            )
        except SessionStoreError as exc:
            logger.info("Session %s: rotation not confirmed yet (%s).", digest[:12], exc)

    @sensitive_variables("session_key")
    def _foreign(self, session_key: str) -> None:
        """A key of another Redis type where this session lives: like a corrupt record."""
        security_logger.warning(
            "Session %s: its Redis key holds another type of value, not a session; "
            "it was removed and an empty session used instead.",
            keys.fingerprint(session_key),
        )
        self._session_key = None

    @sensitive_variables("session_key")
    def _load(self, hops: int) -> dict[str, Any]:
        session_key = self.session_key
        if session_key is None:
            return {}
        digest = keys.digest(session_key)
        storage = self._storage()
        try:
            raw = storage.load(
                digest, conf.SESSION_REDIS_ABSOLUTE_AGE or 0, self._client_meta_pairs
            )
        except ForeignKey:
            self._foreign(session_key)
            storage.remove_foreign(digest)
            return {}
        if raw is not None and rotation.is_stub(raw):
            if self._follow(session_key, raw, hops):
                return self._load(hops + 1)
            storage.discard(digest, raw)
            return {}
        data, corrupt = self._adopt(raw)
        if corrupt and raw is not None:
            storage.discard(digest, raw)
        elif raw is not None:
            if self._client_verdict():
                storage.delete(digest, self._stored_user)
                self._session_key = None
                return {}
            note_in_use(digest)
            if hops == 0 and record.META_PENDING in self._meta:
                self._confirm_rotation(storage, digest)
            rotating = self._rotation_plan(session_key)
            if rotating is not None:
                try:
                    outcome = storage.rotate(rotating[0])
                except SessionStoreFull:
                    return data  # nothing was written; the key rotates on a later request
                self._rotated(session_key, rotating, *outcome)
        return data

    @sensitive_variables("session_key")
    async def _aload(self, hops: int) -> dict[str, Any]:
        session_key = self.session_key
        if session_key is None:
            return {}
        digest = keys.digest(session_key)
        storage = self._astorage()
        try:
            raw = await storage.load(
                digest, conf.SESSION_REDIS_ABSOLUTE_AGE or 0, self._client_meta_pairs
            )
        except ForeignKey:
            self._foreign(session_key)
            await storage.remove_foreign(digest)
            return {}
        if raw is not None and rotation.is_stub(raw):
            if self._follow(session_key, raw, hops):
                return await self._aload(hops + 1)
            await storage.discard(digest, raw)
            return {}
        data, corrupt = self._adopt(raw)
        if corrupt and raw is not None:
            await storage.discard(digest, raw)
        elif raw is not None:
            if self._client_verdict():
                await storage.delete(digest, self._stored_user)
                self._session_key = None
                return {}
            note_in_use(digest)
            if hops == 0 and record.META_PENDING in self._meta:
                await self._aconfirm_rotation(storage, digest)
            rotating = self._rotation_plan(session_key)
            if rotating is not None:
                try:
                    outcome = await storage.rotate(rotating[0])
                except SessionStoreFull:
                    return data  # nothing was written; the key rotates on a later request
                self._rotated(session_key, rotating, *outcome)
        return data

    @sensitive_variables("session_key")
    def exists(self, session_key: str | None) -> bool:
        if not keys.is_valid_session_key(session_key):
            return False
        assert session_key is not None
        return self._storage().exists(keys.digest(session_key))

    @sensitive_variables("session_key")
    async def aexists(self, session_key: str | None) -> bool:
        if not keys.is_valid_session_key(session_key):
            return False
        assert session_key is not None
        return await self._astorage().exists(keys.digest(session_key))

    # -- save ------------------------------------------------------------------

    def _user_of(self, data: dict[str, Any]) -> str:
        user_id = data.get(SESSION_KEY)
        return "" if user_id is None else str(user_id)

    def _encode(self, data: dict[str, Any]) -> dict[str, bytes]:
        dumps = self._dumps
        encoded = {key: dumps(value) for key, value in data.items()}
        limit = conf.SESSION_REDIS_MAX_SIZE
        if limit is not None:
            # Checked before any Redis command, so a refused save leaves the stored
            # session exactly as it was.
            size = sum(len(key.encode()) + len(value) for key, value in encoded.items())
            if size > limit:
                assert self.session_key is not None
                raise SessionTooLarge(size, limit, keys.fingerprint(self.session_key))
        return encoded

    def _plan(
        self, data: dict[str, Any], must_create: bool
    ) -> tuple[WritePlan | None, dict[str, bytes]]:
        """What a save must write, or ``None`` when Redis already holds it all."""
        assert self.session_key is not None
        encoded = self._encode(data)
        now = int(time.time())
        created = now if must_create or self._created is None else self._created
        idle, deadline = self._policy(data, created, now)
        user_id = self._user_of(data)
        if must_create:
            mode, expected_user, payload, deleted = "c", "", encoded, b""
        elif self._stored is None:
            # Never read (e.g. clear() before any access): replace everything.
            mode, expected_user, payload, deleted = "r", self._stored_user, encoded, b""
        else:
            stored = self._stored
            payload = {k: v for k, v in encoded.items() if stored.get(k) != v}
            removed = [k for k in stored if k not in encoded]
            if (
                not payload
                and not removed
                and self._in_store
                and (idle, deadline, user_id) == (self._idle, self._deadline, self._stored_user)
            ):
                # The load already slid the expiry; rewriting would only add a
                # round trip (SESSION_SAVE_EVERY_REQUEST costs nothing extra).
                return None, encoded
            mode, expected_user, deleted = "m", self._stored_user, record.encode_keys(removed)
        plan = WritePlan(
            digest=keys.digest(self.session_key),
            mode=mode,
            created=created,
            deadline=deadline,
            idle=idle,
            user_id=user_id,
            expected_user_id=expected_user,
            # Compared in plaintext above (tokens are randomized); encrypted here.
            data=record.encode_data(
                payload if self._cipher is None else self._cipher.seal(payload)
            ),
            deleted=deleted,
            meta=self._client_meta_pairs,
        )
        return plan, encoded

    @sensitive_variables("session_key", "new_key")
    def _moved_plan(self, plan: WritePlan, outcome: SaveOutcome) -> WritePlan | None:
        """The same write aimed at the key another request rotated this one to."""
        session_key = self.session_key
        new_key = (
            rotation.open_stub(session_key, outcome.stub) if session_key and outcome.stub else None
        )
        if new_key is None:
            return None
        self._switch_key(new_key)
        return replace(plan, digest=keys.digest(new_key))

    def _saved(self, plan: WritePlan, outcome: SaveOutcome, encoded: dict[str, bytes]) -> None:
        result, ended = outcome.result, outcome.ended
        if result == SaveResult.LIMIT:
            # Checked before CreateError: retrying with another key cannot help.
            raise SessionLimitReached(conf.SESSION_REDIS_MAX_SESSIONS_PER_USER or 0)
        if result == SaveResult.TOO_LARGE:
            # The merge with what concurrent requests stored would pass the cap.
            raise SessionTooLarge(
                outcome.size,
                conf.SESSION_REDIS_MAX_SIZE or 0,
                keys.fingerprint_of_digest(plan.digest),
            )
        if ended:
            self._queue_limit(plan, ended)
        if result == SaveResult.SAVED:
            if plan.mode == "c":
                note_in_use(plan.digest)
            self._stored = encoded
            self._in_store = True
            self._created = plan.created
            self._deadline = plan.deadline
            self._idle = plan.idle
            self._stored_user = plan.user_id
            self._meta = {**self._meta, **self._client_meta}
            return
        if plan.mode == "c":
            raise CreateError
        if result == SaveResult.CORRUPT:
            security_logger.warning(
                "Session %s: stored data could not be decoded while saving; not overwritten.",
                keys.fingerprint_of_digest(plan.digest),
            )
        # Deleted elsewhere (logout, revocation, expiry) while this request ran:
        # refusing the write is what keeps it deleted (Django ticket #21608).
        raise UpdateError

    def save(self, must_create: bool = False) -> None:
        if self.degraded:
            # What Redis holds is unknown to this request: writing it would
            # overwrite the real session with what the outage hid.
            return None
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)  # type: ignore[attr-defined]
        if self.degraded:
            return None
        if self.session_key is None:
            # The load found no such session (expired, deleted, never existed):
            # a save only updates, as Django's own backends do.
            raise UpdateError
        plan, encoded = self._plan(data, must_create)
        if plan is not None:
            try:
                storage = self._storage()
                outcome = storage.save(plan)
                if outcome.result == SaveResult.MOVED:
                    moved = self._moved_plan(plan, outcome)
                    if moved is not None:
                        plan, outcome = moved, storage.save(moved)
            except SessionStoreUnavailable as exc:
                if not self._may_degrade(plan):
                    raise
                self._degrade(exc, "save")
                return None
            try:
                self._saved(plan, outcome, encoded)
            finally:
                self._send_queued()
        return None

    async def asave(self, must_create: bool = False) -> None:
        if self.degraded:
            return None
        if self.session_key is None:
            return await self.acreate()
        data = await self._aget_session(no_load=must_create)  # type: ignore[attr-defined]
        if self.degraded:
            return None
        if self.session_key is None:
            # The load found no such session (expired, deleted, never existed):
            # a save only updates, as Django's own backends do.
            raise UpdateError
        plan, encoded = self._plan(data, must_create)
        if plan is not None:
            try:
                storage = self._astorage()
                outcome = await storage.save(plan)
                if outcome.result == SaveResult.MOVED:
                    moved = self._moved_plan(plan, outcome)
                    if moved is not None:
                        plan, outcome = moved, await storage.save(moved)
            except SessionStoreUnavailable as exc:
                if not self._may_degrade(plan):
                    raise
                self._degrade(exc, "save")
                return None
            try:
                self._saved(plan, outcome, encoded)
            finally:
                await self._asend_queued()
        return None

    def create(self) -> None:
        for _ in range(_NEW_KEY_ATTEMPTS):
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError("Unable to create a new session key: every attempt collided.")

    async def acreate(self) -> None:
        for _ in range(_NEW_KEY_ATTEMPTS):
            self._session_key = await self._aget_new_session_key()
            try:
                await self.asave(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError("Unable to create a new session key: every attempt collided.")

    # -- delete ------------------------------------------------------------------

    @sensitive_variables("session_key")
    def _delete_target(self, session_key: str | None) -> tuple[str, str] | None:
        """``(digest, expected stored user)`` for a delete, or ``None`` for no-op."""
        if session_key is None:
            session_key = self.session_key
            if session_key is None:
                return None
        if not keys.is_valid_session_key(session_key):
            return None
        own = session_key == self.session_key
        return keys.digest(session_key), self._stored_user if own else ""

    def _deleted(self, session_key: str | None) -> None:
        if session_key is None or session_key == self.session_key:
            self._reset_stored()

    @sensitive_variables("session_key")
    def delete(self, session_key: str | None = None) -> None:
        target = self._delete_target(session_key)
        if target is not None:
            self._storage().delete(*target)
            self._deleted(session_key)

    @sensitive_variables("session_key")
    async def adelete(self, session_key: str | None = None) -> None:
        target = self._delete_target(session_key)
        if target is not None:
            await self._astorage().delete(*target)
            self._deleted(session_key)

    # -- cycle_key ---------------------------------------------------------------

    @sensitive_variables("old_key", "new_key")
    def _cycle_plan(self, old_key: str, new_key: str, data: dict[str, Any]) -> CyclePlan:
        # The new key starts a new session: its absolute lifetime counts from now
        # (cycle_key runs at login, where a fresh lifetime is what users expect).
        now = int(time.time())
        idle, deadline = self._policy(data, now, now)
        encoded = self._encode(data)
        return CyclePlan(
            old_digest=keys.digest(old_key),
            new_digest=keys.digest(new_key),
            expected_user_id=self._stored_user,
            old_in_store=self._in_store,
            created=now,
            deadline=deadline,
            idle=idle,
            user_id=self._user_of(data),
            data=record.encode_data(
                encoded if self._cipher is None else self._cipher.seal(encoded)
            ),
            # A new key starts a new rotation clock (its creation time), under a
            # fingerprint of its own, with no rotation pending.
            meta={
                k: v
                for k, v in {**self._meta, **self._client_meta}.items()
                if k not in _NEW_SESSION_DROPS
            },
            client_meta=self._client_meta,
        )

    @sensitive_variables("old_key", "new_key")
    def _cycled(self, new_key: str, plan: CyclePlan, result: int, data: dict[str, Any]) -> None:
        self._session_key = new_key
        note_in_use(plan.new_digest)
        if result == CycleResult.OLD_GONE:
            data = {}
            user_id = ""
            self._meta = dict(plan.client_meta)  # an empty record, this client's
        else:
            user_id = plan.user_id
            self._meta = dict(plan.meta)
        self._session_cache = data
        self._stored = self._encode(data)
        self._in_store = True
        self._created = plan.created
        self._deadline = plan.deadline
        self._idle = plan.idle
        self._stored_user = user_id
        self.modified = True

    @sensitive_variables("old_key", "new_key")
    def cycle_key(self) -> None:
        data = self._get_session()  # type: ignore[attr-defined]
        if self.degraded:
            # A login during an outage: moving an unknown session would lose it,
            # and a login that is not stored must not look done.
            raise self._refuse_degraded("cycle_key (a login)")
        old_key = self.session_key
        if old_key is None:
            self._no_degrade = True
            try:
                self.create()
            finally:
                self._no_degrade = False
            return
        storage = self._storage()
        for _ in range(_NEW_KEY_ATTEMPTS):
            new_key = self._get_new_session_key()
            plan = self._cycle_plan(old_key, new_key, data)
            result = storage.cycle(plan)
            if result != CycleResult.TAKEN:
                self._cycled(new_key, plan, result, data)
                return
        raise RuntimeError("Unable to create a new session key: every attempt collided.")

    @sensitive_variables("old_key", "new_key")
    async def acycle_key(self) -> None:
        data = await self._aget_session()  # type: ignore[attr-defined]
        if self.degraded:
            raise self._refuse_degraded("cycle_key (a login)")
        old_key = self.session_key
        if old_key is None:
            self._no_degrade = True
            try:
                await self.acreate()
            finally:
                self._no_degrade = False
            return
        storage = self._astorage()
        for _ in range(_NEW_KEY_ATTEMPTS):
            new_key = await self._aget_new_session_key()
            plan = self._cycle_plan(old_key, new_key, data)
            result = await storage.cycle(plan)
            if result != CycleResult.TAKEN:
                self._cycled(new_key, plan, result, data)
                return
        raise RuntimeError("Unable to create a new session key: every attempt collided.")

    # -- cleanup -------------------------------------------------------------------

    # Sessions expire through their Redis TTL; what is left to clean is the user
    # indexes (see index_store.py). Django's ``clearsessions`` calls this.

    @classmethod
    def clear_expired(cls) -> None:
        index_storage().clear_expired()

    @classmethod
    async def aclear_expired(cls) -> None:
        await async_index_storage().clear_expired()

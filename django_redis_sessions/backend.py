"""``SESSION_ENGINE = "django_redis_sessions.backend"``: Django sessions in Redis.

:class:`SessionStore` is Django's ``SessionBase`` contract, sync and (natively on
``redis.asyncio``) async, and nothing else. Each method of the contract is one
generator of storage steps run by the sync or the async driver
(``storage/runner.py``), so ``load`` and ``aload`` share one implementation. The
decisions are the policies' (``policies/``): expiry, rotation, binding, outages,
the events they announce; every Redis operation is ``storage/``'s.

What it adds to Django's contract: sliding expiry in the load's own round trip,
capped by an absolute lifetime; delta saves (only keys this request changed are
written, so two concurrent requests that change different keys both persist); a
per-user index kept exact on login, logout, ``cycle_key`` and delete; and no
resurrection (saving a session deleted elsewhere raises ``UpdateError``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
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
from django.utils.crypto import get_random_string
from django.views.decorators.debug import sensitive_variables

from .codec import ValueCodec
from .conf import conf
from .exceptions import (
    SessionLimitReached,
    SessionStoreError,
    SessionStoreFull,
    SessionStoreUnavailable,
    SessionTooLarge,
    WrongTypeKey,
)
from .policies import binding, expiry, outage, rotation
from .policies.events import EventQueue
from .policies.password_change import note_in_use
from .storage import Operations, arun, keys, record, run
from .storage.plans import (
    CyclePlan,
    CycleResult,
    RotatePlan,
    RotateResult,
    SaveOutcome,
    SaveResult,
    WritePlan,
)
from .storage.steps import Call, Steps

security_logger = logging.getLogger("django.security.SuspiciousSession")
logger = logging.getLogger("django_redis_sessions")

#: Key collisions among 165-bit random keys do not happen; a loop that keeps
#: colliding means something else is wrong, and must not spin for ever.
_NEW_KEY_ATTEMPTS = 10
#: Metadata that belongs to a key, not to the session's client: cycle_key leaves it.
_NEW_SESSION_DROPS = frozenset({record.META_ROTATED, record.META_ORIGIN, record.META_PENDING})

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


@dataclass(slots=True)
class Stored:
    """What Redis holds for the current key, as last read or written."""

    #: Each value as encoded (to find what a save changed); ``None``: never read,
    #: so a save replaces the data.
    values: dict[str, bytes] | None = None
    in_store: bool = False
    created: int | None = None
    deadline: int = 0
    idle: int = 0
    #: The user id the record (and so the index) names.
    user_id: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    #: ``values`` decoded, as they were read or saved (a copy, never the session's
    #: own dict): a value still the very object read keeps its encoding.
    decoded: dict[str, Any] | None = None


class _Hidden:
    """A session key held by a generator's frame. ``@sensitive_variables`` cannot
    reach generator frames, so keys there live in this, whose repr hides them
    from error reports."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return "<session key>"


class SessionStore(SessionBase):
    """Sessions in Redis with sliding and absolute expiry and a per-user index."""

    #: Set when Redis was unreachable and ``SESSION_REDIS_ON_OUTAGE`` is
    #: ``"degrade"`` (``policies/outage.py``): nothing is written for the rest of
    #: the request, and the browser's cookie is left as it is.
    degraded = False
    _outage: SessionStoreUnavailable | None = None
    #: Set while ``cycle_key`` creates a session: its ``create()`` must raise, never
    #: degrade.
    _in_cycle_key = False

    def __init__(self, session_key: str | None = None) -> None:
        _require_app()
        super().__init__(session_key)
        self._values = ValueCodec(self.serializer)
        # This request's client, from the request-metadata middleware (record_client).
        self._client_meta: dict[str, str] = {}
        self._client_meta_pairs = b""
        #: Set when a binding policy set to ``"flag"`` saw the client change.
        self.user_agent_changed = False
        self.ip_changed = False
        self._events = EventQueue(SessionStore)

    # A degraded session has nothing it could save, so it is never modified (Django
    # then neither saves it nor re-sends its cookie).
    @property
    def modified(self) -> bool:
        return self._modified and not self.degraded

    @modified.setter
    def modified(self, value: bool) -> None:
        self._modified = value

    def _set_session_key(self, value: str | None) -> None:
        SessionBase._set_session_key(self, value)
        self._stored = Stored()

    _session_key = property(SessionBase._get_session_key, _set_session_key)

    def _validate_session_key(self, key: str | None) -> bool:
        # Stricter than Django's "8 characters or more": anything but [a-z0-9]{8,64}
        # is treated as no session, before any Redis command is built from it.
        return keys.is_valid_session_key(key)

    def _get_new_session_key(self) -> str:
        # No EXISTS round trip: creation uses SET NX, so a collision is detected by
        # the write itself.
        return get_random_string(32, VALID_KEY_CHARS)

    async def _aget_new_session_key(self) -> str:
        return self._get_new_session_key()

    def record_client(self, meta: dict[str, str]) -> None:
        """Record this request's client (``ip``, ``ua``) with the session.

        Called by the request-metadata middleware before the session loads: the
        load script updates the stored values in its own round trip when they
        changed, and saves and ``cycle_key`` write them.
        """
        self._client_meta = dict(meta)
        self._client_meta_pairs = record.encode_meta_pairs(meta)

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint pages show for this session (kept across key rotations)."""
        if self.session_key is None:
            return None
        return self._stored.meta.get(record.META_ORIGIN) or keys.fingerprint(self.session_key)

    def touch(self) -> None:
        """Load the session now if it is not loaded (which slides its expiry)."""
        self._get_session()  # type: ignore[attr-defined]

    async def atouch(self) -> None:
        await self._aget_session()  # type: ignore[attr-defined]

    def stored_expiry_age(self) -> int | None:
        """Seconds until the stored session ends, as of its last load or save (what
        the request-metadata middleware gives the cookie's ``max-age``); ``None``
        when it is not in Redis or never ends."""
        stored = self._stored
        if not stored.in_store or self.session_key is None:
            return None
        return expiry.remaining(stored.deadline, stored.idle, stored.created)

    # -- expiry: Django's figures, capped by the absolute lifetime --------------------

    def get_expiry_age(self, **kwargs: Any) -> int:
        age = super().get_expiry_age(**kwargs)
        return expiry.cap_age(age, kwargs.get("modification"), self._stored.created)

    async def aget_expiry_age(self, **kwargs: Any) -> int:
        age = await super().aget_expiry_age(**kwargs)
        return expiry.cap_age(age, kwargs.get("modification"), self._stored.created)

    def get_expiry_date(self, **kwargs: Any) -> datetime:
        return expiry.cap_date(super().get_expiry_date(**kwargs), self._stored.created)

    async def aget_expiry_date(self, **kwargs: Any) -> datetime:
        date = await super().aget_expiry_date(**kwargs)
        return expiry.cap_date(date, self._stored.created)

    # -- Django's contract: each sync/async pair is one generator, two drivers --------

    # Without a key there is nothing to read: no client is even needed (building a
    # Cluster client maps the slots, a round trip).

    def load(self) -> dict[str, Any]:
        return run(self._loading) if self.session_key is not None else {}

    async def aload(self) -> dict[str, Any]:
        return await arun(self._loading) if self.session_key is not None else {}

    @sensitive_variables("session_key")
    def exists(self, session_key: str | None) -> bool:
        if not keys.is_valid_session_key(session_key):
            return False
        return run(Operations.exists, keys.digest(session_key))  # type: ignore[arg-type]

    @sensitive_variables("session_key")
    async def aexists(self, session_key: str | None) -> bool:
        if not keys.is_valid_session_key(session_key):
            return False
        return await arun(Operations.exists, keys.digest(session_key))  # type: ignore[arg-type]

    def save(self, must_create: bool = False) -> None:
        run(self._saving, must_create)

    async def asave(self, must_create: bool = False) -> None:
        await arun(self._saving, must_create)

    def create(self) -> None:
        run(self._creating)

    async def acreate(self) -> None:
        await arun(self._creating)

    @sensitive_variables("session_key")
    def delete(self, session_key: str | None = None) -> None:
        target = self._delete_target(session_key)
        if target is not None:
            run(Operations.delete, *target)
            self._deleted(session_key)

    @sensitive_variables("session_key")
    async def adelete(self, session_key: str | None = None) -> None:
        target = self._delete_target(session_key)
        if target is not None:
            await arun(Operations.delete, *target)
            self._deleted(session_key)

    def cycle_key(self) -> None:
        run(self._cycling)

    async def acycle_key(self) -> None:
        await arun(self._cycling)

    # Sessions expire through their Redis TTL; what is left to clean is the user
    # indexes (storage/index_ops.py). Django's ``clearsessions`` calls this.

    @classmethod
    def clear_expired(cls) -> None:
        run(Operations.clear_expired)

    @classmethod
    async def aclear_expired(cls) -> None:
        await arun(Operations.clear_expired)

    # -- load ------------------------------------------------------------------------

    def _loading(self, ops: Operations) -> Steps[dict[str, Any]]:
        sent = _Hidden(self.session_key) if self.session_key else None
        try:
            return (yield from self._load_key(ops, 0))
        except SessionStoreUnavailable as exc:
            if not outage.may_degrade(changes_user=False, in_cycle_key=self._in_cycle_key):
                raise
            # The key the browser sent, even if a rotation stub was being followed.
            self._session_key = sent.key if sent else None
            self._degrade(exc, "load")
            return {}
        finally:
            if self._events.pending:
                yield from self._events.flush()

    def _load_key(self, ops: Operations, hops: int) -> Steps[dict[str, Any]]:
        if self.session_key is None:
            return {}
        digest = keys.digest(self.session_key)
        try:
            raw = yield from ops.load(
                digest, conf.SESSIONS_ABSOLUTE_AGE or 0, self._client_meta_pairs
            )
        except WrongTypeKey:
            self._log_and_forget("its Redis key holds another type of value, not a session")
            yield from ops.remove_foreign(digest)
            return {}
        if raw is not None and record.is_stub(raw):
            if self._follow(raw, hops):
                return (yield from self._load_key(ops, hops + 1))
            yield from ops.discard(digest, raw)
            return {}
        data, corrupt = self._adopt(raw)
        if corrupt and raw is not None:
            yield from ops.discard(digest, raw)
        elif raw is not None:
            if self._client_changed():
                yield from ops.delete(digest, self._stored.user_id)
                self._session_key = None
                return {}
            note_in_use(digest)
            if hops == 0 and record.META_PENDING in self._stored.meta:
                yield from self._confirm_rotation(ops, digest)
            if conf.SESSIONS_ROTATE_AFTER:
                yield from self._maybe_rotate(ops)
        return data

    def _adopt(self, raw: bytes | None) -> tuple[dict[str, Any], bool]:
        """Session data from a loaded record, and whether the record was corrupt."""
        if raw is None:
            # Unknown or expired key: never adopt it, a new one is issued on save.
            self._session_key = None
            return {}, False
        try:
            fields, values, data = self._values.open(raw)
        except Exception as exc:  # noqa: BLE001 - any serializer may raise anything
            self._log_and_forget(
                f"stored data could not be decoded ({exc.__class__.__name__}); the record "
                "was removed"
            )
            return {}, True
        created, _seen, deadline, idle, user_id, meta, _data_at = fields
        self._stored = Stored(values, True, created, deadline, idle, user_id, meta, data.copy())
        return data, False

    @sensitive_variables("session_key")
    def _log_and_forget(self, what: str) -> None:
        """A record that is not a session we can read: log it, go on with a new key."""
        session_key = self.session_key
        security_logger.warning(
            "Session %s: %s; an empty session is used instead.",
            keys.fingerprint(session_key) if session_key else "-",
            what,
        )
        self._session_key = None

    def _client_changed(self) -> bool:
        """Apply the binding policies to a just-loaded session; whether it must end."""
        found = binding.violations(self._client_meta, self._stored.meta)
        for violation in found:
            if violation.event == "user_agent_changed":
                self.user_agent_changed = True
            else:
                self.ip_changed = True
            fingerprint = keys.fingerprint(self.session_key) if self.session_key else None
            self._events.violation(
                violation.event, violation.what, violation.action, violation.detail,
                self._stored.user_id, fingerprint,
            )  # fmt: skip
        return any(violation.ends_session for violation in found)

    def _degrade(self, exc: SessionStoreUnavailable, action: str) -> None:
        """Go on without Redis for the rest of this request; one warning line."""
        self.degraded = True
        self._outage = exc
        fingerprint = keys.fingerprint(self.session_key) if self.session_key else None
        outage.log_degraded(exc, action, fingerprint)

    # -- key rotation (policies/rotation.py) ------------------------------------------
    #
    # A rotation commits only with a response that delivered the new key: the old
    # key's stub lives as long as the session until a request arrives with the new
    # key itself (not through the stub), and is then cut to the grace period.

    def _switch_key(self, new_key: str) -> None:
        """Carry on under ``new_key`` with what is known of the session (no reset)."""
        SessionBase._set_session_key(self, new_key)
        # Django re-sends the cookie only for a modified session; the save that
        # follows writes nothing when nothing else changed.
        self.modified = True

    @sensitive_variables("session_key", "new_key")
    def _follow(self, stub: bytes, hops: int) -> bool:
        """Move to the key a rotation stub names; ``False`` for one that does not open."""
        session_key = self.session_key
        assert session_key is not None
        new_key = rotation.open_stub(session_key, stub) if hops < 2 else None
        if new_key is None:
            self._log_and_forget("a rotation stub that does not open with its key; removed")
            return False
        self._switch_key(new_key)
        return True

    def _confirm_rotation(self, ops: Operations, digest: str) -> Steps[None]:
        old_digest = self._stored.meta.pop(record.META_PENDING)
        try:
            yield from ops.confirm_rotation(
                digest, old_digest, int(conf.SESSIONS_ROTATE_GRACE * 1000)
            )
        except SessionStoreError as exc:
            # The old key just keeps working longer; the next request confirms.
            logger.info("Session %s: rotation not confirmed yet (%s).", digest[:12], exc)

    def _maybe_rotate(self, ops: Operations) -> Steps[None]:
        stored = self._stored
        if not rotation.is_due(conf.SESSIONS_ROTATE_AFTER, stored.created, stored.meta):
            return
        new_key = yield from self._new_key()
        plan = self._rotation_plan(new_key)
        try:
            result, stub = yield from ops.rotate(plan)
        except SessionStoreFull:
            return  # nothing was written; the key rotates on a later request
        if result == RotateResult.ROTATED:
            self._switch_key(new_key.key)
            stored.meta[record.META_ROTATED] = str(int(time.time()))
            note_in_use(plan.new_digest)
            self._events.rotated(plan.old_digest, plan.new_digest, stored.user_id)
        elif stub is not None:
            # Another request rotated it between our load and now: follow it.
            self._follow_moved(stub)
        # A taken key, a session gone meanwhile or a user mismatch: keep the key; the
        # next request tries again.

    @sensitive_variables("session_key")
    def _rotation_plan(self, new_key: _Hidden) -> RotatePlan:
        session_key = self.session_key
        assert session_key is not None
        return RotatePlan(
            old_digest=keys.digest(session_key),
            new_digest=keys.digest(new_key.key),
            expected_user_id=self._stored.user_id,
            sealed=rotation.seal(session_key, new_key.key),
        )

    @sensitive_variables("session_key", "new_key")
    def _follow_moved(self, stub: bytes) -> bool:
        """Switch to the key a stub met by a write names (no reset of what is known)."""
        session_key = self.session_key
        new_key = rotation.open_stub(session_key, stub) if session_key else None
        if new_key is not None:
            self._switch_key(new_key)
        return new_key is not None

    # -- save ------------------------------------------------------------------------

    def _data(self, ops: Operations, no_load: bool = False) -> Steps[dict[str, Any]]:
        """Django's ``_get_session``, loading through ``ops`` when needed."""
        self.accessed = True
        try:
            cached: dict[str, Any] = self._session_cache  # type: ignore[has-type]
            return cached
        except AttributeError:
            if self.session_key is None or no_load:
                self._session_cache = {}
            else:
                self._session_cache = yield from self._loading(ops)
        return self._session_cache

    def _saving(self, ops: Operations, must_create: bool) -> Steps[None]:
        if self.degraded:
            # What Redis holds is unknown to this request: writing it would
            # overwrite the real session with what the outage hid.
            return
        if self.session_key is None:
            yield from self._creating(ops)
            return
        data = yield from self._data(ops, no_load=must_create)
        if self.degraded:
            return
        if self.session_key is None:
            # The load found no such session (expired, deleted, never existed): a
            # save only updates, as Django's own backends do.
            raise UpdateError
        plan, encoded = self._plan(data, must_create)
        if plan is None:
            return
        try:
            outcome = yield from ops.save(plan)
            if (
                outcome.result == SaveResult.MOVED
                and outcome.stub
                and self._follow_moved(outcome.stub)
            ):
                plan = replace(plan, digest=keys.digest(self.session_key))
                outcome = yield from ops.save(plan)
        except SessionStoreUnavailable as exc:
            changes_user = plan.user_id != plan.expected_user_id
            if not outage.may_degrade(changes_user, self._in_cycle_key):
                raise
            self._degrade(exc, "save")
            return
        try:
            self._saved(plan, outcome, encoded, data)
        finally:
            if self._events.pending:
                yield from self._events.flush()

    def _new_key(self) -> Steps[_Hidden]:
        """A fresh key, from ``_get_new_session_key`` or, under the async driver,
        ``_aget_new_session_key`` (either may be overridden)."""

        async def anew() -> _Hidden:
            return _Hidden(await self._aget_new_session_key())

        return (yield Call(lambda: _Hidden(self._get_new_session_key()), anew))  # type: ignore[no-any-return]

    def _creating(self, ops: Operations) -> Steps[None]:
        for _ in range(_NEW_KEY_ATTEMPTS):
            self._session_key = (yield from self._new_key()).key
            try:
                yield from self._saving(ops, must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError("Unable to create a new session key: every attempt collided.")

    def _encode(self, data: dict[str, Any], reuse: bool = False) -> dict[str, bytes]:
        # Checked before any Redis command, so a refused save leaves the stored
        # session exactly as it was. ``reuse``: values unchanged since they were
        # read keep their stored encoding (only to find what changed).
        stored = self._stored
        return self._values.encode(
            data,
            lambda: keys.fingerprint(self.session_key or ""),
            stored.values if reuse else None,
            stored.decoded if reuse else None,
        )

    def _plan(
        self, data: dict[str, Any], must_create: bool
    ) -> tuple[WritePlan | None, dict[str, bytes]]:
        """What a save must write, or ``None`` when Redis already holds it all."""
        assert self.session_key is not None
        stored = self._stored
        encoded = self._encode(data, reuse=not must_create)
        now = int(time.time())
        created = now if must_create or stored.created is None else stored.created
        idle, deadline = expiry.to_store(data, created, now)
        user_id = _user_of(data)
        deleted = b""
        if must_create:
            mode, expected_user, payload = "c", "", encoded
        elif stored.values is None:
            # Never read (e.g. clear() before any access): replace everything.
            mode, expected_user, payload = "r", stored.user_id, encoded
        else:
            payload = {k: v for k, v in encoded.items() if stored.values.get(k) != v}
            removed = [k for k in stored.values if k not in encoded]
            unchanged = (idle, deadline, user_id) == (stored.idle, stored.deadline, stored.user_id)
            if not payload and not removed and stored.in_store and unchanged:
                # The load already slid the expiry; rewriting would only add a round
                # trip (SESSION_SAVE_EVERY_REQUEST costs nothing extra).
                return None, encoded
            mode, expected_user, deleted = "m", stored.user_id, record.encode_keys(removed)
        plan = WritePlan(
            keys.digest(self.session_key), mode, created, deadline, idle, user_id,
            expected_user, self._values.seal(payload), deleted, self._client_meta_pairs,
        )  # fmt: skip
        return plan, encoded

    def _saved(
        self, plan: WritePlan, outcome: SaveOutcome, encoded: dict[str, bytes], data: dict[str, Any]
    ) -> None:
        result = outcome.result
        if result == SaveResult.LIMIT:
            # Checked before CreateError: retrying with another key cannot help.
            raise SessionLimitReached(conf.SESSIONS_MAX_PER_USER or 0)
        if result == SaveResult.TOO_LARGE:
            # The merge with what concurrent requests stored would pass the cap.
            fingerprint = keys.fingerprint_of_digest(plan.digest)
            raise SessionTooLarge(outcome.size, conf.SESSION_REDIS_MAX_SIZE or 0, fingerprint)
        if outcome.ended:
            self._events.limit_ended(plan.user_id, plan.digest, outcome.ended)
        if result == SaveResult.SAVED:
            if plan.mode == "c":
                note_in_use(plan.digest)
            self._stored = Stored(
                encoded, True, plan.created, plan.deadline, plan.idle, plan.user_id,
                {**self._stored.meta, **self._client_meta}, data.copy(),
            )  # fmt: skip
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

    # -- delete ----------------------------------------------------------------------

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
        return keys.digest(session_key), self._stored.user_id if own else ""

    def _deleted(self, session_key: str | None) -> None:
        if session_key is None or session_key == self.session_key:
            self._stored = Stored()

    # -- cycle_key -------------------------------------------------------------------

    def _cycling(self, ops: Operations) -> Steps[None]:
        data = yield from self._data(ops)
        if self.degraded:
            # A login during an outage: moving an unknown session would lose it, and
            # a login that is not stored must not look done.
            assert self._outage is not None
            raise outage.refusal(self._outage, "cycle_key (a login)")
        if self.session_key is None:
            self._in_cycle_key = True
            try:
                yield from self._creating(ops)
            finally:
                self._in_cycle_key = False
            return
        for _ in range(_NEW_KEY_ATTEMPTS):
            new_key = yield from self._new_key()
            plan = self._cycle_plan(data, new_key)
            result = yield from ops.cycle(plan)
            if result != CycleResult.TAKEN:
                self._cycled(new_key, plan, result, data)
                return
        raise RuntimeError("Unable to create a new session key: every attempt collided.")

    @sensitive_variables("old_key")
    def _cycle_plan(self, data: dict[str, Any], new_key: _Hidden) -> CyclePlan:
        old_key = self.session_key
        assert old_key is not None
        stored = self._stored
        # The new key starts a new session: its absolute lifetime counts from now
        # (cycle_key runs at login, where a fresh lifetime is what users expect).
        now = int(time.time())
        idle, deadline = expiry.to_store(data, now, now)
        return CyclePlan(
            old_digest=keys.digest(old_key),
            new_digest=keys.digest(new_key.key),
            expected_user_id=stored.user_id,
            old_in_store=stored.in_store,
            created=now,
            deadline=deadline,
            idle=idle,
            user_id=_user_of(data),
            data=self._values.seal(self._encode(data)),
            # A new key starts a new rotation clock (its creation time), under a
            # fingerprint of its own, with no rotation pending.
            meta={
                k: v
                for k, v in {**stored.meta, **self._client_meta}.items()
                if k not in _NEW_SESSION_DROPS
            },
            client_meta=self._client_meta,
        )

    def _cycled(self, new_key: _Hidden, plan: CyclePlan, result: int, data: dict[str, Any]) -> None:
        self._session_key = new_key.key
        note_in_use(plan.new_digest)
        if result == CycleResult.OLD_GONE:
            # An empty record, this client's.
            data, user_id, meta = {}, "", dict(plan.client_meta)
        else:
            user_id, meta = plan.user_id, dict(plan.meta)
        self._session_cache = data
        self._stored = Stored(
            self._encode(data), True, plan.created, plan.deadline, plan.idle, user_id, meta
        )
        self.modified = True


def _user_of(data: dict[str, Any]) -> str:
    user_id = data.get(SESSION_KEY)
    return "" if user_id is None else str(user_id)

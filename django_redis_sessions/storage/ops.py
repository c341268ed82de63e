"""The operations on one session, each written once as a generator of steps.

On one server (or Sentinel's primary) every operation is a single Lua script call,
one round trip: load and slide, create/replace/merge with the user index, delete,
cycle, rotate. On a Redis Cluster a session is still one key, so loading and
saving stay one script call; what crosses slots is the per-user index, which a
script on one node cannot reach. Those operations run as a short sequence of
single-slot steps, ordered so that a crash between two steps leaves at worst a
*stale* index entry, never a live session missing from its user's index:

* an entry is **claimed before** a record names its user (``claim.lua``), with a
  pending mark that stops a concurrent prune from dropping it while the record is
  being written;
* a record is **deleted before** its entry is removed (``unindex.lua``);
* ``cycle_key`` writes the new key, then deletes the old one (and if the old one
  was revoked in between, empties the new one, so nothing is resurrected); key
  rotation copies to the new key, then stubs the old one only if no save changed
  it meanwhile.

What a single server does atomically and a Cluster cannot: the session limit
(``SESSIONS_MAX_PER_USER``) is counted before the sign-in writes, so
two sign-ins of one user within the same few milliseconds can both pass it; and
the sign-in sweep of a user's oldest entries is left to listings and
``clearsessions``.

``runner.py`` executes the steps, sync or async; nothing here does I/O.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from ..conf import conf
from ..exceptions import CorruptRecord
from . import keys
from .index_ops import IndexOps, owner_of
from .plans import (
    CyclePlan,
    CycleResult,
    RotatePlan,
    RotateResult,
    SaveOutcome,
    SaveResult,
    WritePlan,
)
from .record import (
    META_ORIGIN,
    META_PENDING,
    META_ROTATED,
    NO_DEADLINE_SCORE,
    PENDING_MARK,
    STUB_MARKER,
    decode_summary,
    encode_meta,
    encode_meta_pairs,
    is_stub,
    split_record,
)
from .scripts import (
    ClaimArgs,
    ConfirmArgs,
    CycleArgs,
    DeleteArgs,
    DiscardArgs,
    LoadArgs,
    NoArgs,
    Reply,
    RotateArgs,
    SaveArgs,
    SigninArgs,
    StubArgs,
    parse_reply,
)
from .steps import Commands, Script, Steps

#: How many of a user's oldest index entries a login checks for sessions that
#: ended by idleness. Bounds the work of one login whatever the index size.
INDEX_SWEEP_LIMIT = 32
#: A stored user id can change between our read and our write only if another
#: request logs in or out on the same key at that moment; one retry settles it.
USER_RETRIES = 3
#: How long a claimed index entry is protected from pruning while its record is
#: written (Cluster): far beyond one round trip, short enough that the entry of a
#: sign-in that crashed is pruned soon after.
PENDING_SECONDS = 60
#: While Redis is full, a warning at most this often (seconds), not one per read.
FULL_WARNING_INTERVAL = 60
_last_full_warning = -float(FULL_WARNING_INTERVAL)

logger = logging.getLogger("django_redis_sessions")


def _warn_full(server: str) -> None:
    """A load read a record while Redis was full: one warning per interval."""
    global _last_full_warning
    now = time.monotonic()
    if now - _last_full_warning >= FULL_WARNING_INTERVAL:
        _last_full_warning = now
        logger.warning(
            "Session store Redis at %s is full (maxmemory reached): sessions are "
            "still read and their expiry still slides, but last-seen times and "
            "request metadata are not updated, and writes fail until memory is "
            "freed. (Logged at most once every %d seconds.)",
            server,
            FULL_WARNING_INTERVAL,
        )


def index_score(deadline: int) -> int:
    """A session's score in its user's index (``index_score`` in ``prelude.lua``)."""
    return deadline if deadline > 0 else NO_DEADLINE_SCORE


def _save_outcome(reply: Reply) -> SaveOutcome:
    if reply.tag == "ended":
        return SaveOutcome(SaveResult.SAVED, tuple(d.decode() for d in reply.items))
    if reply.tag == "moved":
        return SaveOutcome(SaveResult.MOVED, stub=bytes(reply.items[0]))
    if reply.tag == "size":
        return SaveOutcome(SaveResult.TOO_LARGE, size=int(reply.items[0]))
    return SaveOutcome(reply.code)


class Operations(IndexOps):
    """Every storage operation for one deployment (a prefix; one server or a Cluster)."""

    # -- reads ---------------------------------------------------------------------

    def load(self, digest: str, absolute_age: int, meta: bytes = b"") -> Steps[bytes | None]:
        """The stored bytes, with the expiry slid and last-seen touched in the same
        round trip; ``None`` for no session. Raises
        :class:`~django_redis_sessions.exceptions.WrongTypeKey` for a key of another
        Redis type (the runner translates Redis's ``WRONGTYPE``)."""
        raw = yield Script(
            self.scripts.load, [self.session_key(digest)], LoadArgs(absolute_age, meta)
        )
        if type(raw) is list:
            # Redis is full: the record was read and its expiry slid, nothing written.
            _warn_full(self.server())
            return bytes(raw[0])
        return raw  # type: ignore[no-any-return]

    def exists(self, digest: str) -> Steps[bool]:
        (found,) = yield Commands([("EXISTS", self.session_key(digest))], "exists")
        return bool(found)

    # -- writes --------------------------------------------------------------------

    def _expecting_user(self, build: Any, expected: str, action: str) -> Steps[tuple[Reply, str]]:
        """Run ``build(expected)``'s script until it agrees on the stored user id
        (scripts refuse when the stored user differs from the one we expect)."""
        for _ in range(USER_RETRIES):
            reply = parse_reply((yield build(expected)))
            if reply.stored_user is None:
                return reply, expected
            expected = reply.stored_user
        raise self.conflict(action)

    def save(self, plan: WritePlan) -> Steps[SaveOutcome]:
        """Create, replace or merge a session, keeping its user's index exact."""
        if self.cluster:
            return (yield from self._cluster_save(plan))
        reply, _ = yield from self._expecting_user(
            # The plan as it is for the first attempt (no copy on the hot path).
            lambda expected: self._save_script(
                plan
                if expected == plan.expected_user_id
                else replace(plan, expected_user_id=expected)
            ),
            plan.expected_user_id,
            "save",
        )
        return _save_outcome(reply)

    def _save_script(self, plan: WritePlan, claimed: int = 0) -> Script:
        session = self.session_key(plan.digest)
        if self.cluster:
            # The indexes are other slots: the script touches the session only, and
            # the session limit is counted by _cluster_save, across slots.
            keys_ = [session, session, session, session]
            max_sessions = 0
        else:
            new_index = self.index_key(plan.user_id) if plan.user_id else session
            old_index = self.index_key(plan.expected_user_id) if plan.expected_user_id else session
            keys_ = [session, new_index, old_index, self.users_key]
            max_sessions = conf.SESSIONS_MAX_PER_USER or 0
        # Every argument as bytes: redis-py's pure-Python encoder costs about 0.3 us
        # an argument, and this is the script of every modifying request.
        args = SaveArgs(
            mode=plan.mode.encode(),
            created=b"%d" % plan.created,
            deadline=b"%d" % plan.deadline,
            idle=b"%d" % plan.idle,
            meta=plan.meta,
            user_id=plan.user_id.encode(),
            expected_user_id=plan.expected_user_id.encode(),
            member=plan.digest.encode(),
            data=plan.data,
            deleted=plan.deleted,
            key_prefix=self.key_prefix.encode(),
            sweep_limit=b"%d" % INDEX_SWEEP_LIMIT,
            absolute_age=b"%d" % (conf.SESSIONS_ABSOLUTE_AGE or 0),
            max_sessions=b"%d" % max_sessions,
            limit_action=b"r" if conf.SESSIONS_LIMIT_ACTION == "refuse" else b"e",
            max_size=b"%d" % (conf.SESSION_REDIS_MAX_SIZE or 0),
            claimed=b"%d" % claimed,
        )
        return Script(self.scripts.save, keys_, args)

    def delete(self, digest: str, expected_user_id: str) -> Steps[bool]:
        """Delete a session and its index entry (following a rotation stub)."""
        if self.cluster:
            return (yield from self._cluster_delete(digest, expected_user_id))
        reply, _ = yield from self._expecting_user(
            lambda expected: self._delete_script(digest, expected), expected_user_id, "delete"
        )
        return bool(reply.code)

    def _delete_script(self, digest: str, expected_user_id: str, stub_only: bool = False) -> Script:
        session = self.session_key(digest)
        if self.cluster:
            keys_ = [session, session, session]
        else:
            index = self.index_key(expected_user_id) if expected_user_id else session
            keys_ = [session, index, self.users_key]
        args = DeleteArgs(expected_user_id, digest, self.key_prefix, "1" if stub_only else "")
        return Script(self.scripts.delete, keys_, args)

    def cycle(self, plan: CyclePlan) -> Steps[int]:
        """``cycle_key``: move the session to a new key (a :class:`CycleResult`)."""
        if self.cluster:
            return (yield from self._cluster_cycle(plan))

        def script(expected: str) -> Script:
            old = self.session_key(plan.old_digest)
            new = self.session_key(plan.new_digest)
            old_index = self.index_key(expected) if expected else old
            new_index = self.index_key(plan.user_id) if plan.user_id else old
            args = CycleArgs(
                expected_user_id=expected,
                old_member=plan.old_digest,
                new_member=plan.new_digest,
                created=plan.created,
                deadline=plan.deadline,
                idle=plan.idle,
                meta=encode_meta(plan.user_id, plan.meta),
                user_id=plan.user_id,
                data=plan.data,
                old_in_store="1" if plan.old_in_store else "0",
                key_prefix=self.key_prefix,
                sweep_limit=INDEX_SWEEP_LIMIT,
                empty_meta=encode_meta("", plan.client_meta),
            )
            return Script(
                self.scripts.cycle, [old, new, old_index, new_index, self.users_key], args
            )

        reply, _ = yield from self._expecting_user(script, plan.expected_user_id, "cycle_key")
        return reply.code

    def rotate(self, plan: RotatePlan) -> Steps[tuple[int, bytes | None]]:
        """Move a session to a new key; ``(RotateResult, stub met or None)``."""
        if self.cluster:
            return (yield from self._cluster_rotate(plan))

        def script(expected: str) -> Script:
            old = self.session_key(plan.old_digest)
            index = self.index_key(expected) if expected else old
            args = RotateArgs(expected, plan.old_digest, plan.new_digest, plan.sealed)
            return Script(
                self.scripts.rotate, [old, self.session_key(plan.new_digest), index], args
            )

        reply, _ = yield from self._expecting_user(script, plan.expected_user_id, "rotate")
        if reply.tag == "moved":
            return RotateResult.GONE, bytes(reply.items[0])
        return reply.code, None

    def confirm_rotation(self, digest: str, old_digest: str, grace_ms: int) -> Steps[None]:
        """The new key of a rotation reached its browser: start the old key's grace.

        One script on one server (the stub and the mark together). On a Cluster the
        stub is in another slot: it is shortened first, so a failure before the mark
        is dropped leaves the mark, and the next request confirms again.
        """
        session, old = self.session_key(digest), self.session_key(old_digest)
        args = ConfirmArgs(digest, grace_ms)
        if self.cluster:
            yield Script(self.scripts.stub_grace, [old], args)
            yield Script(self.scripts.confirm, [session, session], args)
        else:
            yield Script(self.scripts.confirm, [session, old], args)

    def discard(self, digest: str, raw: bytes) -> Steps[None]:
        """Remove a record the engine could not decode, unless it changed since."""
        yield Script(self.scripts.discard, [self.session_key(digest)], DiscardArgs(raw))

    def remove_foreign(self, digest: str) -> Steps[None]:
        """Delete what sits at a session's key if it is not a string (not ours)."""
        yield Script(self.scripts.foreign, [self.session_key(digest)], NoArgs())

    # -- Redis Cluster: the same operations across hash slots ------------------------

    def _claim(self, user_id: str, digest: str, score: int) -> Script:
        args = ClaimArgs(digest, score, PENDING_SECONDS)
        return Script(self.scripts.claim, [self.index_key(user_id)], args)

    def _signin(self, user_id: str, score: int, signin: bool) -> Script:
        """List the user in the users index (after claiming the index entry, before
        the record names the user)."""
        args = SigninArgs(user_id, score, "1" if signin else "0")
        return Script(self.scripts.signin, [self.users_key], args)

    def _cluster_save(
        self, plan: WritePlan, limit: bool = True, signin: bool | None = True
    ) -> Steps[SaveOutcome]:
        """Save one session; claim its entry in a new user's index first.

        ``signin`` says whether joining a user is a sign-in (it moves the user up
        the users index), not one (the user is listed if missing), or ``None``: a
        copy of a session the user already has, with the same deadline (a
        rotation), so the users index already lists the user for long enough."""
        ended: tuple[str, ...] = ()
        joins = bool(plan.user_id) and plan.user_id != plan.expected_user_id
        if joins and limit and conf.SESSIONS_MAX_PER_USER:
            ended_or_refused = yield from self._cluster_limit(plan.user_id, plan.digest)
            if ended_or_refused is None:
                return SaveOutcome(SaveResult.LIMIT)
            ended = ended_or_refused
        claimed = 0
        if joins:
            # The script may only lower the deadline (the absolute age caps it), so
            # this score covers whatever it writes.
            claimed = index_score(plan.deadline)
            # Claim first, then list: a reader that sees the user's new score has
            # to see the pending claim too, and keeps the user (users_page).
            yield self._claim(plan.user_id, plan.digest, claimed)
            if signin is not None:
                yield self._signin(plan.user_id, claimed, signin=signin)
        expected = plan.expected_user_id
        for _ in range(2 * USER_RETRIES):
            reply = parse_reply(
                (yield self._save_script(replace(plan, expected_user_id=expected), claimed))
            )
            if reply.stored_user is not None:
                expected = reply.stored_user
                continue
            if reply.tag == "index":
                # The same user, a later deadline (set_expiry): raise the entry's
                # score before the record outlives it.
                claimed = int(reply.items[0])
                yield self._claim(plan.user_id, plan.digest, claimed)
                yield self._signin(plan.user_id, claimed, signin=False)
                continue
            break
        else:
            raise self.conflict("save")
        outcome = _save_outcome(reply)
        if outcome.result == SaveResult.ENDED:
            for user_id in {plan.user_id, expected} - {""}:
                yield self.unindex(user_id, [plan.digest])
            return SaveOutcome(SaveResult.SAVED, ended)
        if outcome.result == SaveResult.SAVED:
            if claimed:
                # The record names the user now: the entry needs no protection, and
                # the index holds exactly its sessions again.
                yield Commands(
                    [("ZREM", self.index_key(plan.user_id), PENDING_MARK + plan.digest)], "save"
                )
            if expected and expected != plan.user_id:
                left = yield self.unindex(expected, [plan.digest])
                yield self.forget_if_empty(expected, left)
        return replace(outcome, ended=ended)

    def _cluster_limit(self, user_id: str, digest: str) -> Steps[tuple[str, ...] | None]:
        """``SESSIONS_MAX_PER_USER`` before ``digest`` joins: the sessions
        ended to make room, or ``None`` to refuse."""
        records = yield from self.user_records(user_id)
        live = []
        for member, raw in records:
            if member == digest:
                continue
            try:
                summary = decode_summary(raw)
            except CorruptRecord:
                continue
            if summary.user_id == user_id:
                live.append((summary.created, summary.seen, member))
        maximum = int(conf.SESSIONS_MAX_PER_USER or 0)
        if len(live) < maximum:
            return ()
        if conf.SESSIONS_LIMIT_ACTION == "refuse":
            return None
        oldest = [member for _c, _s, member in sorted(live)[: len(live) - maximum + 1]]
        ended = yield from self.revoke(user_id, oldest)
        return tuple(ended)

    def _cluster_delete(self, digest: str, expected_user_id: str) -> Steps[bool]:
        """Delete a session, then its index entry (following a rotation stub)."""
        expected = expected_user_id
        for _ in range(USER_RETRIES):
            reply = parse_reply((yield self._delete_script(digest, expected)))
            if reply.stored_user is not None:
                expected = reply.stored_user
                continue
            if reply.tag == "moved":
                # Signing out on the old key of a rotated session ends the session
                # it moved to, then the stub.
                deleted = yield from self._cluster_delete(reply.items[0].decode(), expected)
                yield self._delete_script(digest, expected, stub_only=True)
                return deleted
            deleted = bool(reply.code)
            if expected:
                left = yield self.unindex(
                    expected, [digest] if deleted else [], [] if deleted else [digest]
                )
                yield self.forget_if_empty(expected, left)
            return deleted
        raise self.conflict("delete")

    def _cluster_cycle(self, plan: CyclePlan) -> Steps[int]:
        """``cycle_key``: write the new key, then delete the old one."""
        owner = plan.expected_user_id
        old_gone = False
        if plan.old_in_store:
            (raw,) = yield Commands([("GET", self.session_key(plan.old_digest))], "cycle_key")
            old_gone = raw is None
            if raw is not None:
                owner = owner_of(raw)
        if old_gone:
            write = self._empty_plan(plan, "c", expected_user_id="")
        else:
            write = WritePlan(
                plan.new_digest, "c", plan.created, plan.deadline, plan.idle, plan.user_id, "",
                plan.data, meta=encode_meta_pairs(plan.meta),
            )  # fmt: skip
        # cycle_key after login() moves the session to its user: a sign-in only
        # when the user changed (Django cycles on every login, even the same user's).
        outcome = yield from self._cluster_save(
            write, limit=False, signin=bool(plan.user_id) and plan.user_id != owner
        )
        if outcome.result == SaveResult.CONFLICT:
            return CycleResult.TAKEN
        if old_gone:
            return CycleResult.OLD_GONE
        if plan.old_in_store:
            deleted = yield from self._cluster_delete(plan.old_digest, owner)
            if not deleted:
                # Revoked between our read and now: its data and user must not live
                # on under the new key.
                empty = self._empty_plan(plan, "r", expected_user_id=plan.user_id)
                yield from self._cluster_save(empty, limit=False)
                return CycleResult.OLD_GONE
        return CycleResult.MOVED

    @staticmethod
    def _empty_plan(plan: CyclePlan, mode: str, expected_user_id: str) -> WritePlan:
        return WritePlan(
            plan.new_digest, mode, plan.created, plan.deadline, plan.idle, "", expected_user_id,
            b"", meta=encode_meta_pairs(plan.client_meta),
        )  # fmt: skip

    def _cluster_rotate(self, plan: RotatePlan) -> Steps[tuple[int, bytes | None]]:
        """Copy the session to its new key, then leave the stub at the old one."""
        for _ in range(USER_RETRIES):
            (raw,) = yield Commands([("GET", self.session_key(plan.old_digest))], "rotate")
            if raw is None:
                return RotateResult.GONE, None
            if is_stub(raw):
                return RotateResult.GONE, bytes(raw)
            try:
                summary, data = split_record(raw)
            except CorruptRecord:
                return RotateResult.CORRUPT, None
            meta = {k: v for k, v in summary.meta.items() if k != META_ROTATED}
            meta[META_ROTATED] = str(int(time.time()))
            meta.setdefault(META_ORIGIN, keys.fingerprint_of_digest(plan.old_digest))
            meta[META_PENDING] = plan.old_digest
            copy = WritePlan(
                plan.new_digest, "c", summary.created, summary.deadline, summary.idle,
                summary.user_id, "", data, meta=encode_meta_pairs(meta),
            )  # fmt: skip
            outcome = yield from self._cluster_save(copy, limit=False, signin=None)
            if outcome.result == SaveResult.CONFLICT:
                return RotateResult.TAKEN, None
            stub = STUB_MARKER + plan.new_digest.encode() + plan.sealed
            old_key = self.session_key(plan.old_digest)
            # The stub lives as long as the session until the new key is confirmed.
            stubbed = yield Script(self.scripts.stub, [old_key], StubArgs(raw, stub, 0))
            if stubbed:
                if summary.user_id:
                    yield self.unindex(summary.user_id, [plan.old_digest])
                return RotateResult.ROTATED, None
            # A save changed the session meanwhile: drop the copy and start over.
            yield from self._cluster_delete(plan.new_digest, summary.user_id)
        raise self.conflict("rotate")

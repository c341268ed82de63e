"""Redis Cluster: the same operations when a session and its user's index live
in different hash slots, usually on different nodes.

A session is one key, so loading and saving it stay one script call (one round
trip). What crosses slots is the per-user index (``<prefix>:u:<user id>``), which
a Lua script on one node cannot reach. Those operations run here as a short
sequence of single-slot steps, ordered so that a crash between two steps leaves
at worst a *stale* index entry (one whose session is gone; readers skip it and
pruning removes it), never a live session missing from its user's index:

* an entry is **claimed before** a record names its user (``claim.lua``), with a
  pending mark that stops a concurrent prune from dropping it while the record is
  being written;
* a record is **deleted before** its entry is removed (``unindex.lua``);
* ``cycle_key`` writes the new key, then deletes the old one (and if the old one
  was revoked in between, empties the new one, so nothing is resurrected); key
  rotation copies to the new key, then stubs the old one only if no save changed
  it meanwhile.

Each sequence is written once, as a generator of steps (a script call or a batch
of plain commands) that receives each step's reply; :class:`ClusterSessionStorage`
and :class:`AsyncClusterSessionStorage` only drive it, with a sync or an asyncio
client. The same goes for the index operations of ``index_store.py``.

What a single server does atomically and a Cluster cannot: the session limit
(``SESSION_REDIS_MAX_SESSIONS_PER_USER``) is counted before the sign-in writes, so
two sign-ins of one user within the same few milliseconds can both pass it; and
the sign-in sweep of a user's oldest entries is left to listings and
``clearsessions``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Generator, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from . import index_store, keys
from .conf import conf
from .index_store import (
    OVERVIEW_BATCH,
    AsyncIndexStorage,
    CleanupStats,
    IndexStorage,
    Overview,
    Progress,
    UserActivity,
    _IndexCalls,
    _members,
    newest_of,
    owner_of,
    shown_fingerprint,
)
from .record import (
    HEADER_LENGTH,
    META_ORIGIN,
    META_PENDING,
    NO_DEADLINE_SCORE,
    CorruptRecord,
    decode_summary,
    encode_meta_pairs,
    split_record,
)
from .record import META_ROTATED as _META_ROTATED
from .store import (
    _USER_RETRIES,
    CyclePlan,
    CycleResult,
    LuaScript,
    RotatePlan,
    RotateResult,
    SaveOutcome,
    SaveResult,
    WritePlan,
    _Call,
    _load_script,
    _save_outcome,
    _user_mismatch,
)

_T = TypeVar("_T")

SAVE = _load_script("save", cluster=True)
DELETE = _load_script("delete", cluster=True)
REVOKE = _load_script("revoke", cluster=True)
CLAIM = _load_script("claim", cluster=True)
UNINDEX = _load_script("unindex", cluster=True)
STUB = _load_script("stub", cluster=True)
STUB_GRACE = _load_script("stub_grace", cluster=True)
CONFIRM = _load_script("confirm", cluster=True)

#: How long a claimed index entry is protected from pruning while its record is
#: written: far beyond one round trip, short enough that the entry of a sign-in
#: that crashed is pruned soon after.
PENDING_SECONDS = 60
#: The prefix of pending marks in an index (``claim.lua``); never a digest (hex).
PENDING_MARK = "p:"
#: How many passes a user's revocation makes at most while key changes are in
#: flight, and how long it waits between passes that found only pending marks
#: (a claim is followed by its record within one round trip; a mark left by a
#: crashed sign-in stays PENDING_SECONDS, and its entry holds no session).
REVOKE_PASSES = 8
REVOKE_PAUSE = 0.02


@dataclass(frozen=True, slots=True)
class Script:
    """A step: one script call, on keys of one hash slot."""

    script: LuaScript
    keys: list[str]
    args: list[Any]


@dataclass(frozen=True, slots=True)
class Commands:
    """A step: plain commands, pipelined (redis-py groups them by node); replies in order."""

    commands: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Pause:
    """A step: wait this long (seconds) before the next step, talking to nobody."""

    seconds: float


Step = Script | Commands | Pause
Steps = Generator[Step, Any, _T]


def _may_belong_to(raw: bytes, user_id: str) -> bool:
    """Whether a record names ``user_id``; an unreadable one is kept, for the
    listing to report and skip (as on one server)."""
    try:
        return decode_summary(raw).user_id == user_id
    except CorruptRecord:
        return True


def _shown_as(digest: str, raw: bytes, fingerprints: Collection[str]) -> bool:
    """Whether a session is shown under one of ``fingerprints`` (as ``revoke_user.lua``)."""
    return (
        keys.fingerprint_of_digest(digest) in fingerprints
        or shown_fingerprint(digest, raw) in fingerprints
    )


def index_score(deadline: int) -> int:
    """A session's score in its user's index (``index_score`` in ``prelude.lua``)."""
    return deadline if deadline > 0 else NO_DEADLINE_SCORE


class _ClusterSteps(_IndexCalls):
    """The multi-step operations, as generators of :data:`Step` (no I/O here)."""

    def save_call(self, plan: WritePlan, claimed: int = 0) -> _Call:
        keys_, args = super().save_call(plan)
        args[13] = 0  # the session limit is counted by save_steps, across slots
        args.append(claimed)  # ARGV[17]
        return [keys_[0]] * 3, args

    def confirm_calls(
        self, digest: str, old_digest: str, grace_ms: int
    ) -> list[tuple[LuaScript, list[str], list[Any]]]:
        # The stub first, in its own slot: a failure before the mark is dropped
        # leaves the mark, and the next request confirms again.
        session, old = self.session_key(digest), self.session_key(old_digest)
        return [
            (STUB_GRACE, [old], [digest, grace_ms]),
            (CONFIRM, [session, session], [digest, grace_ms]),
        ]

    def delete_call(self, digest: str, expected_user_id: str, stub_only: bool = False) -> _Call:
        session = self.session_key(digest)
        args = [expected_user_id, digest, keys.session_key_prefix(self.prefix)]
        return [session, session], [*args, "1" if stub_only else ""]

    def _claim(self, user_id: str, digest: str, score: int) -> Script:
        return Script(CLAIM, [self.index_key(user_id)], [digest, score, PENDING_SECONDS])

    def _unindex(self, user_id: str, ended: Sequence[str], unseen: Sequence[str] = ()) -> Script:
        return Script(UNINDEX, [self.index_key(user_id)], [len(ended), *ended, *unseen])

    def save_steps(self, plan: WritePlan, limit: bool = True) -> Steps[SaveOutcome]:
        """Save one session; claim its entry in a new user's index first."""
        ended: tuple[str, ...] = ()
        joins = bool(plan.user_id) and plan.user_id != plan.expected_user_id
        if joins and limit and conf.SESSION_REDIS_MAX_SESSIONS_PER_USER:
            ended_or_refused = yield from self._limit_steps(plan.user_id, plan.digest)
            if ended_or_refused is None:
                return SaveOutcome(SaveResult.LIMIT)
            ended = ended_or_refused
        claimed = 0
        if joins:
            # The script may only lower the deadline (the absolute age caps it), so
            # this score covers whatever it writes.
            claimed = index_score(plan.deadline)
            yield self._claim(plan.user_id, plan.digest, claimed)
        expected = plan.expected_user_id
        for _ in range(2 * _USER_RETRIES):
            reply = yield Script(
                SAVE, *self.save_call(replace(plan, expected_user_id=expected), claimed)
            )
            stored_user = _user_mismatch(reply)
            if stored_user is not None:
                expected = stored_user
                continue
            if isinstance(reply, list) and reply and reply[0] == b"index":
                # The same user, a later deadline (set_expiry): raise the entry's
                # score before the record outlives it.
                claimed = int(reply[1])
                yield self._claim(plan.user_id, plan.digest, claimed)
                continue
            break
        else:
            raise self._conflict("save")
        outcome = _save_outcome(reply)
        if outcome.result == SaveResult.ENDED:
            for user_id in {plan.user_id, expected} - {""}:
                yield self._unindex(user_id, [plan.digest])
            return SaveOutcome(SaveResult.SAVED, ended)
        if outcome.result == SaveResult.SAVED:
            if claimed:
                # The record names the user now: the entry needs no protection, and
                # the index holds exactly its sessions again.
                yield Commands([("ZREM", self.index_key(plan.user_id), PENDING_MARK + plan.digest)])
            if expected and expected != plan.user_id:
                yield self._unindex(expected, [plan.digest])
        return replace(outcome, ended=ended)

    def _limit_steps(self, user_id: str, digest: str) -> Steps[tuple[str, ...] | None]:
        """``SESSION_REDIS_MAX_SESSIONS_PER_USER`` before ``digest`` joins: the sessions
        ended to make room, or ``None`` to refuse."""
        records = yield from self.user_records_steps(user_id)
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
        maximum = int(conf.SESSION_REDIS_MAX_SESSIONS_PER_USER or 0)
        if len(live) < maximum:
            return ()
        if conf.SESSION_REDIS_SESSION_LIMIT_ACTION == "refuse":
            return None
        oldest = [member for _c, _s, member in sorted(live)[: len(live) - maximum + 1]]
        ended = yield from self.revoke_steps(user_id, oldest)
        return tuple(ended)

    def delete_steps(self, digest: str, expected_user_id: str) -> Steps[bool]:
        """Delete a session, then its index entry (following a rotation stub)."""
        expected = expected_user_id
        for _ in range(_USER_RETRIES):
            reply = yield Script(DELETE, *self.delete_call(digest, expected))
            stored_user = _user_mismatch(reply)
            if stored_user is not None:
                expected = stored_user
                continue
            if isinstance(reply, list) and reply and reply[0] == b"moved":
                # Signing out on the old key of a rotated session ends the session
                # it moved to, then the stub.
                deleted = yield from self.delete_steps(reply[1].decode(), expected)
                yield Script(DELETE, *self.delete_call(digest, expected, stub_only=True))
                return deleted
            deleted = bool(reply)
            if expected:
                yield self._unindex(
                    expected, [digest] if deleted else [], [] if deleted else [digest]
                )
            return deleted
        raise self._conflict("delete")

    def cycle_steps(self, plan: CyclePlan) -> Steps[int]:
        """``cycle_key``: write the new key, then delete the old one."""
        owner = plan.expected_user_id
        old_gone = False
        if plan.old_in_store:
            (raw,) = yield Commands([("GET", self.session_key(plan.old_digest))])
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
        outcome = yield from self.save_steps(write, limit=False)
        if outcome.result == SaveResult.CONFLICT:
            return CycleResult.TAKEN
        if old_gone:
            return CycleResult.OLD_GONE
        if plan.old_in_store:
            deleted = yield from self.delete_steps(plan.old_digest, owner)
            if not deleted:
                # Revoked between our read and now: its data and user must not live
                # on under the new key.
                empty = self._empty_plan(plan, "r", expected_user_id=plan.user_id)
                yield from self.save_steps(empty, limit=False)
                return CycleResult.OLD_GONE
        return CycleResult.MOVED

    @staticmethod
    def _empty_plan(plan: CyclePlan, mode: str, expected_user_id: str) -> WritePlan:
        return WritePlan(
            plan.new_digest, mode, plan.created, plan.deadline, plan.idle, "", expected_user_id,
            b"", meta=encode_meta_pairs(plan.client_meta),
        )  # fmt: skip

    def rotate_steps(self, plan: RotatePlan) -> Steps[tuple[int, bytes | None]]:
        """Copy the session to its new key, then leave the stub at the old one."""
        for _ in range(_USER_RETRIES):
            (raw,) = yield Commands([("GET", self.session_key(plan.old_digest))])
            if raw is None:
                return RotateResult.GONE, None
            if raw[:1] == b">":
                return RotateResult.GONE, bytes(raw)
            try:
                summary, data = split_record(raw)
            except CorruptRecord:
                return RotateResult.CORRUPT, None
            meta = {k: v for k, v in summary.meta.items() if k != _META_ROTATED}
            meta[_META_ROTATED] = str(int(time.time()))
            meta.setdefault(META_ORIGIN, keys.fingerprint_of_digest(plan.old_digest))
            meta[META_PENDING] = plan.old_digest
            copy = WritePlan(
                plan.new_digest, "c", summary.created, summary.deadline, summary.idle,
                summary.user_id, "", data, meta=encode_meta_pairs(meta),
            )  # fmt: skip
            outcome = yield from self.save_steps(copy, limit=False)
            if outcome.result == SaveResult.CONFLICT:
                return RotateResult.TAKEN, None
            stub = b">" + plan.new_digest.encode() + plan.sealed
            old_key = self.session_key(plan.old_digest)
            # The stub lives as long as the session until the new key is confirmed.
            stubbed = yield Script(STUB, [old_key], [raw, stub, 0])
            if stubbed:
                if summary.user_id:
                    yield self._unindex(summary.user_id, [plan.old_digest])
                return RotateResult.ROTATED, None
            # A save changed the session meanwhile: drop the copy and start over.
            yield from self.delete_steps(plan.new_digest, summary.user_id)
        raise self._conflict("rotate")

    # Operations over a user's index (index_store.py's, for a Cluster).

    def user_records_steps(
        self, user_id: str, index_reply: list[bytes] | None = None
    ) -> Steps[list[tuple[str, bytes]]]:
        """The user's sessions as ``(digest, record)``; ``index_reply`` is a ZRANGE
        of the index the caller already made."""
        index = self.index_key(user_id)
        if index_reply is None:
            (index_reply,) = yield Commands([("ZRANGE", index, 0, -1)])
        members = _members(index_reply)
        if not members:
            return []
        raws = yield Commands([("GET", self.session_key(m)) for m in members])
        # A record that names someone else is no session of this user's (yet: a
        # sign-in may be claiming it, which the pending mark protects).
        records = [
            (m, raw)
            for m, raw in zip(members, raws, strict=True)
            if raw is not None and _may_belong_to(raw, user_id)
        ]
        if len(records) < len(members):
            kept = {m for m, _raw in records}
            yield self._unindex(user_id, [], [m for m in members if m not in kept])
        return records

    def revoke_steps(self, user_id: str, digests: Sequence[str]) -> Steps[list[str]]:
        """End each session (one call per session: they are in different slots),
        then remove the entries."""
        ended: list[str] = []
        for digest in digests:
            session = self.session_key(digest)
            reply = yield Script(REVOKE, [session, session], [user_id, digest])
            ended += _members(reply)
        if user_id and digests:
            yield self._unindex(user_id, ended, [d for d in digests if d not in ended])
        return ended

    def revoke_user_steps(
        self, user_id: str, keep: Collection[str], keep_newest: bool, only: Collection[str]
    ) -> Steps[list[str]]:
        """End every session of the user but ``keep``, until none is left.

        The index and the sessions live in different slots, so no single step
        sees them together. A sign-in or ``cycle_key`` claims its index entry
        (with a pending mark) before it writes the record, and deletes the old
        record after: passes repeat while they end something or while a pending
        mark shows a key change in flight, so a session moving at that moment is
        ended on a later pass (or, when its old record was ended first, its move
        finds it gone and starts empty).
        """
        index = self.index_key(user_id)
        kept = set(keep)
        ended: list[str] = []
        for attempt in range(REVOKE_PASSES):
            (reply,) = yield Commands([("ZRANGE", index, 0, -1)])
            pending = any(bytes(m).startswith(PENDING_MARK.encode()) for m in reply)
            records = yield from self.user_records_steps(user_id, reply)
            if keep_newest and attempt == 0:
                kept |= newest_of(records)
            if only:
                records = [(d, raw) for d, raw in records if _shown_as(d, raw, only)]
            targets = [digest for digest, _raw in records if digest not in kept]
            if targets:
                ended += yield from self.revoke_steps(user_id, targets)
            elif not pending:
                return ended
            else:
                yield Pause(REVOKE_PAUSE)
        return ended

    def prune_steps(self, batch: Sequence[bytes], now: int, stats: CleanupStats) -> Steps[None]:
        """``clearsessions`` for a batch of indexes (``IndexStorage._prune_batch``)."""
        ranges = yield Commands(
            [
                command
                for index in batch
                for command in (
                    ("ZREMRANGEBYSCORE", index, "-inf", f"({now}"),
                    ("ZRANGE", index, 0, -1),
                )
            ]
        )
        entries = [
            (self.index_user(index), member)
            for index, reply in zip(batch, ranges[1::2], strict=True)
            for member in _members(reply)
        ]
        # The whole record, not EXISTS: an entry whose record names another user
        # (a sign-in that crashed after its claim) is stale too.
        raws = (
            (yield Commands([("GET", self.session_key(member)) for _user, member in entries]))
            if entries
            else []
        )
        alive = [
            raw is not None and owner_of(raw) == user
            for raw, (user, _member) in zip(raws, entries, strict=True)
        ]
        for index, gone in IndexStorage.tally(batch, ranges, alive, stats):
            yield Script(UNINDEX, [index.decode()], [0, *gone])

    def activity_steps(
        self, indexes: Sequence[bytes], absolute_age: int
    ) -> Steps[list[UserActivity]]:
        """``activity.lua`` across slots: each session's header, folded here."""
        ranges = yield Commands([("ZRANGE", index, 0, -1) for index in indexes])
        members = [_members(reply) for reply in ranges]
        wanted = [self.session_key(m) for index_members in members for m in index_members]
        heads: list[Any] = []
        if wanted:
            heads = yield Commands([("GETRANGE", key, 0, HEADER_LENGTH - 1) for key in wanted])
        now = int(time.time())
        rows: list[UserActivity] = []
        found = iter(heads)
        for index, index_members in zip(indexes, members, strict=True):
            live = last = 0
            for head in (next(found) for _ in index_members):
                if not head:
                    continue
                try:
                    summary = decode_summary(bytes(head) + b"0:")
                except CorruptRecord:
                    live += 1
                    continue
                deadline = summary.deadline
                if absolute_age > 0 and (
                    deadline == 0 or summary.created + absolute_age < deadline
                ):
                    deadline = summary.created + absolute_age
                if deadline == 0 or deadline > now:
                    live += 1
                    last = max(last, summary.seen)
            if live:
                rows.append(UserActivity(self.index_user(index), live, last))
        return rows


def _run_sync(storage: Any, steps: Steps[_T], action: str) -> _T:
    with storage.errors(action):
        reply: Any = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration as done:
                return cast("_T", done.value)
            reply = storage.perform(step)


async def _run_async(storage: Any, steps: Steps[_T], action: str) -> _T:
    with storage.errors(action):
        reply: Any = None
        while True:
            try:
                step = steps.send(reply)
            except StopIteration as done:
                return cast("_T", done.value)
            reply = await storage.perform(step)


def _batches(found: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for key in found:
        batch.append(key)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def _abatches(found: AsyncIterator[bytes], size: int) -> AsyncIterator[list[bytes]]:
    batch: list[bytes] = []
    async for key in found:
        batch.append(key)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class ClusterIndexStorage(_ClusterSteps, IndexStorage):
    """Every operation (one session's and many sessions') on a sync ``RedisCluster``."""

    def perform(self, step: Step) -> Any:
        if isinstance(step, Pause):
            time.sleep(step.seconds)
            return None
        if isinstance(step, Script):
            return self._run(step.script, step.keys, step.args)
        if len(step.commands) == 1:
            return [self.client.execute_command(*step.commands[0])]  # type: ignore[no-untyped-call]
        pipe = self.client.pipeline(transaction=False)
        for command in step.commands:
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]
        return pipe.execute()

    def save(self, plan: WritePlan) -> SaveOutcome:
        return _run_sync(self, self.save_steps(plan), "save")

    def delete(self, digest: str, expected_user_id: str) -> bool:
        return _run_sync(self, self.delete_steps(digest, expected_user_id), "delete")

    def cycle(self, plan: CyclePlan) -> int:
        return _run_sync(self, self.cycle_steps(plan), "cycle_key")

    def rotate(self, plan: RotatePlan) -> tuple[int, bytes | None]:
        return _run_sync(self, self.rotate_steps(plan), "rotate")

    def user_records(self, user_id: str) -> list[tuple[str, bytes]]:
        return _run_sync(self, self.user_records_steps(user_id), "read user index")

    def revoke(self, user_id: str, digests: Sequence[str]) -> list[str]:
        return _run_sync(self, self.revoke_steps(user_id, digests), "revoke")

    def revoke_user(
        self,
        user_id: str,
        keep: Collection[str] = (),
        keep_newest: bool = False,
        only: Collection[str] = (),
    ) -> list[str]:
        steps = self.revoke_user_steps(user_id, keep, keep_newest, only)
        return _run_sync(self, steps, "revoke")

    def clear_expired(self, progress: Progress | None = None) -> CleanupStats:
        stats = CleanupStats()
        with self.errors("clear_expired"):
            now = int(self.client.time()[0])
            found = self.client.scan_iter(
                match=self.index_pattern(), count=index_store.CLEANUP_BATCH, _type="zset"
            )
            for batch in _batches(found, index_store.CLEANUP_BATCH):
                stats.scan_calls += 1
                _run_sync(self, self.prune_steps(batch, now, stats), "clear_expired")
                if progress is not None:
                    progress(stats)
        stats.log()
        return stats

    def users_activity(self, indexes: Sequence[bytes], absolute_age: int) -> list[UserActivity]:
        return _run_sync(self, self.activity_steps(indexes, absolute_age), "read user indexes")

    def overview(self, absolute_age: int) -> Overview:
        sessions = 0
        users: list[UserActivity] = []
        with self.errors("scan the store"):
            found = self.client.scan_iter(match=self.overview_pattern(), count=OVERVIEW_BATCH)
            for batch in _batches(found, OVERVIEW_BATCH):
                counted, indexes = self.classify(batch)
                sessions += counted
                if indexes:
                    users.extend(self.users_activity(indexes, absolute_age))
        return Overview(sessions, sum(user.sessions for user in users), users)


class AsyncClusterIndexStorage(_ClusterSteps, AsyncIndexStorage):
    """The same on an asyncio ``RedisCluster``."""

    async def perform(self, step: Step) -> Any:
        if isinstance(step, Pause):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, Script):
            return await self._run(step.script, step.keys, step.args)
        if len(step.commands) == 1:
            return [await self.client.execute_command(*step.commands[0])]  # type: ignore[no-untyped-call]
        pipe = self.client.pipeline(transaction=False)
        for command in step.commands:
            pipe.execute_command(*command)
        return await pipe.execute()

    async def save(self, plan: WritePlan) -> SaveOutcome:
        return await _run_async(self, self.save_steps(plan), "save")

    async def delete(self, digest: str, expected_user_id: str) -> bool:
        return await _run_async(self, self.delete_steps(digest, expected_user_id), "delete")

    async def cycle(self, plan: CyclePlan) -> int:
        return await _run_async(self, self.cycle_steps(plan), "cycle_key")

    async def rotate(self, plan: RotatePlan) -> tuple[int, bytes | None]:
        return await _run_async(self, self.rotate_steps(plan), "rotate")

    async def user_records(self, user_id: str) -> list[tuple[str, bytes]]:
        return await _run_async(self, self.user_records_steps(user_id), "read user index")

    async def revoke(self, user_id: str, digests: Sequence[str]) -> list[str]:
        return await _run_async(self, self.revoke_steps(user_id, digests), "revoke")

    async def revoke_user(
        self,
        user_id: str,
        keep: Collection[str] = (),
        keep_newest: bool = False,
        only: Collection[str] = (),
    ) -> list[str]:
        steps = self.revoke_user_steps(user_id, keep, keep_newest, only)
        return await _run_async(self, steps, "revoke")

    async def clear_expired(self, progress: Progress | None = None) -> CleanupStats:
        stats = CleanupStats()
        with self.errors("clear_expired"):
            now = int((await self.client.time())[0])
            found = self.client.scan_iter(
                match=self.index_pattern(), count=index_store.CLEANUP_BATCH, _type="zset"
            )
            async for batch in _abatches(found, index_store.CLEANUP_BATCH):
                stats.scan_calls += 1
                await _run_async(self, self.prune_steps(batch, now, stats), "clear_expired")
                if progress is not None:
                    progress(stats)
        stats.log()
        return stats

    async def users_activity(
        self, indexes: Sequence[bytes], absolute_age: int
    ) -> list[UserActivity]:
        return await _run_async(
            self, self.activity_steps(indexes, absolute_age), "read user indexes"
        )

    async def overview(self, absolute_age: int) -> Overview:
        sessions = 0
        users: list[UserActivity] = []
        with self.errors("scan the store"):
            found = self.client.scan_iter(match=self.overview_pattern(), count=OVERVIEW_BATCH)
            async for batch in _abatches(found, OVERVIEW_BATCH):
                counted, indexes = self.classify(batch)
                sessions += counted
                if indexes:
                    users.extend(await self.users_activity(indexes, absolute_age))
        return Overview(sessions, sum(user.sessions for user in users), users)

"""Operations over many sessions: a user's index, fingerprints, the whole store.

``store.py`` holds the operations on one session. This module holds the ones an
operator or the revocation API runs:

* listing and revoking a user's sessions, at a cost proportional to that user's
  sessions and never to the store (one ``ZRANGE``, one pipelined read, one
  script call per 500 sessions);
* finding a session by its fingerprint;
* the admin's overview: totals and each signed-in user's session count and last
  activity, from one ``SCAN`` walk plus a script per batch of indexes that reads
  each session's header on the server (``activity.lua``), never ``KEYS`` and
  never a whole record;
* ending every session under the prefix (``revoke_sessions --all``);
* the index cleanup behind ``clearsessions``: ``SCAN`` in bounded batches, never
  ``KEYS``, three pipelined round trips per batch whatever the batch holds.

Revoking goes through ``scripts/revoke.lua``, which re-reads each record's user
before deleting it, so a stale index entry can never end another user's session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from . import keys, rotation
from .record import (
    CREATED_OFFSET,
    META_ORIGIN,
    SEEN_OFFSET,
    CorruptRecord,
    decode_summary,
    encode_keys,
    read_field,
)
from .store import (
    ACTIVITY,
    REVOKE,
    REVOKE_USER,
    AsyncSessionStorage,
    SessionStorage,
    _Call,
    _StorageBase,
)

logger = logging.getLogger("django_redis_sessions")

_T = TypeVar("_T")

#: Sessions ended per script call: bounds how long one call holds the server.
REVOKE_BATCH = 500
#: Index keys asked for per ``SCAN`` call by ``clear_expired`` (memory stays bounded).
CLEANUP_BATCH = 500
#: Keys deleted per ``UNLINK`` when every session is ended.
PURGE_BATCH = 1000
#: A session's owner can change between our read and the revoke script only if it
#: logs in or out at that very moment; one more try settles it.
_OWNER_RETRIES = 3


@dataclass(slots=True)
class CleanupStats:
    """What one ``clear_expired`` pass did (for its log line and ``clearsessions``)."""

    indexes: int = 0
    entries_examined: int = 0
    entries_pruned: int = 0
    indexes_removed: int = 0
    #: ``SCAN`` calls made so far; with ``DBSIZE`` it estimates progress.
    scan_calls: int = 0

    def log(self) -> None:
        logger.info(
            "clear_expired: %d user indexes checked, %d entries examined, %d stale entries "
            "pruned, %d indexes removed",
            self.indexes,
            self.entries_examined,
            self.entries_pruned,
            self.indexes_removed,
        )


Progress = Callable[[CleanupStats], None]

#: Keys asked for per ``SCAN`` call by the overview.
OVERVIEW_BATCH = 1000


@dataclass(frozen=True, slots=True)
class UserActivity:
    """One signed-in user's live sessions, as the admin overview lists them."""

    user_id: str
    sessions: int
    #: Unix seconds of the most recent request of any of those sessions.
    last_seen: int


@dataclass(frozen=True, slots=True)
class Overview:
    sessions: int
    signed_in: int
    users: list[UserActivity]

    @property
    def anonymous(self) -> int:
        # The two counts come from two passes; a login between them must not
        # show a negative number.
        return max(0, self.sessions - self.signed_in)


def _members(reply: Any) -> list[str]:
    """Index members (digests) from a ZRANGE reply.

    On a Redis Cluster an index also holds short-lived pending marks (``p:`` and a
    digest, see ``cluster.py``); they are never sessions, so they are left out.
    """
    return [member.decode() for member in reply if not member.startswith(b"p:")]


def _chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def newest_of(records: Sequence[tuple[str, bytes]]) -> set[str]:
    """The digest of the most recently active session among ``records`` (as a set)."""

    def activity(item: tuple[str, bytes]) -> tuple[int, int]:
        try:
            return read_field(item[1], SEEN_OFFSET), read_field(item[1], CREATED_OFFSET)
        except CorruptRecord:
            return -1, -1

    return {max(records, key=activity)[0]} if records else set()


def shown_fingerprint(digest: str, raw: bytes) -> str:
    """The fingerprint a session is shown under: the one it had before its key
    rotated (``META_ORIGIN``), else its digest's."""
    try:
        origin = decode_summary(raw).meta.get(META_ORIGIN)
    except CorruptRecord:
        origin = None
    return origin or keys.fingerprint_of_digest(digest)


def owner_of(raw: bytes) -> str:
    """The user id a record names ('' for anonymous or unreadable records)."""
    try:
        return decode_summary(raw).user_id
    except CorruptRecord:
        return ""


class _IndexCalls(_StorageBase):
    """Patterns and script arguments shared by the sync and async classes."""

    def index_pattern(self) -> str:
        return keys.escape_glob(keys.user_index_prefix(self.prefix)) + "*"

    def session_pattern(self, fingerprint: str = "") -> str:
        # Exactly a digest after the prefix, so a longer prefix that happens to
        # start with ours ("session:s") is never matched.
        hex_digit = "[0-9a-f]"
        rest = hex_digit * (2 * keys.DIGEST_SIZE - len(fingerprint))
        return keys.escape_glob(keys.session_key_prefix(self.prefix)) + fingerprint + rest

    def revoke_call(self, user_id: str, digests: Sequence[str]) -> tuple[list[str], list[str]]:
        sessions = [self.session_key(d) for d in digests]
        index = self.index_key(user_id) if user_id else sessions[0]
        return [index, *sessions], [user_id, *digests]

    def revoke_user_call(
        self, user_id: str, keep: Collection[str], keep_newest: bool, only: Collection[str]
    ) -> _Call:
        return [self.index_key(user_id)], [
            user_id,
            keys.session_key_prefix(self.prefix),
            encode_keys(sorted(keep)),
            "1" if keep_newest else "0",
            encode_keys(sorted(only)),
        ]

    def digest_of(self, redis_key: bytes) -> str:
        return redis_key.decode()[len(keys.session_key_prefix(self.prefix)) :]

    def index_user(self, redis_key: bytes) -> str:
        return redis_key.decode()[len(keys.user_index_prefix(self.prefix)) :]

    def activity_call(self, indexes: Sequence[bytes], absolute_age: int) -> _Call:
        return [index.decode() for index in indexes], [
            keys.session_key_prefix(self.prefix),
            absolute_age,
        ]

    def activity_rows(self, indexes: Sequence[bytes], reply: Sequence[Any]) -> list[UserActivity]:
        """Rows from ``activity.lua``'s flat reply; users without live sessions are left out."""
        return [
            UserActivity(self.index_user(index), int(reply[2 * i]), int(reply[2 * i + 1]))
            for i, index in enumerate(indexes)
            if int(reply[2 * i])
        ]

    def classify(self, found: Sequence[bytes]) -> tuple[int, list[bytes]]:
        """Sessions counted and user indexes found in one overview ``SCAN`` batch."""
        session_prefix = keys.session_key_prefix(self.prefix).encode()
        digest_length = len(session_prefix) + 2 * keys.DIGEST_SIZE
        sessions = 0
        indexes: list[bytes] = []
        for key in found:
            if key.startswith(session_prefix):
                sessions += len(key) == digest_length
            else:
                indexes.append(key)
        return sessions, indexes

    def overview_pattern(self) -> str:
        # Sessions and user indexes in one walk: SCAN visits the whole database
        # whatever the pattern, so two patterns would mean two walks.
        return keys.escape_glob(self.prefix) + ":[su]:*"

    @staticmethod
    def tally(
        batch: Sequence[bytes],
        ranges: list[Any],
        alive_flags: list[Any],
        stats: CleanupStats,
    ) -> list[tuple[bytes, list[str]]]:
        """Update ``stats`` for one cleanup batch; return ``(index, dead members)``."""
        dead: list[tuple[bytes, list[str]]] = []
        flags = iter(alive_flags)
        for position, index in enumerate(batch):
            pruned_by_score = int(ranges[2 * position])
            members = _members(ranges[2 * position + 1])
            gone = [m for m in members if not next(flags)]
            stats.indexes += 1
            stats.entries_examined += pruned_by_score + len(members)
            stats.entries_pruned += pruned_by_score + len(gone)
            stats.indexes_removed += len(gone) == len(members)
            if gone:
                dead.append((index, gone))
        return dead


class IndexStorage(_IndexCalls, SessionStorage):
    """Many-session operations on a sync ``redis.Redis`` client."""

    def user_records(self, user_id: str) -> list[tuple[str, bytes]]:
        """``(digest, stored bytes)`` of the user's live sessions; prunes dead entries.

        A plain ``GET`` per session, pipelined: reading a listing does not slide
        anybody's expiry.
        """
        index = self.index_key(user_id)
        with self.errors("read user index"):
            members = _members(self.client.zrange(index, 0, -1))
            if not members:
                return []
            pipe = self.client.pipeline(transaction=False)
            for member in members:
                pipe.get(self.session_key(member))
            raws = pipe.execute()
            dead = [m for m, raw in zip(members, raws, strict=True) if raw is None]
            if dead:
                self.client.zrem(index, *dead)
        return [(m, raw) for m, raw in zip(members, raws, strict=True) if raw is not None]

    def revoke(self, user_id: str, digests: Sequence[str]) -> list[str]:
        """End these sessions of the user; return the digests actually ended."""
        ended: list[str] = []
        with self.errors("revoke"):
            for chunk in _chunks(digests, REVOKE_BATCH):
                ended += _members(self._run(REVOKE, *self.revoke_call(user_id, chunk)))
        return ended

    def revoke_user(
        self,
        user_id: str,
        keep: Collection[str] = (),
        keep_newest: bool = False,
        only: Collection[str] = (),
    ) -> list[str]:
        """End every session of the user but those in ``keep`` (digests).

        With ``keep_newest``, the most recently active session is kept too; with
        ``only`` (fingerprints), only the sessions shown under them end. One script
        reads the index and ends the sessions (``revoke_user.lua``), so a key
        changing at that moment cannot slip past it.
        """
        call = self.revoke_user_call(user_id, keep, keep_newest, only)
        with self.errors("revoke"):
            reply = self._run(REVOKE_USER, *call)
        return _members(reply)

    def find(self, fingerprint: str) -> list[str]:
        """Digests starting with ``fingerprint``, store-wide (``SCAN``). A user's own
        sessions are matched inside ``revoke_user.lua`` instead."""
        with self.errors("find session"):
            return [
                self.digest_of(key)
                for key in self.client.scan_iter(
                    match=self.session_pattern(fingerprint), count=PURGE_BATCH
                )
            ]

    def revoke_digest(self, digest: str) -> str | None:
        """End one session whatever its user; return that user id, None if missing."""
        for _ in range(_OWNER_RETRIES):
            with self.errors("revoke"):
                raw = cast("bytes | None", self.client.get(self.session_key(digest)))
                if raw is not None and rotation.is_stub(raw):
                    # Rotated: the owner is the one of the session it moved to.
                    target = rotation.stub_target(raw)
                    raw = cast("bytes | None", self.client.get(self.session_key(target)))
            if raw is None:
                return None
            user_id = owner_of(raw)
            if self.revoke(user_id, [digest]):
                return user_id
        raise self._conflict("revoke")

    def purge(self, dry_run: bool = False) -> int:
        """End every session under the prefix (and drop every index); return how many."""
        sessions = 0
        with self.errors("revoke all"):
            for pattern, counted in ((self.session_pattern(), True), (self.index_pattern(), False)):
                batch: list[bytes] = []
                for key in self.client.scan_iter(match=pattern, count=PURGE_BATCH):
                    batch.append(key)
                    if len(batch) >= PURGE_BATCH:
                        removed = self._unlink(batch, dry_run)
                        sessions += removed if counted else 0
                        batch = []
                if batch:
                    removed = self._unlink(batch, dry_run)
                    sessions += removed if counted else 0
        return sessions

    def _unlink(self, batch: list[bytes], dry_run: bool) -> int:
        if dry_run:
            return len(batch)
        return int(self.client.unlink(*batch))

    def clear_expired(self, progress: Progress | None = None) -> CleanupStats:
        """Prune every user index of entries whose session has ended.

        Sessions themselves expire through their Redis TTL; this keeps the
        indexes exact and removes the ones left empty.
        """
        stats = CleanupStats()
        with self.errors("clear_expired"):
            now = int(self.client.time()[0])
            cursor = 0
            while True:
                cursor, found = self.client.scan(
                    cursor, match=self.index_pattern(), count=CLEANUP_BATCH, _type="zset"
                )
                stats.scan_calls += 1
                if found:
                    self._prune_batch(cast("list[bytes]", found), now, stats)
                if progress is not None:
                    progress(stats)
                if cursor == 0:
                    stats.log()
                    return stats

    def _prune_batch(self, batch: list[bytes], now: int, stats: CleanupStats) -> None:
        pipe = self.client.pipeline(transaction=False)
        for index in batch:
            pipe.zremrangebyscore(index, "-inf", f"({now}")
            pipe.zrange(index, 0, -1)
        ranges = pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for reply in ranges[1::2]:
            for member in _members(reply):
                pipe.exists(self.session_key(member))
        alive = pipe.execute()
        dead = self.tally(batch, ranges, alive, stats)
        if dead:
            pipe = self.client.pipeline(transaction=False)
            for index, members in dead:
                pipe.zrem(index, *members)
            pipe.execute()

    def users_activity(self, indexes: Sequence[bytes], absolute_age: int) -> list[UserActivity]:
        """Live session count and last activity of the users owning these indexes.

        One script call per batch, which reads each session's header on the
        server (``activity.lua``).
        """
        rows: list[UserActivity] = []
        with self.errors("read user indexes"):
            for batch in _chunks(indexes, OVERVIEW_BATCH):
                reply = self._run(ACTIVITY, *self.activity_call(batch, absolute_age))
                rows.extend(self.activity_rows(batch, reply))
        return rows

    def overview(self, absolute_age: int) -> Overview:
        """Totals and every signed-in user's activity, from ``SCAN`` (never ``KEYS``).

        One walk of the database; cost grows with it, so this is for an
        operator's page, not for a request path.
        """
        sessions = 0
        users: list[UserActivity] = []
        with self.errors("scan the store"):
            cursor = 0
            while True:
                cursor, found = self.client.scan(
                    cursor, match=self.overview_pattern(), count=OVERVIEW_BATCH
                )
                counted, indexes = self.classify(cast("list[bytes]", found))
                sessions += counted
                users.extend(self.users_activity(indexes, absolute_age))
                if cursor == 0:
                    break
        return Overview(sessions, sum(user.sessions for user in users), users)


class AsyncIndexStorage(_IndexCalls, AsyncSessionStorage):
    """The same operations on a ``redis.asyncio.Redis`` client."""

    async def user_records(self, user_id: str) -> list[tuple[str, bytes]]:
        index = self.index_key(user_id)
        with self.errors("read user index"):
            members = _members(await self.client.zrange(index, 0, -1))
            if not members:
                return []
            pipe = self.client.pipeline(transaction=False)
            for member in members:
                pipe.get(self.session_key(member))
            raws = await pipe.execute()
            dead = [m for m, raw in zip(members, raws, strict=True) if raw is None]
            if dead:
                await self.client.zrem(index, *dead)
        return [(m, raw) for m, raw in zip(members, raws, strict=True) if raw is not None]

    async def revoke(self, user_id: str, digests: Sequence[str]) -> list[str]:
        ended: list[str] = []
        with self.errors("revoke"):
            for chunk in _chunks(digests, REVOKE_BATCH):
                ended += _members(await self._run(REVOKE, *self.revoke_call(user_id, chunk)))
        return ended

    async def revoke_user(
        self,
        user_id: str,
        keep: Collection[str] = (),
        keep_newest: bool = False,
        only: Collection[str] = (),
    ) -> list[str]:
        call = self.revoke_user_call(user_id, keep, keep_newest, only)
        with self.errors("revoke"):
            reply = await self._run(REVOKE_USER, *call)
        return _members(reply)

    async def find(self, fingerprint: str) -> list[str]:
        with self.errors("find session"):
            return [
                self.digest_of(key)
                async for key in self.client.scan_iter(
                    match=self.session_pattern(fingerprint), count=PURGE_BATCH
                )
            ]

    async def revoke_digest(self, digest: str) -> str | None:
        for _ in range(_OWNER_RETRIES):
            with self.errors("revoke"):
                raw = cast("bytes | None", await self.client.get(self.session_key(digest)))
                if raw is not None and rotation.is_stub(raw):
                    # Rotated: the owner is the one of the session it moved to.
                    target = rotation.stub_target(raw)
                    raw = cast("bytes | None", await self.client.get(self.session_key(target)))
            if raw is None:
                return None
            user_id = owner_of(raw)
            if await self.revoke(user_id, [digest]):
                return user_id
        raise self._conflict("revoke")

    async def purge(self, dry_run: bool = False) -> int:
        sessions = 0
        with self.errors("revoke all"):
            for pattern, counted in ((self.session_pattern(), True), (self.index_pattern(), False)):
                batch: list[bytes] = []
                async for key in self.client.scan_iter(match=pattern, count=PURGE_BATCH):
                    batch.append(key)
                    if len(batch) >= PURGE_BATCH:
                        removed = await self._unlink(batch, dry_run)
                        sessions += removed if counted else 0
                        batch = []
                if batch:
                    removed = await self._unlink(batch, dry_run)
                    sessions += removed if counted else 0
        return sessions

    async def _unlink(self, batch: list[bytes], dry_run: bool) -> int:
        if dry_run:
            return len(batch)
        return int(await self.client.unlink(*batch))

    async def clear_expired(self, progress: Progress | None = None) -> CleanupStats:
        stats = CleanupStats()
        with self.errors("clear_expired"):
            now = int((await self.client.time())[0])
            cursor = 0
            while True:
                cursor, found = await self.client.scan(
                    cursor, match=self.index_pattern(), count=CLEANUP_BATCH, _type="zset"
                )
                stats.scan_calls += 1
                if found:
                    await self._prune_batch(cast("list[bytes]", found), now, stats)
                if progress is not None:
                    progress(stats)
                if cursor == 0:
                    stats.log()
                    return stats

    async def _prune_batch(self, batch: list[bytes], now: int, stats: CleanupStats) -> None:
        pipe = self.client.pipeline(transaction=False)
        for index in batch:
            pipe.zremrangebyscore(index, "-inf", f"({now}")
            pipe.zrange(index, 0, -1)
        ranges = await pipe.execute()
        pipe = self.client.pipeline(transaction=False)
        for reply in ranges[1::2]:
            for member in _members(reply):
                pipe.exists(self.session_key(member))
        alive = await pipe.execute()
        dead = self.tally(batch, ranges, alive, stats)
        if dead:
            pipe = self.client.pipeline(transaction=False)
            for index, members in dead:
                pipe.zrem(index, *members)
            await pipe.execute()

    async def users_activity(
        self, indexes: Sequence[bytes], absolute_age: int
    ) -> list[UserActivity]:
        rows: list[UserActivity] = []
        with self.errors("read user indexes"):
            for batch in _chunks(indexes, OVERVIEW_BATCH):
                reply = await self._run(ACTIVITY, *self.activity_call(batch, absolute_age))
                rows.extend(self.activity_rows(batch, reply))
        return rows

    async def overview(self, absolute_age: int) -> Overview:
        sessions = 0
        users: list[UserActivity] = []
        with self.errors("scan the store"):
            cursor = 0
            while True:
                cursor, found = await self.client.scan(
                    cursor, match=self.overview_pattern(), count=OVERVIEW_BATCH
                )
                counted, indexes = self.classify(cast("list[bytes]", found))
                sessions += counted
                users.extend(await self.users_activity(indexes, absolute_age))
                if cursor == 0:
                    break
        return Overview(sessions, sum(user.sessions for user in users), users)

"""Operations over many sessions: a user's index, fingerprints, the whole store.

``ops.py`` holds the operations on one session; this module the ones an operator
or the revocation API runs, each written once as a generator of steps
(``steps.py``) for one server and for a Cluster:

* listing and revoking a user's sessions, at a cost proportional to that user's
  sessions and never to the store (one ``ZRANGE`` and one pipelined read; a
  revocation is one script on one server, ``revoke_user.lua``);
* one page of a user's sessions, most recently active first: one script on one
  server (``user_page.lua``) that reads each session's header on the server and
  sends back the page's records only;
* finding a session by its fingerprint (``SCAN``);
* the admin's overview: totals and each signed-in user's session count and last
  activity, from one ``SCAN`` walk plus a script per batch of indexes that reads
  each session's header on the server (``activity.lua``), never ``KEYS`` and
  never a whole record;
* ending every session under the prefix (``revoke_sessions --all``);
* the index cleanup behind ``clearsessions``: ``SCAN`` in bounded batches, three
  pipelined round trips per batch whatever the batch holds.

Revoking re-reads each record's user before deleting it (in the script), so a
stale index entry can never end another user's session.

On a Cluster the index and the sessions live in different hash slots, so these
run as sequences of single-slot steps, ordered so that a crash between two steps
leaves at worst a *stale* index entry (one whose session is gone; readers skip it
and pruning removes it), never a live session missing from its user's index.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from ..exceptions import CorruptRecord, SessionStoreError
from . import keys
from .plans import (
    CleanupStats,
    Overview,
    Progress,
    RecordsPage,
    ScanProgress,
    ScanReport,
    StoreTotals,
    UserActivity,
    UsersPage,
)
from .record import (
    CREATED_OFFSET,
    HEADER_LENGTH,
    META_ORIGIN,
    META_USER,
    NO_DEADLINE_SCORE,
    PENDING_MARK,
    SEEN_OFFSET,
    decode_summary,
    encode_keys,
    is_stub,
    names_a_user,
    netstring,
    read_field,
    stub_target,
)
from .scripts import (
    CLUSTER,
    SINGLE,
    ActivityArgs,
    AuditArgs,
    RevokeArgs,
    RevokeUserArgs,
    UnindexArgs,
    UserPageArgs,
    UsersListArgs,
    UsersPruneArgs,
)
from .steps import Commands, Pause, Sample, Scan, Script, Steps

_T = TypeVar("_T")

#: Sessions ended per script call: bounds how long one call holds the server.
REVOKE_BATCH = 500
#: Index keys asked for per ``SCAN`` call by ``clear_expired`` (memory stays bounded).
CLEANUP_BATCH = 500
#: Keys deleted per ``UNLINK`` when every session is ended.
PURGE_BATCH = 1000
#: Keys asked for per ``SCAN`` call by a store-wide listing (its reads follow the
#: batches, so ``--limit`` stops after about one batch more than it shows).
LIST_BATCH = 500
#: Keys asked for per ``SCAN`` call by the overview.
OVERVIEW_BATCH = 1000
#: Up to this many keys in the database, the overview counts sessions key by key
#: (ten ``SCAN`` calls at most); above it, it estimates them from a sample.
EXACT_TOTALS_LIMIT = 10_000
#: Keys drawn (``RANDOMKEY``, pipelined) to estimate a large store's totals: the
#: share of sessions among them is known to within a few percent.
TOTALS_SAMPLE = 400
#: The most session headers a page of the overview reads per user: a user with
#: more sessions (a kiosk account) is shown with an estimate from a sample of
#: them, so a page costs the same whoever is on it (activity.lua).
ACTIVITY_READ_CAP = 1000
#: A Cluster draws this many from each primary (one round trip each, sync).
CLUSTER_SAMPLE = 150
#: How often the overview reads a page again after pruning users who only had
#: ended sessions left.
USERS_PAGE_PASSES = 3
#: Cluster: how long (ms) a user who just signed in stays in the users index even
#: if a reader found no index entry (the sign-in lists the user one step before it
#: claims the entry); as long as a claimed entry's pending mark.
USERS_PENDING_MS = 60_000
#: A session's owner can change between our read and the revoke script only if it
#: logs in or out at that very moment; one more try settles it.
OWNER_RETRIES = 3
#: How many passes a Cluster revocation of a user makes at most while key changes
#: are in flight, and how long it waits between passes that found only pending
#: marks (a claim is followed by its record within one round trip; a mark left by
#: a crashed sign-in stays ``ops.PENDING_SECONDS``, and its entry holds no session).
REVOKE_PASSES = 8
REVOKE_PAUSE = 0.02


def members(reply: Any) -> list[str]:
    """Index members (digests) from a ZRANGE reply or a revocation script's reply.

    On a Redis Cluster an index also holds short-lived pending marks
    (``PENDING_MARK`` and a digest); they are never sessions, so they are left out.
    """
    mark = PENDING_MARK.encode()
    return [member.decode() for member in reply if not member.startswith(mark)]


def score_pairs(reply: Any) -> list[tuple[str, int]]:
    """``(member, integer score)`` from a ``WITHSCORES`` reply: redis-py pairs
    them up for some protocols and clients and leaves them flat for others."""
    items = list(reply)
    if items and isinstance(items[0], (list, tuple)):
        return [(bytes(m).decode(), int(float(score))) for m, score in items]
    return [(bytes(items[i]).decode(), int(float(items[i + 1]))) for i in range(0, len(items), 2)]


def chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
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


def tally(
    batch: Sequence[bytes], ranges: list[Any], alive_flags: list[Any], stats: CleanupStats
) -> list[tuple[bytes, list[str]]]:
    """Update ``stats`` for one cleanup batch; return ``(index, dead members)``."""
    dead: list[tuple[bytes, list[str]]] = []
    flags = iter(alive_flags)
    for position, index in enumerate(batch):
        pruned_by_score = int(ranges[2 * position])
        found = members(ranges[2 * position + 1])
        gone = [m for m in found if not next(flags)]
        stats.indexes += 1
        stats.entries_examined += pruned_by_score + len(found)
        stats.entries_pruned += pruned_by_score + len(gone)
        stats.indexes_removed += len(gone) == len(found)
        if gone:
            dead.append((index, gone))
    return dead


class Naming:
    """Key names and the scripts for one deployment: a prefix, one server or a Cluster."""

    def __init__(self, prefix: str, cluster: bool, server: Callable[[], str]) -> None:
        self.prefix = prefix
        self.cluster = cluster
        self.scripts = CLUSTER if cluster else SINGLE
        #: ``host:port`` of the server, for messages (never credentials).
        self.server = server
        self.key_prefix = keys.session_key_prefix(prefix)
        self.users_key = keys.users_key(prefix)

    def session_key(self, digest: str) -> str:
        return self.key_prefix + digest

    def index_key(self, user_id: str) -> str:
        return keys.user_index_key(self.prefix, user_id)

    def index_pattern(self) -> str:
        return keys.escape_glob(keys.user_index_prefix(self.prefix)) + "*"

    def session_pattern(self, fingerprint: str = "") -> str:
        # Exactly a digest after the prefix, so a longer prefix that happens to
        # start with ours ("session:s") is never matched.
        rest = "[0-9a-f]" * (2 * keys.DIGEST_SIZE - len(fingerprint))
        return keys.escape_glob(self.key_prefix) + fingerprint + rest

    def overview_pattern(self) -> str:
        # Sessions and user indexes in one walk: SCAN visits the whole database
        # whatever the pattern, so two patterns would mean two walks.
        return keys.escape_glob(self.prefix) + ":[su]:*"

    def digest_of(self, redis_key: bytes) -> str:
        return redis_key.decode()[len(self.key_prefix) :]

    def index_user(self, redis_key: bytes) -> str:
        return redis_key.decode()[len(keys.user_index_prefix(self.prefix)) :]

    def unindex(self, user_id: str, ended: Sequence[str], unseen: Sequence[str] = ()) -> Script:
        """Cluster: drop entries whose sessions ended (``ended``), or were not found
        and are not being claimed right now (``unseen``)."""
        args = UnindexArgs(len(ended), (*ended, *unseen))
        return Script(self.scripts.unindex, [self.index_key(user_id)], args)


class IndexOps(Naming):
    """The many-session operations, as generators of steps (no I/O here)."""

    def user_records(
        self, user_id: str, index_reply: list[bytes] | None = None
    ) -> Steps[list[tuple[str, bytes]]]:
        """``(digest, stored bytes)`` of the user's live sessions; prunes dead entries.

        A plain ``GET`` per session, pipelined: reading a listing does not slide
        anybody's expiry. ``index_reply`` is a ``ZRANGE`` of the index the caller
        already made.
        """
        index = self.index_key(user_id)
        if index_reply is None:
            (index_reply,) = yield Commands([("ZRANGE", index, 0, -1)], "read user index")
        found = members(index_reply)
        if not found:
            return []
        raws = yield Commands([("GET", self.session_key(m)) for m in found], "read user index")
        if not self.cluster:
            dead = [m for m, raw in zip(found, raws, strict=True) if raw is None]
            if dead:
                yield Commands([("ZREM", index, *dead)], "read user index")
            return [(m, raw) for m, raw in zip(found, raws, strict=True) if raw is not None]
        # A record that names someone else is no session of this user's (yet: a
        # sign-in may be claiming it, which the pending mark protects).
        records = [
            (m, raw)
            for m, raw in zip(found, raws, strict=True)
            if raw is not None and _may_belong_to(raw, user_id)
        ]
        if len(records) < len(found):
            kept = {m for m, _raw in records}
            yield self.unindex(user_id, [], [m for m in found if m not in kept])
        return records

    def user_page(
        self, user_id: str, offset: int, limit: int, absolute_age: int, first: Collection[str] = ()
    ) -> Steps[RecordsPage]:
        """One page of the user's live sessions and how many there are.

        Sorted by last activity (the header's ``seen``, then ``created``), most
        recent first, with the sessions in ``first`` (digests: the caller's own)
        before all others. Only the page's records cross the network: one server
        runs ``user_page.lua`` (one round trip, headers read on the server); a
        Cluster reads the index, then the headers (``GETRANGE``, pipelined per
        node), sorts here, then reads the page's records. Entries of ended
        sessions are pruned on the way, as ``user_records`` does.
        """
        offset, limit = max(0, offset), max(0, limit)
        if not self.cluster:
            args = UserPageArgs(
                user_id,
                self.key_prefix,
                absolute_age,
                offset,
                limit,
                encode_keys(sorted(first)),
            )
            reply = yield Script(
                self.scripts.user_page, [self.index_key(user_id), self.users_key], args
            )
            records = [
                (bytes(reply[i]).decode(), bytes(reply[i + 1])) for i in range(1, len(reply), 2)
            ]
            return RecordsPage(records, int(reply[0]))
        return (yield from self._cluster_user_page(user_id, offset, limit, absolute_age, first))

    def _cluster_user_page(
        self, user_id: str, offset: int, limit: int, absolute_age: int, first: Collection[str]
    ) -> Steps[RecordsPage]:
        (reply,) = yield Commands([("ZRANGE", self.index_key(user_id), 0, -1)], "read user index")
        found = members(reply)
        if not found:
            return RecordsPage([], 0)
        mine = netstring(META_USER) + netstring(user_id.encode("utf-8"))
        span = HEADER_LENGTH + 12 + len(mine)
        heads = yield Commands(
            [("GETRANGE", self.session_key(m), 0, span - 1) for m in found], "read user index"
        )
        now = int(time.time())
        live: list[tuple[int, int, int, str]] = []
        stale: list[str] = []
        for member, head in zip(found, heads, strict=True):
            head = bytes(head or b"")
            if not head or is_stub(head):
                stale.append(member)
                continue
            try:
                summary = decode_summary(head[:HEADER_LENGTH] + b"0:")
            except CorruptRecord:
                continue
            colon = head.find(b":", HEADER_LENGTH, HEADER_LENGTH + 12)
            if colon < 0:
                continue
            if not head[colon + 1 :].startswith(mine):
                stale.append(member)  # someone else's now (or a sign-in claiming it)
                continue
            deadline = summary.deadline
            if absolute_age > 0 and (deadline == 0 or summary.created + absolute_age < deadline):
                deadline = summary.created + absolute_age
            if deadline == 0 or deadline > now:
                live.append((member in first, summary.seen, summary.created, member))
        if stale:
            # Not found, or not the user's: dropped unless a sign-in claims it now.
            yield self.unindex(user_id, [], stale)
        live.sort(key=lambda item: (-item[0], -item[1], -item[2], item[3]))
        shown = [item[3] for item in live[offset : offset + limit]]
        if not shown:
            return RecordsPage([], len(live))
        raws = yield Commands([("GET", self.session_key(m)) for m in shown], "read user index")
        records = [(m, bytes(raw)) for m, raw in zip(shown, raws, strict=True) if raw is not None]
        return RecordsPage(records, len(live))

    def revoke(self, user_id: str, digests: Sequence[str]) -> Steps[list[str]]:
        """End these sessions of the user; return the digests actually ended."""
        ended: list[str] = []
        if not self.cluster:
            for chunk in chunks(digests, REVOKE_BATCH):
                sessions = [self.session_key(d) for d in chunk]
                index = self.index_key(user_id) if user_id else sessions[0]
                reply = yield Script(
                    self.scripts.revoke, [index, *sessions], RevokeArgs(user_id, tuple(chunk))
                )
                ended += members(reply)
            return ended
        # One call per session: they are in different slots; then the entries.
        for digest in digests:
            session = self.session_key(digest)
            reply = yield Script(
                self.scripts.revoke, [session, session], RevokeArgs(user_id, (digest,))
            )
            ended += members(reply)
        if user_id and digests:
            yield self.unindex(user_id, ended, [d for d in digests if d not in ended])
        return ended

    def revoke_user(
        self,
        user_id: str,
        keep: Collection[str] = (),
        keep_newest: bool = False,
        only: Collection[str] = (),
    ) -> Steps[list[str]]:
        """End every session of the user but those in ``keep`` (digests).

        With ``keep_newest``, the most recently active session is kept too; with
        ``only`` (fingerprints), only the sessions shown under them end. On one
        server one script reads the index and ends the sessions
        (``revoke_user.lua``), so a key changing at that moment cannot slip past it.
        """
        if not self.cluster:
            args = RevokeUserArgs(
                user_id,
                self.key_prefix,
                encode_keys(sorted(keep)),
                "1" if keep_newest else "0",
                encode_keys(sorted(only)),
            )
            reply = yield Script(
                self.scripts.revoke_user, [self.index_key(user_id), self.users_key], args
            )
            return members(reply)
        return (yield from self._revoke_user_passes(user_id, keep, keep_newest, only))

    def _revoke_user_passes(
        self, user_id: str, keep: Collection[str], keep_newest: bool, only: Collection[str]
    ) -> Steps[list[str]]:
        """Cluster: end every session of the user but ``keep``, until none is left.

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
        mark = PENDING_MARK.encode()
        for attempt in range(REVOKE_PASSES):
            (reply,) = yield Commands([("ZRANGE", index, 0, -1)], "revoke")
            pending = any(bytes(m).startswith(mark) for m in reply)
            records = yield from self.user_records(user_id, reply)
            alive = bool(records)
            if keep_newest and attempt == 0:
                kept |= newest_of(records)
            if only:
                records = [(d, raw) for d, raw in records if _shown_as(d, raw, only)]
            targets = [digest for digest, _raw in records if digest not in kept]
            if targets:
                ended += yield from self.revoke(user_id, targets)
            elif not pending:
                if not alive:
                    # Nothing of the user's is left: drop them from the users index
                    # (a sign-in racing this keeps them, users_prune.lua).
                    yield self.forget([(user_id, -1)])
                return ended
            else:
                yield Pause(REVOKE_PAUSE)
        return ended

    def find(self, fingerprint: str, progress: ScanReport | None = None) -> Steps[list[str]]:
        """Digests starting with ``fingerprint``, store-wide (``SCAN``). A user's own
        sessions are matched inside ``revoke_user`` instead."""
        scan = Scan(self.session_pattern(fingerprint), PURGE_BATCH, "find session")
        found: list[str] = []
        state = ScanProgress()
        while (batch := (yield scan)) is not None:
            found += [self.digest_of(key) for key in batch]
            self._walked(state, scan, batch, len(batch), progress)
        return found

    def _walked(
        self,
        state: ScanProgress,
        scan: Scan,
        batch: Sequence[bytes],
        done: int,
        progress: ScanReport | None,
    ) -> None:
        """Count one ``SCAN`` batch into ``state`` and report it."""
        state.scan_calls += 1
        state.matched += len(batch)
        # One server: a SCAN call examines about COUNT keys. A Cluster's batches
        # are of matching keys (redis-py walks the nodes), so only those are known.
        state.scanned += len(batch) if self.cluster else max(scan.count, len(batch))
        state.done += done
        if progress is not None:
            progress(state)

    def walk_sessions(
        self,
        emit: Callable[[list[tuple[str, bytes]]], int],
        limit: int | None = None,
        progress: ScanReport | None = None,
    ) -> Steps[ScanProgress]:
        """Read every session record under the prefix, batch by batch (``SCAN``
        then a pipelined ``GET``; a plain read slides nobody's expiry).

        ``emit`` receives each batch's ``(digest, stored bytes)`` and returns how
        many it showed; after ``limit`` shown the walk stops, having read no more
        records than it still needed.
        """
        state = ScanProgress()
        wanted = limit
        scan = Scan(self.session_pattern(), LIST_BATCH, "list sessions")
        while (wanted is None or wanted > 0) and (batch := (yield scan)) is not None:
            shown = 0
            rest = list(batch)
            while rest and (wanted is None or shown < wanted):
                size = len(rest) if wanted is None else wanted - shown
                chunk, rest = rest[:size], rest[size:]
                raws = yield Commands([("GET", key) for key in chunk], "list sessions")
                shown += emit(
                    [
                        (self.digest_of(key), bytes(raw))
                        for key, raw in zip(chunk, raws, strict=True)
                        if raw is not None
                    ]
                )
            wanted = None if wanted is None else wanted - shown
            self._walked(state, scan, batch, shown, progress)
        return state

    def revoke_digest(self, digest: str) -> Steps[str | None]:
        """End one session whatever its user; return that user id, None if missing."""
        for _ in range(OWNER_RETRIES):
            (raw,) = yield Commands([("GET", self.session_key(digest))], "revoke")
            if raw is not None and is_stub(raw):
                # Rotated: the owner is the one of the session it moved to.
                target = self.session_key(stub_target(raw))
                (raw,) = yield Commands([("GET", target)], "revoke")
            if raw is None:
                return None
            user_id = owner_of(raw)
            if (yield from self.revoke(user_id, [digest])):
                return user_id
        raise self.conflict("revoke")

    def purge(self, dry_run: bool = False, progress: ScanReport | None = None) -> Steps[int]:
        """End every session under the prefix (and drop every index); return how many."""
        sessions = 0
        state = ScanProgress()
        for pattern, counted in ((self.session_pattern(), True), (self.index_pattern(), False)):
            scan = Scan(pattern, PURGE_BATCH, "revoke all")
            while (batch := (yield scan)) is not None:
                if not batch:
                    self._walked(state, scan, batch, 0, progress)
                    continue
                if dry_run:
                    removed = len(batch)
                elif self.cluster:
                    # Keys of many slots: one UNLINK each, pipelined (grouped by node).
                    replies = yield Commands([("UNLINK", key) for key in batch], "revoke all")
                    removed = sum(int(reply) for reply in replies)
                else:
                    (removed,) = yield Commands([("UNLINK", *batch)], "revoke all")
                sessions += int(removed) if counted else 0
                self._walked(state, scan, batch, int(removed) if counted else 0, progress)
        return sessions

    def clear_expired(self, progress: Progress | None = None) -> Steps[CleanupStats]:
        """Prune every user index of entries whose session has ended.

        Sessions themselves expire through their Redis TTL; this keeps the
        indexes exact and removes the ones left empty.
        """
        stats = CleanupStats()
        ((now, _micro),) = yield Commands([("TIME",)], "clear_expired")
        scan = Scan(self.index_pattern(), CLEANUP_BATCH, "clear_expired", type="zset")
        while (batch := (yield scan)) is not None:
            stats.scan_calls += 1
            if batch:
                yield from self._prune(batch, int(now), stats)
                yield from self._list_users(batch, int(now), stats)
            if progress is not None:
                progress(stats)
        yield from self._prune_users(stats)
        stats.log()
        return stats

    def _list_users(self, batch: Sequence[bytes], now: int, stats: CleanupStats) -> Steps[None]:
        """List in the users index the users of these indexes it does not hold yet
        (indexes written before it existed), covering their indexes' TTLs."""
        ttls = yield Commands([("TTL", index) for index in batch], "clear_expired")
        kept = [(index, int(ttl)) for index, ttl in zip(batch, ttls, strict=True) if int(ttl) != -2]
        if not kept:
            return
        max_score = (
            NO_DEADLINE_SCORE
            if any(ttl == -1 for _i, ttl in kept)
            else (now + max(ttl for _i, ttl in kept))
        )
        args = UsersListArgs(max_score, tuple(self.index_user(index) for index, _ttl in kept))
        stats.users_listed += int((yield Script(self.scripts.users_list, [self.users_key], args)))

    def _prune_users(self, stats: CleanupStats) -> Steps[None]:
        """Drop from the users index the users whose index is gone (``ZSCAN``)."""
        cursor: Any = 0
        while True:
            ((cursor, found),) = yield Commands(
                [("ZSCAN", self.users_key, cursor, "COUNT", CLEANUP_BATCH)], "clear_expired"
            )
            user_ids = [user_id for user_id, _score in score_pairs(found)]
            stats.users_removed += yield from self.forget_unindexed(user_ids)
            if int(cursor) == 0:
                return

    def _prune(self, batch: Sequence[bytes], now: int, stats: CleanupStats) -> Steps[None]:
        """``clear_expired`` for one batch of indexes: three pipelined round trips."""
        ranges = yield Commands(
            [
                command
                for index in batch
                for command in (
                    ("ZREMRANGEBYSCORE", index, "-inf", f"({now}"),
                    ("ZRANGE", index, 0, -1),
                )
            ],
            "clear_expired",
        )
        entries = [
            (self.index_user(index), member)
            for index, reply in zip(batch, ranges[1::2], strict=True)
            for member in members(reply)
        ]
        if not self.cluster:
            alive = (
                (yield Commands([("EXISTS", self.session_key(m)) for _u, m in entries],
                                "clear_expired"))
                if entries
                else []
            )  # fmt: skip
            dead = tally(batch, ranges, alive, stats)
            if dead:
                yield Commands([("ZREM", index, *gone) for index, gone in dead], "clear_expired")
            return
        # The whole record, not EXISTS: an entry whose record names another user
        # (a sign-in that crashed after its claim) is stale too.
        raws = (
            (yield Commands([("GET", self.session_key(m)) for _u, m in entries], "clear_expired"))
            if entries
            else []
        )
        alive = [
            raw is not None and owner_of(raw) == user
            for raw, (user, _member) in zip(raws, entries, strict=True)
        ]
        for index, gone in tally(batch, ranges, alive, stats):
            yield Script(self.scripts.unindex, [index.decode()], UnindexArgs(0, tuple(gone)))

    def users_activity(
        self, indexes: Sequence[bytes], absolute_age: int, cap: int = 0
    ) -> Steps[list[UserActivity]]:
        """Live session count and last activity of the users owning these indexes.

        One server: one script call per batch, which reads each session's header
        on the server (``activity.lua``). Cluster: the headers are read across
        slots and folded here. ``cap`` (0: none) bounds the headers read per
        user: a user with more sessions gets an estimate from a sample of them
        (``UserActivity.estimated``), so a page costs the same whoever is on it.
        """
        if self.cluster:
            return (yield from self._cluster_activity(indexes, absolute_age, cap=cap))
        rows: list[UserActivity] = []
        for batch in chunks(indexes, OVERVIEW_BATCH):
            reply = yield Script(
                self.scripts.activity,
                [index.decode() for index in batch],
                ActivityArgs(self.key_prefix, absolute_age, cap),
            )
            rows += [
                UserActivity(
                    self.index_user(index),
                    int(reply[3 * i]),
                    int(reply[3 * i + 1]),
                    estimated=bool(int(reply[3 * i + 2])),
                )
                for i, index in enumerate(batch)
                if int(reply[3 * i])
            ]
        return rows

    def _cluster_activity(
        self,
        indexes: Sequence[bytes],
        absolute_age: int,
        claimed: set[str] | None = None,
        cap: int = 0,
    ) -> Steps[list[UserActivity]]:
        """``claimed``, when given, collects the users whose index holds a pending
        claim (a sign-in between its steps): not alive yet, not to be pruned."""
        ranges = yield Commands(
            [("ZRANGE", index, 0, -1) for index in indexes], "read user indexes"
        )
        found = [members(reply) for reply in ranges]
        if claimed is not None:
            mark = PENDING_MARK.encode()
            claimed.update(
                self.index_user(index)
                for index, reply in zip(indexes, ranges, strict=True)
                if any(bytes(m).startswith(mark) for m in reply)
            )
        # What is read of each index: all of it, or (above cap, as activity.lua)
        # a random half-cap to estimate the count and the half-cap of the latest
        # deadline (ZRANGE is by deadline, ascending) for the last activity.
        reads: list[tuple[list[str], int]] = []
        for index_members in found:
            if cap and len(index_members) > cap:
                half = cap // 2
                reads.append((random.sample(index_members, half) + index_members[-half:], half))
            else:
                reads.append((index_members, len(index_members)))
        wanted = [self.session_key(m) for chosen, _counted in reads for m in chosen]
        heads: list[Any] = []
        if wanted:
            heads = yield Commands(
                [("GETRANGE", key, 0, HEADER_LENGTH - 1) for key in wanted], "read user indexes"
            )
        now = int(time.time())
        rows: list[UserActivity] = []
        heads_left = iter(heads)
        for index, index_members, (chosen, counted) in zip(indexes, found, reads, strict=True):
            live = last = 0
            for position, head in enumerate([next(heads_left) for _ in chosen]):
                counts = position < counted
                if not head:
                    continue
                try:
                    summary = decode_summary(bytes(head) + b"0:")
                except CorruptRecord:
                    live += counts
                    continue
                deadline = summary.deadline
                if absolute_age > 0 and (
                    deadline == 0 or summary.created + absolute_age < deadline
                ):
                    deadline = summary.created + absolute_age
                if deadline == 0 or deadline > now:
                    live += counts
                    last = max(last, summary.seen)
            estimated = len(chosen) != len(index_members) or counted != len(index_members)
            if estimated and counted:
                live = round(len(index_members) * live / counted)
            if live:
                rows.append(UserActivity(self.index_user(index), live, last, estimated=estimated))
        return rows

    def classify(self, found: Sequence[bytes]) -> tuple[int, list[bytes]]:
        """Sessions counted and user indexes found in one ``SCAN`` batch."""
        session_prefix = self.key_prefix.encode()
        digest_length = len(session_prefix) + 2 * keys.DIGEST_SIZE
        sessions = 0
        indexes: list[bytes] = []
        for key in found:
            if key.startswith(session_prefix):
                sessions += len(key) == digest_length
            else:
                indexes.append(key)
        return sessions, indexes

    # -- the users index and the admin's overview -------------------------------------

    def forget(self, seen: Sequence[tuple[str, int]]) -> Script:
        """Drop these users (with the score the reader saw) from the users index,
        unless they signed in since (``users_prune.lua``)."""
        pending_ms = USERS_PENDING_MS if self.cluster else 0
        entries = tuple(item for user_id, score in seen for item in (user_id, score))
        return Script(
            self.scripts.users_prune, [self.users_key], UsersPruneArgs(pending_ms, entries)
        )

    def forget_if_empty(self, user_id: str, left: Any) -> Script:
        """Cluster: after a sign-out took the user's last index entry (``left``, what
        ``unindex.lua`` reports), drop the user from the users index. The script
        runs (with nothing to drop) even when entries are left, so the operation
        takes the same steps whatever it finds (the crash tests step through each)."""
        return self.forget([(user_id, -1)] if not int(left) else [])

    def forget_unindexed(self, user_ids: Sequence[str]) -> Steps[int]:
        """Drop the users whose index is gone from the users index (a Cluster
        sign-out, ``clearsessions``); one server does it in the ending script."""
        if not user_ids:
            return 0
        scores_read = [("ZSCORE", self.users_key, user_id) for user_id in user_ids]
        exists = [("EXISTS", self.index_key(user_id)) for user_id in user_ids]
        if self.cluster:
            # The scores strictly before the indexes: a sign-in claims its index
            # entry before it raises its score, so an index found gone was gone
            # before any sign-in that could change the score read (users_prune.lua).
            # A Cluster pipeline gives no order across nodes: two steps.
            scores = yield Commands(scores_read, "update users index")
            found = yield Commands(exists, "update users index")
        else:
            replies = yield Commands([*scores_read, *exists], "update users index")
            scores, found = replies[: len(user_ids)], replies[len(user_ids) :]
        gone = [
            (user_id, int(float(score)))
            for user_id, score, exists in zip(user_ids, scores, found, strict=True)
            if score is not None and not exists
        ]
        # The script runs even with nothing to drop: an operation takes the same
        # steps whatever it finds (the crash tests step through each one).
        return int((yield self.forget(gone)))

    def users_page(self, offset: int, limit: int, absolute_age: int) -> Steps[UsersPage]:
        """One page of signed-in users, most recent sign-in first, and how many there are.

        Reads the users index (``ZREVRANGE``) and the listed users' indexes only:
        the cost is the page's, whatever the store holds. A listed user none of
        whose sessions is alive any more is pruned from the users index on the
        way, and the page read again (a few times at most), so a page is not left
        short by users who only idled out.
        """
        rows: list[UserActivity] = []
        if limit <= 0:
            (total,) = yield Commands([("ZCARD", self.users_key)], "read users index")
            return UsersPage(rows, int(total))
        for _ in range(USERS_PAGE_PASSES):
            total, page = yield Commands(
                [
                    ("ZCARD", self.users_key),
                    ("ZREVRANGE", self.users_key, offset, offset + limit - 1, "WITHSCORES"),
                ],
                "read users index",
            )
            listed = score_pairs(page)
            if not listed:
                break
            indexes = [self.index_key(user_id).encode() for user_id, _score in listed]
            claimed: set[str] = set()
            if self.cluster:
                activity = yield from self._cluster_activity(
                    indexes, absolute_age, claimed, cap=ACTIVITY_READ_CAP
                )
            else:
                activity = yield from self.users_activity(
                    indexes, absolute_age, cap=ACTIVITY_READ_CAP
                )
            alive = {row.user_id: row for row in activity}
            rows = [
                replace(alive[user_id], signed_in_at=score // 1000)
                for user_id, score in listed
                if user_id in alive
            ]
            idle = [
                (user_id, score)
                for user_id, score in listed
                if user_id not in alive and user_id not in claimed
            ]
            if not idle or not (yield self.forget(idle)):
                break
        return UsersPage(rows, int(total))

    def totals(self, absolute_age: int) -> Steps[StoreTotals]:
        """Session totals of the whole store: counted key by key while the database
        is small (``EXACT_TOTALS_LIMIT`` keys), estimated from a random sample of
        keys above that, so a page view never walks a large store."""
        samples = yield Sample(CLUSTER_SAMPLE if self.cluster else TOTALS_SAMPLE, "sample keys")
        size = sum(node_size for node_size, _keys in samples)
        if size <= EXACT_TOTALS_LIMIT:
            return (yield from self._counted_totals(absolute_age))
        # Each primary's share is estimated from its own sample, then summed (a
        # Cluster's primaries need not hold the same number of keys).
        session_prefix = self.key_prefix.encode()
        digest_length = len(session_prefix) + 2 * keys.DIGEST_SIZE
        drawn: list[int] = []
        found: list[list[bytes]] = []
        for _node_size, sample in samples:
            drawn.append(len(sample))
            found.append(
                [
                    key
                    for key in sample
                    if key.startswith(session_prefix) and len(key) == digest_length
                ]
            )
        wanted = [key for node_keys in found for key in node_keys]
        heads = []
        if wanted:
            heads = yield Commands(
                [("GETRANGE", key, HEADER_LENGTH, HEADER_LENGTH + 24) for key in wanted],
                "sample keys",
            )
        named = iter(names_a_user(bytes(head)) for head in heads)
        sessions = signed_in = 0.0
        for (node_size, _sample), count, node_keys in zip(samples, drawn, found, strict=True):
            if not count:
                continue
            users = sum(next(named) for _ in node_keys)
            sessions += node_size * len(node_keys) / count
            signed_in += node_size * users / count
        return StoreTotals(
            round(sessions), round(signed_in), exact=False, sampled=sum(drawn), keys=size
        )

    def _counted_totals(self, absolute_age: int) -> Steps[StoreTotals]:
        sessions = signed_in = 0
        scan = Scan(self.overview_pattern(), OVERVIEW_BATCH, "scan the store")
        while (batch := (yield scan)) is not None:
            counted, indexes = self.classify(batch)
            sessions += counted
            if indexes:
                users = yield from self.users_activity(indexes, absolute_age)
                signed_in += sum(user.sessions for user in users)
        return StoreTotals(sessions, min(signed_in, sessions), exact=True)

    def overview(self, absolute_age: int, offset: int = 0, limit: int = 50) -> Steps[Overview]:
        """The admin's overview: one page of signed-in users and the store's totals.

        Never walks a large store: the page comes from the users index, the totals
        from ``totals``. A handful of round trips whatever the store size.
        """
        page = yield from self.users_page(offset, limit, absolute_age)
        totals = yield from self.totals(absolute_age)
        return Overview(page.users, page.total, totals, offset, limit)

    # -- the audit log (policies/audit.py decides what goes in) --------------------

    def append_audit(
        self, user_id: str, events: Sequence[bytes], max_events: int, retention: int
    ) -> Steps[None]:
        """Append encoded events to a user's log, keep the newest, renew its lifetime."""
        key = keys.audit_key(self.prefix, user_id)
        yield Script(self.scripts.audit, [key], AuditArgs(max_events, retention, tuple(events)))

    def read_audit(self, user_id: str, limit: int) -> Steps[list[bytes]]:
        """A user's encoded audit events, newest first (at most ``limit``)."""
        key = keys.audit_key(self.prefix, user_id)
        (raws,) = yield Commands([("LRANGE", key, 0, limit - 1)], "read audit events")
        return list(raws)

    def conflict(self, action: str) -> SessionStoreError:
        server = self.server()
        return SessionStoreError(
            f"Session store Redis at {server}: {action} kept racing with a concurrent "
            "login or logout on the same session",
            server,
        )

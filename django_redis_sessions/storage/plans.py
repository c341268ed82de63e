"""What the engine asks an operation to do, and what the operation answers.

Plain values, no I/O: the engine (``backend.py``) builds a plan from the session
and its policies; an operation (``ops.py``) turns it into script calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

logger = logging.getLogger("django_redis_sessions")


@dataclass(frozen=True, slots=True)
class WritePlan:
    """One save: what to write for a session and which index it belongs to."""

    digest: str
    #: "c" create (NX), "r" replace all data, "m" merge changed/deleted keys.
    mode: str
    created: int
    deadline: int
    idle: int
    user_id: str
    expected_user_id: str
    data: bytes
    deleted: bytes = b""
    #: Metadata pairs this request supplies (``record.encode_meta_pairs``); stored
    #: pairs it does not supply are kept by the script.
    meta: bytes = b""


@dataclass(frozen=True, slots=True)
class CyclePlan:
    old_digest: str
    new_digest: str
    expected_user_id: str
    old_in_store: bool
    created: int
    deadline: int
    idle: int
    user_id: str
    data: bytes
    #: Metadata other than the user id for the new key (the old key's, updated
    #: with this request's).
    meta: Mapping[str, str] = field(default_factory=dict)
    #: This request's client alone: the metadata of an empty new key when the
    #: old session was deleted meanwhile.
    client_meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RotatePlan:
    old_digest: str
    new_digest: str
    expected_user_id: str
    sealed: bytes


class SaveResult:
    SAVED = 1
    CONFLICT = 0  # create: key taken; replace/merge: session gone
    CORRUPT = -1
    LIMIT = -2  # refused: the user already has SESSIONS_MAX_PER_USER
    MOVED = -3  # the key was rotated meanwhile: follow the stub and save there
    ENDED = -4  # Cluster scripts only: saved with a past expiry, so deleted
    TOO_LARGE = -5  # refused: the merged data would exceed SESSION_REDIS_MAX_SIZE


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """What a save did; the sessions it ended for the limit; a rotation stub met;
    the size the merged data would have had (``TOO_LARGE``)."""

    result: int
    ended: tuple[str, ...] = ()
    stub: bytes | None = None
    size: int = 0


class RotateResult:
    ROTATED = 1
    TAKEN = 0
    GONE = 2
    CORRUPT = -1


class CycleResult:
    TAKEN = 0
    MOVED = 1
    #: The old session was deleted meanwhile; the new key holds an empty session.
    OLD_GONE = 2


@dataclass(slots=True)
class CleanupStats:
    """What one ``clear_expired`` pass did (for its log line and ``clearsessions``)."""

    indexes: int = 0
    entries_examined: int = 0
    entries_pruned: int = 0
    indexes_removed: int = 0
    #: ``SCAN`` calls made so far; with ``DBSIZE`` it estimates progress.
    scan_calls: int = 0
    #: Users added to the users index (their index predates it).
    users_listed: int = 0
    #: Users dropped from the users index (their index is gone).
    users_removed: int = 0

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


@dataclass(slots=True)
class ScanProgress:
    """How far a store-wide ``SCAN`` walk has got (ending, finding or listing
    sessions), for a progress line."""

    #: ``SCAN`` calls made so far (on a Cluster: batches of matching keys).
    scan_calls: int = 0
    #: Keys examined so far, about: ``SCAN`` calls times their ``COUNT`` hint.
    scanned: int = 0
    #: Keys that matched the walk's pattern.
    matched: int = 0
    #: Sessions acted on: ended (or counted, dry run), found, listed.
    done: int = 0


ScanReport = Callable[[ScanProgress], None]


@dataclass(frozen=True, slots=True)
class UserActivity:
    """One signed-in user's live sessions, as the admin overview lists them."""

    user_id: str
    sessions: int
    #: Unix seconds of the most recent request of any of those sessions.
    last_seen: int
    #: Unix seconds of the user's latest sign-in, from the users index (0 when
    #: not read from it).
    signed_in_at: int = 0
    #: ``sessions`` and ``last_seen`` are estimates from a sample of the user's
    #: sessions (more of them than a page reads, ``ACTIVITY_READ_CAP``).
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class UsersPage:
    users: list[UserActivity]
    #: Users in the users index (every user with a session index).
    total: int


@dataclass(frozen=True, slots=True)
class RecordsPage:
    """One page of a user's sessions as stored: ``(digest, record)`` in page order
    (the caller's own first, then by last activity, most recent first)."""

    records: list[tuple[str, bytes]]
    #: The user's live sessions (all pages).
    total: int


@dataclass(frozen=True, slots=True)
class StoreTotals:
    """Session totals of the whole store.

    ``exact`` when counted key by key (a database of up to ``EXACT_TOTALS_LIMIT``
    keys); otherwise estimated from ``sampled`` random keys out of ``keys``: an
    exact count would have to walk every key, which no page view should do. The
    estimate's error is about ``sessions / sqrt(sampled)``.
    """

    sessions: int
    signed_in: int
    exact: bool
    sampled: int = 0
    keys: int = 0

    @property
    def anonymous(self) -> int:
        # Two counts from two passes (or one sample): never a negative number.
        return max(0, self.sessions - self.signed_in)


@dataclass(frozen=True, slots=True)
class Overview:
    """The admin's overview: one page of signed-in users, most recent sign-in
    first, and the totals."""

    users: list[UserActivity]
    #: Users with a session index (exact: the users index's size; a user whose
    #: sessions all idled out stays counted until a reader or ``clearsessions``
    #: prunes them).
    signed_in_users: int
    totals: StoreTotals
    offset: int = 0
    limit: int = 0

    @property
    def sessions(self) -> int:
        return self.totals.sessions

    @property
    def signed_in(self) -> int:
        return self.totals.signed_in

    @property
    def anonymous(self) -> int:
        return self.totals.anonymous

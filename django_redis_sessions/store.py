"""The Redis operations behind the engine, sync and async.

Every operation on one session is a single Lua script call (one round trip): load
and slide, create/replace/merge with the user index, delete, cycle. The scripts
live in ``scripts/*.lua`` and share ``prelude.lua``. Argument building and result
reading are shared by :class:`SessionStorage` and :class:`AsyncSessionStorage`, so
the two differ only in how they talk to Redis.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib.resources import files
from typing import Any, cast

import redis
import redis.asyncio
from redis.exceptions import NoScriptError, RedisClusterException

from . import keys, receipts
from .conf import conf
from .connection import describe_server, is_cluster
from .exceptions import SessionStoreError, SessionStoreFull, SessionStoreUnavailable
from .record import encode_meta

#: How many of a user's oldest index entries a login checks for sessions that
#: ended by idleness. Bounds the work of one login whatever the index size.
INDEX_SWEEP_LIMIT = 32
#: What a failing Redis raises: redis-py's errors, and, on a Cluster, the exception
#: redis-py raises when no node answers while it maps the slots (not a RedisError).
REDIS_ERRORS = (redis.RedisError, RedisClusterException)
#: While Redis is full, a warning at most this often (seconds), not one per read.
FULL_WARNING_INTERVAL = 60
_last_full_warning = -float(FULL_WARNING_INTERVAL)

logger = logging.getLogger("django_redis_sessions")


class ForeignKey(Exception):
    """A session's Redis key holds another type (a list, a hash): not our record."""


#: A stored user id can change between our read and our write only if another
#: request logs in or out on the same key at that moment; one retry settles it.
_USER_RETRIES = 3


#: A script call's KEYS and ARGV, and a function building them for a given
#: expected stored user id (scripts refuse when the stored user differs).
_Call = tuple[list[str], list[Any]]
_CallBuilder = Callable[[str], _Call]


@dataclass(frozen=True, slots=True)
class LuaScript:
    name: str
    text: str
    sha: str
    #: A write runs under the receipt protocol (``receipts.py``): the caller adds
    #: a receipt key to KEYS and its lifetime to ARGV.
    writes: bool = True


def _load_script(name: str, cluster: bool = False, writes: bool = True) -> LuaScript:
    """A script with the prelude, for one server or (``cluster``) a Redis Cluster.

    The Cluster variant sees ``CLUSTER = true`` and leaves out every step on a key
    of another hash slot (``cluster.py`` runs those steps itself, in a safe order).
    A write script's body becomes the function ``operation``, which
    ``receipt.lua`` runs at most once per operation id.
    """
    folder = files(__package__).joinpath("scripts")
    body = folder.joinpath(f"{name}.lua").read_text()
    if writes:
        body = (
            "local function operation()\n"
            + body
            + "\nend\n"
            + folder.joinpath("receipt.lua").read_text()
        )
    text = (
        f"local CLUSTER = {'true' if cluster else 'false'}\n"
        + folder.joinpath("prelude.lua").read_text()
        + body
    )
    return LuaScript(name, text, hashlib.sha1(text.encode()).hexdigest(), writes)  # noqa: S324


# Reads: loading (its touch of last-seen and the expiry is the same whatever how
# often it runs) and the overview's activity fold.
LOAD = _load_script("load", writes=False)
ACTIVITY = _load_script("activity", writes=False)
SAVE = _load_script("save")
DELETE = _load_script("delete")
CYCLE = _load_script("cycle")
DISCARD = _load_script("discard")
REVOKE = _load_script("revoke")
REVOKE_USER = _load_script("revoke_user")
CONFIRM = _load_script("confirm")
ROTATE = _load_script("rotate")
AUDIT = _load_script("audit")
FOREIGN = _load_script("foreign")


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


class SaveResult:
    SAVED = 1
    CONFLICT = 0  # create: key taken; replace/merge: session gone
    CORRUPT = -1
    LIMIT = -2  # refused: the user already has SESSION_REDIS_MAX_SESSIONS_PER_USER
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


def _save_outcome(result: Any) -> SaveOutcome:
    if isinstance(result, list) and result and result[0] == b"ended":
        return SaveOutcome(SaveResult.SAVED, tuple(d.decode() for d in result[1:]))
    if isinstance(result, list) and result and result[0] == b"moved":
        return SaveOutcome(SaveResult.MOVED, stub=bytes(result[1]))
    if isinstance(result, list) and result and result[0] == b"size":
        return SaveOutcome(SaveResult.TOO_LARGE, size=int(result[1]))
    return SaveOutcome(int(result))


class RotateResult:
    ROTATED = 1
    TAKEN = 0
    GONE = 2
    CORRUPT = -1


@dataclass(frozen=True, slots=True)
class RotatePlan:
    old_digest: str
    new_digest: str
    expected_user_id: str
    sealed: bytes


def _rotate_outcome(result: Any) -> tuple[int, bytes | None]:
    if isinstance(result, list) and result and result[0] == b"moved":
        return RotateResult.GONE, bytes(result[1])
    return int(result), None


class CycleResult:
    TAKEN = 0
    MOVED = 1
    #: The old session was deleted meanwhile; the new key holds an empty session.
    OLD_GONE = 2


def is_out_of_memory(exc: BaseException | None) -> bool:
    """Whether Redis refused a write because it is at ``maxmemory`` (noeviction).

    redis-py raises ``OutOfMemoryError`` for a plain command; a refusal inside a
    script arrives as the script's error, which names the same ``OOM`` reply.
    """
    return isinstance(exc, redis.exceptions.OutOfMemoryError) or (
        isinstance(exc, redis.ResponseError) and "OOM command not allowed" in str(exc)
    )


def is_wrong_type(exc: BaseException) -> bool:
    """Whether a command met a key of another Redis type (a list where a session lives)."""
    return isinstance(exc, redis.ResponseError) and "WRONGTYPE" in str(exc)


def _user_mismatch(result: Any) -> str | None:
    """The stored user id when a script refused because it differs from ours."""
    if isinstance(result, list) and len(result) == 2 and result[0] == b"uid":
        value: bytes = result[1]
        return value.decode("utf-8")
    return None


class _StorageBase:
    """Key naming and script arguments shared by the sync and async storages."""

    def __init__(self, client: redis.Redis | redis.asyncio.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def session_key(self, digest: str) -> str:
        return keys.session_redis_key(self.prefix, digest)

    def index_key(self, user_id: str) -> str:
        return keys.user_index_key(self.prefix, user_id)

    def with_receipt(
        self, script: LuaScript, keys_: Sequence[str], args: Sequence[Any]
    ) -> tuple[Sequence[str], Sequence[Any]]:
        """A write script's KEYS and ARGV with a new operation's receipt (``receipts.py``)."""
        if not script.writes:
            return keys_, args
        receipt = receipts.receipt_key(
            self.prefix, keys_[0], receipts.new_op_id(), is_cluster(self.client)
        )
        return [*keys_, receipt], [*args, receipts.lifetime_ms()]

    def translate(self, exc: Exception, action: str) -> SessionStoreError:
        """Our exception for a redis-py failure, naming the server (never credentials)."""
        server = describe_server(self.client)
        # A Cluster client that reached no node raises RedisClusterException from
        # the connection error.
        cause = exc.__cause__ if isinstance(exc, RedisClusterException) else exc
        if isinstance(cause, redis.ConnectionError | redis.TimeoutError):
            return SessionStoreUnavailable(
                f"Session store Redis at {server} is unreachable ({action}): {exc}", server
            )
        if is_out_of_memory(cause):
            return SessionStoreFull(
                f"Session store Redis at {server} is full (maxmemory reached, {action}): "
                "nothing was written and every stored session is as it was; free memory, "
                "raise maxmemory or choose an eviction policy for other data.",
                server,
            )
        return SessionStoreError(
            f"Session store Redis at {server} failed ({action}): {exc}", server
        )

    def load_error(self, exc: Exception) -> Exception:
        """What a failed load raises: :class:`ForeignKey` for a key of another type."""
        if is_wrong_type(exc):
            return ForeignKey()
        return self.translate(exc, "load")

    def served_while_full(self, reply: list[Any]) -> bytes:
        """The record a load read while Redis was full; one warning per interval."""
        global _last_full_warning
        now = time.monotonic()
        if now - _last_full_warning >= FULL_WARNING_INTERVAL:
            _last_full_warning = now
            logger.warning(
                "Session store Redis at %s is full (maxmemory reached): sessions are "
                "still read and their expiry still slides, but last-seen times and "
                "request metadata are not updated, and writes fail until memory is "
                "freed. (Logged at most once every %d seconds.)",
                describe_server(self.client),
                FULL_WARNING_INTERVAL,
            )
        return bytes(reply[0])

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        """Turn redis-py failures inside the block into our exceptions."""
        try:
            yield
        except REDIS_ERRORS as exc:
            raise self.translate(exc, action) from exc

    def save_call_for(self, plan: WritePlan) -> _CallBuilder:
        return lambda expected: self.save_call(replace(plan, expected_user_id=expected))

    def delete_call_for(self, digest: str) -> _CallBuilder:
        return lambda expected: self.delete_call(digest, expected)

    def cycle_call_for(self, plan: CyclePlan) -> _CallBuilder:
        return lambda expected: self.cycle_call(replace(plan, expected_user_id=expected))

    def save_call(self, plan: WritePlan) -> _Call:
        session = self.session_key(plan.digest)
        new_index = self.index_key(plan.user_id) if plan.user_id else session
        old_index = self.index_key(plan.expected_user_id) if plan.expected_user_id else session
        args: list[Any] = [
            plan.mode,
            plan.created,
            plan.deadline,
            plan.idle,
            plan.meta,
            plan.user_id,
            plan.expected_user_id,
            plan.digest,
            plan.data,
            plan.deleted,
            keys.session_key_prefix(self.prefix),
            INDEX_SWEEP_LIMIT,
            conf.SESSION_REDIS_ABSOLUTE_AGE or 0,
            conf.SESSION_REDIS_MAX_SESSIONS_PER_USER or 0,
            "r" if conf.SESSION_REDIS_SESSION_LIMIT_ACTION == "refuse" else "e",
            conf.SESSION_REDIS_MAX_SIZE or 0,
        ]
        return [session, new_index, old_index], args

    def delete_call(self, digest: str, expected_user_id: str) -> _Call:
        session = self.session_key(digest)
        index = self.index_key(expected_user_id) if expected_user_id else session
        return [session, index], [expected_user_id, digest, keys.session_key_prefix(self.prefix)]

    def confirm_calls(
        self, digest: str, old_digest: str, grace_ms: int
    ) -> list[tuple[LuaScript, list[str], list[Any]]]:
        """The script calls that confirm a rotation: one on one server (the stub and
        the mark together); ``cluster.py`` splits them by slot."""
        keys_ = [self.session_key(digest), self.session_key(old_digest)]
        return [(CONFIRM, keys_, [digest, grace_ms])]

    def rotate_call_for(self, plan: RotatePlan) -> _CallBuilder:
        return lambda expected: self.rotate_call(replace(plan, expected_user_id=expected))

    def rotate_call(self, plan: RotatePlan) -> _Call:
        old = self.session_key(plan.old_digest)
        index = self.index_key(plan.expected_user_id) if plan.expected_user_id else old
        args = [plan.expected_user_id, plan.old_digest, plan.new_digest, plan.sealed]
        return [old, self.session_key(plan.new_digest), index], args

    def cycle_call(self, plan: CyclePlan) -> _Call:
        old = self.session_key(plan.old_digest)
        new = self.session_key(plan.new_digest)
        old_index = self.index_key(plan.expected_user_id) if plan.expected_user_id else old
        new_index = self.index_key(plan.user_id) if plan.user_id else old
        args: list[Any] = [
            plan.expected_user_id,
            plan.old_digest,
            plan.new_digest,
            plan.created,
            plan.deadline,
            plan.idle,
            encode_meta(plan.user_id, plan.meta),
            plan.user_id,
            plan.data,
            "1" if plan.old_in_store else "0",
            keys.session_key_prefix(self.prefix),
            INDEX_SWEEP_LIMIT,
            encode_meta("", plan.client_meta),
        ]
        return [old, new, old_index, new_index], args

    def _conflict(self, action: str) -> SessionStoreError:
        server = describe_server(self.client)
        return SessionStoreError(
            f"Session store Redis at {server}: {action} kept racing with a concurrent "
            "login or logout on the same session",
            server,
        )


class SessionStorage(_StorageBase):
    """Session operations on a sync ``redis.Redis`` client."""

    client: redis.Redis

    def _run(self, script: LuaScript, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        keys_, args = self.with_receipt(script, keys_, args)
        try:
            return self.client.evalsha(script.sha, len(keys_), *keys_, *args)
        except NoScriptError:
            # First use on this server (or after a restart or failover): EVAL
            # sends the text once and the server caches it for later EVALSHAs.
            # Same receipt: if the EVALSHA ran after all, this returns its reply.
            return self.client.eval(script.text, len(keys_), *keys_, *args)

    def load(self, digest: str, absolute_age: int, meta: bytes = b"") -> bytes | None:
        # The hot path: a plain try instead of the errors() context manager.
        try:
            raw = self._run(LOAD, [self.session_key(digest)], [absolute_age, meta])
        except REDIS_ERRORS as exc:
            raise self.load_error(exc) from exc
        if type(raw) is list:
            return self.served_while_full(raw)
        return cast("bytes | None", raw)

    def remove_foreign(self, digest: str) -> None:
        """Delete what sits at a session's key if it is not a string (not ours)."""
        with self.errors("remove a foreign key"):
            self._run(FOREIGN, [self.session_key(digest)], [])

    def exists(self, digest: str) -> bool:
        with self.errors("exists"):
            return bool(self.client.exists(self.session_key(digest)))

    def _run_expecting_user(
        self, script: LuaScript, call: _CallBuilder, expected_user_id: str, action: str
    ) -> Any:
        with self.errors(action):
            for _ in range(_USER_RETRIES):
                result = self._run(script, *call(expected_user_id))
                stored_user = _user_mismatch(result)
                if stored_user is None:
                    return result
                expected_user_id = stored_user
        raise self._conflict(action)

    def save(self, plan: WritePlan) -> SaveOutcome:
        call = self.save_call_for(plan)
        return _save_outcome(self._run_expecting_user(SAVE, call, plan.expected_user_id, "save"))

    def delete(self, digest: str, expected_user_id: str) -> bool:
        call = self.delete_call_for(digest)
        return bool(self._run_expecting_user(DELETE, call, expected_user_id, "delete"))

    def cycle(self, plan: CyclePlan) -> int:
        call = self.cycle_call_for(plan)
        return int(self._run_expecting_user(CYCLE, call, plan.expected_user_id, "cycle_key"))

    def discard(self, digest: str, raw: bytes) -> None:
        with self.errors("discard"):
            self._run(DISCARD, [self.session_key(digest)], [raw])

    def confirm_rotation(self, digest: str, old_digest: str, grace_ms: int) -> None:
        """The new key of a rotation reached its browser: start the old key's grace."""
        with self.errors("confirm rotation"):
            for script, keys_, args in self.confirm_calls(digest, old_digest, grace_ms):
                self._run(script, keys_, args)

    def rotate(self, plan: RotatePlan) -> tuple[int, bytes | None]:
        """Move a session to a new key; with a stub when another request did first."""
        call = self.rotate_call_for(plan)
        return _rotate_outcome(
            self._run_expecting_user(ROTATE, call, plan.expected_user_id, "rotate")
        )


class AsyncSessionStorage(_StorageBase):
    """The same operations on a ``redis.asyncio.Redis`` client."""

    client: redis.asyncio.Redis

    async def _run(self, script: LuaScript, keys_: Sequence[str], args: Sequence[Any]) -> Any:
        keys_, args = self.with_receipt(script, keys_, args)
        try:
            return await self.client.evalsha(script.sha, len(keys_), *keys_, *args)
        except NoScriptError:
            return await self.client.eval(script.text, len(keys_), *keys_, *args)

    async def load(self, digest: str, absolute_age: int, meta: bytes = b"") -> bytes | None:
        try:
            raw = await self._run(LOAD, [self.session_key(digest)], [absolute_age, meta])
        except REDIS_ERRORS as exc:
            raise self.load_error(exc) from exc
        if type(raw) is list:
            return self.served_while_full(raw)
        return cast("bytes | None", raw)

    async def remove_foreign(self, digest: str) -> None:
        with self.errors("remove a foreign key"):
            await self._run(FOREIGN, [self.session_key(digest)], [])

    async def exists(self, digest: str) -> bool:
        with self.errors("exists"):
            return bool(await self.client.exists(self.session_key(digest)))

    async def _run_expecting_user(
        self, script: LuaScript, call: _CallBuilder, expected_user_id: str, action: str
    ) -> Any:
        with self.errors(action):
            for _ in range(_USER_RETRIES):
                result = await self._run(script, *call(expected_user_id))
                stored_user = _user_mismatch(result)
                if stored_user is None:
                    return result
                expected_user_id = stored_user
        raise self._conflict(action)

    async def save(self, plan: WritePlan) -> SaveOutcome:
        call = self.save_call_for(plan)
        result = await self._run_expecting_user(SAVE, call, plan.expected_user_id, "save")
        return _save_outcome(result)

    async def delete(self, digest: str, expected_user_id: str) -> bool:
        call = self.delete_call_for(digest)
        return bool(await self._run_expecting_user(DELETE, call, expected_user_id, "delete"))

    async def cycle(self, plan: CyclePlan) -> int:
        call = self.cycle_call_for(plan)
        return int(await self._run_expecting_user(CYCLE, call, plan.expected_user_id, "cycle_key"))

    async def discard(self, digest: str, raw: bytes) -> None:
        with self.errors("discard"):
            await self._run(DISCARD, [self.session_key(digest)], [raw])

    async def confirm_rotation(self, digest: str, old_digest: str, grace_ms: int) -> None:
        with self.errors("confirm rotation"):
            for script, keys_, args in self.confirm_calls(digest, old_digest, grace_ms):
                await self._run(script, keys_, args)

    async def rotate(self, plan: RotatePlan) -> tuple[int, bytes | None]:
        call = self.rotate_call_for(plan)
        result = await self._run_expecting_user(ROTATE, call, plan.expected_user_id, "rotate")
        return _rotate_outcome(result)

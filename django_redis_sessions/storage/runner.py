"""The two drivers of every operation: one sync, one async.

An operation (``ops.py``) is a generator of steps (``steps.py``). A runner sends
each step to Redis on its client, hands the reply back, and when a step fails,
raises our exception (``SessionStoreUnavailable``, ``SessionStoreFull``,
``WrongTypeKey`` or ``SessionStoreError``, naming the server, never credentials)
*inside* the generator at that step's ``yield``, so the operation (or the engine
above it) decides what a failure means. A write script gets its receipt here
(``receipts.py``), which makes a resend by redis-py harmless.

Use::

    value = storage.run(Operations.save, plan)             # sync
    value = await storage.arun(Operations.save, plan)      # async

where the first argument is any function ``f(ops, *args)`` returning a generator
of steps, so the engine's own multi-step flows (a load that follows a rotation
stub, then confirms a rotation) run under the same two drivers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.exceptions import NoScriptError, RedisClusterException

from ..conf import conf
from ..exceptions import SessionStoreError, SessionStoreFull, SessionStoreUnavailable, WrongTypeKey
from . import receipts
from .connection import describe_server, get_async_client, get_client, is_cluster
from .direct import AsyncDirectSender, DirectSender, async_sender_for, sender_for
from .ops import Operations
from .steps import Call, Commands, Pause, Sample, Scan, Script, Step, Steps

_T = TypeVar("_T")
_P = ParamSpec("_P")

#: What a failing Redis raises: redis-py's errors, and, on a Cluster, the exception
#: redis-py raises when no node answers while it maps the slots (not a RedisError).
REDIS_ERRORS = (redis.RedisError, RedisClusterException)
#: How many sampling commands the asyncio Cluster runner keeps in flight (Sample).
SAMPLE_CONCURRENCY = 4


def is_out_of_memory(exc: BaseException | None) -> bool:
    """Whether Redis refused a write because it is at ``maxmemory`` (noeviction).

    redis-py raises ``OutOfMemoryError`` for a plain command; a refusal inside a
    script arrives as the script's error, which names the same ``OOM`` reply.
    """
    return isinstance(exc, redis.exceptions.OutOfMemoryError) or (
        isinstance(exc, redis.ResponseError) and "OOM command not allowed" in str(exc)
    )


def translate(exc: BaseException, action: str, server: str) -> SessionStoreError:
    """Our exception for a redis-py failure, naming the server (never credentials)."""
    # A Cluster client that reached no node raises RedisClusterException from the
    # connection error.
    cause = exc.__cause__ if isinstance(exc, RedisClusterException) else exc
    if isinstance(cause, redis.ConnectionError | redis.TimeoutError):
        error: SessionStoreError = SessionStoreUnavailable(
            f"Session store Redis at {server} is unreachable ({action}): {exc}", server
        )
    elif is_out_of_memory(cause):
        error = SessionStoreFull(
            f"Session store Redis at {server} is full (maxmemory reached, {action}): "
            "nothing was written and every stored session is as it was; free memory, "
            "raise maxmemory or choose an eviction policy for other data.",
            server,
        )
    elif isinstance(cause, redis.ResponseError) and "WRONGTYPE" in str(cause):
        error = WrongTypeKey(f"Session store Redis at {server} failed ({action}): {exc}", server)
    else:
        error = SessionStoreError(
            f"Session store Redis at {server} failed ({action}): {exc}", server
        )
    error.__cause__ = exc
    return error


def _action(step: Step) -> str:
    if isinstance(step, Script):
        return step.script.action
    return getattr(step, "action", "call")


class _Driver:
    """What both drivers share: the client, its operations, script arguments."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cluster = is_cluster(client)
        self.ops = Operations(conf.SESSION_REDIS_PREFIX, self.cluster, self.server)

    def server(self) -> str:
        return describe_server(self.client)

    def script_args(self, step: Script) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of a script step; a write's with a new receipt."""
        script = step.script
        argv = script.argv(step.args)
        if not script.writes:
            return step.keys, argv
        receipt = receipts.receipt_key(
            conf.SESSION_REDIS_PREFIX, step.keys[0], receipts.new_op_id(), self.cluster
        )
        return [*step.keys, receipt], [*argv, receipts.lifetime_ms()]


def _unreachable(exc: Exception) -> SessionStoreUnavailable:
    url = urlsplit(conf.SESSION_REDIS_URL)
    server = f"{url.hostname}:{url.port or 6379}"
    error = SessionStoreUnavailable(
        f"Session store Redis at {server} is unreachable (connect): {exc}", server
    )
    error.__cause__ = exc
    return error


class SyncDriver(_Driver):
    client: redis.Redis

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        #: Scripts skip redis-py's per-command layers where that loses nothing
        #: (``direct.py``); ``None``: every step goes through the client.
        self.direct: DirectSender | None = None if self.cluster else sender_for(client)

    def run(self, steps: Steps[_T]) -> _T:
        scans: dict[int, Iterator[list[bytes]]] = {}
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.send(reply) if error is None else steps.throw(error)
            except StopIteration as done:
                return cast("_T", done.value)
            error = None
            try:
                reply = self.perform(step, scans)
            except REDIS_ERRORS as exc:
                error = translate(exc, _action(step), self.server())
            except Exception as exc:  # noqa: BLE001 - raised where the step was yielded
                error = exc

    def perform(self, step: Step, scans: dict[int, Iterator[list[bytes]]]) -> Any:
        client = self.client
        if type(step) is Script:
            keys, argv = self.script_args(step)
            try:
                direct = self.direct
                if direct is not None and direct.usable():
                    return direct.evalsha(step.script.sha_bytes, keys, argv)
                return client.evalsha(step.script.sha, len(keys), *keys, *argv)
            except NoScriptError:
                # First use on this server (or after a restart or failover): EVAL
                # sends the text once and the server caches it for later EVALSHAs.
                # Same receipt: if the EVALSHA ran after all, this returns its reply.
                return client.eval(step.script.text, len(keys), *keys, *argv)
        if type(step) is Commands:
            if len(step.commands) == 1:
                return [client.execute_command(*step.commands[0])]  # type: ignore[no-untyped-call]
            pipe = client.pipeline(transaction=False)
            for command in step.commands:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]
            return pipe.execute()
        if type(step) is Scan:
            pages = scans.get(id(step))
            if pages is None:
                pages = scans[id(step)] = self._pages(step)
            return next(pages, None)
        if type(step) is Sample:
            return self._sample(step)
        if type(step) is Pause:
            time.sleep(step.seconds)
            return None
        assert type(step) is Call
        return step.sync()

    def _sample(self, step: Sample) -> list[tuple[int, list[bytes]]]:
        servers: list[Any] = [self.client]
        if self.cluster:
            cluster = cast("redis.cluster.RedisCluster", self.client)
            servers = [cluster.get_redis_connection(node) for node in cluster.get_primaries()]  # type: ignore[no-untyped-call]
        samples = []
        for server in servers:
            pipe = server.pipeline(transaction=False)
            pipe.dbsize()
            for _ in range(step.count):
                pipe.randomkey()
            size, *found = pipe.execute()
            samples.append((int(size), [bytes(key) for key in found if key is not None]))
        return samples

    def _pages(self, step: Scan) -> Iterator[list[bytes]]:
        client = self.client
        if not self.cluster:
            # One SCAN call per batch (an empty page included): progress counts them.
            cursor = 0
            while True:
                cursor, page = client.scan(
                    cursor, match=step.match, count=step.count, _type=step.type
                )
                yield cast("list[bytes]", page)
                if cursor == 0:
                    return
        # Every primary; redis-py walks the nodes in turn.
        batch: list[bytes] = []
        for key in client.scan_iter(match=step.match, count=step.count, _type=step.type):
            batch.append(key)
            if len(batch) >= step.count:
                yield batch
                batch = []
        if batch:
            yield batch


class AsyncDriver(_Driver):
    client: redis.asyncio.Redis

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.direct: AsyncDirectSender | None = None if self.cluster else async_sender_for(client)

    async def run(self, steps: Steps[_T]) -> _T:
        scans: dict[int, AsyncIterator[list[bytes]]] = {}
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                step = steps.send(reply) if error is None else steps.throw(error)
            except StopIteration as done:
                return cast("_T", done.value)
            error = None
            try:
                reply = await self.perform(step, scans)
            except REDIS_ERRORS as exc:
                error = translate(exc, _action(step), self.server())
            except Exception as exc:  # noqa: BLE001 - raised where the step was yielded
                error = exc

    async def perform(self, step: Step, scans: dict[int, AsyncIterator[list[bytes]]]) -> Any:
        client = self.client
        if type(step) is Script:
            keys, argv = self.script_args(step)
            try:
                direct = self.direct
                if direct is not None and direct.usable():
                    return await direct.evalsha(step.script.sha_bytes, keys, argv)
                return await client.evalsha(step.script.sha, len(keys), *keys, *argv)
            except NoScriptError:
                return await client.eval(step.script.text, len(keys), *keys, *argv)
        if type(step) is Commands:
            if len(step.commands) == 1:
                return [await client.execute_command(*step.commands[0])]  # type: ignore[no-untyped-call]
            pipe = client.pipeline(transaction=False)
            for command in step.commands:
                pipe.execute_command(*command)
            return await pipe.execute()
        if type(step) is Scan:
            pages = scans.get(id(step))
            if pages is None:
                pages = scans[id(step)] = self._pages(step)
            return await anext(pages, None)
        if type(step) is Sample:
            return await self._sample(step)
        if type(step) is Pause:
            await asyncio.sleep(step.seconds)
            return None
        assert type(step) is Call
        return await step.asynchronous()

    async def _sample(self, step: Sample) -> list[tuple[int, list[bytes]]]:
        if not self.cluster:
            pipe = self.client.pipeline(transaction=False)
            pipe.dbsize()
            for _ in range(step.count):
                pipe.randomkey()
            size, *found = await pipe.execute()
            return [(int(size), [bytes(key) for key in found if key is not None])]
        # The asyncio Cluster client has no per-node pipeline: the commands go to
        # the primaries concurrently instead, a few at a time (each holds one of
        # the pool's connections).
        cluster = cast("redis.asyncio.cluster.RedisCluster", self.client)
        gate = asyncio.Semaphore(SAMPLE_CONCURRENCY)

        async def send(command: str, node: Any) -> Any:
            async with gate:
                return await cluster.execute_command(command, target_nodes=node)

        async def sample(node: Any) -> tuple[int, list[bytes]]:
            size, *found = await asyncio.gather(
                send("DBSIZE", node), *(send("RANDOMKEY", node) for _ in range(step.count))
            )
            return int(size), [bytes(key) for key in found if key is not None]

        return list(await asyncio.gather(*(sample(node) for node in cluster.get_primaries())))

    async def _pages(self, step: Scan) -> AsyncIterator[list[bytes]]:
        client = self.client
        if not self.cluster:
            cursor = 0
            while True:
                cursor, page = await client.scan(
                    cursor, match=step.match, count=step.count, _type=step.type
                )
                yield cast("list[bytes]", page)
                if cursor == 0:
                    return
        batch: list[bytes] = []
        async for key in client.scan_iter(match=step.match, count=step.count, _type=step.type):
            batch.append(key)
            if len(batch) >= step.count:
                yield batch
                batch = []
        if batch:
            yield batch


class _UnreachableSync(SyncDriver):
    """Stands in for a driver whose client could not even be built (a Cluster maps
    its slots when it is built): every step fails with that error, so operations
    handle it exactly as a failure of their first step."""

    def __init__(self, error: SessionStoreUnavailable) -> None:
        self.error = error
        self.cluster = False
        self.direct = None
        self.ops = Operations(conf.SESSION_REDIS_PREFIX, False, lambda: error.server)

    def perform(self, step: Step, scans: dict[int, Iterator[list[bytes]]]) -> Any:
        if type(step) is Call:
            return step.sync()
        raise self.error


class _UnreachableAsync(AsyncDriver):
    def __init__(self, error: SessionStoreUnavailable) -> None:
        self.error = error
        self.cluster = False
        self.direct = None
        self.ops = Operations(conf.SESSION_REDIS_PREFIX, False, lambda: error.server)

    async def perform(self, step: Step, scans: dict[int, AsyncIterator[list[bytes]]]) -> Any:
        if type(step) is Call:
            return await step.asynchronous()
        raise self.error


#: The driver of each sync client, built once: every request runs through one, so
#: its operations object (key prefixes, the script set) is not rebuilt per call.
#: Keyed by ``id`` and checked by identity (a new client may reuse a closed one's
#: id); forgotten with the settings (the prefix is one of them).
_drivers: dict[int, SyncDriver] = {}
conf.on_reset(_drivers.clear)


def sync_driver() -> SyncDriver:
    try:
        client = get_client()
    except REDIS_ERRORS as exc:
        return _UnreachableSync(_unreachable(exc))
    driver = _drivers.get(id(client))
    if driver is None or driver.client is not client:
        driver = _drivers[id(client)] = SyncDriver(client)
    return driver


def async_driver() -> AsyncDriver:
    try:
        client = get_async_client()
    except REDIS_ERRORS as exc:
        return _UnreachableAsync(_unreachable(exc))
    # Not cached: an asyncio client lives as long as its event loop, and a cache
    # would keep the clients of finished loops alive.
    return AsyncDriver(client)


def run(
    operation: Callable[Concatenate[Operations, _P], Steps[_T]], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Run ``operation(ops, *args)`` on the configured sync client."""
    driver = sync_driver()
    return driver.run(operation(driver.ops, *args, **kwargs))


async def arun(
    operation: Callable[Concatenate[Operations, _P], Steps[_T]], *args: _P.args, **kwargs: _P.kwargs
) -> _T:
    """Run ``operation(ops, *args)`` on this event loop's asyncio client."""
    driver = async_driver()
    return await driver.run(operation(driver.ops, *args, **kwargs))

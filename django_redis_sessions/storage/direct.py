"""Scripts sent over a pooled connection directly: the hot path without the
layers redis-py puts around every command.

``Redis.execute_command`` in redis-py 8 times every command for its metrics,
builds a retry closure and looks up the pool's name, and its serializer checks
and re-encodes every argument; for a load (5 arguments) or a save (about 23)
that was 11 and 28 µs per request on the benchmark machine
(``docs/benchmarks.md``). :class:`DirectSender` does what remains: take a
connection from the client's own pool, pack the command once, send it and read
the reply under the connection's own ``Retry`` (the same backoff and attempts
``SESSION_REDIS_RETRIES`` gives redis-py, the connection dropped before each
new attempt), and give the connection back. :class:`AsyncDirectSender` is its
twin on ``redis.asyncio``.

Used only where nothing is lost by skipping those layers (:func:`sender_for`,
:func:`async_sender_for`): a one-server or Sentinel client, not a Cluster; not
a single-connection client; a client whose ``execute_command`` is redis-py's
own function, so an APM integration that wraps or patches it (Sentry,
OpenTelemetry, Datadog) still sees every session command through the normal
path; and, per call, with redis-py's own metrics off.
"""

from __future__ import annotations

import importlib
import inspect
import os
import types
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis
import redis.asyncio
import redis.asyncio.client
import redis.client


def _find_module(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _find_hiredis_pack() -> Callable[[tuple[bytes, ...]], bytes] | None:
    """hiredis's packer (the optional [hiredis] extra; imported by name, so type
    checking does not need hiredis installed), or ``None``."""
    return cast(
        "Callable[[tuple[bytes, ...]], bytes] | None",
        getattr(_find_module("hiredis"), "pack_command", None),
    )


_hiredis_pack = _find_hiredis_pack()
#: redis-py's metrics recorders (redis-py >= 7: opt-in OpenTelemetry metrics of
#: every command), sync and asyncio; ``None`` before that.
_recorder = _find_module("redis.observability.recorder")
_async_recorder = _find_module("redis.asyncio.observability.recorder")


def pack(args: Sequence[bytes]) -> bytes:
    """One command in the Redis protocol (RESP), from arguments already bytes."""
    if _hiredis_pack is not None:
        return _hiredis_pack(tuple(args))
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _evalsha(
    encode: Callable[[Any], bytes], sha: bytes, keys: Sequence[str], argv: Sequence[Any]
) -> list[bytes]:
    """``EVALSHA`` packed for ``send_packed_command`` (the arguments encoded by the
    connection's own encoder, but for those already bytes)."""
    args = (
        b"EVALSHA",
        sha,
        b"%d" % len(keys),
        *[encode(key) for key in keys],
        *[arg if type(arg) is bytes else encode(arg) for arg in argv],
    )
    return [pack(args)]


def _metrics_on(recorder: types.ModuleType | None, prefix: str) -> bool:
    """Whether redis-py records per-command metrics (then its own path must run).
    Unknown counts as on: a version whose recorder looks different keeps them."""
    if recorder is None:
        return False
    if getattr(recorder, f"{prefix}metrics_collector", None) is not None:
        return True
    return not getattr(recorder, f"{prefix}collector_resolved", False)


def _is_redis_py_own(function: Any, module: types.ModuleType) -> bool:
    """Whether ``function`` is redis-py's ``execute_command`` itself: a plain
    function from ``module``'s file (a wrapt proxy or a patch is not)."""
    code = getattr(function, "__code__", None)
    return (
        type(function) is types.FunctionType
        and code is not None
        and code.co_name == "execute_command"
        and os.path.normcase(code.co_filename) == os.path.normcase(module.__file__ or "")
    )


#: Per pool class: whether ``get_connection`` requires the command name (redis-py
#: before 5.3; later ones warn when given one).
_needs_name: dict[type, bool] = {}


def _needs_command_name(pool: Any) -> bool:
    cls = type(pool)
    needs = _needs_name.get(cls)
    if needs is None:
        parameter = inspect.signature(pool.get_connection).parameters.get("command_name")
        needs = _needs_name[cls] = (
            parameter is not None and parameter.default is inspect.Parameter.empty
        )
    return needs


class DirectSender:
    """Sends ``EVALSHA`` over one of a sync client's pooled connections."""

    def __init__(self, client: redis.Redis) -> None:
        pool = self.pool = client.connection_pool
        self._checkout: Callable[[], Any] = (
            (lambda: pool.get_connection("EVALSHA"))
            if _needs_command_name(pool)
            else pool.get_connection
        )

    def evalsha(self, sha: bytes, keys: Sequence[str], argv: Sequence[Any]) -> Any:
        """The script's reply, raw; redis-py's exceptions (``NoScriptError`` for an
        unknown script, ``ConnectionError`` once the retries are spent)."""
        conn = self._checkout()
        try:
            packed = _evalsha(conn.encoder.encode, sha, keys, argv)

            def exchange() -> Any:
                conn.send_packed_command(packed)
                return conn.read_response()

            return conn.retry.call_with_retry(exchange, lambda _error: conn.disconnect())
        finally:
            # redis-py >= 7: a server announcing maintenance asks for a new connection.
            should_reconnect = getattr(conn, "should_reconnect", None)
            if should_reconnect is not None and should_reconnect():
                conn.disconnect()
            self.pool.release(conn)

    @staticmethod
    def usable() -> bool:
        """Per call: redis-py's metrics may be switched on at any time."""
        return not _metrics_on(_recorder, "_")


class AsyncDirectSender:
    """:class:`DirectSender` for a ``redis.asyncio`` client."""

    def __init__(self, client: redis.asyncio.Redis) -> None:
        self.pool = client.connection_pool
        self._needs_name = _needs_command_name(self.pool)

    async def evalsha(self, sha: bytes, keys: Sequence[str], argv: Sequence[Any]) -> Any:
        pool: Any = self.pool
        conn = await (pool.get_connection("EVALSHA") if self._needs_name else pool.get_connection())
        try:
            packed = _evalsha(conn.encoder.encode, sha, keys, argv)

            async def exchange() -> Any:
                await conn.send_packed_command(packed)
                return await conn.read_response()

            async def fail(_error: BaseException) -> None:
                await conn.disconnect()

            return await conn.retry.call_with_retry(exchange, fail)
        finally:
            should_reconnect = getattr(conn, "should_reconnect", None)
            if should_reconnect is not None and should_reconnect():
                await conn.disconnect()
            await pool.release(conn)

    @staticmethod
    def usable() -> bool:
        return not _metrics_on(_async_recorder, "_async_")


#: Per client class and its ``execute_command``: whether that is redis-py's own
#: (keyed by the function too: an integration may patch it after the first use).
_own: dict[tuple[type, type, Any], bool] = {}


def _plain(client: Any, base: type, module: types.ModuleType) -> bool:
    cls = type(client)
    function = getattr(cls, "execute_command", None)
    own = _own.get((base, cls, function))
    if own is None:
        own = _own[base, cls, function] = issubclass(cls, base) and _is_redis_py_own(
            function, module
        )
    return own


def sender_for(client: Any) -> DirectSender | None:
    """A sender for a sync ``client``, or ``None`` where its own path must be used."""
    if not _plain(client, redis.Redis, redis.client) or client.connection is not None:
        return None
    return DirectSender(client)


def async_sender_for(client: Any) -> AsyncDirectSender | None:
    """A sender for an asyncio ``client``, or ``None`` where its own path must be used."""
    if not _plain(client, redis.asyncio.Redis, redis.asyncio.client):
        return None
    if client.single_connection_client:
        return None
    return AsyncDirectSender(client)

"""Scripts sent over a pooled connection directly: the hot path without the
layers redis-py puts around every command.

``Redis.execute_command`` in redis-py 8 times every command for its metrics,
builds a retry closure and looks up the pool's name, and its serializer checks
and re-encodes every argument; for a load (5 arguments) or a save (about 23)
that was 13 and 37 µs per request on the benchmark machine
(``docs/benchmarks.md``). :class:`DirectSender` does what remains: take a
connection from the client's own pool, pack the command once, send it and read
the reply under the connection's own ``Retry`` (the same backoff and attempts
``SESSION_REDIS_RETRIES`` gives redis-py, the connection dropped before each
new attempt), and give the connection back.

Used only where nothing is lost by skipping those layers
(:func:`sender_for`): a one-server or Sentinel client, not a Cluster; not a
single-connection client; a client whose ``execute_command`` is redis-py's own
function, so an APM integration that wraps or patches it (Sentry, OpenTelemetry,
Datadog) still sees every session command through the normal path; and, per
call, with redis-py's own metrics off.
"""

from __future__ import annotations

import importlib
import inspect
import os
import types
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis
import redis.client


def _find_hiredis_pack() -> Callable[[tuple[bytes, ...]], bytes] | None:
    try:
        from hiredis import pack_command
    except ImportError:  # the [hiredis] extra is optional
        return None
    return cast("Callable[[tuple[bytes, ...]], bytes]", pack_command)


def _find_recorder() -> types.ModuleType | None:
    """redis-py's metrics recorder (redis-py >= 7: opt-in OpenTelemetry metrics of
    every command), or ``None``."""
    try:
        return importlib.import_module("redis.observability.recorder")
    except ImportError:
        return None


_hiredis_pack = _find_hiredis_pack()
_recorder = _find_recorder()


def pack(args: Sequence[bytes]) -> bytes:
    """One command in the Redis protocol (RESP), from arguments already bytes."""
    if _hiredis_pack is not None:
        return _hiredis_pack(tuple(args))
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _metrics_on() -> bool:
    """Whether redis-py records per-command metrics (then its own path must run).
    Unknown counts as on: a version whose recorder looks different keeps them."""
    if _recorder is None:
        return False
    if getattr(_recorder, "_metrics_collector", None) is not None:
        return True
    return not getattr(_recorder, "_collector_resolved", False)


def _is_redis_py_own(function: Any) -> bool:
    """Whether ``function`` is redis-py's ``execute_command`` itself: a plain
    function from ``redis/client.py`` (a wrapt proxy or a patch is not)."""
    code = getattr(function, "__code__", None)
    return (
        type(function) is types.FunctionType
        and code is not None
        and code.co_name == "execute_command"
        and os.path.normcase(code.co_filename) == os.path.normcase(redis.client.__file__)
    )


class DirectSender:
    """Sends ``EVALSHA`` over one of ``client``'s pooled connections."""

    def __init__(self, client: redis.Redis) -> None:
        self.pool = client.connection_pool
        # redis-py before 5.3 requires the command name; later ones warn when given.
        parameter = inspect.signature(self.pool.get_connection).parameters.get("command_name")
        needs_name = parameter is not None and parameter.default is inspect.Parameter.empty
        pool = self.pool
        self._checkout: Callable[[], Any] = (
            (lambda: pool.get_connection("EVALSHA")) if needs_name else pool.get_connection
        )

    def evalsha(self, sha: bytes, keys: Sequence[str], argv: Sequence[Any]) -> Any:
        """The script's reply, raw; redis-py's exceptions (``NoScriptError`` for an
        unknown script, ``ConnectionError`` once the retries are spent)."""
        conn = self._checkout()
        try:
            encode = conn.encoder.encode
            packed = [
                pack(
                    (
                        b"EVALSHA",
                        sha,
                        b"%d" % len(keys),
                        *[encode(key) for key in keys],
                        *[arg if type(arg) is bytes else encode(arg) for arg in argv],
                    )
                )
            ]

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
        return not _metrics_on()


def sender_for(client: Any) -> DirectSender | None:
    """A sender for ``client``, or ``None`` where its own path must be used."""
    if not isinstance(client, redis.Redis) or getattr(client, "connection", None) is not None:
        return None
    if not _is_redis_py_own(type(client).execute_command):
        return None
    return DirectSender(client)

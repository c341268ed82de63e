"""Sentinel connections that reconnect to the *current* primary, every time.

redis-py's ``SentinelManagedConnection`` asks the Sentinels for the primary in
``connect()``; but a pooled connection whose socket dropped is reconnected by
``send_packed_command`` through ``connect_check_health()``, which (redis-py 6 to 8)
retries the address the connection had: after a failover, the dead primary. A
request retrying through a failover then kept knocking on the dead server for its
whole retry window, and failed (seen under gunicorn: one request waited 30 s, then
answered 500, while the replica had been promoted after 2.3 s). These classes send
that reconnect through the Sentinels too, on each attempt.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio.sentinel
import redis.sentinel


class _Primary(redis.sentinel.SentinelManagedConnection):
    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if retry_socket_connect and not self._sock and self.connection_pool.is_master:
            # connect() asks the Sentinels on each attempt (connect_to then calls
            # this again with retry_socket_connect=False, which connects once).
            self.connect()  # type: ignore[no-untyped-call,unused-ignore]
            return
        super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


class _PrimarySSL(_Primary, redis.sentinel.SentinelManagedSSLConnection):
    pass


class _AsyncPrimary(redis.asyncio.sentinel.SentinelManagedConnection):
    async def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if retry_socket_connect and not self.is_connected and self.connection_pool.is_master:
            await self.connect()  # type: ignore[no-untyped-call,unused-ignore]
            return
        await super().connect_check_health(
            check_health=check_health, retry_socket_connect=retry_socket_connect
        )


class _AsyncPrimarySSL(_AsyncPrimary, redis.asyncio.sentinel.SentinelManagedSSLConnection):
    pass


def primary_connection_class(kwargs: dict[str, Any], asynchronous: bool) -> type[Any]:
    """The connection class for ``master_for``'s pool (its own picks SSL by ``ssl``)."""
    ssl = bool(kwargs.get("ssl"))
    if asynchronous:
        return _AsyncPrimarySSL if ssl else _AsyncPrimary
    return _PrimarySSL if ssl else _Primary

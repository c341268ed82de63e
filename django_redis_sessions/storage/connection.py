"""Building the sync and async Redis clients the engine talks to.

Clients are cached per configuration (and, for asyncio, per event loop, because a
``redis.asyncio`` connection belongs to the loop that opened it). The settings are
remembered by ``conf`` until ``setting_changed`` fires (and the key with them: a
``conf.on_reset`` hook), so the hot path looks a
client up by an already-built key; changing the settings with
``override_settings`` gives a new client instead of a stale one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, cast
from urllib.parse import urlsplit

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry

from ..conf import conf
from .sentinel import primary_connection_class

URL_SCHEMES = ("redis", "rediss", "unix")

_lock = threading.Lock()
_sync_clients: dict[tuple[Any, ...], redis.Redis] = {}
#: Clients whose pool we opened (not a django-redis cache's), which we may close.
_owned: set[int] = set()
_async_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[Any, ...], redis.asyncio.Redis]
] = weakref.WeakKeyDictionary()


_config_key_cache: list[tuple[Any, ...]] = []


def _config_key() -> tuple[Any, ...]:
    if _config_key_cache:
        return _config_key_cache[0]
    key = (
        repr(conf.SESSION_REDIS_CLIENT_FACTORY),
        conf.SESSION_REDIS_CACHE_ALIAS,
        conf.SESSION_REDIS_URL,
        conf.SESSION_REDIS_SOCKET_TIMEOUT,
        conf.SESSION_REDIS_CONNECT_TIMEOUT,
        conf.SESSION_REDIS_RETRIES,
        conf.SESSION_REDIS_RETRY_WINDOW,
        repr(sorted(conf.SESSION_REDIS_CONNECTION_KWARGS.items())),
        repr(conf.SESSION_REDIS_SENTINELS),
        conf.SESSION_REDIS_SENTINEL_MASTER,
        repr(conf.SESSION_REDIS_SENTINEL_KWARGS),
        conf.SESSION_REDIS_CLUSTER,
    )
    _config_key_cache[:] = [key]
    return key


conf.on_reset(_config_key_cache.clear)


#: The backoff between retries: 0.1 s, doubling, at most this many seconds.
BACKOFF_CAP = 0.5
BACKOFF_BASE = 0.05


def _backoff() -> ExponentialBackoff:
    # Short, bounded waits: a request must fail visibly within a few seconds
    # rather than queue behind a dead server.
    return ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE)


def retry_count() -> int:
    """How many times a failed command is resent.

    ``SESSION_REDIS_RETRIES``, or, with ``SESSION_REDIS_RETRY_WINDOW``, enough
    retries for their backoff waits alone to add up to that window (each attempt
    against a dead server adds its own connect time on top). Resending is safe for
    every command the engine sends: reads are idempotent, and every write script
    runs under a receipt (``receipts.py``).
    """
    retries = conf.SESSION_REDIS_RETRIES
    window = conf.SESSION_REDIS_RETRY_WINDOW
    if not window:
        return retries
    waited, count = 0.0, 0
    while waited < window:
        count += 1
        waited += min(BACKOFF_CAP, BACKOFF_BASE * 2**count)
    return max(retries, count)


def _client_kwargs(asynchronous: bool) -> dict[str, Any]:
    retry_class = AsyncRetry if asynchronous else Retry
    kwargs: dict[str, Any] = {
        "socket_timeout": conf.SESSION_REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": conf.SESSION_REDIS_CONNECT_TIMEOUT,
        "retry": retry_class(_backoff(), retry_count()),
        "retry_on_timeout": retry_count() > 0,
    }
    kwargs.update(conf.SESSION_REDIS_CONNECTION_KWARGS)
    return kwargs


def _check_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in URL_SCHEMES:
        raise ImproperlyConfigured(
            f"SESSION_REDIS_URL must start with redis://, rediss:// or unix:// "
            f"(got a {scheme or 'missing'!r} scheme)."
        )


def _is_address(value: Any) -> bool:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return False
    host, port = value
    return (
        isinstance(host, str)
        and bool(host)
        and isinstance(port, int)
        and not isinstance(port, bool)
        and 0 < port < 65536
    )


def sentinel_problem() -> str | None:
    """What is wrong with the Sentinel settings (check ``E031``), or ``None``.

    Never echoes a value: ``SESSION_REDIS_SENTINEL_KWARGS`` may hold a password.
    """
    sentinels = conf.SESSION_REDIS_SENTINELS
    if sentinels is None:
        return None
    if (
        not isinstance(sentinels, list | tuple)
        or not sentinels
        or not all(_is_address(address) for address in sentinels)
    ):
        return (
            "SESSION_REDIS_SENTINELS must be None or a non-empty list of (host, port) "
            "pairs, a host a string and a port a whole number"
        )
    master = conf.SESSION_REDIS_SENTINEL_MASTER
    if not isinstance(master, str) or not master:
        return (
            "SESSION_REDIS_SENTINEL_MASTER must name the primary's Sentinel service "
            "when SESSION_REDIS_SENTINELS is set"
        )
    if not isinstance(conf.SESSION_REDIS_SENTINEL_KWARGS, dict):
        return "SESSION_REDIS_SENTINEL_KWARGS must be a dict of redis-py client options"
    return None


def _sentinel_options(asynchronous: bool) -> dict[str, Any]:
    """Options for the connections to the Sentinels themselves (not the primary)."""
    retry_class = AsyncRetry if asynchronous else Retry
    options: dict[str, Any] = {
        "socket_timeout": conf.SESSION_REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": conf.SESSION_REDIS_CONNECT_TIMEOUT,
        # Discovery moves on to the next Sentinel when one fails; retrying a dead
        # one first (redis-py's default backs off for seconds) would only delay that.
        "retry": retry_class(NoBackoff(), 0),
    }
    options.update(conf.SESSION_REDIS_SENTINEL_KWARGS)
    return options


def _sentinel_addresses() -> tuple[list[tuple[str, int]], str]:
    problem = sentinel_problem()
    if problem is not None:
        raise ImproperlyConfigured(problem + ".")
    sentinels = [(str(host), int(port)) for host, port in conf.SESSION_REDIS_SENTINELS or ()]
    return sentinels, str(conf.SESSION_REDIS_SENTINEL_MASTER)


def _sentinel_client() -> redis.Redis:
    """A client for the service's *current primary*, rediscovered after a failover.

    ``master_for`` only: reads go to the primary too, so replication lag can never
    make a session look missing (signed out) or stale.
    """
    sentinels, service = _sentinel_addresses()
    manager = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
        sentinels, sentinel_kwargs=_sentinel_options(False)
    )
    kwargs = _client_kwargs(False)
    kwargs["connection_class"] = primary_connection_class(kwargs, asynchronous=False)
    client: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call,unused-ignore]
        service, **kwargs
    )
    return client


def _async_sentinel_client() -> redis.asyncio.Redis:
    """The asyncio twin of ``_sentinel_client``: the current primary, never a replica."""
    sentinels, service = _sentinel_addresses()
    manager = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
        sentinels, sentinel_kwargs=_sentinel_options(True)
    )
    kwargs = _client_kwargs(True)
    kwargs["connection_class"] = primary_connection_class(kwargs, asynchronous=True)
    client: redis.asyncio.Redis = manager.master_for(service, **kwargs)
    return client


def _sentinel_links(client: redis.Redis | redis.asyncio.Redis) -> list[Any]:
    """The clients a Sentinel-managed client's pool uses to ask the Sentinels."""
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    return list(getattr(manager, "sentinels", ()))


#: ``is_cluster`` per client class: it runs on every request, and ``isinstance``
#: against redis-py's classes goes through ``typing``'s slow protocol checks.
_cluster_classes: dict[type, bool] = {}


def is_cluster(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster (ours, or one a factory built)."""
    kind = type(client)
    known = _cluster_classes.get(kind)
    if known is None:
        known = issubclass(kind, redis.cluster.RedisCluster | redis.asyncio.cluster.RedisCluster)
        _cluster_classes[kind] = known
    return known


def _cluster_kwargs(asynchronous: bool) -> dict[str, Any]:
    """Options for a cluster client: timeouts per node connection, bounded retries.

    redis-py retries a failed command on the cluster level (refreshing the slot map
    after a failover or a resharding), so the retry object goes there; reads stay
    on the primaries (``read_from_replicas`` off), as with Sentinel.
    """
    retry_class = AsyncRetry if asynchronous else Retry
    kwargs: dict[str, Any] = {
        "socket_timeout": conf.SESSION_REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": conf.SESSION_REDIS_CONNECT_TIMEOUT,
        "retry": retry_class(_backoff(), retry_count()),
    }
    kwargs.update(conf.SESSION_REDIS_CONNECTION_KWARGS)
    return kwargs


def _django_redis_client(alias: str) -> redis.Redis:
    try:
        from django_redis import get_redis_connection
    except ImportError as exc:  # pragma: no cover - exercised by the system check
        raise ImproperlyConfigured(
            "SESSION_REDIS_CACHE_ALIAS needs django-redis: pip install django-redis"
        ) from exc
    client: redis.Redis = get_redis_connection(alias)
    return client


#: Connection parameters that mean the same to redis-py's sync and asyncio pools.
#: Everything else in a sync pool (parsers, maintenance hooks, driver info) is
#: specific to it and stays behind.
_PORTABLE_PARAMS = (
    "host", "port", "db", "username", "password", "path", "client_name",
    "socket_timeout", "socket_connect_timeout", "socket_keepalive",
    "socket_keepalive_options", "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs",
    "ssl_ca_certs", "ssl_ca_data", "ssl_check_hostname", "ssl_min_version", "ssl_ciphers",
)  # fmt: skip


def _async_from_sync(client: redis.Redis) -> redis.asyncio.Redis:
    """An asyncio client for the same server as a sync client's pool.

    A sync pool's sockets cannot be awaited, so with ``SESSION_REDIS_CACHE_ALIAS``
    the async side opens its own pool with the same connection parameters.
    """
    source = client.connection_pool.connection_kwargs
    params: dict[str, Any] = {k: source[k] for k in _PORTABLE_PARAMS if k in source}
    connection_class = client.connection_pool.connection_class
    if issubclass(connection_class, redis.UnixDomainSocketConnection):
        params["connection_class"] = redis.asyncio.UnixDomainSocketConnection
        params.pop("host", None)
        params.pop("port", None)
    elif issubclass(connection_class, redis.SSLConnection):
        params["connection_class"] = redis.asyncio.SSLConnection
    params["retry"] = AsyncRetry(_backoff(), retry_count())
    pool = redis.asyncio.ConnectionPool(**params)
    return redis.asyncio.Redis(connection_pool=pool)


def client_factory() -> Callable[..., Any] | None:
    """The configured ``SESSION_REDIS_CLIENT_FACTORY`` as a callable, or ``None``."""
    factory = conf.SESSION_REDIS_CLIENT_FACTORY
    if factory is None:
        return None
    if isinstance(factory, str):
        try:
            factory = import_string(factory)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"SESSION_REDIS_CLIENT_FACTORY {conf.SESSION_REDIS_CLIENT_FACTORY!r} "
                f"cannot be imported: {exc}"
            ) from exc
    if not callable(factory):
        raise ImproperlyConfigured(
            f"SESSION_REDIS_CLIENT_FACTORY must be a callable or its dotted path, "
            f"not {conf.SESSION_REDIS_CLIENT_FACTORY!r}."
        )
    made: Callable[..., Any] = factory
    return made


def get_client() -> redis.Redis:
    """The sync client for the configured Redis (cached per configuration)."""
    key = _config_key()
    client = _sync_clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _sync_clients.get(key)
        if client is None:
            factory = client_factory()
            if factory is not None:
                # Not ours to close: the factory may hand out a shared client.
                client = factory(asynchronous=False)
            elif conf.SESSION_REDIS_CACHE_ALIAS:
                client = _django_redis_client(conf.SESSION_REDIS_CACHE_ALIAS)
            elif conf.SESSION_REDIS_SENTINELS is not None:
                client = _sentinel_client()
                _owned.add(id(client))
            elif conf.SESSION_REDIS_CLUSTER is True:
                _check_url(conf.SESSION_REDIS_URL)
                # Typed as the Redis it stands in for: the storages use the same
                # commands on both (cluster.py covers what differs).
                client = cast(
                    "redis.Redis",
                    redis.cluster.RedisCluster.from_url(
                        conf.SESSION_REDIS_URL, **_cluster_kwargs(False)
                    ),
                )
                _owned.add(id(client))
            else:
                _check_url(conf.SESSION_REDIS_URL)
                client = redis.Redis.from_url(conf.SESSION_REDIS_URL, **_client_kwargs(False))
                _owned.add(id(client))
            _sync_clients[key] = client
    return client


def get_async_client() -> redis.asyncio.Redis:
    """The asyncio client for the configured Redis, bound to the running loop."""
    loop = asyncio.get_running_loop()
    key = _config_key()
    per_loop = _async_clients.get(loop)
    if per_loop is None:
        per_loop = _async_clients.setdefault(loop, {})
    client = per_loop.get(key)
    if client is None:
        if not per_loop:
            _close_with_loop(loop, per_loop)
        factory = client_factory()
        if factory is not None:
            client = factory(asynchronous=True)
        elif conf.SESSION_REDIS_CACHE_ALIAS:
            client = _async_from_sync(_django_redis_client(conf.SESSION_REDIS_CACHE_ALIAS))
        elif conf.SESSION_REDIS_SENTINELS is not None:
            client = _async_sentinel_client()
        elif conf.SESSION_REDIS_CLUSTER is True:
            _check_url(conf.SESSION_REDIS_URL)
            client = cast(
                "redis.asyncio.Redis",
                redis.asyncio.cluster.RedisCluster.from_url(
                    conf.SESSION_REDIS_URL, **_cluster_kwargs(True)
                ),
            )
        else:
            _check_url(conf.SESSION_REDIS_URL)
            client = redis.asyncio.Redis.from_url(conf.SESSION_REDIS_URL, **_client_kwargs(True))
        per_loop[key] = client
    return client


async def _closer(clients: dict[tuple[Any, ...], redis.asyncio.Redis]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for client in list(clients.values()):
            await _aclose(client)


async def _start(closer: AsyncIterator[None]) -> None:
    await anext(closer)


#: Each loop's closer (and the task that starts it), kept alive with the loop.
_closers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[Any, ...]] = (
    weakref.WeakKeyDictionary()
)


def _close_with_loop(
    loop: asyncio.AbstractEventLoop, clients: dict[tuple[Any, ...], redis.asyncio.Redis]
) -> None:
    """Close ``loop``'s clients when the loop shuts down.

    Under a WSGI server Django runs each async view in an event loop of its own
    (asgiref's AsyncToSync), which is closed after the request. A client left in a
    closed loop keeps its sockets open: a thousand async requests would exhaust a
    worker's file descriptors. An async generator started in the loop is closed by
    ``loop.shutdown_asyncgens()``, which asgiref and ``asyncio.run`` call before
    closing a loop, and its ``finally`` closes the clients there, in their loop.
    """
    closer = _closer(clients)
    _closers[loop] = (closer, loop.create_task(_start(closer)))


def describe_server(client: redis.Redis | redis.asyncio.Redis) -> str:
    """``host:port``, the socket path or the Sentinel service; never credentials."""
    if is_cluster(client):
        # The node redis-py started from; which node failed is in its message.
        node = client.get_default_node()  # type: ignore[union-attr]
        if node is not None:
            return f"{node.host}:{node.port}"
        url = urlsplit(conf.SESSION_REDIS_URL)
        return f"{url.hostname}:{url.port or 6379}"
    service = getattr(client.connection_pool, "service_name", None)
    if service is not None:
        # A Sentinel-managed pool has no fixed address (its connection kwargs say
        # localhost:6379 by default); the primary is whichever the Sentinels name.
        return f"sentinel service {service}"
    params = client.connection_pool.connection_kwargs
    if params.get("path"):
        return str(params["path"])
    return f"{params.get('host', 'localhost')}:{params.get('port', 6379)}"


def reset_clients() -> None:
    """Close and forget the sync clients we opened, and forget async ones (tests)."""
    conf.reset()  # and the configuration key, by its reset hook
    with _lock:
        for client in _sync_clients.values():
            if id(client) in _owned:
                client.close()
                for link in _sentinel_links(client):
                    link.close()
        _sync_clients.clear()
        _owned.clear()
    _async_clients.clear()


async def aclose_clients() -> None:
    """Close the running event loop's async clients (tests; before a loop ends)."""
    per_loop = _async_clients.pop(asyncio.get_running_loop(), {})
    for client in per_loop.values():
        await _aclose(client)


async def _aclose(client: Any) -> None:
    # Every async pool here is ours (even with a cache alias): close it too.
    if is_cluster(client):
        # RuntimeError: a node connection opened in an event loop that is closed
        # by now, whose end closed its socket already. (redis-py's plain pool
        # skips such connections itself; the cluster client raises.)
        with contextlib.suppress(RuntimeError):
            await client.aclose()  # closes every node's connections
        return
    await client.aclose(close_connection_pool=True)
    for link in _sentinel_links(client):
        await link.aclose()

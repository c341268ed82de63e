"""Which storage serves the configured Redis: one server (or Sentinel's primary),
or a Redis Cluster (``cluster.py``), recognised by its client."""

from __future__ import annotations

from urllib.parse import urlsplit

from .cluster import AsyncClusterIndexStorage, ClusterIndexStorage
from .conf import conf
from .connection import get_async_client, get_client, is_cluster
from .exceptions import SessionStoreUnavailable
from .index_store import AsyncIndexStorage, IndexStorage
from .store import REDIS_ERRORS


def _unreachable(exc: Exception) -> SessionStoreUnavailable:
    # A Cluster client maps the slots when it is built (the sync one at once), so
    # an unreachable cluster fails here, before any storage call could report it.
    url = urlsplit(conf.SESSION_REDIS_URL)
    server = f"{url.hostname}:{url.port or 6379}"
    return SessionStoreUnavailable(
        f"Session store Redis at {server} is unreachable (connect): {exc}", server
    )


def index_storage() -> IndexStorage:
    """Session and index operations on the sync client."""
    try:
        client = get_client()
    except REDIS_ERRORS as exc:
        raise _unreachable(exc) from exc
    if is_cluster(client):
        return ClusterIndexStorage(client, conf.SESSION_REDIS_PREFIX)
    return IndexStorage(client, conf.SESSION_REDIS_PREFIX)


def async_index_storage() -> AsyncIndexStorage:
    """Session and index operations on this event loop's asyncio client."""
    try:
        client = get_async_client()
    except REDIS_ERRORS as exc:
        raise _unreachable(exc) from exc
    if is_cluster(client):
        return AsyncClusterIndexStorage(client, conf.SESSION_REDIS_PREFIX)
    return AsyncIndexStorage(client, conf.SESSION_REDIS_PREFIX)

"""Which storage serves the configured Redis: one server (or Sentinel's primary),
or a Redis Cluster (``cluster.py``), recognised by its client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from .cluster import AsyncClusterIndexStorage, ClusterIndexStorage
from .conf import conf
from .connection import get_async_client, get_client, is_cluster
from .exceptions import SessionStoreUnavailable
from .index_store import AsyncIndexStorage, IndexStorage
from .store import REDIS_ERRORS


@contextmanager
def _connecting() -> Iterator[None]:
    # A Cluster client maps the slots when it is built (the sync one at once), so
    # an unreachable cluster fails here, before any storage call could report it.
    try:
        yield
    except REDIS_ERRORS as exc:
        url = urlsplit(conf.url)
        server = f"{url.hostname}:{url.port or 6379}"
        raise SessionStoreUnavailable(
            f"Session store Redis at {server} is unreachable (connect): {exc}", server
        ) from exc


def index_storage() -> IndexStorage:
    """Session and index operations on the sync client."""
    with _connecting():
        client = get_client()
    if is_cluster(client):
        return ClusterIndexStorage(client, conf.prefix)
    return IndexStorage(client, conf.prefix)


def async_index_storage() -> AsyncIndexStorage:
    """Session and index operations on this event loop's asyncio client."""
    with _connecting():
        client = get_async_client()
    if is_cluster(client):
        return AsyncClusterIndexStorage(client, conf.prefix)
    return AsyncIndexStorage(client, conf.prefix)

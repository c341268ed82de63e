"""Receipts: every write is safe to execute twice.

A reply can be lost after Redis ran a command: a socket timeout during a stall, a
connection cut by a proxy or a failover. redis-py then reconnects and sends the
same command again (``SESSION_REDIS_RETRIES``). For a plain ``GET`` that is
harmless; for our write scripts it was not: a resent ``cycle_key`` found its new key
taken and started over from a session it had already moved, a resent rotation
found "key taken" and kept a key that was about to die, a resent audit append
logged its events twice.

The protocol, the same for every write script (``scripts/receipt.lua`` wraps each
one): the client chooses a random operation id per call and sends it as a
*receipt key* at the end of KEYS, with the receipt's lifetime at the end of ARGV.
The script returns at once with the reply the receipt holds if it exists;
otherwise it runs, then stores its reply in the receipt. Resending the identical
call (which is all redis-py's retry does) therefore has the effect of one run and
returns the same reply. A new call, even with the same arguments, gets a new id.

On a Redis Cluster the receipt key lives in the hash slot of the script's first
key, so it reaches the same node in the same call: ``<prefix>:o:{<tag>}:<id>``,
where ``<tag>`` is what Redis hashes of that first key; on one server it is
``<prefix>:o:<id>``. It lives as long as
redis-py can still be resending the call (see :func:`lifetime_ms`), then expires.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from redis.crc import key_slot

from ..conf import conf
from .connection import retry_count

#: Bytes of randomness in an operation id: two calls never share one.
OP_ID_BYTES = 12
#: The shortest a receipt lives: far beyond any retry of a healthy client.
MIN_LIFETIME_MS = 60_000


def new_op_id() -> str:
    return secrets.token_hex(OP_ID_BYTES)


def _hash_tag(key: str) -> str | None:
    """The part of ``key`` Redis Cluster hashes when it has a hash tag, else ``None``."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1:
        return None
    return key[start + 1 : end]


@lru_cache(maxsize=1024)
def _tag_for_slot(slot: int) -> str:
    """A short string whose own hash slot is ``slot`` (found once, then cached)."""
    n = 0
    while True:
        candidate = format(n, "x")
        if key_slot(candidate.encode()) == slot:
            return candidate
        n += 1


def slot_tag(key: str) -> str:
    """A hash tag that puts another key in the same Redis Cluster slot as ``key``."""
    tag = _hash_tag(key)
    if tag is not None:
        return tag
    if "}" not in key:
        return key  # "{<key>}" hashes exactly the key's own bytes
    # A key with a stray brace (a user id in an index key) cannot be wrapped in
    # braces unchanged: use any tag of the same slot.
    return _tag_for_slot(key_slot(key.encode()))


def receipt_key(prefix: str, first_key: str, op_id: str, cluster: bool) -> str:
    """Where a call's receipt lives: beside its first key's slot on a Cluster."""
    if cluster:
        return f"{prefix}:o:{{{slot_tag(first_key)}}}:{op_id}"
    return f"{prefix}:o:{op_id}"


#: The lifetime for the current settings, once computed (forgotten by a conf reset).
_lifetime_cache: list[int] = []
conf.on_reset(_lifetime_cache.clear)


def lifetime_ms() -> int:
    """How long a receipt must last: as long as redis-py may still resend its call.

    Each resend (``SESSION_REDIS_RETRIES``, or as many as
    ``SESSION_REDIS_RETRY_WINDOW`` takes) waits for a reconnect (the connect
    timeout), a reply (the socket timeout) and the backoff (at most 0.5 s); twice
    that, and never under a minute.
    """
    if _lifetime_cache:
        return _lifetime_cache[0]
    attempt = (
        (conf.SESSION_REDIS_SOCKET_TIMEOUT or 10.0)
        + (conf.SESSION_REDIS_CONNECT_TIMEOUT or 10.0)
        + 0.5
    )
    window = 2 * (retry_count() + 1) * attempt
    lifetime = max(MIN_LIFETIME_MS, int(window * 1000))
    _lifetime_cache[:] = [lifetime]
    return lifetime

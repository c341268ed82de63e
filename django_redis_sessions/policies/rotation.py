"""Periodic key rotation (``SESSIONS_ROTATE_AFTER``): when it is due, and the
sealed stub that keeps the old key working during its grace period.

When a session's key is old enough, the engine moves the session to a new key
(``rotate.lua``, ``storage/ops.py``) and leaves a *stub* at the old key for
``SESSIONS_ROTATE_GRACE`` seconds: ``>`` + the new key's digest + the new key
sealed with the old one. A request still carrying the old cookie (one that was in
flight when another request rotated) opens the stub with the key it holds,
continues on the new key, and its response carries the new cookie, so concurrent
requests never sign the user out.

Redis still never holds a usable key: the sealed key is XORed with a BLAKE2b pad
derived from the old key, which only the old cookie's holder has. After the grace
period the stub expires and the old key is dead.
"""

from __future__ import annotations

import hashlib
import time

from ..storage import keys
from ..storage.record import META_ROTATED, stub_target

_DIGEST_HEX = 2 * keys.DIGEST_SIZE
_PERSON = b"drs:rotate"


def is_due(rotate_after: int | None, created: int | None, meta: dict[str, str]) -> bool:
    """Whether a session's key is old enough to rotate (``SESSIONS_ROTATE_AFTER``):
    counted from its last rotation, or from its creation before the first."""
    if not rotate_after or created is None:
        return False
    since = meta.get(META_ROTATED)
    base = int(since) if since and since.isdigit() else created
    return time.time() - base >= rotate_after


def _pad(old_key: str, length: int) -> bytes:
    return hashlib.blake2b(old_key.encode("ascii"), digest_size=length, person=_PERSON).digest()


def seal(old_key: str, new_key: str) -> bytes:
    """``new_key`` sealed with ``old_key``: what the stub stores (hex)."""
    plain = new_key.encode("ascii")
    return (
        bytes(a ^ b for a, b in zip(plain, _pad(old_key, len(plain)), strict=True)).hex().encode()
    )


def open_stub(old_key: str, raw: bytes) -> str | None:
    """The key a stub moved ``old_key``'s session to, or ``None`` if it is not valid."""
    target = stub_target(raw)
    try:
        sealed = bytes.fromhex(raw[1 + _DIGEST_HEX :].decode("ascii"))
    except ValueError:
        return None
    if not 8 <= len(sealed) <= 64:
        return None
    plain = bytes(a ^ b for a, b in zip(sealed, _pad(old_key, len(sealed)), strict=True))
    new_key = plain.decode("ascii", "replace")
    # The digest check proves the stub was made for this very key: a stub written
    # by anyone without the old key opens to garbage, which is refused here.
    if not keys.is_valid_session_key(new_key) or keys.digest(new_key) != target:
        return None
    return new_key

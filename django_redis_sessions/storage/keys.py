"""Session-key validation, digesting and Redis key naming.

Redis never sees a raw session key: the Redis key of a session, and its member in
its user's index, are derived from a BLAKE2b digest of the cookie value. Someone
who can read Redis (a replica, a backup, ``MONITOR``) learns digests, and a digest
cannot be turned back into a cookie. Admin pages and log lines show a shorter
*fingerprint* of the same digest.
"""

from __future__ import annotations

import hashlib
import re

#: Django's own generator makes 32 characters from ``[a-z0-9]`` (about 165 bits
#: from ``secrets``). We accept 8 to 64 of those characters, so keys issued by
#: Django's other engines stay valid after a migration, and refuse everything else
#: before any Redis command is built from it (OWASP: validate keys like any input).
SESSION_KEY_RE = re.compile(r"[a-z0-9]{8,64}")

#: 16 bytes of digest: collisions are out of reach, and 32 hex characters keep a
#: session's Redis key short.
DIGEST_SIZE = 16

#: Twelve hex characters (48 bits) identify a session among its user's sessions in
#: admin pages and logs without being usable as, or reversible to, the key.
FINGERPRINT_LENGTH = 12


def is_valid_session_key(value: object) -> bool:
    """Whether ``value`` has the shape of a session key this engine would accept."""
    return isinstance(value, str) and SESSION_KEY_RE.fullmatch(value) is not None


def digest(session_key: str) -> str:
    """The hex digest that stands for ``session_key`` everywhere in Redis."""
    return hashlib.blake2b(session_key.encode("ascii"), digest_size=DIGEST_SIZE).hexdigest()


def fingerprint_of_digest(session_digest: str) -> str:
    return session_digest[:FINGERPRINT_LENGTH]


def fingerprint(session_key: str) -> str:
    """A short, stable, non-reversible id for logs and admin pages."""
    return fingerprint_of_digest(digest(session_key))


def session_key_prefix(prefix: str) -> str:
    return f"{prefix}:s:"


def session_redis_key(prefix: str, session_digest: str) -> str:
    return f"{prefix}:s:{session_digest}"


def user_index_prefix(prefix: str) -> str:
    return f"{prefix}:u:"


def user_index_key(prefix: str, user_id: str) -> str:
    return f"{prefix}:u:{user_id}"


def users_key(prefix: str) -> str:
    """The users index: a sorted set of the user ids that have an index, scored by
    their latest sign-in (unix ms). One key, so on a Cluster it lives in one slot."""
    return f"{prefix}:users"


def audit_key(prefix: str, user_id: str) -> str:
    """The list holding ``user_id``'s audit events (``audit.py``), newest first."""
    return f"{prefix}:a:{user_id}"


_GLOB_SPECIALS = re.compile(r"([*?\[\]\\])")


def escape_glob(text: str) -> str:
    """Escape ``text`` for a ``SCAN MATCH`` pattern, so a prefix matches literally."""
    return _GLOB_SPECIALS.sub(r"\\\1", text)

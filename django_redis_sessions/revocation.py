"""Ending sessions, and saying so: a log line per ended session and ``session_revoked``.

Shared by everything that ends sessions: the Python API (``api.py``, behind the
admin, the user's own pages and the commands), the session limit in the engine
(``backend.py``, which queues the signal instead of sending it) and the
password-change policy (``policies/password_change.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from django.contrib.auth import get_user_model

from .conf import conf
from .identifiers import user_id_of
from .signals import session_revoked
from .storage import Operations, keys, run
from .storage.steps import Call, Steps

logger = logging.getLogger("django_redis_sessions")


def user_model() -> type[Any]:
    """The sender of ``session_revoked``: the user model class."""
    return get_user_model()


def _actor_name(actor: Any) -> str:
    get_username = getattr(actor, "get_username", None)
    return str(get_username()) if callable(get_username) else str(actor)


def announce_revocation(
    user_id: str | None, digests: list[str], by: str, actor: Any
) -> dict[str, Any] | None:
    """Log each ended session and build the signal's arguments (None: nothing ended)."""
    if not digests:
        return None
    fingerprints = tuple(keys.fingerprint_of_digest(d) for d in digests)
    # Who did it goes into the audit line too: "by admin" alone does not say which
    # of several staff members ended someone's session.
    source = by if actor is None else f"{by}: {_actor_name(actor)}"
    for fingerprint in fingerprints:
        logger.info(
            "Session %s of user %s revoked (by %s)", fingerprint, user_id or "(anonymous)", source
        )
    return {
        "user_id": user_id,
        "fingerprints": fingerprints,
        "count": len(digests),
        "by": by,
        "actor": actor,
    }


def announce_store_revocation(count: int, by: str, actor: Any) -> dict[str, Any] | None:
    """Log a store-wide revocation and build the signal's arguments (None: nothing ended)."""
    if not count:
        return None
    logger.warning(
        "Every session under prefix %r revoked: %d ended (by %s)",
        conf.SESSION_REDIS_PREFIX,
        count,
        by,
    )
    return {"user_id": None, "fingerprints": (), "count": count, "by": by, "actor": actor}


def announced(kwargs: dict[str, Any] | None) -> Steps[None]:
    """A step sending ``session_revoked`` with what an ``announce_*`` built (none if
    nothing ended): ``send()`` under the sync driver, ``asend()`` under the async one."""
    if kwargs is None:
        return
    model = user_model()

    async def asend() -> None:
        await session_revoked.asend(sender=model, **kwargs)

    yield Call(lambda: session_revoked.send(sender=model, **kwargs), asend)


def revoking(
    ops: Operations,
    user_id: str,
    by: str,
    actor: Any,
    keep: Collection[str] = (),
    keep_newest: bool = False,
    only: Collection[str] = (),
) -> Steps[list[str]]:
    """End ``user_id``'s sessions (all but ``keep``, or only those shown under the
    fingerprints ``only``), then announce it; the digests ended."""
    ended = yield from ops.revoke_user(user_id, keep, keep_newest, only)
    yield from announced(announce_revocation(user_id, ended, by, actor))
    return ended


def revoke_keeping_digests(
    user: Any, *, keep: Collection[str], by: str, actor: Any = None, keep_newest: bool = False
) -> int:
    """End ``user``'s sessions except those whose digests are in ``keep``; how many ended.

    :func:`~django_redis_sessions.api.revoke_user_sessions` with the sessions to
    keep given as digests, for callers that know sessions only by digest (the
    password-change policy).
    """
    return len(run(revoking, user_id_of(user), by, actor, keep, keep_newest))

"""What a session does while Redis is unreachable (``SESSION_REDIS_ON_OUTAGE``).

``"raise"`` (the default): the request fails with ``SessionStoreUnavailable``.
``"degrade"``: the request goes on with an empty session (or, when a save failed,
with what it had) that writes nothing, reports itself unmodified (so no cookie is
set or deleted for it) and keeps the key the browser sent, except where going on
would lie: never for ``cycle_key`` (a login needs Redis), never for a save that
changes who is signed in.
"""

from __future__ import annotations

import logging

from ..conf import conf
from ..exceptions import SessionStoreUnavailable

logger = logging.getLogger("django_redis_sessions")


def may_degrade(changes_user: bool, in_cycle_key: bool) -> bool:
    """Whether this failure may degrade the session instead of raising."""
    return conf.SESSION_REDIS_ON_OUTAGE == "degrade" and not in_cycle_key and not changes_user


def log_degraded(exc: SessionStoreUnavailable, action: str, fingerprint: str | None) -> None:
    """One warning line for a request that goes on without Redis."""
    logger.warning(
        "Session store Redis at %s is unreachable (%s, %s): session %s is served %s "
        'for this request (SESSION_REDIS_ON_OUTAGE = "degrade"); nothing was written.',
        exc.server,
        action,
        exc.__cause__.__class__.__name__ if exc.__cause__ is not None else "error",
        fingerprint or "(new)",
        "empty and unsaved" if action == "load" else "without saving its changes",
    )


def refusal(outage: SessionStoreUnavailable, action: str) -> SessionStoreUnavailable:
    """The error for an operation a degraded session cannot do without Redis."""
    error = SessionStoreUnavailable(
        f"Session store Redis at {outage.server} is unreachable: {action} needs it, and "
        "this request's session could not be loaded.",
        outage.server,
    )
    error.__cause__ = outage
    return error

"""The events a policy decides while the engine loads or saves a session: logged at
once (by fingerprint, never the key), and their signals queued, to be sent when
the operation ends, with ``send()`` under the sync driver and ``asend()`` under the
async one, so a receiver that writes to Redis (the audit trail) never blocks an
event loop.
"""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

from ..conf import conf
from ..signals import (
    By,
    Event,
    session_ip_changed,
    session_limit_reached,
    session_revoked,
    session_rotated,
    session_user_agent_changed,
)
from ..storage import keys
from ..storage.steps import Call, Steps

security_logger = logging.getLogger("django.security.SuspiciousSession")
logger = logging.getLogger("django_redis_sessions")


class EventQueue:
    """Signals queued by one session store until its operation ends."""

    def __init__(self, sender: Any) -> None:
        self.sender = sender
        self._queued: list[tuple[Signal, Any, dict[str, Any]]] = []

    @property
    def pending(self) -> bool:
        return bool(self._queued)

    def queue(self, signal: Signal, sender: Any, **kwargs: Any) -> None:
        self._queued.append((signal, sender, kwargs))

    def flush(self) -> Steps[None]:
        """A step sending what is queued (none when nothing is)."""
        queued, self._queued = self._queued, []

        def send() -> None:
            for signal, sender, kwargs in queued:
                signal.send(sender=sender, **kwargs)

        async def asend() -> None:
            for signal, sender, kwargs in queued:
                await signal.asend(sender=sender, **kwargs)

        yield Call(send, asend)

    def violation(
        self, event: str, what: str, action: str, detail: dict[str, str], user_id: str,
        fingerprint: str | None,
    ) -> None:  # fmt: skip
        """A binding policy saw the client change mid-session."""
        security_logger.warning(
            "Session %s of user %s: %s mid-session; %s.",
            fingerprint or "-",
            user_id or "(anonymous)",
            what,
            "the session was ended" if action == "end" else "flagged",
        )
        if event == Event.IP_CHANGED:
            self.queue(
                session_ip_changed,
                self.sender,
                user_id=user_id or None,
                fingerprint=fingerprint,
                old_network=detail["from"],
                new_network=detail["to"],
                action=action,
            )
        else:
            self.queue(
                session_user_agent_changed,
                self.sender,
                user_id=user_id or None,
                fingerprint=fingerprint,
                action=action,
            )

    def rotated(self, old_digest: str, new_digest: str, user_id: str) -> None:
        old, new = keys.fingerprint_of_digest(old_digest), keys.fingerprint_of_digest(new_digest)
        logger.info("Session %s of user %s rotated to %s.", old, user_id or "(anonymous)", new)
        self.queue(
            session_rotated,
            self.sender,
            user_id=user_id or None,
            fingerprint=new,
            old_fingerprint=old,
        )

    def limit_ended(self, user_id: str, new_digest: str, ended: tuple[str, ...]) -> None:
        """A sign-in ended these sessions for ``SESSIONS_MAX_PER_USER``."""
        from .. import revocation

        kwargs = revocation.announce_revocation(user_id, list(ended), By.LIMIT, None)
        if kwargs is not None:
            self.queue(session_revoked, revocation.user_model(), **kwargs)
        if not ended:
            return
        self.queue(
            session_limit_reached,
            self.sender,
            user_id=user_id,
            action="end_oldest",
            fingerprint=keys.fingerprint_of_digest(new_digest),
            ended=tuple(keys.fingerprint_of_digest(digest) for digest in ended),
            limit=conf.SESSIONS_MAX_PER_USER,
        )

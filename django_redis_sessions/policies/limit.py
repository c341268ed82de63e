"""Session policies that act at sign-in (``SESSIONS_MAX_PER_USER``).

The limit itself is enforced by the save script, atomically: of two simultaneous
sign-ins with a limit of 1, the second sees the first. With the "end_oldest"
action that needs nothing here. With "refuse", a sign-in beyond the limit must
fail *inside* ``login()``, where the login view can still show an error, not later
in ``SessionMiddleware``'s response-time save: so ``user_logged_in`` saves the
session at once, and a refusal signs the request out again and raises
:class:`~django_redis_sessions.exceptions.SessionLimitReached` out of ``login()``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from ..conf import conf
from ..exceptions import SessionLimitReached
from ..signals import session_limit_reached
from ..storage import keys

ENGINE = "django_redis_sessions.backend"


def refuses_beyond_limit() -> bool:
    return bool(conf.SESSIONS_MAX_PER_USER) and conf.SESSIONS_LIMIT_ACTION == "refuse"


def enforce_limit_at_login(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    """``user_logged_in`` receiver: save now, so a refusal surfaces from ``login()``."""
    if request is None or not refuses_beyond_limit():
        return
    session = getattr(request, "session", None)
    # This engine's session (a policy does not import the engine: the engine asks
    # the policies, never the other way round).
    if session is None or conf.SESSION_ENGINE != ENGINE or not hasattr(session, "flush"):
        return
    try:
        session.save()
    except SessionLimitReached:
        fingerprint = keys.fingerprint(session.session_key) if session.session_key else None
        # The key login() just issued holds nothing worth keeping: end it, so the
        # response signs the browser out rather than leaving it half signed in.
        session.flush()
        request.user = AnonymousUser()
        session_limit_reached.send(
            sender=type(session),
            user_id=str(user.pk),
            action="refuse",
            fingerprint=fingerprint,
            ended=(),
            limit=conf.SESSIONS_MAX_PER_USER,
        )
        raise

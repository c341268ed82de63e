"""Ending a user's other sessions when their password changes.

Add one line to ``AUTH_PASSWORD_VALIDATORS``::

    {"NAME": "django_redis_sessions.policies.password_change.RevokeSessionsOnPasswordChange"}

Django calls every configured validator's ``password_changed()`` whenever a
user's password is set and saved: the password-change and password-reset views,
the admin, ``manage.py changepassword``, or your own ``set_password()`` +
``save()``. This "validator" accepts every password and, on that call, ends all
of the user's sessions except the one(s) the current request is using, so the
person who changed the password stays signed in (Django's
``update_session_auth_hash`` then rotates that session's key) and every other
device is signed out at once.

The current request's sessions are known because the engine notes, per request
(a context variable, reset when a request starts and ends), which sessions it
loaded.
Without a request (``changepassword``, a shell) every session of the user ends.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from ..exceptions import SessionStoreError
from ..signals import By

logger = logging.getLogger("django_redis_sessions")

_in_use: ContextVar[frozenset[str]] = ContextVar(
    "django_redis_sessions_in_use", default=frozenset()
)


def note_in_use(digest: str) -> None:
    """Remember that the running request (or task) uses the session ``digest``."""
    in_use = _in_use.get()
    if digest not in in_use:
        _in_use.set(in_use | {digest})


def sessions_in_use() -> frozenset[str]:
    return _in_use.get()


def forget_in_use(**kwargs: Any) -> None:
    """``request_started``/``request_finished`` receiver: start and end clean."""
    _in_use.set(frozenset())


class RevokeSessionsOnPasswordChange:
    """A password "validator" that ends the user's other sessions on a change."""

    def validate(self, password: str, user: Any = None) -> None:
        return None

    def get_help_text(self) -> str:
        # Shown with the other validators' rules on password forms: worth saying.
        return "Changing your password signs you out of your other sessions."

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is None or getattr(user, "pk", None) is None:
            return
        from ..revocation import revoke_keeping_digests

        try:
            revoke_keeping_digests(user, sessions_in_use(), By.PASSWORD_CHANGE)
        except SessionStoreError as exc:
            # The password is already saved. Django's own session-hash check still
            # signs the other sessions out at their next request, so this is not
            # a hole; it is logged so the operator sees Redis was unreachable.
            logger.error(
                "Could not revoke sessions of user %s after a password change: %s", user.pk, exc
            )

"""Ending a user's other sessions when their password changes.

On by default (``SESSIONS_REVOKE_ON_PASSWORD_CHANGE``). ``apps.py`` connects
:func:`revoke_on_password_change` to the user model's ``post_save``. It acts when
the saved user carries a new password: Django's ``set_password()`` keeps the raw
password in ``user._password`` until the next ``save()`` has written the hash
(``AbstractBaseUser.save()`` clears it after ``post_save``), which is exactly
when Django itself calls the password validators' ``password_changed()``. That
covers every way Django changes a password: ``set_password()`` + ``save()``, the
password-change and password-reset views (``PasswordChangeForm``,
``SetPasswordForm``), the admin's password form and ``manage.py changepassword``.
A password hash merely upgraded at sign-in (a new hasher or iteration count) is
not a change: Django clears ``_password`` before that save.

Comparing the stored hash instead would cost a query on every save of a user
(``last_login`` at each sign-in) and would take a hash upgrade for a change.

It ends all of the user's sessions except the one(s) the current request is
using, so the person who changed the password stays signed in (Django's
``update_session_auth_hash`` then rotates that session's key) and every other
device is signed out at once. The current request's sessions are known because
the engine notes, per request (a context variable, reset when a request starts
and ends), which sessions it loaded. Without a request (``changepassword``, a
shell) every session of the user ends.

It used to be a password "validator"; that put its help text on every password
form, the sign-up form included.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from contextvars import ContextVar
from typing import Any

from ..conf import conf
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


def password_changing(user: Any, created: bool, update_fields: Collection[str] | None) -> bool:
    """Whether this save of ``user`` writes a password set by ``set_password()``."""
    if created or getattr(user, "pk", None) is None:
        return False  # a new user has no sessions yet
    if getattr(user, "_password", None) is None:
        return False  # no set_password() since the last save (or a hash upgrade)
    return update_fields is None or "password" in update_fields


def revoke_on_password_change(
    sender: Any,
    instance: Any,
    created: bool = False,
    raw: bool = False,
    update_fields: Collection[str] | None = None,
    **kwargs: Any,
) -> None:
    """The user model's ``post_save`` receiver: end the other sessions on a change."""
    if raw or not conf.SESSIONS_REVOKE_ON_PASSWORD_CHANGE:
        return
    if not password_changing(instance, created, update_fields):
        return
    from ..revocation import revoke_keeping_digests

    try:
        revoke_keeping_digests(instance, keep=sessions_in_use(), by=By.PASSWORD_CHANGE)
    except SessionStoreError as exc:
        # The password is already saved. Django's own session-hash check still
        # signs the other sessions out at their next request, so this is not
        # a hole; it is logged so the operator sees Redis was unreachable.
        logger.error(
            "Could not revoke sessions of user %s after a password change: %s", instance.pk, exc
        )


def connect_receiver() -> None:
    """Connect :func:`revoke_on_password_change` to the user model's ``post_save``."""
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save

    if not apps.is_installed("django.contrib.auth"):
        return
    post_save.connect(
        revoke_on_password_change,
        sender=get_user_model(),
        dispatch_uid="django_redis_sessions.password_change",
    )

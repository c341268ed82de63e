"""Users and sessions as callers name them, turned into what the index holds.

The API, the admin and the user's own pages accept a user object or a primary key,
and a request, a session or a session key for "the caller's own session"; the
index knows users by id string and sessions by digest. Pages show a fingerprint,
which comes back as text and is checked here before it reaches Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeAlias

from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from .storage import keys

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

#: A user as every public function takes it: an instance of ``AUTH_USER_MODEL`` or
#: its primary key (an ``int``, a ``str`` or a ``uuid.UUID``, whichever the user
#: model's primary key is; a string of digits for an integer key is accepted).
UserRef: TypeAlias = "AbstractBaseUser | int | str | uuid.UUID"

_FINGERPRINT_DIGITS = frozenset("0123456789abcdef")


def user_id_of(user: UserRef) -> str:
    """The id under which ``user``'s sessions are indexed, as Django's login stores it.

    Accepts a :data:`UserRef`: a user instance or a primary key of
    ``AUTH_USER_MODEL`` (an ``int``, a ``UUID``, a string). Raises ``TypeError``
    for anything else (``None``, a ``bool``, a ``float``, another model's
    instance...), and ``ValueError`` for an anonymous or unsaved user and for a
    value that is not a valid primary key of the user model.
    """
    if getattr(user, "is_anonymous", False) is True:
        raise ValueError("An anonymous user has no sessions to list or revoke.")
    model = get_user_model()
    meta = getattr(user, "_meta", None)
    if meta is not None:
        if not isinstance(user, model):
            raise TypeError(
                f"{user!r} is an instance of {meta.label}, not of {model._meta.label} "
                "(AUTH_USER_MODEL): pass a user or a user's primary key."
            )
        if user.pk is None:
            raise ValueError(f"User {user!r} is not saved: it has no sessions.")
        return str(meta.pk.value_to_string(user))
    if isinstance(user, bool) or not isinstance(user, int | str | uuid.UUID):
        raise TypeError(
            f"{user!r} is not a user or a user's primary key "
            "(expected a user instance, an int, a str or a UUID)."
        )
    try:
        value = model._meta.pk.to_python(user)
    except ValidationError as exc:
        raise ValueError(
            f"{user!r} is not a valid primary key for {model._meta.label}: "
            + " ".join(str(message) for message in exc.messages)
        ) from None
    if value is None or value == "":
        raise ValueError(f"{user!r} is not a user or a user's primary key.")
    return str(value)


def _session_of(current: Any) -> Any:
    if isinstance(current, HttpRequest):
        return getattr(current, "session", None)
    return current


def digests_of(current: Any) -> frozenset[str]:
    """Digests of the session(s) named by a request, a session, a key or several."""
    current = _session_of(current)
    if current is None:
        return frozenset()
    if isinstance(current, SessionBase):
        current = current.session_key
        if current is None:
            return frozenset()  # a session not saved yet has no key to match
    if isinstance(current, str):
        return (
            frozenset({keys.digest(current)}) if keys.is_valid_session_key(current) else frozenset()
        )
    if isinstance(current, Iterable):
        return frozenset().union(*(digests_of(item) for item in current))
    raise TypeError(f"Expected a request, a session or a session key, got {current!r}.")


def check_fingerprint(fingerprint: Any) -> str:
    """``fingerprint`` if it has the shape of one, else ``ValueError``."""
    if (
        not isinstance(fingerprint, str)
        or len(fingerprint) != keys.FINGERPRINT_LENGTH
        or not _FINGERPRINT_DIGITS.issuperset(fingerprint)
    ):
        raise ValueError(
            f"{fingerprint!r} is not a session fingerprint "
            f"({keys.FINGERPRINT_LENGTH} lowercase hexadecimal digits)."
        )
    return fingerprint

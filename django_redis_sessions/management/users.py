"""Finding the users named on a management command's line.

Every name is resolved before anything changes, so a typo in the third name of
``revoke_sessions alice bob carol`` ends nobody's sessions.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management import CommandError

NOTHING_CHANGED = "Nothing was changed."


def _impossible_name(identifier: str) -> bool:
    """Whether no user can have this name, so it must not reach the database.

    A lone surrogate is what Python makes of a non-UTF-8 byte on the command line:
    databases cannot encode it (SQLite raises ``UnicodeEncodeError``). A NUL is
    refused by Django's forms and by PostgreSQL, and SQLite's ``LIKE`` stops at it,
    so ``alice@example.com<NUL>junk`` would match alice's email.
    """
    if "\x00" in identifier:
        return True
    try:
        identifier.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _by_pk(model: Any, identifier: str) -> Any:
    try:
        pk = model._meta.pk.to_python(identifier)
    except ValidationError as exc:
        reason = " ".join(str(message) for message in exc.messages)
        raise CommandError(
            f"'{identifier}' is not a valid id for {model._meta.label}: {reason} {NOTHING_CHANGED}"
        ) from None
    return model._default_manager.filter(pk=pk).first()


def _email_field(model: Any) -> str | None:
    name = model.get_email_field_name() if hasattr(model, "get_email_field_name") else "email"
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return str(name)


def _by_name(model: Any, identifier: str) -> Any:
    username_field = model.USERNAME_FIELD
    user = model._default_manager.filter(**{username_field: identifier}).first()
    if user is not None:
        return user
    # Email addresses are matched without regard to case (even when the email
    # is the username field): "Alice@Example.com" is the same mailbox.
    email_field = _email_field(model)
    if email_field is None:
        return None
    matches = list(model._default_manager.filter(**{f"{email_field}__iexact": identifier})[:2])
    if len(matches) > 1:
        raise CommandError(
            f"'{identifier}' is the email of more than one user: name the user by "
            f"{username_field} or use --id. {NOTHING_CHANGED}"
        )
    return matches[0] if matches else None


def _name_fields(model: Any) -> str:
    email_field = _email_field(model)
    if email_field is None:
        return str(model.USERNAME_FIELD)
    if email_field == model.USERNAME_FIELD:
        return email_field
    return f"{model.USERNAME_FIELD} or {email_field}"


def resolve_users(identifiers: list[str], by_id: bool) -> list[Any]:
    """The users named by ``identifiers``, in order; ``CommandError`` if any is unknown."""
    model = get_user_model()
    users: list[Any] = []
    unknown: list[str] = []
    for identifier in identifiers:
        if _impossible_name(identifier):
            user = None
        elif by_id:
            user = _by_pk(model, identifier)
        else:
            user = _by_name(model, identifier)
        if user is None:
            unknown.append(identifier)
        elif all(user.pk != seen.pk for seen in users):
            users.append(user)
    if unknown:
        what = "id" if by_id else _name_fields(model)
        names = ", ".join(f"'{name}'" for name in unknown)
        noun = "user" if len(unknown) == 1 else "users"
        raise CommandError(f"Unknown {noun} ({what}): {names}. {NOTHING_CHANGED}")
    return users


def label(user: Any) -> str:
    """How a command's output names a user: ``alice (id 7)``."""
    return f"{user.get_username()} (id {user.pk})"


def plural(count: int, noun: str = "session") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"

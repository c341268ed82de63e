"""The settings' names: an earlier name still set, or a name that is no setting.

A setting Django does not know is silently ignored, so a project that still sets
a name renamed before 0.1.0 (``conf.RENAMED``), or mistypes one, would run
without the policy it configured, and say nothing. These checks say it.
"""

from __future__ import annotations

import difflib
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from ..conf import RENAMED, SETTINGS
from . import ids
from .base import this_engine_only

#: The prefixes of this app's settings: a name with one of them is ours.
PREFIXES = ("SESSIONS_", "SESSION_REDIS_")

_MIGRATING = 'See "Migrating from earlier names" in docs/settings.md for every renamed setting.'


def _configured() -> list[str]:
    """Every setting name the project sets (``dir`` of Django's settings)."""
    return sorted(name for name in dir(settings) if name.isupper())


def _new_value(old: str, value: Any) -> str | None:
    """The value to write under the new name, where the old one's meaning moved."""
    from ..middleware import meta_form

    new, _note = RENAMED[old]
    if new in ("SESSIONS_IP_CHANGE", "SESSIONS_USER_AGENT_CHANGE") and value is None:
        return '"ignore"'
    if new == "SESSIONS_HEADER_NAME" and isinstance(value, str) and (key := meta_form(value)):
        return f'"{key}"'
    return None


@this_engine_only
def check_renamed_settings() -> list[CheckMessage]:
    """E039 for each setting the project sets under a name renamed before 0.1.0."""
    messages: list[CheckMessage] = []
    for old in _configured():
        if old not in RENAMED:
            continue
        new, note = RENAMED[old]
        msg = f"{old} was renamed to {new}" + (f"; {note}." if note else ".")
        value = _new_value(old, getattr(settings, old))
        hint = f"Write {new} = {value}. " if value else f"Rename it to {new}. "
        messages.append(Error(msg, hint=hint + _MIGRATING, id=ids.RENAMED_SETTING))
    return messages


def _suffix(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name.removeprefix(prefix)
    return name


def _did_you_mean(name: str) -> str | None:
    """The setting ``name`` most likely meant (by its part after the prefix, which
    the prefixes' shared letters would otherwise outweigh), or ``None``."""
    # What each known suffix stands for: an old name's suffix for its new name.
    meant = {_suffix(old): new for old, (new, _note) in RENAMED.items()}
    meant.update({_suffix(known): known for known in SETTINGS if known.startswith(PREFIXES)})
    close = difflib.get_close_matches(_suffix(name), list(meant), n=1, cutoff=0.6)
    return meant[close[0]] if close else None


@this_engine_only
def check_unknown_settings() -> list[CheckMessage]:
    """W013 for a setting with one of our prefixes that is no setting of ours."""
    messages: list[CheckMessage] = []
    for name in _configured():
        if not name.startswith(PREFIXES) or name in SETTINGS or name in RENAMED:
            continue
        meant = _did_you_mean(name)
        messages.append(
            Warning(
                f"{name} is not a setting of django_redis_sessions: it has no effect.",
                hint=f"Did you mean {meant}?"
                if meant
                else "The settings are listed in docs/settings.md.",
                id=ids.UNKNOWN_SETTING,
            )
        )
    return messages


#: The password validator that signed other sessions out before 0.1.0, under both
#: of the paths it had; a ``post_save`` receiver does that now
#: (``SESSIONS_REVOKE_ON_PASSWORD_CHANGE``).
REMOVED_VALIDATORS = frozenset(
    {
        "django_redis_sessions.policies.password_change.RevokeSessionsOnPasswordChange",
        "django_redis_sessions.auth.RevokeSessionsOnPasswordChange",
    }
)


def check_removed_validator(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E040 for the removed validator still in ``AUTH_PASSWORD_VALIDATORS``.

    Whatever the engine: Django imports the validators on the first password form
    or ``set_password`` check, and would fail there with an ImportError.
    """
    listed = getattr(settings, "AUTH_PASSWORD_VALIDATORS", None) or []
    names = [entry.get("NAME") for entry in listed if isinstance(entry, dict)]
    return [
        Error(
            f"AUTH_PASSWORD_VALIDATORS names {name}, which was removed in 0.1.0: Django "
            "would fail to import it on the first password form.",
            hint="Remove the entry: a saved password change signs the other sessions out "
            "by itself now (SESSIONS_REVOKE_ON_PASSWORD_CHANGE, on by default).",
            id=ids.REMOVED_PASSWORD_VALIDATOR,
        )
        for name in names
        if name in REMOVED_VALIDATORS
    ]

"""How long a session lives (idle and absolute), and how large it may grow."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning

from ..conf import conf
from . import ids
from .base import is_int, this_engine_only


@this_engine_only
def check_absolute_age() -> list[CheckMessage]:
    age = conf.raw("SESSIONS_ABSOLUTE_AGE")
    if age is None or (is_int(age) and age > 0):
        return []
    return [
        Error(
            "SESSIONS_ABSOLUTE_AGE must be a positive number of seconds, or None.",
            hint="For example 30 * 24 * 3600; None turns the absolute lifetime off.",
            id=ids.ABSOLUTE_AGE_INVALID,
        )
    ]


@this_engine_only
def check_idle_age() -> list[CheckMessage]:
    idle = conf.raw("SESSION_COOKIE_AGE")
    if is_int(idle) and idle > 0:
        return []
    return [
        Error(
            "SESSION_COOKIE_AGE must be a positive number of seconds: this engine "
            "uses it as the idle timeout.",
            id=ids.COOKIE_AGE_INVALID,
        )
    ]


@this_engine_only
def check_absolute_against_idle() -> list[CheckMessage]:
    """Both ages valid, but the absolute one shorter: idleness never ends a session."""
    absolute, idle = conf.raw("SESSIONS_ABSOLUTE_AGE"), conf.raw("SESSION_COOKIE_AGE")
    if not (is_int(absolute) and is_int(idle) and 0 < absolute < idle):
        return []
    return [
        Warning(
            f"SESSIONS_ABSOLUTE_AGE ({absolute}s) is shorter than the idle "
            f"timeout SESSION_COOKIE_AGE ({idle}s): sessions will always end at "
            "the absolute limit and never by idleness.",
            hint="Raise SESSIONS_ABSOLUTE_AGE or lower SESSION_COOKIE_AGE.",
            id=ids.ABSOLUTE_SHORTER_THAN_IDLE,
        )
    ]


@this_engine_only
def check_max_size() -> list[CheckMessage]:
    max_size = conf.raw("SESSION_REDIS_MAX_SIZE")
    if max_size is None or (is_int(max_size) and max_size >= 1):
        return []
    return [
        Error(
            f"SESSION_REDIS_MAX_SIZE must be a positive number of bytes or None, not {max_size!r}.",
            hint="The default is 1048576 (1 MiB); None removes the cap.",
            id=ids.MAX_SIZE_INVALID,
        )
    ]

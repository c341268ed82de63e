"""Session policies that guard against a stolen key: binding, rotation, limits."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning

from ..conf import conf
from ..policies.binding import CHOICES, IGNORE
from . import ids
from .base import ACTIVITY_MIDDLEWARE, is_int, is_number, middleware, this_engine_only

_CHOICES = '"ignore", "flag" or "end"'


def _recorded(flag: str) -> bool:
    """Whether the middleware is installed and records what ``flag`` turns on."""
    return bool(conf.raw(flag)) and ACTIVITY_MIDDLEWARE in middleware()


def _change_policy_error(name: str, policy: object, id: str) -> Error:
    if policy is None:
        # None was the way to say "ignore" before 0.1.0.
        return Error(
            f'{name} is None, which is no longer a choice: write {name} = "ignore".',
            hint=f"{_CHOICES}; one vocabulary of verbs for every choice setting.",
            id=id,
        )
    return Error(f"{name} must be {_CHOICES}, not {policy!r}.", id=id)


@this_engine_only
def check_user_agent_change() -> list[CheckMessage]:
    policy = conf.raw("SESSIONS_USER_AGENT_CHANGE")
    if policy not in CHOICES:
        return [
            _change_policy_error(
                "SESSIONS_USER_AGENT_CHANGE", policy, ids.USER_AGENT_CHANGE_INVALID
            )
        ]
    if policy != IGNORE and not _recorded("SESSIONS_RECORD_USER_AGENT"):
        return [
            Warning(
                f"SESSIONS_USER_AGENT_CHANGE is {policy!r} but user agents are not "
                "recorded, so the policy never applies.",
                hint=f'Add "{ACTIVITY_MIDDLEWARE}" to MIDDLEWARE and leave '
                "SESSIONS_RECORD_USER_AGENT on.",
                id=ids.USER_AGENT_CHANGE_UNRECORDED,
            )
        ]
    return []


@this_engine_only
def check_ip_change() -> list[CheckMessage]:
    policy = conf.raw("SESSIONS_IP_CHANGE")
    if policy not in CHOICES:
        return [_change_policy_error("SESSIONS_IP_CHANGE", policy, ids.IP_CHANGE_INVALID)]
    if policy != IGNORE and not _recorded("SESSIONS_RECORD_IP"):
        return [
            Warning(
                f"SESSIONS_IP_CHANGE is {policy!r} but IP addresses are not recorded, "
                "so the policy never applies.",
                hint=f'Add "{ACTIVITY_MIDDLEWARE}" to MIDDLEWARE and leave SESSIONS_RECORD_IP on.',
                id=ids.IP_CHANGE_UNRECORDED,
            )
        ]
    return []


@this_engine_only
def check_ip_prefixes() -> list[CheckMessage]:
    return [
        Error(
            f"{name} must be a prefix length from 0 to {most}, not {value!r}.",
            id=ids.IP_PREFIX_INVALID,
        )
        for name, most in (("SESSIONS_IP_PREFIX_V4", 32), ("SESSIONS_IP_PREFIX_V6", 128))
        if not (is_int(value := conf.raw(name)) and 0 <= value <= most)
    ]


@this_engine_only
def check_rotate_after() -> list[CheckMessage]:
    after = conf.raw("SESSIONS_ROTATE_AFTER")
    if after is None or (is_int(after) and after >= 1):
        return []
    return [
        Error(
            f"SESSIONS_ROTATE_AFTER must be a positive number of seconds or None, not {after!r}.",
            hint="For example 15 * 60: each session gets a new key every 15 minutes.",
            id=ids.ROTATE_AFTER_INVALID,
        )
    ]


@this_engine_only
def check_rotate_grace() -> list[CheckMessage]:
    grace = conf.raw("SESSIONS_ROTATE_GRACE")
    if is_number(grace) and 0 <= grace <= 3600:
        return []
    return [
        Error(
            f"SESSIONS_ROTATE_GRACE must be a number of seconds from 0 to 3600, not {grace!r}.",
            id=ids.ROTATE_GRACE_INVALID,
        )
    ]


@this_engine_only
def check_session_limit() -> list[CheckMessage]:
    limit = conf.raw("SESSIONS_MAX_PER_USER")
    if limit is None or (is_int(limit) and limit >= 1):
        return []
    return [
        Error(
            f"SESSIONS_MAX_PER_USER must be a whole number of 1 or more, or None, not {limit!r}.",
            hint="1 allows one device at a time; None (the default) sets no limit.",
            id=ids.MAX_SESSIONS_INVALID,
        )
    ]


@this_engine_only
def check_session_limit_action() -> list[CheckMessage]:
    action = conf.raw("SESSIONS_LIMIT_ACTION")
    if action in ("end_oldest", "refuse"):
        return []
    return [
        Error(
            f'SESSIONS_LIMIT_ACTION must be "end_oldest" or "refuse", not {action!r}.',
            id=ids.LIMIT_ACTION_INVALID,
        )
    ]

"""The audit trail's settings (``policies/audit.py``)."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error

from ..conf import conf
from . import ids
from .base import is_int, this_engine_only


@this_engine_only
def check_audit_flag() -> list[CheckMessage]:
    enabled = conf.raw("SESSIONS_AUDIT")
    if isinstance(enabled, bool):
        return []
    return [
        Error(f"SESSIONS_AUDIT must be True or False, not {enabled!r}.", id=ids.AUDIT_NOT_BOOLEAN)
    ]


@this_engine_only
def check_audit_limits() -> list[CheckMessage]:
    return [
        Error(
            f"{name} must be a positive whole number, not {value!r}.",
            hint=f"The default is {conf.default(name)}.",
            id=ids.AUDIT_LIMIT_INVALID,
        )
        for name in ("SESSIONS_AUDIT_MAX_EVENTS", "SESSIONS_AUDIT_RETENTION")
        if not (is_int(value := conf.raw(name)) and value >= 1)
    ]

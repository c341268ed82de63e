"""Sliding (idle) expiry and the absolute lifetime: what a session stores and
what Django's expiry methods report.

``SESSION_COOKIE_AGE`` (or ``set_expiry(seconds)``) is the idle window, which every
load slides; ``SESSIONS_ABSOLUTE_AGE`` caps a session's life from its
creation whatever the activity; ``set_expiry(datetime)`` fixes an end and stops
the sliding. The scripts apply the same rules server-side (``load.lua``,
``save.lua``), so a client cannot stretch them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ..conf import conf
from ..storage.record import FIELD_MAX


def clamp(value: int) -> int:
    """A value a record's header field can hold."""
    return max(0, min(value, FIELD_MAX))


def absolute_deadline(created: int | None) -> int | None:
    """When a session created at ``created`` (now if unknown) must end, if ever."""
    absolute_age = conf.SESSIONS_ABSOLUTE_AGE
    if not absolute_age:
        return None
    return (created if created is not None else int(time.time())) + absolute_age


def cap_age(age: int, modification: datetime | None, created: int | None) -> int:
    """Django's expiry age, never past the absolute deadline."""
    deadline = absolute_deadline(created)
    if deadline is None:
        return age
    now = modification.timestamp() if modification is not None else time.time()
    return min(age, int(deadline - now))


def cap_date(date: datetime, created: int | None) -> datetime:
    """Django's expiry date, never past the absolute deadline (in ``date``'s zone)."""
    deadline = absolute_deadline(created)
    if deadline is None:
        return date
    cap = datetime.fromtimestamp(deadline, tz=UTC)
    cap = cap.astimezone(date.tzinfo) if date.tzinfo else cap.astimezone().replace(tzinfo=None)
    return min(date, cap)


def to_store(data: dict[str, Any], created: int, now: int) -> tuple[int, int]:
    """``(idle, deadline)`` to store, from ``set_expiry`` and the settings."""
    absolute_age = conf.SESSIONS_ABSOLUTE_AGE
    deadline = created + absolute_age if absolute_age else 0
    idle = conf.SESSION_COOKIE_AGE
    expiry = data.get("_session_expiry")
    if isinstance(expiry, datetime | str) and expiry:
        # set_expiry(datetime/timedelta): a fixed end, no sliding.
        when = datetime.fromisoformat(expiry) if isinstance(expiry, str) else expiry
        fixed = max(1, int(when.timestamp()))
        deadline = min(deadline, fixed) if deadline else fixed
        idle = 0
    elif isinstance(expiry, int) and not isinstance(expiry, bool) and expiry:
        if expiry > 0:
            idle = expiry
        else:  # a negative age: already expired, as Django's cookie would be
            deadline, idle = max(1, now + expiry), 0
    return clamp(idle), clamp(deadline)


def remaining(deadline: int, idle: int, created: int | None) -> int | None:
    """Seconds until a stored session ends (the idle window the last load slid,
    never past its deadline or the absolute cap); ``None`` if it never ends."""
    cap = absolute_deadline(created)
    if cap is not None and (not deadline or cap < deadline):
        deadline = cap
    left = [idle] if idle else []
    if deadline:
        left.append(deadline - int(time.time()))
    return max(0, min(left)) if left else None

"""Template tags for moments on the sessions pages: ``{% load session_times %}``.

* ``session_time``: one moment, written the same way on every page, with its
  timezone (``2026-12-04 02:47 UTC``) inside ``<time datetime="...">``;
  ``relative=True`` shows "5 minutes ago" with the absolute date as its title;
* ``|session_datetime``: the same text, for attributes and plain text.

Times are shown in the current timezone (Django's ``TIME_ZONE``, or what the
project activates with ``django.utils.timezone.activate``); the JSON API keeps
ISO 8601.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext as _

register = template.Library()

#: One format for every page: ISO-like date, 24-hour time, the timezone's name.
DATETIME_FORMAT = "Y-m-d H:i T"
#: Closer to now than this is "just now" (``timesince`` would say "0 minutes").
JUST_NOW_SECONDS = 60


def _local(value: datetime) -> datetime:
    if timezone.is_aware(value):
        return timezone.localtime(value)
    return value


@register.filter
def session_datetime(value: datetime | None) -> str:
    """``2026-12-04 02:47 UTC``: a moment in the current timezone, with its name."""
    if not isinstance(value, datetime):
        return ""
    return str(format_date(_local(value), DATETIME_FORMAT))


def relative_time(value: datetime, now: datetime | None = None) -> str:
    """``"5 minutes ago"``, ``"just now"`` or, for a moment ahead, ``"in 5 minutes"``."""
    now = now or timezone.now()
    seconds = (now - value).total_seconds()
    if abs(seconds) < JUST_NOW_SECONDS:
        return _("just now")
    if seconds > 0:
        return _("%(time)s ago") % {"time": timesince(value, now, depth=1)}
    return _("in %(time)s") % {"time": timesince(now, value, depth=1)}


@register.simple_tag
def session_time(value: datetime | None, relative: bool = False) -> SafeString | str:
    """``<time datetime="ISO 8601">`` around the shown moment (empty for ``None``)."""
    if not isinstance(value, datetime):
        return ""
    absolute = session_datetime(value)
    if relative:
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            value.isoformat(),
            absolute,
            relative_time(value),
        )
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), absolute)

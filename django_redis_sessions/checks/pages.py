"""The admin pages and the user's own pages."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error

from ..conf import conf
from . import ids
from .base import boolean_errors, this_engine_only


@this_engine_only
def check_admin_show_data() -> list[CheckMessage]:
    return boolean_errors(("SESSIONS_ADMIN_SHOW_DATA",))


@this_engine_only
def check_base_template() -> list[CheckMessage]:
    base = conf.raw("SESSIONS_BASE_TEMPLATE")
    if isinstance(base, str) and base:
        return []
    return [
        Error(
            f"SESSIONS_BASE_TEMPLATE must be a template name, not {base!r}.",
            id=ids.BASE_TEMPLATE_INVALID,
        )
    ]

"""Template tags: the "Sessions (n)" button on a user's admin page."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.utils import quote
from django.urls import NoReverseMatch, reverse

from .. import api
from ..exceptions import SessionStoreError
from ..models import VIEW_PERMISSION

register = template.Library()


@register.simple_tag(takes_context=True)
def user_sessions_link(context: dict[str, Any], user: Any) -> dict[str, str] | None:
    """``{"url", "label"}`` for the user's sessions page, if the viewer may see it.

    The count is the user's live sessions (one round trip, no record read). When Redis cannot be
    reached the user's page still renders: the button says so instead of a count.
    """
    request = context.get("request")
    if user is None or getattr(user, "pk", None) is None or request is None:
        return None
    if not request.user.has_perm(VIEW_PERMISSION):
        return None
    try:
        url = reverse("admin:django_redis_sessions_redissession_user", args=[quote(str(user.pk))])
    except NoReverseMatch:
        return None  # the sessions admin is not on this admin site
    try:
        # limit=0: the count only (Redis reads the headers; no record is sent).
        count = str(api.user_sessions_page(user, limit=0).total)
    except SessionStoreError:
        count = "unavailable"
    return {"url": url, "label": f"Sessions ({count})"}

from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from django_redis_sessions.admin import UserSessionsAdminMixin

from .models import Handle


class HandleAdmin(UserSessionsAdminMixin):
    """A project's own user admin that opts in with the mixin, and has its own template."""

    fields = ("email", "is_staff")
    change_form_template = "custom_user/handle_change_form.html"


if settings.AUTH_USER_MODEL == "custom_user.Handle":
    admin.site.register(Handle, HandleAdmin)

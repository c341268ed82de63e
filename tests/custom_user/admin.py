from __future__ import annotations

from django.conf import settings
from django.contrib import admin

from django_redis_sessions.admin import UserSessionsLinkMixin

from .models import Handle


class HandleAdmin(UserSessionsLinkMixin):
    fields = ("email", "is_staff")


if settings.AUTH_USER_MODEL == "custom_user.Handle":
    admin.site.register(Handle, HandleAdmin)

"""A project's own admin site with its own ``UserAdmin`` (and change form template),
given the sessions link by ``link_user_admin`` as ``AppConfig.ready()`` gives it to
``django.contrib.admin.site``."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import path

from django_redis_sessions.admin import RedisSessionAdmin, link_user_admin
from django_redis_sessions.models import RedisSession


class ProjectUserAdmin(UserAdmin):  # type: ignore[type-arg]
    change_form_template = "project_user_change_form.html"
    list_display = ("username", "email")


site = AdminSite(name="project_admin")
site.register(get_user_model(), ProjectUserAdmin)
site.register(RedisSession, RedisSessionAdmin)
LINKED = link_user_admin(site)

urlpatterns = [path("admin/", site.urls)]

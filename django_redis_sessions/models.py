"""An unmanaged model that gives the admin a "Sessions" entry and its permissions.

Sessions live in Redis, not in a table: the model has no table (``managed =
False``) and the admin views never query it. It exists because Django hangs admin
index entries and permissions on models. Its two permissions are the app's
access control:

* ``django_redis_sessions.view_sessions``: see who is signed in, from where;
* ``django_redis_sessions.revoke_sessions``: end sessions.

Superusers have both, as they have every permission.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

VIEW_PERMISSION = "django_redis_sessions.view_sessions"
REVOKE_PERMISSION = "django_redis_sessions.revoke_sessions"


class RedisSession(models.Model):
    class Meta:
        managed = False
        # No add/change/delete/view rows: they would mean nothing for a store
        # that is not a table, and would clutter the permission picker.
        default_permissions = ()
        permissions = (
            ("view_sessions", _("Can view sessions")),
            ("revoke_sessions", _("Can revoke sessions")),
        )
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    def __str__(self) -> str:
        return "session"

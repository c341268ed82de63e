from __future__ import annotations

from django.apps import AppConfig


class DjangoRedisSessionsConfig(AppConfig):
    name = "django_redis_sessions"
    verbose_name = "Redis sessions"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks

        checks.register_checks()

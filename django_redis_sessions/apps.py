from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DjangoRedisSessionsConfig(AppConfig):
    name = "django_redis_sessions"
    verbose_name = _("Redis sessions")
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.core.signals import request_finished, request_started

        from . import checks
        from .policies import limit, password_change

        checks.register_checks()
        # Code running after a request in the same thread (the next request, a
        # test, a task) must not think it still holds that request's sessions
        # (see policies/password_change.py).
        forget = password_change.forget_in_use
        request_started.connect(forget, dispatch_uid="django_redis_sessions.start")
        request_finished.connect(forget, dispatch_uid="django_redis_sessions.finish")
        user_logged_in.connect(
            limit.enforce_limit_at_login, dispatch_uid="django_redis_sessions.limit"
        )
        # The audit trail's receivers (no-ops while SESSION_REDIS_AUDIT is off). After
        # the session limit's: a sign-in it refuses is "login_refused", not "created".
        from .policies import audit

        audit.connect_receivers()

from __future__ import annotations

from django.apps import AppConfig, apps
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
        # A saved password change ends the user's other sessions (on by default).
        password_change.connect_receiver()
        user_logged_in.connect(
            limit.enforce_limit_at_login, dispatch_uid="django_redis_sessions.limit"
        )
        # The audit trail's receivers (no-ops while SESSIONS_AUDIT is off). After
        # the session limit's: a sign-in it refuses is "login_refused", not "created".
        from .policies import audit

        audit.connect_receivers()
        # The user admin's "Sessions (n)" link, without replacing any template.
        if apps.is_installed("django.contrib.admin") and apps.is_installed("django.contrib.auth"):
            from .admin import link_user_admin

            _discover_admins_first(self)
            link_user_admin()


def _discover_admins_first(ours: AppConfig) -> None:
    """Have every app's ``admin.py`` imported before the user admin is linked.

    ``django.contrib.admin``'s own ``ready()`` imports them (autodiscover), and
    ready() methods run in INSTALLED_APPS order: listed below the admin, this app
    finds them done. Listed above it, this app runs autodiscover itself, so the
    link does not depend on where the app sits (the admin's later call finds the
    modules imported and registers nothing twice). A project that chose
    ``SimpleAdminConfig`` (no autodiscover) is left as it is.
    """
    from django.contrib.admin import autodiscover
    from django.contrib.admin.apps import AdminConfig

    names = [config.name for config in apps.get_app_configs()]
    admin_config = apps.get_app_config("admin")
    if names.index(ours.name) < names.index(admin_config.name) and isinstance(
        admin_config, AdminConfig
    ):
        autodiscover()

"""The app among the installed apps, and its middleware among MIDDLEWARE."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning

from ..conf import conf
from . import ids
from .base import (
    ACTIVITY_MIDDLEWARE,
    HEADER_MIDDLEWARE,
    SESSION_MIDDLEWARE,
    middleware,
    this_engine_only,
)


@this_engine_only
def check_app_order() -> list[CheckMessage]:
    """Our app below ``django.contrib.sessions``: Django's ``clearsessions`` wins.

    Both apps ship a ``clearsessions`` command, and ``manage.py`` runs the one of
    the app listed first: Django's calls ``clear_expired()`` too, so the indexes are
    still pruned, but silently (no statistics, no progress), which reads as broken.
    With another engine both commands clear that engine alike: nothing to say.
    """
    from django.apps import apps

    names = [config.name for config in apps.get_app_configs()]
    ours, django_sessions = "django_redis_sessions", "django.contrib.sessions"
    if (
        ours in names
        and django_sessions in names
        and names.index(ours) > names.index(django_sessions)
    ):
        return [
            Warning(
                '"django_redis_sessions" is listed below "django.contrib.sessions" in '
                "INSTALLED_APPS, so manage.py clearsessions runs Django's own command, "
                "which prunes the indexes without saying what it did.",
                hint='Move "django_redis_sessions" above "django.contrib.sessions".',
                id=ids.APP_BELOW_DJANGO_SESSIONS,
            )
        ]
    return []


@this_engine_only
def check_activity_middleware() -> list[CheckMessage]:
    """``SessionActivityMiddleware`` needs a session middleware before it."""
    listed = middleware()
    if ACTIVITY_MIDDLEWARE not in listed:
        return []
    # Django's SessionMiddleware, or our replacement for it.
    opener = HEADER_MIDDLEWARE if HEADER_MIDDLEWARE in listed else SESSION_MIDDLEWARE
    if opener not in listed or listed.index(opener) > listed.index(ACTIVITY_MIDDLEWARE):
        return [
            Error(
                f'"{ACTIVITY_MIDDLEWARE}" must come after "{SESSION_MIDDLEWARE}" in '
                "MIDDLEWARE: it works on the session that middleware opens.",
                hint="Put it directly after SessionMiddleware.",
                id=ids.ACTIVITY_MIDDLEWARE_ORDER,
            )
        ]
    return []


@this_engine_only
def check_session_header() -> list[CheckMessage]:
    """``SESSIONS_HEADER_NAME``: a request.META key, and the middleware that reads it."""
    header = conf.raw("SESSIONS_HEADER_NAME")
    if header is None:
        return []
    from ..middleware import header_name_problem

    problem = header_name_problem(header)
    listed = middleware()
    if problem is None and HEADER_MIDDLEWARE in listed and SESSION_MIDDLEWARE in listed:
        problem = f'is set, but "{SESSION_MIDDLEWARE}" is in MIDDLEWARE beside its replacement'
    elif problem is None and HEADER_MIDDLEWARE not in listed:
        problem = f'is set, but "{HEADER_MIDDLEWARE}" is not in MIDDLEWARE: it would be ignored'
    if problem is None:
        return []
    return [
        Error(
            f"SESSIONS_HEADER_NAME {header!r} {problem}.",
            hint='Name the header by its request.META key, e.g. "HTTP_X_SESSION_ID" for '
            f'X-Session-Id, and put "{HEADER_MIDDLEWARE}" in MIDDLEWARE in place of '
            f'"{SESSION_MIDDLEWARE}".',
            id=ids.SESSION_HEADER_INVALID,
        )
    ]

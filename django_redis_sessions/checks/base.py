"""What the checks share: the engine gate, type tests, the middleware names."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error

from ..conf import conf
from . import ids

#: SESSION_ENGINE when this app's engine is the one in use.
ENGINE = "django_redis_sessions.backend"
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
ACTIVITY_MIDDLEWARE = "django_redis_sessions.middleware.SessionActivityMiddleware"
#: Django's SessionMiddleware plus the session key in a header (policy 4).
HEADER_MIDDLEWARE = "django_redis_sessions.middleware.HeaderSessionMiddleware"

NUMBER = (int, float)

Check = Callable[..., list[CheckMessage]]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, NUMBER) and not isinstance(value, bool)


def middleware() -> list[str]:
    return list(getattr(settings, "MIDDLEWARE", None) or [])


def engine_in_use() -> bool:
    """Whether ``SESSION_ENGINE`` is this app's engine."""
    return conf.SESSION_ENGINE == ENGINE


def this_engine_only(check: Callable[[], list[CheckMessage]]) -> Check:
    """Make ``check`` a Django check that says nothing unless our engine is in use.

    With another engine (a project mid-migration, or one that installs the app for
    its admin page) these settings configure nothing that runs.
    """

    def wrapper(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
        return check() if engine_in_use() else []

    # Not functools.wraps: Django reads the signature, and __wrapped__ would show
    # it the inner one, which takes no **kwargs.
    for name in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(wrapper, name, getattr(check, name))
    return wrapper


def boolean_errors(names: Iterable[str]) -> list[CheckMessage]:
    """``E011`` for each setting of ``names`` that is not ``True`` or ``False``."""
    return [
        Error(f"{name} must be True or False, not {conf.raw(name)!r}.", id=ids.FLAG_NOT_BOOLEAN)
        for name in names
        if not isinstance(conf.raw(name), bool)
    ]

"""``SESSION_SERIALIZER`` (Django's), which decodes what Redis hands back."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from ..conf import conf
from . import ids
from .base import this_engine_only


@this_engine_only
def check_serializer() -> list[CheckMessage]:
    path = conf.raw("SESSION_SERIALIZER")
    try:
        serializer = import_string(path)
    except ImportError:
        return [
            Error(
                f"SESSION_SERIALIZER {path!r} cannot be imported.", id=ids.SERIALIZER_UNIMPORTABLE
            )
        ]
    names = f"{path} {getattr(serializer, '__module__', '')} {serializer!r}".lower()
    if "pickle" in names:
        return [
            Warning(
                f"SESSION_SERIALIZER {path!r} uses pickle: anyone who can write to Redis "
                "can then run code in your application.",
                hint='Use "django.contrib.sessions.serializers.JSONSerializer" (the default).',
                id=ids.PICKLE_SERIALIZER,
            )
        ]
    return []

"""``SESSION_REDIS_ENCRYPTION_KEYS``: encryption of session values at rest."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error

from ..conf import conf
from . import ids
from .base import this_engine_only

_KEY_HINT = (
    'Generate a key with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


@this_engine_only
def check_encryption_keys() -> list[CheckMessage]:
    # Never echo a key, or anything that may be one: name entries by position and type.
    from ..policies.encryption import is_valid_key

    keys = conf.raw("SESSION_REDIS_ENCRYPTION_KEYS")
    if keys is None:
        return []
    errors: list[CheckMessage] = []
    if not isinstance(keys, list | tuple) or not keys:
        kind = type(keys).__name__
        what = f"an empty {kind}" if isinstance(keys, list | tuple) else f"a value of type {kind}"
        errors.append(
            Error(
                "SESSION_REDIS_ENCRYPTION_KEYS must be None or a non-empty list of Fernet "
                f"keys (newest first), not {what}.",
                hint=_KEY_HINT,
                id=ids.ENCRYPTION_KEYS_INVALID,
            )
        )
    elif bad := [str(i) for i, key in enumerate(keys) if not is_valid_key(key)]:
        errors.append(
            Error(
                "SESSION_REDIS_ENCRYPTION_KEYS holds something that is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as str or bytes) at position "
                f"{', '.join(bad)}, counting from 0.",
                hint=_KEY_HINT,
                id=ids.ENCRYPTION_KEYS_INVALID,
            )
        )
    try:
        import cryptography.fernet  # noqa: F401
    except ImportError:
        errors.append(
            Error(
                "SESSION_REDIS_ENCRYPTION_KEYS is set but the cryptography package is not "
                "installed.",
                hint='pip install "django-redis-sessionstore[encryption]"',
                id=ids.ENCRYPTION_UNAVAILABLE,
            )
        )
    return errors

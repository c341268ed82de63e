"""The test settings with a UUID-keyed user model that signs in by email."""

from __future__ import annotations

from .settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]  # noqa: F405
AUTH_USER_MODEL = "custom_user.Member"

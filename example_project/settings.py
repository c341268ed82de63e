"""A small site that shows django_redis_sessions at work.

Where the sessions live:

* ``REDIS_URL`` unset (the default): in an in-process fakeredis
  (``redis_clients.py``, through ``SESSION_REDIS_CLIENT_FACTORY``). Nothing to
  install or start, but the sessions vanish when the process stops, and each
  process has its own: run one server process. The server seeds demo users and
  sessions when it starts (``demo.py``).
* ``REDIS_URL=redis://...``: that Redis server (``SESSION_REDIS_URL``). Seed it with
  ``python manage.py demo_data``.

The Django database is SQLite (``DJANGO_DB`` names the file).
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]

INSTALLED_APPS = [
    # First, so that its templates (base.html, ...) are the ones found.
    "example_project.apps.ExampleConfig",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_redis_sessions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Directly after SessionMiddleware: records IP and user agent, keeps the cookie
    # sliding with the server-side idle window.
    "django_redis_sessions.middleware.SessionActivityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
ASGI_APPLICATION = "example_project.asgi.application"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "example.sqlite3")),
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Revocations ("Session 3f2a9c0d1e2b of user 2 revoked (by user: ann)") and
# suspicious sessions on the console.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_redis_sessions": {"handlers": ["console"], "level": "INFO"},
        "django.security.SuspiciousSession": {"handlers": ["console"], "level": "WARNING"},
    },
}

# --- sessions in Redis -------------------------------------------------------------
SESSION_ENGINE = "django_redis_sessions.backend"
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    SESSION_REDIS_URL = REDIS_URL
else:
    # The embedded mode: an in-process fakeredis (see redis_clients.py).
    SESSION_REDIS_CLIENT_FACTORY = "example_project.redis_clients.make_client"
SESSION_REDIS_PREFIX = os.environ.get("SESSION_REDIS_PREFIX", "example")
SESSION_COOKIE_AGE = 30 * 60  # idle timeout: signed out after 30 minutes without a request
SESSIONS_ABSOLUTE_AGE = 12 * 60 * 60  # and after 12 hours whatever the activity
# The "your sessions" page (account/sessions/) sits inside this site's layout.
SESSIONS_BASE_TEMPLATE = "base.html"

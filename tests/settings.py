"""Settings for the test suite: the engine against the real Redis on localhost.

Each run uses its own key prefix (and db 9 unless ``DRS_TEST_REDIS_URL`` says
otherwise) so it never touches anything else on the server; ``conftest.py``
deletes the run's keys at the end.
"""

from __future__ import annotations

import os
import secrets

import django

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "tests.urls"
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

# django_redis_sessions comes before django.contrib.sessions so that its
# clearsessions (with statistics) is the one manage.py runs, as the README says.
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_redis_sessions",
    "django.contrib.sessions",
    "django.contrib.messages",
    # The browser tests' live server serves the admin's CSS and JS through it.
    "django.contrib.staticfiles",
]

STATIC_URL = "static/"

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django_redis_sessions.middleware.SessionActivityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [os.path.join(os.path.dirname(__file__), "templates")],
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

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_REDIRECT_URL = "/account/sessions/"

SESSION_ENGINE = "django_redis_sessions.backend"
SESSION_REDIS_URL = os.environ.get("DRS_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
SESSION_REDIS_PREFIX = f"drs-test-{os.getpid()}-{secrets.token_hex(3)}"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "redis": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": SESSION_REDIS_URL,
        "KEY_PREFIX": SESSION_REDIS_PREFIX + "-cache",
    },
}

if django.VERSION >= (6, 1):
    # Django 6.1 configures mail through MAILERS (EMAIL_BACKEND goes in 2028); the
    # test runner swaps in its in-memory backend either way.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

"""Settings of the load app, from the environment.

* ``LOADAPP_ENGINE``: ``ours`` (default, ``django_redis_sessions.backend``),
  ``cache`` (``django.contrib.sessions.backends.cache`` on a django-redis cache,
  with ``SESSION_SAVE_EVERY_REQUEST = True`` so the idle timeout slides, as ours
  does by itself) or ``memory`` (the cache backend on the worker's own memory, no
  network and no save on a read: the floor no session store can go below; one
  worker process only, or sessions would not be shared) or ``cache-get`` (the cache
  backend on django-redis *without* ``SESSION_SAVE_EVERY_REQUEST``: one GET per
  read and nothing else, so its idle timeout does not slide; the cheapest a store
  on the network can be);
* ``LOADAPP_REDIS_URL``: the Redis both engines use (default db 15);
* ``LOADAPP_PREFIX``: the key prefix (ours: ``SESSION_REDIS_PREFIX``, the cache:
  ``KEY_PREFIX``);
* ``LOADAPP_DB``: the SQLite file holding the users (``prepare.py`` makes it);
* ours only, for the failover tests: ``LOADAPP_SENTINELS`` (Sentinel ports on
  loopback, comma-separated), ``LOADAPP_SENTINEL_MASTER``,
  ``LOADAPP_SENTINEL_PASSWORD``, ``LOADAPP_REDIS_PASSWORD``, ``LOADAPP_CLUSTER``
  (``1``: ``LOADAPP_REDIS_URL`` names a Cluster node) and
  ``LOADAPP_RETRY_WINDOW`` (``SESSION_REDIS_RETRY_WINDOW``, seconds).

The middleware is what a signed-in site needs and nothing more:
``SessionMiddleware`` and ``AuthenticationMiddleware``. The views are
``csrf_exempt`` (there is no CSRF middleware at all: the clients are scripts).
"""

from __future__ import annotations

import os

ENGINE = os.environ.get("LOADAPP_ENGINE", "ours")
if ENGINE not in ("ours", "cache", "cache-get", "memory"):
    raise RuntimeError(
        f"LOADAPP_ENGINE must be 'ours', 'cache', 'cache-get' or 'memory', not {ENGINE!r}"
    )
REDIS_URL = os.environ.get("LOADAPP_REDIS_URL", "redis://127.0.0.1:6379/15")
PREFIX = os.environ.get("LOADAPP_PREFIX", "loadapp")

SECRET_KEY = "loadapp-only-not-secret"
DEBUG = False
USE_TZ = True
ROOT_URLCONF = "tests.loadapp.urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_redis_sessions",
    "django.contrib.sessions",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LOADAPP_DB", ":memory:"),
        # Several gunicorn threads share the file; sign-ins write last_login.
        "OPTIONS": {"timeout": 20},
        # Persistent connections, as a production site keeps them. Django's default
        # (0) closes the connection after every request, and SQLite then pays a new
        # connection and a schema parse on the next user lookup: about 0.4 ms of the
        # worker's CPU per request, the same for every engine, which only hid what
        # the session store costs (benchmarks/README.md, "bench_load.py").
        "CONN_MAX_AGE": None,
    }
}

# Fast hashing: the load is about sessions, not about password hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": PREFIX,
    },
}

if ENGINE == "ours":
    SESSION_ENGINE = "django_redis_sessions.backend"
    SESSION_REDIS_URL = REDIS_URL
    SESSION_REDIS_PREFIX = PREFIX
    # Our load slides the idle timeout itself: nothing to save on a read.
    SESSION_SAVE_EVERY_REQUEST = False
    if os.environ.get("LOADAPP_SENTINELS"):
        SESSION_REDIS_SENTINELS = [
            ("127.0.0.1", int(port)) for port in os.environ["LOADAPP_SENTINELS"].split(",")
        ]
        SESSION_REDIS_SENTINEL_MASTER = os.environ["LOADAPP_SENTINEL_MASTER"]
        SESSION_REDIS_SENTINEL_KWARGS = {"password": os.environ["LOADAPP_SENTINEL_PASSWORD"]}
        SESSION_REDIS_CONNECTION_KWARGS = {"password": os.environ["LOADAPP_REDIS_PASSWORD"]}
    SESSION_REDIS_CLUSTER = os.environ.get("LOADAPP_CLUSTER") == "1"
    if os.environ.get("LOADAPP_RETRY_WINDOW"):
        SESSION_REDIS_RETRY_WINDOW = float(os.environ["LOADAPP_RETRY_WINDOW"])
        SESSION_REDIS_SOCKET_TIMEOUT = 0.5
        SESSION_REDIS_CONNECT_TIMEOUT = 0.5
elif ENGINE in ("cache", "cache-get"):
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    SESSION_CACHE_ALIAS = "sessions"
    # The cache backend's only way to slide the idle timeout ("cache-get" goes
    # without, to show what one round trip alone costs).
    SESSION_SAVE_EVERY_REQUEST = ENGINE == "cache"
else:
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    SESSION_CACHE_ALIAS = "default"  # LocMemCache: this process's memory
    SESSION_SAVE_EVERY_REQUEST = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # 5xx tracebacks go to the server's log, which the test prints on failure.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}

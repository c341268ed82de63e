"""Demo users, and sessions of theirs from several devices, made through the engine.

``python manage.py demo_data`` runs :func:`ensure_users` and :func:`seed_sessions`
against the Redis in ``REDIS_URL``. In the embedded mode (no ``REDIS_URL``) the
sessions live in the server process's own memory, where a separate command
cannot reach them: the server seeds them itself when it starts
(:func:`seed_at_server_start`, called by ``wsgi.py`` and ``asgi.py``; Django's
``runserver`` loads ``wsgi.py`` too).

Each seeded session is a real sign-in: Django's ``login()`` on the engine's
``SessionStore`` (``Client.force_login``, which skips only the password check),
then a request through the site's whole middleware stack from the device's IP
address and user agent, which ``SessionActivityMiddleware`` records. The
addresses come from the ranges reserved for documentation (RFC 5737, RFC 3849).
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections
from django.urls import reverse
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

from django_redis_sessions import api
from django_redis_sessions.signals import By

#: The ``SESSION_REDIS_CLIENT_FACTORY`` of the embedded mode (settings.py).
EMBEDDED_FACTORY = "example_project.redis_clients.make_client"

NOTICE = (
    "No REDIS_URL: sessions live in an in-process fakeredis and vanish when this "
    "process stops (run a single server process); set REDIS_URL=redis://... for a "
    "real server."
)

#: The session key that marks a seeded session (its value names the device), so
#: that seeding again replaces the earlier demo sessions and nothing else.
DEMO_MARK = "demo_device"


@dataclass(frozen=True)
class Device:
    label: str
    user_agent: str
    ip: str


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    devices: tuple[Device, ...]
    superuser: bool = False

    @property
    def email(self) -> str:
        return f"{self.username}@example.com"


FIREFOX_WINDOWS = Device(
    "Firefox on Windows",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "203.0.113.24",
)
SAFARI_IPHONE = Device(
    "Safari on iPhone",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "198.51.100.7",
)
CHROME_ANDROID = Device(
    "Chrome on Android",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
    "2001:db8:85a3::8a2e:370:7334",
)
CHROME_MAC = Device(
    "Chrome on macOS",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "192.0.2.44",
)
EDGE_WINDOWS = Device(
    "Edge on Windows",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
    "198.51.100.23",
)
FIREFOX_LINUX = Device(
    "Firefox on Linux",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "2001:db8::15",
)
SAFARI_IPAD = Device(
    "Safari on iPad",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "203.0.113.99",
)
SAMSUNG_ANDROID = Device(
    "Samsung Internet on Android",
    "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    "198.51.100.200",
)

DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("ann", "ann-demo", (FIREFOX_WINDOWS, SAFARI_IPHONE, CHROME_ANDROID)),
    DemoUser("bob", "bob-demo", (CHROME_MAC, EDGE_WINDOWS, FIREFOX_LINUX)),
    DemoUser("cho", "cho-demo", (SAFARI_IPAD, SAMSUNG_ANDROID)),
    DemoUser("admin", "admin-demo", (FIREFOX_LINUX,), superuser=True),
)

CREDENTIALS = ", ".join(
    f"{u.username} / {u.password}{' (superuser)' if u.superuser else ''}" for u in DEMO_USERS
)


def is_embedded() -> bool:
    """Whether this process keeps its sessions in its own in-process fakeredis."""
    return getattr(settings, "SESSION_REDIS_CLIENT_FACTORY", None) == EMBEDDED_FACTORY


# -- the start-up notice ---------------------------------------------------------------

_announced = False


def _is_autoreloader_parent() -> bool:
    """``runserver``'s watching process, which serves nothing (its child does)."""
    args = sys.argv[1:]
    return (
        bool(args)
        and args[0] == "runserver"
        and "--noreload" not in args
        and os.environ.get(DJANGO_AUTORELOAD_ENV) != "true"
    )


def announce_mode() -> None:
    """Say once per process, on stderr, that the sessions are in-process only."""
    global _announced
    if _announced or not is_embedded() or _is_autoreloader_parent():
        return
    _announced = True
    print(NOTICE, file=sys.stderr, flush=True)


# -- seeding -----------------------------------------------------------------------------


def ensure_users() -> list[tuple[DemoUser, bool]]:
    """Create the demo users that do not exist; ``(user, created)`` for each.

    Existing users are left as they are (their password included).
    """
    model = get_user_model()
    done: list[tuple[DemoUser, bool]] = []
    for demo in DEMO_USERS:
        if model._default_manager.filter(username=demo.username).exists():
            done.append((demo, False))
            continue
        create = model.objects.create_superuser if demo.superuser else model.objects.create_user
        create(demo.username, demo.email, demo.password)
        done.append((demo, True))
    return done


def seed_sessions() -> tuple[int, int]:
    """Sign each demo user in on each of their devices: ``(seeded, replaced)``.

    Sessions seeded earlier (marked with :data:`DEMO_MARK`) are revoked first, so
    seeding twice leaves the same set; other sessions of the demo users (your own
    browser's) are kept.
    """
    from django.test import Client

    model = get_user_model()
    seeded = replaced = 0
    sessions_page = reverse("django_redis_sessions:sessions")
    for demo in DEMO_USERS:
        user = model._default_manager.get(username=demo.username)
        earlier = [
            fingerprint
            for fingerprint, data in api.sessions_data(user).items()
            if data is not None and DEMO_MARK in data
        ]
        if earlier:
            replaced += api.revoke_sessions(earlier, user=user, by=By.COMMAND)
        for device in demo.devices:
            client = Client(REMOTE_ADDR=device.ip, HTTP_USER_AGENT=device.user_agent)
            client.force_login(user)  # Django's login() on the engine's SessionStore
            session = client.session
            session[DEMO_MARK] = device.label
            session.save()
            # Through the middleware stack: SessionActivityMiddleware records the
            # device's IP and user agent in the load's round trip.
            response = client.get(sessions_page)
            if response.status_code != 200:
                raise RuntimeError(f"Seeding {demo.username}: {sessions_page} answered {response}")
            seeded += 1
    return seeded, replaced


def _database_ready() -> bool:
    table = get_user_model()._meta.db_table
    with connections["default"].cursor() as cursor:
        return table in connections["default"].introspection.table_names(cursor)


_seed_lock = threading.Lock()
_seeded = False


def _seed_embedded() -> None:
    try:
        if not _database_ready():
            print(
                "Demo data not seeded: the database has no tables yet. "
                "Run: python manage.py migrate (then restart the server).",
                file=sys.stderr,
                flush=True,
            )
            return
        ensure_users()
        seeded, _ = seed_sessions()
    finally:
        connections.close_all()  # this thread's connection, not the server's
    print(
        f"Demo data: {seeded} sessions on other devices for the demo users ({CREDENTIALS}).",
        file=sys.stderr,
        flush=True,
    )


def seed_at_server_start() -> None:
    """In the embedded mode, seed the demo data into this process's store, once.

    Runs in a thread of its own and waits for it: an ASGI server imports the
    application inside its event loop, where Django refuses synchronous ORM calls.
    """
    global _seeded
    if not is_embedded():
        return
    with _seed_lock:
        if _seeded:
            return
        _seeded = True
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-data") as pool:
            pool.submit(_seed_embedded).result()  # re-raises here what the thread raised


def describe_store() -> str:
    """Where the sessions go, for messages: the Redis URL without its password."""
    from urllib.parse import urlsplit

    url = getattr(settings, "SESSION_REDIS_URL", "")
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        url = parts._replace(netloc=netloc).geturl()
    return url


def demo_user_rows() -> list[dict[str, Any]]:
    """The demo users for the home page: name, password, devices."""
    return [
        {
            "username": u.username,
            "password": u.password,
            "superuser": u.superuser,
            "devices": [d.label for d in u.devices],
        }
        for u in DEMO_USERS
    ]

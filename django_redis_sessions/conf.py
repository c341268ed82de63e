"""The app's settings: one table, read through one object, ``conf``.

The table is the body of :class:`Conf`: one :class:`Setting` per setting, whose
attribute name *is* the setting's name, whose type parameter is its type, and
which carries its default, its coercion (if any) and one line of description::

    conf.SESSION_REDIS_URL  # "redis://localhost:6379/0" unless settings.py says otherwise

A setting is read from ``django.conf.settings`` on first use and then kept in
``conf``'s own ``__dict__``, so every later read is a plain attribute read (no
``getattr(settings, ...)``, no caught ``AttributeError`` for an unset setting).
Django's ``setting_changed`` signal (sent by ``override_settings`` and
pytest-django's ``settings`` fixture) has exactly one receiver in this package,
below: it calls :meth:`Conf.reset`, which forgets every remembered value and then
runs the reset hooks other modules registered with :meth:`Conf.on_reset` for the
caches they build from settings (clients' configuration key, the cipher, ...).

Validation lives in ``checks/`` (system checks with ids), which reads what the
project configured, before any coercion, with :meth:`Conf.raw`.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, overload

from django.conf import settings as django_settings
from django.core.signals import setting_changed

T = TypeVar("T")
Hook = TypeVar("Hook", bound=Callable[[], object])

#: Default idle timeout comes from Django (``SESSION_COOKIE_AGE``: two weeks). The
#: absolute lifetime defaults to 30 days: long enough that a daily user is not
#: forced to sign in again more than monthly, short enough that a stolen cookie
#: cannot be kept alive forever by replaying it inside every idle window.
DEFAULT_ABSOLUTE_AGE = 30 * 24 * 60 * 60


class _DjangoDefault:
    """The default of one of Django's own settings: Django's ``global_settings``."""

    def __repr__(self) -> str:
        return "Django's default"


DJANGO_DEFAULT: Any = _DjangoDefault()


class Setting(Generic[T]):
    """One row of the table: default, type (the type parameter), coercion, description.

    A non-data descriptor (as ``functools.cached_property``): the first read on
    ``conf`` stores the value in its ``__dict__``, which later reads find first.
    """

    name: str

    def __init__(self, default: Any, doc: str, *, coerce: Callable[[Any], T] | None = None) -> None:
        self.default = default
        self.doc = doc
        self.coerce = coerce

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def value_type(self) -> Any:
        """The value's type, as written in the table (``Setting[int | None]``)."""
        (value_type,) = typing.get_args(getattr(self, "__orig_class__", Setting[Any]))
        return value_type

    @property
    def django(self) -> bool:
        """Whether this is one of Django's own settings (defaulted by Django)."""
        return self.default is DJANGO_DEFAULT

    def raw(self) -> Any:
        """What the project configured (or the default), not coerced nor cached."""
        if self.django:
            return getattr(django_settings, self.name)
        return getattr(django_settings, self.name, self.default)

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: Conf, owner: type) -> T: ...

    def __get__(self, instance: Conf | None, owner: type) -> Setting[T] | T:
        if instance is None:
            return self
        value = self.raw()
        if self.coerce is not None:
            value = self.coerce(value)
        instance.__dict__[self.name] = value
        return value  # type: ignore[no-any-return]


class Conf:
    """Every setting this app reads, by its name (``conf.SESSION_REDIS_PREFIX``).

    Two prefixes: ``SESSION_REDIS_`` for what is about Redis itself, what would
    change or vanish were the store not Redis (where it is and how to reach it,
    keys, timeouts, retries, an outage, the stored record's size, encryption of
    what Redis holds); ``SESSIONS_`` for the app's own behaviour (lifetime, request
    metadata, policies, API clients, audit, pages). Settings renamed before 0.1.0
    are in :data:`RENAMED`.
    """

    # == about Redis itself: SESSION_REDIS_ ============================================
    # -- where Redis is ------------------------------------------------------------------
    SESSION_REDIS_URL = Setting[str](
        "redis://localhost:6379/0",
        "The Redis holding the sessions: a redis://, rediss:// (TLS) or unix:// URL.",
    )
    SESSION_REDIS_CACHE_ALIAS = Setting[str | None](
        None, "A django-redis cache in CACHES whose pool to share instead of the URL."
    )
    SESSION_REDIS_CLIENT_FACTORY = Setting[Any](
        None,
        "None, a callable or its dotted path, factory(*, asynchronous: bool), building "
        "the clients itself (an in-process fakeredis, a client with custom hooks).",
    )
    SESSION_REDIS_SENTINELS = Setting[Sequence[tuple[str, int]] | None](
        None,
        "(host, port) pairs of the Sentinels to ask for the primary (the URL is then "
        "unused); None: off.",
    )
    SESSION_REDIS_SENTINEL_MASTER = Setting[str | None](
        None, "The Sentinel service name of the primary (sentinel monitor <name> ...)."
    )
    SESSION_REDIS_SENTINEL_KWARGS = Setting[dict[str, Any]](
        {}, "Extra options for the connections to the Sentinels (e.g. their password)."
    )
    SESSION_REDIS_CLUSTER = Setting[Any](
        False,
        "True: SESSION_REDIS_URL names any node of a Redis Cluster (check E034 "
        "rejects anything but True or False).",
    )
    SESSION_REDIS_PREFIX = Setting[str]("session", "The prefix of every key this app writes.")

    # -- connections ---------------------------------------------------------------------
    # A healthy Redis answers in well under a millisecond; two seconds rides out a
    # busy moment or a failover's reconnect without hanging a worker for ever
    # (redis-py's default) or logging users out on a hiccup (0.1 s elsewhere).
    SESSION_REDIS_SOCKET_TIMEOUT = Setting[float | None](
        2.0, "Seconds to wait for a reply; None waits for ever (check W003)."
    )
    SESSION_REDIS_CONNECT_TIMEOUT = Setting[float | None](
        2.0, "Seconds to wait for a connection; None waits for ever (check W003)."
    )
    SESSION_REDIS_RETRIES = Setting[int](
        2, "How often a command whose connection failed or timed out is resent."
    )
    # Every write is safe to resend (receipts.py), so a request may wait out a
    # Sentinel or Cluster failover instead of failing: about 5 to 10 seconds there.
    SESSION_REDIS_RETRY_WINDOW = Setting[float | None](
        None, "Seconds of backoff retries may span; None: SESSION_REDIS_RETRIES alone."
    )
    SESSION_REDIS_ON_OUTAGE = Setting[str](
        "raise",
        'What a request gets once Redis stays unreachable: "raise" (SessionStoreUnavailable, '
        'a 500) or "degrade" (an empty session that saves nothing).',
    )
    SESSION_REDIS_CONNECTION_KWARGS = Setting[dict[str, Any]](
        {}, "Extra redis-py client options (ssl, max_connections, ...)."
    )

    # -- what Redis holds ---------------------------------------------------------------
    # A session is meant for a cart or a few ids, not files: the cap stops one runaway
    # view from filling Redis (which holds every user's sign-in) one request at a time.
    SESSION_REDIS_MAX_SIZE = Setting[int | None](
        1024 * 1024, "The most bytes a session's serialized data may take; None: no cap."
    )
    # None (off) costs nothing and needs no cryptography package.
    SESSION_REDIS_ENCRYPTION_KEYS = Setting[Sequence[str | bytes] | None](
        None, "Fernet keys, newest first, encrypting session values at rest; None: off."
    )

    # == the app's own settings: SESSIONS_ ==============================================
    # -- lifetime ------------------------------------------------------------------------
    SESSIONS_ABSOLUTE_AGE = Setting[int | None](
        DEFAULT_ABSOLUTE_AGE,
        "Seconds a session lives at most from its creation, however active; None: no limit.",
    )

    # -- request metadata (middleware.SessionActivityMiddleware) -------------------------
    SESSIONS_RECORD_IP = Setting[bool](
        True, "Record the client's IP address with the session.", coerce=bool
    )
    SESSIONS_RECORD_USER_AGENT = Setting[bool](
        True, "Record the client's user agent with the session.", coerce=bool
    )
    SESSIONS_TRUNCATE_IP = Setting[bool](
        False, "Zero the host part of recorded addresses (a /24, a /48).", coerce=bool
    )
    # Off: REMOTE_ADDR only, which a client cannot forge.
    SESSIONS_IP_HEADER_NAME = Setting[str | None](
        None,
        "Behind a reverse proxy, the request.META key it sets (e.g. HTTP_X_FORWARDED_FOR); "
        "None: REMOTE_ADDR.",
    )
    SESSIONS_PROXY_COUNT = Setting[int](
        1, "How many trusted proxies append to SESSIONS_IP_HEADER_NAME."
    )
    # Real browsers send 100 to 300 characters; the cap bounds what a client can
    # make every session record (and every request's comparison) carry.
    SESSIONS_USER_AGENT_MAX_LENGTH = Setting[int](
        256, "The most characters of a user agent recorded."
    )

    # -- policies ------------------------------------------------------------------------
    SESSIONS_USER_AGENT_CHANGE = Setting[str](
        "ignore",
        'A session whose browser changes: "ignore" it (the default), "flag" it (log and '
        'mark it) or "end" it.',
    )
    SESSIONS_IP_CHANGE = Setting[str](
        "ignore",
        'A session whose IP network changes: "ignore" it (the default), "flag" it (log '
        'and mark it) or "end" it.',
    )
    # A /24 (IPv4) or /48 (IPv6) is about one site or one access network: a phone
    # moving between cells of one carrier usually stays inside it, a stolen cookie
    # replayed from elsewhere usually does not.
    SESSIONS_IP_PREFIX_V4 = Setting[int](24, "The IPv4 prefix length SESSIONS_IP_CHANGE compares.")
    SESSIONS_IP_PREFIX_V6 = Setting[int](48, "The IPv6 prefix length SESSIONS_IP_CHANGE compares.")
    SESSIONS_MAX_PER_USER = Setting[int | None](
        None, "The most sessions one user may have at once; None: no limit."
    )
    SESSIONS_LIMIT_ACTION = Setting[str](
        "end_oldest",
        'What a login beyond SESSIONS_MAX_PER_USER does: "end_oldest" (end the user\'s '
        'oldest session, the default) or "refuse" (refuse the login).',
    )
    SESSIONS_ROTATE_AFTER = Setting[int | None](
        None, "Seconds after which a session's key is renewed; None: never."
    )
    # Long enough for the requests a page fires at once to finish on the old key,
    # short enough that a key copied just before rotation is soon worthless.
    SESSIONS_ROTATE_GRACE = Setting[float](
        30, "Seconds the old key keeps working after a rotation."
    )

    # -- API clients (middleware.HeaderSessionMiddleware) -------------------------------
    SESSIONS_HEADER_NAME = Setting[str | None](
        None,
        "The request.META key of the header API clients send the session key in "
        '(e.g. "HTTP_X_SESSION_ID" for X-Session-Id); None: off.',
    )

    # -- password change (policies/password_change.py) ---------------------------------
    SESSIONS_REVOKE_ON_PASSWORD_CHANGE = Setting[bool](
        True,
        "Whether a saved password change ends the user's other sessions at once.",
        coerce=bool,
    )

    # -- audit trail (policies/audit.py) -------------------------------------------------
    SESSIONS_AUDIT = Setting[bool](
        False, "Whether session events go to each user's audit log.", coerce=bool
    )
    SESSIONS_AUDIT_MAX_EVENTS = Setting[int](
        100, "The most events a user's audit log keeps (the oldest are dropped)."
    )
    SESSIONS_AUDIT_RETENTION = Setting[int](90 * 24 * 60 * 60, "Seconds an audit event is kept.")

    # -- pages ---------------------------------------------------------------------------
    SESSIONS_ADMIN_SHOW_DATA = Setting[bool](
        False, "Whether the admin shows a session's data.", coerce=bool
    )
    SESSIONS_BASE_TEMPLATE = Setting[str](
        "django_redis_sessions/base.html", "The template the user's own pages extend."
    )

    # -- Django's own settings this app reads ------------------------------------------
    SESSION_ENGINE = Setting[str](DJANGO_DEFAULT, "Django's; the checks run when it is ours.")
    SESSION_COOKIE_AGE = Setting[int](
        DJANGO_DEFAULT, "Django's; this engine's idle timeout, in seconds (it slides)."
    )
    SESSION_SERIALIZER = Setting[str](
        DJANGO_DEFAULT, "Django's; the dotted path of the serializer of session values."
    )
    SESSION_COOKIE_SECURE = Setting[bool](
        DJANGO_DEFAULT, "Django's; the cookie's Secure flag (check W007)."
    )
    SESSION_COOKIE_HTTPONLY = Setting[bool](
        DJANGO_DEFAULT, "Django's; the cookie's HttpOnly flag (check W008)."
    )
    SESSION_COOKIE_SAMESITE = Setting[str | None](
        DJANGO_DEFAULT, "Django's; the cookie's SameSite attribute (check W009)."
    )

    def raw(self, name: str) -> Any:
        """What the project set for ``name`` (or its default), uncoerced, uncached.

        For the checks, which must report a wrong type as configured. ``name`` must
        be in the table (``KeyError`` otherwise: a typo is not a setting).
        """
        return SETTINGS[name].raw()

    def default(self, name: str) -> Any:
        """The default of setting ``name`` (for the checks' hints)."""
        return SETTINGS[name].default

    def on_reset(self, hook: Hook) -> Hook:
        """Have :meth:`reset` call ``hook()``: for a cache built from settings.

        Usable as a decorator; registering the same function twice calls it once.
        """
        if hook not in _reset_hooks:
            _reset_hooks.append(hook)
        return hook

    def reset(self) -> None:
        """Forget every remembered value, then run the reset hooks.

        Django's ``setting_changed`` calls this; so may code that assigns to
        ``django.conf.settings`` directly (which sends no signal), as benchmarks do.
        """
        self.__dict__.clear()
        for hook in _reset_hooks:
            hook()


#: The table: every setting by name.
SETTINGS: dict[str, Setting[Any]] = {
    name: value for name, value in vars(Conf).items() if isinstance(value, Setting)
}

#: Settings renamed before 0.1.0: old name -> (new name, what changed in the value,
#: "" if nothing). Check E039 reports each old name a project still sets; the
#: table is docs/settings.md's "Migrating from earlier names". The old names stay
#: here, and only here, for that check (rename-settings: off).
RENAMED: dict[str, tuple[str, str]] = {
    "SESSION_REDIS_ABSOLUTE_AGE": ("SESSIONS_ABSOLUTE_AGE", ""),
    "SESSION_REDIS_RECORD_IP": ("SESSIONS_RECORD_IP", ""),
    "SESSION_REDIS_RECORD_USER_AGENT": ("SESSIONS_RECORD_USER_AGENT", ""),
    "SESSION_REDIS_TRUNCATE_IP": ("SESSIONS_TRUNCATE_IP", ""),
    "SESSION_REDIS_IP_HEADER": ("SESSIONS_IP_HEADER_NAME", ""),
    "SESSION_REDIS_PROXY_COUNT": ("SESSIONS_PROXY_COUNT", ""),
    "SESSION_REDIS_USER_AGENT_MAX_LENGTH": ("SESSIONS_USER_AGENT_MAX_LENGTH", ""),
    "SESSION_REDIS_USER_AGENT_CHANGE": (
        "SESSIONS_USER_AGENT_CHANGE",
        'None (the default) is now "ignore"',
    ),
    "SESSION_REDIS_IP_CHANGE": ("SESSIONS_IP_CHANGE", 'None (the default) is now "ignore"'),
    "SESSION_REDIS_IP_PREFIX_V4": ("SESSIONS_IP_PREFIX_V4", ""),
    "SESSION_REDIS_IP_PREFIX_V6": ("SESSIONS_IP_PREFIX_V6", ""),
    "SESSION_REDIS_MAX_SESSIONS_PER_USER": ("SESSIONS_MAX_PER_USER", ""),
    "SESSION_REDIS_SESSION_LIMIT_ACTION": ("SESSIONS_LIMIT_ACTION", ""),
    "SESSION_REDIS_ROTATE_AFTER": ("SESSIONS_ROTATE_AFTER", ""),
    "SESSION_REDIS_ROTATE_GRACE": ("SESSIONS_ROTATE_GRACE", ""),
    "SESSION_REDIS_HEADER": (
        "SESSIONS_HEADER_NAME",
        'takes the request.META key now, as CSRF_HEADER_NAME does: "X-Session-Id" '
        'becomes "HTTP_X_SESSION_ID"',
    ),
    "SESSION_REDIS_AUDIT": ("SESSIONS_AUDIT", ""),
    "SESSION_REDIS_AUDIT_MAX_EVENTS": ("SESSIONS_AUDIT_MAX_EVENTS", ""),
    "SESSION_REDIS_AUDIT_RETENTION": ("SESSIONS_AUDIT_RETENTION", ""),
    "SESSION_REDIS_ADMIN_SHOW_DATA": ("SESSIONS_ADMIN_SHOW_DATA", ""),
    "SESSION_REDIS_BASE_TEMPLATE": ("SESSIONS_BASE_TEMPLATE", ""),
}
# rename-settings: on

_reset_hooks: list[Callable[[], object]] = []

conf = Conf()


def _reset_on_setting_changed(**kwargs: Any) -> None:
    # Every change, not only SESSION_*: INSTALLED_APPS, CACHES and MIDDLEWARE feed
    # caches too, and only tests change settings, so resetting costs nothing real.
    conf.reset()


#: The package's only ``setting_changed`` receiver.
setting_changed.connect(_reset_on_setting_changed, dispatch_uid="django_redis_sessions.conf")

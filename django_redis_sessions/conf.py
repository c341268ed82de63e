"""The app's settings, read lazily through one typed object.

Each setting is read from ``django.conf.settings`` on first use and remembered
until Django's ``setting_changed`` signal says it changed (``override_settings``
and pytest-django's ``settings`` fixture send it), so tests can change anything
while the request path does not pay a ``getattr`` (and, for unset settings, a
caught ``AttributeError``) per read. Validation lives in ``checks.py`` (system
checks with ids); the properties only supply defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

#: Default idle timeout comes from Django (``SESSION_COOKIE_AGE``: two weeks). The
#: absolute lifetime defaults to 30 days: long enough that a daily user is not
#: forced to sign in again more than monthly, short enough that a stolen cookie
#: cannot be kept alive forever by replaying it inside every idle window.
DEFAULT_ABSOLUTE_AGE = 30 * 24 * 60 * 60

DEFAULTS: dict[str, Any] = {
    "SESSION_REDIS_URL": "redis://localhost:6379/0",
    "SESSION_REDIS_CACHE_ALIAS": None,
    "SESSION_REDIS_PREFIX": "session",
    "SESSION_REDIS_ABSOLUTE_AGE": DEFAULT_ABSOLUTE_AGE,
    # A healthy Redis answers in well under a millisecond; two seconds rides out a
    # busy moment or a failover's reconnect without hanging a worker for ever
    # (redis-py's default) or logging users out on a hiccup (0.1 s elsewhere).
    "SESSION_REDIS_SOCKET_TIMEOUT": 2.0,
    "SESSION_REDIS_CONNECT_TIMEOUT": 2.0,
    "SESSION_REDIS_RETRIES": 2,
    # Seconds of backoff that retries may span (None: SESSION_REDIS_RETRIES alone).
    # Every write is safe to resend (receipts.py), so a request may wait out a
    # Sentinel or Cluster failover instead of failing: about 5 to 10 seconds there.
    "SESSION_REDIS_RETRY_WINDOW": None,
    # What a request gets once Redis stays unreachable past the retries: "raise"
    # (SessionStoreUnavailable, a 500) or "degrade" (an empty session that saves
    # nothing, with the browser's cookie left alone).
    "SESSION_REDIS_ON_OUTAGE": "raise",
    "SESSION_REDIS_CONNECTION_KWARGS": {},
    # A callable (or its dotted path) that builds the clients itself, for what a URL
    # cannot say: an in-process fakeredis, a client with custom hooks.
    "SESSION_REDIS_CLIENT_FACTORY": None,
    # Redis Sentinel: a list of (host, port) pairs turns it on (SESSION_REDIS_URL
    # is then unused); the service name; options for the Sentinel connections.
    "SESSION_REDIS_SENTINELS": None,
    "SESSION_REDIS_SENTINEL_MASTER": None,
    "SESSION_REDIS_SENTINEL_KWARGS": {},
    # Redis Cluster: True makes SESSION_REDIS_URL name any node of the cluster
    # (cluster.py splits the work that crosses hash slots).
    "SESSION_REDIS_CLUSTER": False,
    # Request metadata (middleware.SessionActivityMiddleware).
    "SESSION_REDIS_RECORD_IP": True,
    "SESSION_REDIS_RECORD_USER_AGENT": True,
    "SESSION_REDIS_TRUNCATE_IP": False,
    # Off: REMOTE_ADDR only, which a client cannot forge. Behind a reverse proxy,
    # name the request.META key it sets (e.g. "HTTP_X_FORWARDED_FOR").
    "SESSION_REDIS_IP_HEADER": None,
    "SESSION_REDIS_PROXY_COUNT": 1,
    # API clients (header_middleware.py): the HTTP header that may carry the
    # session key instead of the cookie, e.g. "X-Session-Id"; None (off).
    "SESSION_REDIS_HEADER": None,
    # Real browsers send 100 to 300 characters; the cap bounds what a client can
    # make every session record (and every request's comparison) carry.
    "SESSION_REDIS_USER_AGENT_MAX_LENGTH": 256,
    "SESSION_REDIS_USER_AGENT_CHANGE": None,
    # The most a session's data may take, serialized (keys plus values). A session
    # is meant for a cart or a few ids, not files: the cap stops one runaway view
    # from filling Redis (which holds every user's sign-in) one request at a time.
    "SESSION_REDIS_MAX_SIZE": 1024 * 1024,
    # Encryption at rest of session values (encryption.py): Fernet keys, newest
    # first; None (off) costs nothing and needs no cryptography package.
    "SESSION_REDIS_ENCRYPTION_KEYS": None,
    # Session policies (off by default).
    "SESSION_REDIS_MAX_SESSIONS_PER_USER": None,
    "SESSION_REDIS_SESSION_LIMIT_ACTION": "end_oldest",
    "SESSION_REDIS_IP_CHANGE": None,
    "SESSION_REDIS_ROTATE_AFTER": None,
    # Long enough for the requests a page fires at once to finish on the old key,
    # short enough that a key copied just before rotation is soon worthless.
    "SESSION_REDIS_ROTATE_GRACE": 30,
    # A /24 (IPv4) or /48 (IPv6) is about one site or one access network: a phone
    # moving between cells of one carrier usually stays inside it, a stolen cookie
    # replayed from elsewhere usually does not.
    "SESSION_REDIS_IP_PREFIX_V4": 24,
    "SESSION_REDIS_IP_PREFIX_V6": 48,
    # Audit trail (audit.py): a bounded per-user log of session events, off by default.
    "SESSION_REDIS_AUDIT": False,
    "SESSION_REDIS_AUDIT_MAX_EVENTS": 100,
    "SESSION_REDIS_AUDIT_RETENTION": 90 * 24 * 60 * 60,
    # Admin and the user's own page.
    "SESSION_REDIS_ADMIN_SHOW_DATA": False,
    "SESSION_REDIS_BASE_TEMPLATE": "django_redis_sessions/base.html",
}


class Settings:
    """Typed, lazy view of the ``SESSION_REDIS_*`` settings (and the Django ones we use)."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _get(self, name: str) -> Any:
        try:
            return self._cache[name]
        except KeyError:
            value = getattr(django_settings, name, DEFAULTS.get(name))
            self._cache[name] = value
            return value

    def reset(self) -> None:
        """Forget every remembered value (the next read goes to Django's settings)."""
        self._cache.clear()

    @property
    def SESSION_REDIS_URL(self) -> str:
        value: str = self._get("SESSION_REDIS_URL")
        return value

    @property
    def SESSION_REDIS_CACHE_ALIAS(self) -> str | None:
        value: str | None = self._get("SESSION_REDIS_CACHE_ALIAS")
        return value

    @property
    def SESSION_REDIS_PREFIX(self) -> str:
        value: str = self._get("SESSION_REDIS_PREFIX")
        return value

    @property
    def SESSION_REDIS_ABSOLUTE_AGE(self) -> int | None:
        value: int | None = self._get("SESSION_REDIS_ABSOLUTE_AGE")
        return value

    @property
    def SESSION_COOKIE_AGE(self) -> int:
        """Django's ``SESSION_COOKIE_AGE``, which this engine treats as the idle timeout."""
        value: int = self._get("SESSION_COOKIE_AGE")
        return value

    @property
    def SESSION_REDIS_SOCKET_TIMEOUT(self) -> float | None:
        value: float | None = self._get("SESSION_REDIS_SOCKET_TIMEOUT")
        return value

    @property
    def SESSION_REDIS_CONNECT_TIMEOUT(self) -> float | None:
        value: float | None = self._get("SESSION_REDIS_CONNECT_TIMEOUT")
        return value

    @property
    def SESSION_REDIS_RETRIES(self) -> int:
        value: int = self._get("SESSION_REDIS_RETRIES")
        return value

    @property
    def SESSION_REDIS_RETRY_WINDOW(self) -> float | None:
        value: float | None = self._get("SESSION_REDIS_RETRY_WINDOW")
        return value

    @property
    def SESSION_REDIS_ON_OUTAGE(self) -> str:
        """``"raise"`` or ``"degrade"``: what a request gets while Redis is unreachable."""
        value: str = self._get("SESSION_REDIS_ON_OUTAGE")
        return value

    @property
    def SESSION_REDIS_CONNECTION_KWARGS(self) -> dict[str, Any]:
        value: dict[str, Any] = self._get("SESSION_REDIS_CONNECTION_KWARGS")
        return value

    @property
    def SESSION_REDIS_CLIENT_FACTORY(self) -> Any:
        """``None``, a dotted path, or a callable ``factory(*, asynchronous: bool)``."""
        return self._get("SESSION_REDIS_CLIENT_FACTORY")

    @property
    def SESSION_REDIS_SENTINELS(self) -> Sequence[tuple[str, int]] | None:
        """``(host, port)`` pairs of the Sentinels to ask for the primary; ``None``: off."""
        value: Sequence[tuple[str, int]] | None = self._get("SESSION_REDIS_SENTINELS")
        return value

    @property
    def SESSION_REDIS_SENTINEL_MASTER(self) -> str | None:
        """The Sentinel service name of the primary (``sentinel monitor <name> ...``)."""
        value: str | None = self._get("SESSION_REDIS_SENTINEL_MASTER")
        return value

    @property
    def SESSION_REDIS_SENTINEL_KWARGS(self) -> dict[str, Any]:
        """Extra options for the connections to the Sentinels (e.g. their password)."""
        value: dict[str, Any] = self._get("SESSION_REDIS_SENTINEL_KWARGS")
        return value

    @property
    def SESSION_REDIS_CLUSTER(self) -> Any:
        """``True``: ``SESSION_REDIS_URL`` names a node of a Redis Cluster (check ``E034``)."""
        return self._get("SESSION_REDIS_CLUSTER")

    @property
    def SESSION_REDIS_RECORD_IP(self) -> bool:
        return bool(self._get("SESSION_REDIS_RECORD_IP"))

    @property
    def SESSION_REDIS_RECORD_USER_AGENT(self) -> bool:
        return bool(self._get("SESSION_REDIS_RECORD_USER_AGENT"))

    @property
    def SESSION_REDIS_TRUNCATE_IP(self) -> bool:
        return bool(self._get("SESSION_REDIS_TRUNCATE_IP"))

    @property
    def SESSION_REDIS_IP_HEADER(self) -> str | None:
        value: str | None = self._get("SESSION_REDIS_IP_HEADER")
        return value

    @property
    def SESSION_REDIS_HEADER(self) -> str | None:
        """The header name API clients send the session key in (``None``: off)."""
        value: str | None = self._get("SESSION_REDIS_HEADER")
        return value

    @property
    def SESSION_REDIS_PROXY_COUNT(self) -> int:
        value: int = self._get("SESSION_REDIS_PROXY_COUNT")
        return value

    @property
    def SESSION_REDIS_USER_AGENT_MAX_LENGTH(self) -> int:
        value: int = self._get("SESSION_REDIS_USER_AGENT_MAX_LENGTH")
        return value

    @property
    def SESSION_REDIS_USER_AGENT_CHANGE(self) -> str | None:
        """``None`` (ignore), ``"flag"`` (log and mark) or ``"end"`` (end the session)."""
        value: str | None = self._get("SESSION_REDIS_USER_AGENT_CHANGE")
        return value

    @property
    def SESSION_REDIS_MAX_SIZE(self) -> int | None:
        """Bytes a session's serialized data may take; ``None`` for no cap."""
        value: int | None = self._get("SESSION_REDIS_MAX_SIZE")
        return value

    @property
    def SESSION_REDIS_ENCRYPTION_KEYS(self) -> Sequence[str | bytes] | None:
        """Fernet keys, newest first, encrypting session values; ``None``: off."""
        value: Sequence[str | bytes] | None = self._get("SESSION_REDIS_ENCRYPTION_KEYS")
        return value

    @property
    def SESSION_REDIS_MAX_SESSIONS_PER_USER(self) -> int | None:
        value: int | None = self._get("SESSION_REDIS_MAX_SESSIONS_PER_USER")
        return value

    @property
    def SESSION_REDIS_SESSION_LIMIT_ACTION(self) -> str:
        """``"end_oldest"`` or ``"refuse"``: what a login beyond the limit does."""
        value: str = self._get("SESSION_REDIS_SESSION_LIMIT_ACTION")
        return value

    @property
    def SESSION_REDIS_AUDIT(self) -> bool:
        """Whether session events go to each user's audit log (``audit.py``)."""
        return bool(self._get("SESSION_REDIS_AUDIT"))

    @property
    def SESSION_REDIS_AUDIT_MAX_EVENTS(self) -> int:
        """The most events a user's audit log keeps (the oldest are dropped)."""
        value: int = self._get("SESSION_REDIS_AUDIT_MAX_EVENTS")
        return value

    @property
    def SESSION_REDIS_AUDIT_RETENTION(self) -> int:
        """Seconds an audit event is kept."""
        value: int = self._get("SESSION_REDIS_AUDIT_RETENTION")
        return value

    @property
    def SESSION_REDIS_ROTATE_AFTER(self) -> int | None:
        """Seconds after which a session's key is renewed; ``None``: never."""
        value: int | None = self._get("SESSION_REDIS_ROTATE_AFTER")
        return value

    @property
    def SESSION_REDIS_ROTATE_GRACE(self) -> float:
        """Seconds the old key keeps working after a rotation."""
        value: float = self._get("SESSION_REDIS_ROTATE_GRACE")
        return value

    @property
    def SESSION_REDIS_IP_CHANGE(self) -> str | None:
        """``None`` (ignore), ``"flag"`` or ``"end"``: a session whose IP network changes."""
        value: str | None = self._get("SESSION_REDIS_IP_CHANGE")
        return value

    @property
    def SESSION_REDIS_IP_PREFIX_V4(self) -> int:
        value: int = self._get("SESSION_REDIS_IP_PREFIX_V4")
        return value

    @property
    def SESSION_REDIS_IP_PREFIX_V6(self) -> int:
        value: int = self._get("SESSION_REDIS_IP_PREFIX_V6")
        return value

    @property
    def SESSION_REDIS_ADMIN_SHOW_DATA(self) -> bool:
        return bool(self._get("SESSION_REDIS_ADMIN_SHOW_DATA"))

    @property
    def SESSION_REDIS_BASE_TEMPLATE(self) -> str:
        value: str = self._get("SESSION_REDIS_BASE_TEMPLATE")
        return value

    @property
    def SESSION_SERIALIZER(self) -> str:
        value: str = self._get("SESSION_SERIALIZER")
        return value

    @property
    def SESSION_ENGINE(self) -> str:
        value: str = self._get("SESSION_ENGINE")
        return value


conf = Settings()


def _forget_changed_setting(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("SESSION_"):
        conf.reset()


setting_changed.connect(_forget_changed_setting, dispatch_uid="django_redis_sessions.conf")

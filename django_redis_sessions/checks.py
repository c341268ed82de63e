"""System checks for this app's settings, each with a stable id.

``manage.py check`` reports them; tests assert the exact ids. The ids are
documented in README.md ("System checks").
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage, Error, Warning
from django.utils.module_loading import import_string

from .conf import conf

ENGINE = "django_redis_sessions.backend"
_NUMBER = (int, float)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _url_errors() -> list[CheckMessage]:
    if (
        conf.SESSION_REDIS_CACHE_ALIAS
        or conf.SESSION_REDIS_CLIENT_FACTORY is not None
        or conf.SESSION_REDIS_SENTINELS is not None
    ):
        return []  # SESSION_REDIS_URL is not used
    url = conf.SESSION_REDIS_URL
    if not isinstance(url, str):
        return [
            Error(
                "SESSION_REDIS_URL must be a string.",
                hint='For example "redis://localhost:6379/0".',
                id="django_redis_sessions.E001",
            )
        ]
    from redis.connection import parse_url

    try:
        parse_url(url)  # type: ignore[no-untyped-call]
    except (ValueError, TypeError) as exc:
        # The message of parse_url never contains the URL (nor so its password).
        return [
            Error(
                f"SESSION_REDIS_URL is not a valid Redis URL: {exc}",
                hint="Use redis://[:password@]host:port/db, rediss://... for TLS, or "
                "unix:///path/to/redis.sock?db=0.",
                id="django_redis_sessions.E001",
            )
        ]
    return []


def _prefix_errors() -> list[CheckMessage]:
    prefix = conf.SESSION_REDIS_PREFIX
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        return [
            Error(
                "SESSION_REDIS_PREFIX must be a non-empty string without whitespace.",
                hint=f'The default is "{conf.default("SESSION_REDIS_PREFIX")}".',
                id="django_redis_sessions.E002",
            )
        ]
    if "{" in prefix or "}" in prefix:
        return [
            Warning(
                "SESSION_REDIS_PREFIX contains a brace, which Redis Cluster reads as a "
                "hash tag: every session would land in one slot.",
                hint="Use letters, digits, ':', '-' or '_'.",
                id="django_redis_sessions.W005",
            )
        ]
    return []


def _age_errors() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    absolute_age = conf.SESSION_REDIS_ABSOLUTE_AGE
    idle_age = settings.SESSION_COOKIE_AGE
    if absolute_age is not None and (not _is_int(absolute_age) or absolute_age <= 0):
        messages.append(
            Error(
                "SESSION_REDIS_ABSOLUTE_AGE must be a positive number of seconds, or None.",
                hint="For example 30 * 24 * 3600; None turns the absolute lifetime off.",
                id="django_redis_sessions.E003",
            )
        )
    if not _is_int(idle_age) or idle_age <= 0:
        messages.append(
            Error(
                "SESSION_COOKIE_AGE must be a positive number of seconds: this engine "
                "uses it as the idle timeout.",
                id="django_redis_sessions.E008",
            )
        )
    elif _is_int(absolute_age) and isinstance(absolute_age, int) and 0 < absolute_age < idle_age:
        messages.append(
            Warning(
                f"SESSION_REDIS_ABSOLUTE_AGE ({absolute_age}s) is shorter than the idle "
                f"timeout SESSION_COOKIE_AGE ({idle_age}s): sessions will always end at "
                "the absolute limit and never by idleness.",
                hint="Raise SESSION_REDIS_ABSOLUTE_AGE or lower SESSION_COOKIE_AGE.",
                id="django_redis_sessions.W002",
            )
        )
    return messages


def _connection_errors() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name, value in (
        ("SESSION_REDIS_SOCKET_TIMEOUT", conf.SESSION_REDIS_SOCKET_TIMEOUT),
        ("SESSION_REDIS_CONNECT_TIMEOUT", conf.SESSION_REDIS_CONNECT_TIMEOUT),
    ):
        if value is None:
            messages.append(
                Warning(
                    f"{name} is None: a stalled Redis would hang requests for ever.",
                    hint=f"Use a number of seconds, such as {conf.default(name)}.",
                    id="django_redis_sessions.W003",
                )
            )
        elif isinstance(value, bool) or not isinstance(value, _NUMBER) or value <= 0:
            messages.append(
                Error(
                    f"{name} must be a positive number of seconds.",
                    hint=f"The default is {conf.default(name)}.",
                    id="django_redis_sessions.E004",
                )
            )
    retries = conf.SESSION_REDIS_RETRIES
    if not _is_int(retries) or retries < 0:
        messages.append(
            Error(
                "SESSION_REDIS_RETRIES must be a whole number, 0 or more.",
                hint=f"The default is {conf.default('SESSION_REDIS_RETRIES')}.",
                id="django_redis_sessions.E005",
            )
        )
    window = conf.SESSION_REDIS_RETRY_WINDOW
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, _NUMBER) or not 0 <= window <= 120
    ):
        messages.append(
            Error(
                "SESSION_REDIS_RETRY_WINDOW must be None or a number of seconds from 0 to 120.",
                hint="About 5 to 10 seconds rides out a Sentinel or Cluster failover.",
                id="django_redis_sessions.E038",
            )
        )
    if not isinstance(conf.SESSION_REDIS_CONNECTION_KWARGS, dict):
        messages.append(
            Error(
                "SESSION_REDIS_CONNECTION_KWARGS must be a dict of redis-py client options.",
                id="django_redis_sessions.E006",
            )
        )
    return messages


def _cache_alias_errors() -> list[CheckMessage]:
    alias = conf.SESSION_REDIS_CACHE_ALIAS
    if alias is None:
        return []
    if not isinstance(alias, str) or alias not in settings.CACHES:
        return [
            Error(
                f"SESSION_REDIS_CACHE_ALIAS {alias!r} is not a cache in CACHES.",
                hint="Name a django-redis cache, or unset it to use SESSION_REDIS_URL.",
                id="django_redis_sessions.E007",
            )
        ]
    try:
        import django_redis  # noqa: F401
    except ImportError:
        return [
            Error(
                "SESSION_REDIS_CACHE_ALIAS needs the django-redis package.",
                hint="pip install django-redis-sessionstore[django-redis]",
                id="django_redis_sessions.E007",
            )
        ]
    backend = str(settings.CACHES[alias].get("BACKEND", ""))
    if not backend.startswith("django_redis."):
        return [
            Error(
                f"SESSION_REDIS_CACHE_ALIAS {alias!r} is not a django-redis cache "
                f"(its BACKEND is {backend!r}).",
                hint='Use BACKEND "django_redis.cache.RedisCache", or SESSION_REDIS_URL.',
                id="django_redis_sessions.E007",
            )
        ]
    return []


def _serializer_warnings() -> list[CheckMessage]:
    path = conf.SESSION_SERIALIZER
    try:
        serializer = import_string(path)
    except ImportError:
        return [
            Error(
                f"SESSION_SERIALIZER {path!r} cannot be imported.",
                id="django_redis_sessions.E009",
            )
        ]
    names = f"{path} {getattr(serializer, '__module__', '')} {serializer!r}".lower()
    if "pickle" in names:
        return [
            Warning(
                f"SESSION_SERIALIZER {path!r} uses pickle: anyone who can write to Redis "
                "can then run code in your application.",
                hint='Use "django.contrib.sessions.serializers.JSONSerializer" (the default).',
                id="django_redis_sessions.W001",
            )
        ]
    return []


_BOOLEAN_SETTINGS = (
    "SESSION_REDIS_RECORD_IP",
    "SESSION_REDIS_RECORD_USER_AGENT",
    "SESSION_REDIS_TRUNCATE_IP",
    "SESSION_REDIS_ADMIN_SHOW_DATA",
)
_USER_AGENT_POLICIES = (None, "flag", "end")
#: A request.META key holding one address or a comma-separated list of them.
_META_KEY = re.compile(r"REMOTE_ADDR|HTTP_[A-Z0-9_]+")
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
ACTIVITY_MIDDLEWARE = "django_redis_sessions.middleware.SessionActivityMiddleware"


def _metadata_errors() -> list[CheckMessage]:
    errors: list[CheckMessage] = [
        Error(
            f"{name} must be True or False, not {getattr(settings, name)!r}.",
            id="django_redis_sessions.E011",
        )
        for name in _BOOLEAN_SETTINGS
        if not isinstance(conf.raw(name), bool)
    ]
    header = conf.SESSION_REDIS_IP_HEADER
    if header is not None and (
        not isinstance(header, str)
        or _META_KEY.fullmatch(header) is None
        # RFC 7239's "Forwarded: for=..." has its own syntax, which is not parsed.
        or header == "HTTP_FORWARDED"
    ):
        errors.append(
            Error(
                f"SESSION_REDIS_IP_HEADER must name a request.META key, not {header!r}.",
                hint='Headers appear in request.META as "HTTP_" + the name in upper case '
                'with "_" for "-": X-Forwarded-For is "HTTP_X_FORWARDED_FOR". The RFC 7239 '
                '"Forwarded" header is not supported; use X-Forwarded-For or X-Real-IP.',
                id="django_redis_sessions.E012",
            )
        )
    count = conf.SESSION_REDIS_PROXY_COUNT
    if not _is_int(count) or count < 1:
        errors.append(
            Error(
                f"SESSION_REDIS_PROXY_COUNT must be a whole number of 1 or more, not {count!r}.",
                hint="The number of reverse proxies you run in front of Django that append "
                "to SESSION_REDIS_IP_HEADER.",
                id="django_redis_sessions.E013",
            )
        )
    length = conf.SESSION_REDIS_USER_AGENT_MAX_LENGTH
    if not _is_int(length) or not 1 <= length <= 4096:
        errors.append(
            Error(
                "SESSION_REDIS_USER_AGENT_MAX_LENGTH must be a whole number from 1 to 4096, "
                f"not {length!r}.",
                id="django_redis_sessions.E014",
            )
        )
    policy = conf.SESSION_REDIS_USER_AGENT_CHANGE
    if policy not in _USER_AGENT_POLICIES:
        errors.append(
            Error(
                f'SESSION_REDIS_USER_AGENT_CHANGE must be None, "flag" or "end", not {policy!r}.',
                id="django_redis_sessions.E015",
            )
        )
    elif policy and not (
        conf.SESSION_REDIS_RECORD_USER_AGENT and ACTIVITY_MIDDLEWARE in settings.MIDDLEWARE
    ):
        errors.append(
            Warning(
                f"SESSION_REDIS_USER_AGENT_CHANGE is {policy!r} but user agents are not "
                "recorded, so the policy never applies.",
                hint=f'Add "{ACTIVITY_MIDDLEWARE}" to MIDDLEWARE and leave '
                "SESSION_REDIS_RECORD_USER_AGENT on.",
                id="django_redis_sessions.W006",
            )
        )
    max_size = conf.SESSION_REDIS_MAX_SIZE
    if max_size is not None and (not _is_int(max_size) or max_size < 1):
        errors.append(
            Error(
                f"SESSION_REDIS_MAX_SIZE must be a positive number of bytes or None, "
                f"not {max_size!r}.",
                hint="The default is 1048576 (1 MiB); None removes the cap.",
                id="django_redis_sessions.E018",
            )
        )
    base = conf.SESSION_REDIS_BASE_TEMPLATE
    if not isinstance(base, str) or not base:
        errors.append(
            Error(
                f"SESSION_REDIS_BASE_TEMPLATE must be a template name, not {base!r}.",
                id="django_redis_sessions.E016",
            )
        )
    return errors


_KEY_HINT = (
    'Generate a key with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


def _encryption_errors() -> list[CheckMessage]:
    # Never echo a key, or anything that may be one: name entries by position and type.
    from .encryption import is_valid_key

    keys = conf.SESSION_REDIS_ENCRYPTION_KEYS
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
                id="django_redis_sessions.E020",
            )
        )
    elif bad := [str(i) for i, key in enumerate(keys) if not is_valid_key(key)]:
        errors.append(
            Error(
                "SESSION_REDIS_ENCRYPTION_KEYS holds something that is not a Fernet key "
                "(32 url-safe base64-encoded bytes, as str or bytes) at position "
                f"{', '.join(bad)}, counting from 0.",
                hint=_KEY_HINT,
                id="django_redis_sessions.E020",
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
                id="django_redis_sessions.E021",
            )
        )
    return errors


def _client_factory_errors() -> list[CheckMessage]:
    from django.core.exceptions import ImproperlyConfigured

    from .connection import client_factory

    try:
        client_factory()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="A function called as factory(asynchronous=False) for the redis.Redis "
                "client and factory(asynchronous=True) for the redis.asyncio.Redis one.",
                id="django_redis_sessions.E019",
            )
        ]
    return []


def _ip_change_errors() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    policy = conf.SESSION_REDIS_IP_CHANGE
    if policy not in _USER_AGENT_POLICIES:
        errors.append(
            Error(
                f'SESSION_REDIS_IP_CHANGE must be None, "flag" or "end", not {policy!r}.',
                id="django_redis_sessions.E027",
            )
        )
    elif policy and not (
        conf.SESSION_REDIS_RECORD_IP and ACTIVITY_MIDDLEWARE in settings.MIDDLEWARE
    ):
        errors.append(
            Warning(
                f"SESSION_REDIS_IP_CHANGE is {policy!r} but IP addresses are not recorded, "
                "so the policy never applies.",
                hint=f'Add "{ACTIVITY_MIDDLEWARE}" to MIDDLEWARE and leave '
                "SESSION_REDIS_RECORD_IP on.",
                id="django_redis_sessions.W011",
            )
        )
    for name, value, most in (
        ("SESSION_REDIS_IP_PREFIX_V4", conf.SESSION_REDIS_IP_PREFIX_V4, 32),
        ("SESSION_REDIS_IP_PREFIX_V6", conf.SESSION_REDIS_IP_PREFIX_V6, 128),
    ):
        if not _is_int(value) or not 0 <= value <= most:
            errors.append(
                Error(
                    f"{name} must be a prefix length from 0 to {most}, not {value!r}.",
                    id="django_redis_sessions.E028",
                )
            )
    return errors


def _rotation_errors() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    after = conf.SESSION_REDIS_ROTATE_AFTER
    if after is not None and (not _is_int(after) or after < 1):
        errors.append(
            Error(
                f"SESSION_REDIS_ROTATE_AFTER must be a positive number of seconds or None, "
                f"not {after!r}.",
                hint="For example 15 * 60: each session gets a new key every 15 minutes.",
                id="django_redis_sessions.E029",
            )
        )
    grace = conf.SESSION_REDIS_ROTATE_GRACE
    if not isinstance(grace, _NUMBER) or isinstance(grace, bool) or not 0 <= grace <= 3600:
        errors.append(
            Error(
                f"SESSION_REDIS_ROTATE_GRACE must be a number of seconds from 0 to 3600, "
                f"not {grace!r}.",
                id="django_redis_sessions.E030",
            )
        )
    return errors


def _session_limit_errors() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    limit = conf.SESSION_REDIS_MAX_SESSIONS_PER_USER
    if limit is not None and (not _is_int(limit) or limit < 1):
        errors.append(
            Error(
                "SESSION_REDIS_MAX_SESSIONS_PER_USER must be a whole number of 1 or more, "
                f"or None, not {limit!r}.",
                hint="1 allows one device at a time; None (the default) sets no limit.",
                id="django_redis_sessions.E025",
            )
        )
    action = conf.SESSION_REDIS_SESSION_LIMIT_ACTION
    if action not in ("end_oldest", "refuse"):
        errors.append(
            Error(
                'SESSION_REDIS_SESSION_LIMIT_ACTION must be "end_oldest" or "refuse", '
                f"not {action!r}.",
                id="django_redis_sessions.E026",
            )
        )
    return errors


def _outage_errors() -> list[CheckMessage]:
    mode = conf.SESSION_REDIS_ON_OUTAGE
    if mode in ("raise", "degrade"):
        return []
    return [
        Error(
            f'SESSION_REDIS_ON_OUTAGE must be "raise" or "degrade", not {mode!r}.',
            hint='"raise" (the default) answers 500 while Redis is unreachable; "degrade" '
            "serves an empty session that saves nothing.",
            id="django_redis_sessions.E033",
        )
    ]


#: Django's SessionMiddleware plus the session key in a header (policy 4).
HEADER_MIDDLEWARE = "django_redis_sessions.header_middleware.SessionMiddleware"


def _header_errors() -> list[CheckMessage]:
    header = conf.SESSION_REDIS_HEADER
    if header is None:
        return []
    from .header_middleware import header_name_problem

    problem = header_name_problem(header)
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if problem is None and HEADER_MIDDLEWARE in middleware and SESSION_MIDDLEWARE in middleware:
        problem = f'is set, but "{SESSION_MIDDLEWARE}" is in MIDDLEWARE beside its replacement'
    elif problem is None and HEADER_MIDDLEWARE not in middleware:
        problem = f'is set, but "{HEADER_MIDDLEWARE}" is not in MIDDLEWARE: it would be ignored'
    if problem is None:
        return []
    return [
        Error(
            f"SESSION_REDIS_HEADER {header!r} {problem}.",
            hint=f'Name the header as clients send it, e.g. "X-Session-Id" (request.META '
            f'"HTTP_X_SESSION_ID"), and put "{HEADER_MIDDLEWARE}" in MIDDLEWARE in place '
            f'of "{SESSION_MIDDLEWARE}".',
            id="django_redis_sessions.E024",
        )
    ]


def _audit_errors() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    enabled = conf.raw("SESSION_REDIS_AUDIT")
    if not isinstance(enabled, bool):
        errors.append(
            Error(
                f"SESSION_REDIS_AUDIT must be True or False, not {enabled!r}.",
                id="django_redis_sessions.E022",
            )
        )
    for name, value in (
        ("SESSION_REDIS_AUDIT_MAX_EVENTS", conf.SESSION_REDIS_AUDIT_MAX_EVENTS),
        ("SESSION_REDIS_AUDIT_RETENTION", conf.SESSION_REDIS_AUDIT_RETENTION),
    ):
        if not _is_int(value) or value < 1:
            errors.append(
                Error(
                    f"{name} must be a positive whole number, not {value!r}.",
                    hint=f"The default is {conf.default(name)}.",
                    id="django_redis_sessions.E023",
                )
            )
    return errors


def _middleware_errors() -> list[CheckMessage]:
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if ACTIVITY_MIDDLEWARE not in middleware:
        return []
    # Django's SessionMiddleware, or our replacement for it.
    opener = HEADER_MIDDLEWARE if HEADER_MIDDLEWARE in middleware else SESSION_MIDDLEWARE
    if opener not in middleware or middleware.index(opener) > middleware.index(ACTIVITY_MIDDLEWARE):
        return [
            Error(
                f'"{ACTIVITY_MIDDLEWARE}" must come after "{SESSION_MIDDLEWARE}" in '
                "MIDDLEWARE: it works on the session that middleware opens.",
                hint="Put it directly after SessionMiddleware.",
                id="django_redis_sessions.E017",
            )
        ]
    return []


def _app_order_warnings() -> list[CheckMessage]:
    """Our app below ``django.contrib.sessions``: Django's ``clearsessions`` wins.

    Both apps ship a ``clearsessions`` command, and ``manage.py`` runs the one of
    the app listed first: Django's calls ``clear_expired()`` too, so the indexes are
    still pruned, but silently (no statistics, no progress), which reads as broken.
    """
    from django.apps import apps

    names = [config.name for config in apps.get_app_configs()]
    ours, django_sessions = "django_redis_sessions", "django.contrib.sessions"
    if (
        ours in names
        and django_sessions in names
        and names.index(ours) > names.index(django_sessions)
    ):
        return [
            Warning(
                '"django_redis_sessions" is listed below "django.contrib.sessions" in '
                "INSTALLED_APPS, so manage.py clearsessions runs Django's own command, "
                "which prunes the indexes without saying what it did.",
                hint='Move "django_redis_sessions" above "django.contrib.sessions".',
                id="django_redis_sessions.W012",
            )
        ]
    return []


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Validate every setting this engine reads."""
    return [
        *_app_order_warnings(),
        *_url_errors(),
        *_prefix_errors(),
        *_age_errors(),
        *_connection_errors(),
        *_cache_alias_errors(),
        *_serializer_warnings(),
        *_encryption_errors(),
        *_metadata_errors(),
        *_middleware_errors(),
        *_header_errors(),
        *_session_limit_errors(),
        *_outage_errors(),
        *_rotation_errors(),
        *_ip_change_errors(),
        *_audit_errors(),
        *_client_factory_errors(),
        *_sentinel_errors(),
        *_cluster_errors(),
    ]


def _cluster_errors() -> list[CheckMessage]:
    cluster = conf.SESSION_REDIS_CLUSTER
    if cluster is False:
        return []
    if cluster is not True:
        return [
            Error(
                f"SESSION_REDIS_CLUSTER must be True or False, not {cluster!r}.",
                hint="True when SESSION_REDIS_URL names a node of a Redis Cluster.",
                id="django_redis_sessions.E034",
            )
        ]
    errors: list[CheckMessage] = []
    others = [
        name
        for name, value in (
            ("SESSION_REDIS_SENTINELS", conf.SESSION_REDIS_SENTINELS),
            ("SESSION_REDIS_CACHE_ALIAS", conf.SESSION_REDIS_CACHE_ALIAS),
            ("SESSION_REDIS_CLIENT_FACTORY", conf.SESSION_REDIS_CLIENT_FACTORY),
        )
        if value
    ]
    if others:
        errors.append(
            Error(
                f"SESSION_REDIS_CLUSTER and {' and '.join(others)} are both set: it is "
                "ambiguous which Redis holds the sessions.",
                hint="Unset one of them. A client factory that returns a redis-py "
                "RedisCluster needs no SESSION_REDIS_CLUSTER: the engine recognises it.",
                id="django_redis_sessions.E035",
            )
        )
    if isinstance(conf.SESSION_REDIS_URL, str) and not others:
        database = urlsplit(conf.SESSION_REDIS_URL).path.strip("/")
        if database not in ("", "0"):
            errors.append(
                Error(
                    f"SESSION_REDIS_URL names database {database!r}: a Redis Cluster has "
                    "database 0 only.",
                    hint='Drop the database from the URL ("redis://node:7000") and use '
                    "SESSION_REDIS_PREFIX to keep sites apart.",
                    id="django_redis_sessions.E037",
                )
            )
    if isinstance(conf.SESSION_REDIS_PREFIX, str) and (
        "{" in conf.SESSION_REDIS_PREFIX or "}" in conf.SESSION_REDIS_PREFIX
    ):
        errors.append(
            Error(
                f"SESSION_REDIS_PREFIX {conf.SESSION_REDIS_PREFIX!r} holds a brace: on a "
                "Redis Cluster a {...} hash tag would put every session in one hash slot, "
                "on one node.",
                hint='Use a prefix without braces, such as "session".',
                id="django_redis_sessions.E036",
            )
        )
    return errors


def _sentinel_errors() -> list[CheckMessage]:
    from .connection import sentinel_problem

    if conf.SESSION_REDIS_SENTINELS is None:
        return []
    errors: list[CheckMessage] = []
    if problem := sentinel_problem():
        errors.append(
            Error(
                f"{problem}.",
                hint='For example SESSION_REDIS_SENTINELS = [("10.0.0.1", 26379), '
                '("10.0.0.2", 26379), ("10.0.0.3", 26379)] and '
                'SESSION_REDIS_SENTINEL_MASTER = "mymaster".',
                id="django_redis_sessions.E031",
            )
        )
    if conf.SESSION_REDIS_CACHE_ALIAS or conf.SESSION_REDIS_CLIENT_FACTORY is not None:
        other = (
            "SESSION_REDIS_CACHE_ALIAS"
            if conf.SESSION_REDIS_CACHE_ALIAS
            else "SESSION_REDIS_CLIENT_FACTORY"
        )
        errors.append(
            Error(
                f"SESSION_REDIS_SENTINELS and {other} are both set: it is ambiguous which "
                "Redis holds the sessions.",
                hint="Unset one of them.",
                id="django_redis_sessions.E032",
            )
        )
    return errors


def _redis_urls() -> list[str]:
    """The URLs sessions travel over: ours, or the django-redis cache's."""
    if conf.SESSION_REDIS_CLIENT_FACTORY is not None:
        return []  # the factory's business; it has no URL to read
    if not conf.SESSION_REDIS_CACHE_ALIAS:
        if conf.SESSION_REDIS_SENTINELS is not None:
            return []  # _sentinel_tls_warnings() judges the Sentinel links
        return [conf.SESSION_REDIS_URL] if isinstance(conf.SESSION_REDIS_URL, str) else []
    location: Any = settings.CACHES.get(conf.SESSION_REDIS_CACHE_ALIAS, {}).get("LOCATION", [])
    if isinstance(location, str):
        location = location.split(",")
    return [url.strip() for url in location if isinstance(url, str)]


def _is_loopback(host: str | None) -> bool:
    if not host or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _sentinel_tls_warnings() -> list[CheckMessage]:
    """W010 for Sentinel: the primary's address is only known at run time, so judge
    by the Sentinels' hosts. Any of them on another host means the primary is reached
    over the network too; both links (to the Sentinels, and to the primary where the
    sessions and the password travel) then need TLS."""
    if (
        conf.SESSION_REDIS_CLIENT_FACTORY is not None
        or conf.SESSION_REDIS_CACHE_ALIAS
        or _sentinels_unusable()
    ):
        return []
    remote = sorted(
        {str(host) for host, _ in conf.SESSION_REDIS_SENTINELS or () if not _is_loopback(host)}
    )
    if not remote:
        return []
    extra, sentinel_extra = conf.SESSION_REDIS_CONNECTION_KWARGS, conf.SESSION_REDIS_SENTINEL_KWARGS
    plain = [
        name
        for name, options in (("the primary", extra), ("the Sentinels", sentinel_extra))
        if not (isinstance(options, dict) and options.get("ssl"))
    ]
    if not plain:
        return []
    return [
        Warning(
            f"Sessions travel without TLS to {' and '.join(plain)} of Sentinel service "
            f"{conf.SESSION_REDIS_SENTINEL_MASTER} (Sentinels at {', '.join(remote)}): "
            "anyone on that network can read every session and the password.",
            hint='Add "ssl": True (and "ssl_ca_certs") to SESSION_REDIS_CONNECTION_KWARGS '
            "and SESSION_REDIS_SENTINEL_KWARGS.",
            id="django_redis_sessions.W010",
        )
    ]


def _sentinels_unusable() -> bool:
    """Sentinel is off, or misconfigured (E031 says how)."""
    from .connection import sentinel_problem

    return conf.SESSION_REDIS_SENTINELS is None or sentinel_problem() is not None


def check_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``: the cookie flags and the link to Redis that protect a session."""
    messages: list[CheckMessage] = []
    if not settings.SESSION_COOKIE_SECURE:
        messages.append(
            Warning(
                "SESSION_COOKIE_SECURE is False: the session cookie is also sent over plain "
                "HTTP, where anyone on the network can read it and take over the session.",
                hint="Serve the site over HTTPS and set SESSION_COOKIE_SECURE = True.",
                id="django_redis_sessions.W007",
            )
        )
    if not settings.SESSION_COOKIE_HTTPONLY:
        messages.append(
            Warning(
                "SESSION_COOKIE_HTTPONLY is False: any script on the page (an XSS flaw, a "
                "compromised third-party script) can read the session cookie.",
                hint="Set SESSION_COOKIE_HTTPONLY = True (Django's default).",
                id="django_redis_sessions.W008",
            )
        )
    samesite = settings.SESSION_COOKIE_SAMESITE
    if not isinstance(samesite, str) or samesite.lower() not in ("lax", "strict"):
        messages.append(
            Warning(
                f"SESSION_COOKIE_SAMESITE is {samesite!r}: browsers send the session cookie "
                "on requests other sites start, which leaves CSRF protection on its own.",
                hint='Use "Lax" (Django\'s default) or "Strict".',
                id="django_redis_sessions.W009",
            )
        )
    from redis.connection import SSLConnection, parse_url

    extra = conf.SESSION_REDIS_CONNECTION_KWARGS
    kwargs_tls = isinstance(extra, dict) and bool(extra.get("ssl"))
    for url in _redis_urls():
        try:
            parsed = parse_url(url)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError):
            continue  # E001 reports it.
        tls = kwargs_tls or parsed.get("connection_class") is SSLConnection
        if "path" in parsed or tls or _is_loopback(parsed.get("host")):
            continue
        messages.append(
            Warning(
                f"Sessions travel to Redis at {parsed.get('host')} without TLS: anyone on "
                "that network can read every session and the password.",
                hint="Use a rediss:// URL (TLS), or keep Redis on this host.",
                id="django_redis_sessions.W010",
            )
        )
    messages.extend(_sentinel_tls_warnings())
    return messages


def register_checks() -> None:
    checks.register(check_settings, checks.Tags.compatibility)
    checks.register(check_deploy, checks.Tags.security, deploy=True)

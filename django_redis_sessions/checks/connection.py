"""Where the sessions are kept and how the engine reaches them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning

from ..conf import conf
from . import ids
from .base import is_int, is_number, this_engine_only


def _url_unused() -> bool:
    return bool(
        conf.raw("SESSION_REDIS_CACHE_ALIAS")
        or conf.raw("SESSION_REDIS_CLIENT_FACTORY") is not None
        or conf.raw("SESSION_REDIS_SENTINELS") is not None
    )


@this_engine_only
def check_url() -> list[CheckMessage]:
    if _url_unused():
        return []
    url = conf.raw("SESSION_REDIS_URL")
    if not isinstance(url, str):
        return [
            Error(
                "SESSION_REDIS_URL must be a string.",
                hint='For example "redis://localhost:6379/0".',
                id=ids.URL_INVALID,
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
                id=ids.URL_INVALID,
            )
        ]
    return []


@this_engine_only
def check_prefix() -> list[CheckMessage]:
    prefix = conf.raw("SESSION_REDIS_PREFIX")
    if not isinstance(prefix, str) or not prefix or any(c.isspace() for c in prefix):
        return [
            Error(
                "SESSION_REDIS_PREFIX must be a non-empty string without whitespace.",
                hint=f'The default is "{conf.default("SESSION_REDIS_PREFIX")}".',
                id=ids.PREFIX_INVALID,
            )
        ]
    if "{" in prefix or "}" in prefix:
        return [
            Warning(
                "SESSION_REDIS_PREFIX contains a brace, which Redis Cluster reads as a "
                "hash tag: every session would land in one slot.",
                hint="Use letters, digits, ':', '-' or '_'.",
                id=ids.PREFIX_BRACE,
            )
        ]
    return []


@this_engine_only
def check_timeouts() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    for name in ("SESSION_REDIS_SOCKET_TIMEOUT", "SESSION_REDIS_CONNECT_TIMEOUT"):
        value = conf.raw(name)
        if value is None:
            messages.append(
                Warning(
                    f"{name} is None: a stalled Redis would hang requests for ever.",
                    hint=f"Use a number of seconds, such as {conf.default(name)}.",
                    id=ids.TIMEOUT_NONE,
                )
            )
        elif not is_number(value) or value <= 0:
            messages.append(
                Error(
                    f"{name} must be a positive number of seconds.",
                    hint=f"The default is {conf.default(name)}.",
                    id=ids.TIMEOUT_INVALID,
                )
            )
    return messages


@this_engine_only
def check_retries() -> list[CheckMessage]:
    retries = conf.raw("SESSION_REDIS_RETRIES")
    if is_int(retries) and retries >= 0:
        return []
    return [
        Error(
            "SESSION_REDIS_RETRIES must be a whole number, 0 or more.",
            hint=f"The default is {conf.default('SESSION_REDIS_RETRIES')}.",
            id=ids.RETRIES_INVALID,
        )
    ]


@this_engine_only
def check_retry_window() -> list[CheckMessage]:
    window = conf.raw("SESSION_REDIS_RETRY_WINDOW")
    if window is None or (is_number(window) and 0 <= window <= 120):
        return []
    return [
        Error(
            "SESSION_REDIS_RETRY_WINDOW must be None or a number of seconds from 0 to 120.",
            hint="About 5 to 10 seconds rides out a Sentinel or Cluster failover.",
            id=ids.RETRY_WINDOW_INVALID,
        )
    ]


@this_engine_only
def check_connection_kwargs() -> list[CheckMessage]:
    if isinstance(conf.raw("SESSION_REDIS_CONNECTION_KWARGS"), dict):
        return []
    return [
        Error(
            "SESSION_REDIS_CONNECTION_KWARGS must be a dict of redis-py client options.",
            id=ids.CONNECTION_KWARGS_INVALID,
        )
    ]


@this_engine_only
def check_cache_alias() -> list[CheckMessage]:
    alias = conf.raw("SESSION_REDIS_CACHE_ALIAS")
    if alias is None:
        return []
    if not isinstance(alias, str) or alias not in settings.CACHES:
        return [
            Error(
                f"SESSION_REDIS_CACHE_ALIAS {alias!r} is not a cache in CACHES.",
                hint="Name a django-redis cache, or unset it to use SESSION_REDIS_URL.",
                id=ids.CACHE_ALIAS_INVALID,
            )
        ]
    try:
        import django_redis  # noqa: F401
    except ImportError:
        return [
            Error(
                "SESSION_REDIS_CACHE_ALIAS needs the django-redis package.",
                hint="pip install django-redis-sessionstore[django-redis]",
                id=ids.CACHE_ALIAS_INVALID,
            )
        ]
    backend = str(settings.CACHES[alias].get("BACKEND", ""))
    if not backend.startswith("django_redis."):
        return [
            Error(
                f"SESSION_REDIS_CACHE_ALIAS {alias!r} is not a django-redis cache "
                f"(its BACKEND is {backend!r}).",
                hint='Use BACKEND "django_redis.cache.RedisCache", or SESSION_REDIS_URL.',
                id=ids.CACHE_ALIAS_INVALID,
            )
        ]
    return []


@this_engine_only
def check_client_factory() -> list[CheckMessage]:
    from django.core.exceptions import ImproperlyConfigured

    from ..storage.connection import client_factory

    try:
        client_factory()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="A function called as factory(asynchronous=False) for the redis.Redis "
                "client and factory(asynchronous=True) for the redis.asyncio.Redis one.",
                id=ids.CLIENT_FACTORY_INVALID,
            )
        ]
    return []


@this_engine_only
def check_on_outage() -> list[CheckMessage]:
    mode = conf.raw("SESSION_REDIS_ON_OUTAGE")
    if mode in ("raise", "degrade"):
        return []
    return [
        Error(
            f'SESSION_REDIS_ON_OUTAGE must be "raise" or "degrade", not {mode!r}.',
            hint='"raise" (the default) answers 500 while Redis is unreachable; "degrade" '
            "serves an empty session that saves nothing.",
            id=ids.ON_OUTAGE_INVALID,
        )
    ]


@this_engine_only
def check_sentinel() -> list[CheckMessage]:
    from ..storage.connection import sentinel_problem

    if conf.raw("SESSION_REDIS_SENTINELS") is None:
        return []
    errors: list[CheckMessage] = []
    if problem := sentinel_problem():
        errors.append(
            Error(
                f"{problem}.",
                hint='For example SESSION_REDIS_SENTINELS = [("10.0.0.1", 26379), '
                '("10.0.0.2", 26379), ("10.0.0.3", 26379)] and '
                'SESSION_REDIS_SENTINEL_MASTER = "mymaster".',
                id=ids.SENTINEL_INVALID,
            )
        )
    alias = conf.raw("SESSION_REDIS_CACHE_ALIAS")
    if alias or conf.raw("SESSION_REDIS_CLIENT_FACTORY") is not None:
        other = "SESSION_REDIS_CACHE_ALIAS" if alias else "SESSION_REDIS_CLIENT_FACTORY"
        errors.append(
            Error(
                f"SESSION_REDIS_SENTINELS and {other} are both set: it is ambiguous which "
                "Redis holds the sessions.",
                hint="Unset one of them.",
                id=ids.SENTINEL_AMBIGUOUS,
            )
        )
    return errors


@this_engine_only
def check_cluster() -> list[CheckMessage]:
    cluster = conf.raw("SESSION_REDIS_CLUSTER")
    if cluster is False:
        return []
    if cluster is not True:
        return [
            Error(
                f"SESSION_REDIS_CLUSTER must be True or False, not {cluster!r}.",
                hint="True when SESSION_REDIS_URL names a node of a Redis Cluster.",
                id=ids.CLUSTER_NOT_BOOLEAN,
            )
        ]
    return [*_cluster_conflicts(), *_cluster_url_and_prefix()]


def _cluster_others() -> list[str]:
    """The other ways of naming the Redis that are set beside SESSION_REDIS_CLUSTER."""
    return [
        name
        for name in (
            "SESSION_REDIS_SENTINELS",
            "SESSION_REDIS_CACHE_ALIAS",
            "SESSION_REDIS_CLIENT_FACTORY",
        )
        if conf.raw(name)
    ]


def _cluster_conflicts() -> list[CheckMessage]:
    others = _cluster_others()
    if not others:
        return []
    return [
        Error(
            f"SESSION_REDIS_CLUSTER and {' and '.join(others)} are both set: it is "
            "ambiguous which Redis holds the sessions.",
            hint="Unset one of them. A client factory that returns a redis-py "
            "RedisCluster needs no SESSION_REDIS_CLUSTER: the engine recognises it.",
            id=ids.CLUSTER_AMBIGUOUS,
        )
    ]


def _cluster_url_and_prefix() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    url: Any = conf.raw("SESSION_REDIS_URL")
    if isinstance(url, str) and not _cluster_others():
        parts = urlsplit(url)
        database = parts.path.strip("/")
        if parts.scheme == "unix":
            # redis-py's RedisCluster reaches its nodes by host and port only; the
            # socket's path is no database, whatever it looks like.
            errors.append(
                Error(
                    "SESSION_REDIS_URL is a unix socket: a Redis Cluster is reached over "
                    "TCP (its nodes announce host:port addresses).",
                    hint='Give one node\'s address ("redis://node:7000").',
                    id=ids.CLUSTER_DATABASE,
                )
            )
        elif database not in ("", "0"):
            errors.append(
                Error(
                    f"SESSION_REDIS_URL names database {database!r}: a Redis Cluster has "
                    "database 0 only.",
                    hint='Drop the database from the URL ("redis://node:7000") and use '
                    "SESSION_REDIS_PREFIX to keep sites apart.",
                    id=ids.CLUSTER_DATABASE,
                )
            )
    prefix = conf.raw("SESSION_REDIS_PREFIX")
    if isinstance(prefix, str) and ("{" in prefix or "}" in prefix):
        errors.append(
            Error(
                f"SESSION_REDIS_PREFIX {prefix!r} holds a brace: on a Redis Cluster a "
                "{...} hash tag would put every session in one hash slot, on one node.",
                hint='Use a prefix without braces, such as "session".',
                id=ids.CLUSTER_PREFIX_BRACE,
            )
        )
    return errors

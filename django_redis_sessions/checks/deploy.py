"""``check --deploy``: the cookie flags and the link to Redis that protect a session."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning

from ..conf import conf
from . import ids
from .base import this_engine_only


@this_engine_only
def check_cookie_flags() -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not conf.raw("SESSION_COOKIE_SECURE"):
        messages.append(
            Warning(
                "SESSION_COOKIE_SECURE is False: the session cookie is also sent over plain "
                "HTTP, where anyone on the network can read it and take over the session.",
                hint="Serve the site over HTTPS and set SESSION_COOKIE_SECURE = True.",
                id=ids.COOKIE_NOT_SECURE,
            )
        )
    if not conf.raw("SESSION_COOKIE_HTTPONLY"):
        messages.append(
            Warning(
                "SESSION_COOKIE_HTTPONLY is False: any script on the page (an XSS flaw, a "
                "compromised third-party script) can read the session cookie.",
                hint="Set SESSION_COOKIE_HTTPONLY = True (Django's default).",
                id=ids.COOKIE_NOT_HTTPONLY,
            )
        )
    samesite = conf.raw("SESSION_COOKIE_SAMESITE")
    if not isinstance(samesite, str) or samesite.lower() not in ("lax", "strict"):
        messages.append(
            Warning(
                f"SESSION_COOKIE_SAMESITE is {samesite!r}: browsers send the session cookie "
                "on requests other sites start, which leaves CSRF protection on its own.",
                hint='Use "Lax" (Django\'s default) or "Strict".',
                id=ids.COOKIE_SAMESITE,
            )
        )
    return messages


@this_engine_only
def check_redis_tls() -> list[CheckMessage]:
    """W010: sessions (and the password) travel to another host without TLS."""
    from redis.connection import SSLConnection, parse_url

    extra = conf.raw("SESSION_REDIS_CONNECTION_KWARGS")
    kwargs_tls = isinstance(extra, dict) and bool(extra.get("ssl"))
    messages: list[CheckMessage] = []
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
                id=ids.REDIS_WITHOUT_TLS,
            )
        )
    messages.extend(_sentinel_tls_warnings())
    return messages


def _redis_urls() -> list[str]:
    """The URLs sessions travel over: ours, or the django-redis cache's."""
    if conf.raw("SESSION_REDIS_CLIENT_FACTORY") is not None:
        return []  # the factory's business; it has no URL to read
    alias = conf.raw("SESSION_REDIS_CACHE_ALIAS")
    if not alias:
        if conf.raw("SESSION_REDIS_SENTINELS") is not None:
            return []  # _sentinel_tls_warnings() judges the Sentinel links
        url = conf.raw("SESSION_REDIS_URL")
        return [url] if isinstance(url, str) else []
    location: Any = settings.CACHES.get(alias, {}).get("LOCATION", [])
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
        conf.raw("SESSION_REDIS_CLIENT_FACTORY") is not None
        or conf.raw("SESSION_REDIS_CACHE_ALIAS")
        or _sentinels_unusable()
    ):
        return []
    sentinels = conf.raw("SESSION_REDIS_SENTINELS") or ()
    remote = sorted({str(host) for host, _ in sentinels if not _is_loopback(host)})
    if not remote:
        return []
    plain = [
        name
        for name, options in (
            ("the primary", conf.raw("SESSION_REDIS_CONNECTION_KWARGS")),
            ("the Sentinels", conf.raw("SESSION_REDIS_SENTINEL_KWARGS")),
        )
        if not (isinstance(options, dict) and options.get("ssl"))
    ]
    if not plain:
        return []
    return [
        Warning(
            f"Sessions travel without TLS to {' and '.join(plain)} of Sentinel service "
            f"{conf.raw('SESSION_REDIS_SENTINEL_MASTER')} (Sentinels at {', '.join(remote)}): "
            "anyone on that network can read every session and the password.",
            hint='Add "ssl": True (and "ssl_ca_certs") to SESSION_REDIS_CONNECTION_KWARGS '
            "and SESSION_REDIS_SENTINEL_KWARGS.",
            id=ids.REDIS_WITHOUT_TLS,
        )
    ]


def _sentinels_unusable() -> bool:
    """Sentinel is off, or misconfigured (E031 says how)."""
    from ..storage.connection import sentinel_problem

    return conf.raw("SESSION_REDIS_SENTINELS") is None or sentinel_problem() is not None

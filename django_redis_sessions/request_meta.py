"""What a session records about the client of a request: IP address and user agent.

Read from the request (``REMOTE_ADDR``, or the trusted proxies' header) by
``middleware.SessionActivityMiddleware``, and at sign-in and sign-out by the audit
trail's receivers (``policies/audit.py``); kept apart from ``middleware.py``, which
imports the engine, so that policies can read a request without depending on it.
Shaped by the privacy settings:
``SESSIONS_RECORD_IP`` / ``SESSIONS_RECORD_USER_AGENT`` turn either off,
``SESSIONS_TRUNCATE_IP`` zeroes the host part (last IPv4 octet, last 80 bits
of IPv6, as Google Analytics' IP anonymisation does), and
``SESSIONS_USER_AGENT_MAX_LENGTH`` caps what a client can make us store.
With the user agent goes the device name parsed from it (``devices.device_name``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.http import HttpRequest

from .conf import conf
from .devices import device_name
from .storage.record import META_DEVICE, META_IP, META_USER_AGENT

#: Bits kept by truncation: a /24 for IPv4, a /48 for IPv6 (the last 80 bits zeroed).
_TRUNCATED_PREFIX = {4: 24, 6: 48}


@lru_cache(maxsize=4096)
def _normalised(raw: str, truncate: bool) -> str:
    """``raw`` as a canonical address (truncated if asked), or ``""`` if it is none.

    Cached: a site sees the same addresses request after request, and parsing
    one costs a few microseconds on every request otherwise.
    """
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if truncate:
        prefix = _TRUNCATED_PREFIX[address.version]
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
    return str(address)


def client_ip(request: HttpRequest) -> str:
    """The client's IP address as we trust it, or ``""`` when it is not known.

    Without ``SESSIONS_IP_HEADER_NAME`` only ``REMOTE_ADDR`` counts: a header is
    whatever the client wants it to be unless a proxy we trust overwrote it. With
    the setting, the header's entry added by the outermost trusted proxy is taken:
    for ``X-Forwarded-For`` that is the ``SESSIONS_PROXY_COUNT``-th from the
    right, since each proxy appends the address it received the request from and
    anything further left came from the client.
    """
    header = conf.SESSIONS_IP_HEADER_NAME
    if header:
        entries = [e for e in request.META.get(header, "").split(",") if e.strip()]
        count = conf.SESSIONS_PROXY_COUNT
        raw = entries[-count] if len(entries) >= count else ""
    else:
        raw = request.META.get("REMOTE_ADDR", "")
    # A header can carry anything: only short strings are worth parsing (and
    # caching); the longest IPv6 text form is 45 characters.
    if not raw or len(raw) > 64:
        return ""
    return _normalised(raw, conf.SESSIONS_TRUNCATE_IP)


def user_agent(request: HttpRequest) -> str:
    """The request's ``User-Agent``, capped at ``SESSIONS_USER_AGENT_MAX_LENGTH``."""
    value = request.META.get("HTTP_USER_AGENT", "")
    if not isinstance(value, str):
        return ""
    # WSGI hands headers over as latin-1 decoded text; keep what is printable so
    # a hostile header cannot put control characters into an admin page or log.
    if not value.isprintable():
        value = "".join(ch for ch in value if ch.isprintable())
    return value[: conf.SESSIONS_USER_AGENT_MAX_LENGTH]


def client_meta(request: HttpRequest) -> dict[str, str]:
    """The metadata pairs to record for this request, as the settings allow."""
    meta: dict[str, str] = {}
    if conf.SESSIONS_RECORD_IP:
        ip = client_ip(request)
        if ip:
            meta[META_IP] = ip
    if conf.SESSIONS_RECORD_USER_AGENT:
        agent = user_agent(request)
        if agent:
            meta[META_USER_AGENT] = agent
            # Parsed here, once per distinct agent (describe_user_agent is cached),
            # and stored beside it: a page never parses the sessions it lists.
            meta[META_DEVICE] = device_name(agent)
    return meta

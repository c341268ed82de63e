"""Binding a session to its client (``SESSION_REDIS_IP_CHANGE``, ``..._USER_AGENT_CHANGE``).

Pure functions the engine uses to judge whether the client of a session changed:
no request, no Redis. ``client_network`` cuts an address to the network the
setting compares (``SESSION_REDIS_IP_PREFIX_V4`` / ``SESSION_REDIS_IP_PREFIX_V6``),
so a client moving within its provider's network keeps its session.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from ..conf import conf


def client_network(ip: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network ``SESSION_REDIS_IP_CHANGE`` compares: ``ip`` cut to the prefix."""
    return _network(ip, conf.ip_prefix_v4, conf.ip_prefix_v6)


@lru_cache(maxsize=4096)
def _network(ip: str, v4: int, v6: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = v4 if address.version == 4 else v6
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)

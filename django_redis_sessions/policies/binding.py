"""Binding a session to its client (``SESSIONS_USER_AGENT_CHANGE``,
``SESSIONS_IP_CHANGE``): whether this request's client differs from the one
the session recorded, and what the policy says to do about it.

Pure functions: no request, no Redis. Both settings only see a client with the
request-metadata middleware, which records the client's IP and user agent with
the session; "ignore" (the default), judging a request costs two attribute reads.
``client_network`` cuts an address to the network the setting compares
(``SESSIONS_IP_PREFIX_V4`` / ``SESSIONS_IP_PREFIX_V6``), so a client
moving within its provider's network keeps its session.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from ..conf import conf
from ..signals import Event
from ..storage.record import META_IP, META_USER_AGENT

#: The choices of both settings: "ignore" (the default) does nothing.
IGNORE = "ignore"
#: The choices that act on a change (anything else is check E015 / E027).
ACTIONS = ("flag", "end")
CHOICES = (IGNORE, *ACTIONS)


@dataclass(frozen=True, slots=True)
class Violation:
    """One change a policy noticed: its event name, a phrase for the log line, the
    policy's action (``"flag"`` or ``"end"``) and what it saw."""

    event: str
    what: str
    action: str
    detail: dict[str, str]

    @property
    def ends_session(self) -> bool:
        return self.action == "end"


def violations(current: Mapping[str, str], stored: Mapping[str, str]) -> list[Violation]:
    """What the binding policies say about a just-loaded session's client."""
    ua_policy = conf.SESSIONS_USER_AGENT_CHANGE
    ip_policy = conf.SESSIONS_IP_CHANGE
    if ua_policy == IGNORE and ip_policy == IGNORE:
        return []
    found: list[Violation] = []
    if ua_policy in ACTIONS and user_agent_differs(current, stored):
        found.append(Violation(Event.USER_AGENT_CHANGED, "user agent changed", ua_policy, {}))
    if ip_policy in ACTIONS:
        change = ip_network_change(current, stored)
        if change is not None:
            before, after = change
            what = f"IP network changed ({before} -> {after})"
            found.append(
                Violation(Event.IP_CHANGED, what, ip_policy, {"from": before, "to": after})
            )
    return found


def user_agent_differs(current: Mapping[str, str], stored: Mapping[str, str]) -> bool:
    now = current.get(META_USER_AGENT)
    then = stored.get(META_USER_AGENT)
    if not now or not then:
        return False
    # Both were cut at SESSIONS_USER_AGENT_MAX_LENGTH, which may have changed
    # since the stored one was recorded: compare what both still hold, or a changed
    # cap would look like every browser changing at once.
    length = min(len(now), len(then))
    return now[:length] != then[:length]


def ip_network_change(
    current: Mapping[str, str], stored: Mapping[str, str]
) -> tuple[str, str] | None:
    """The stored and current networks when they differ, else ``None``."""
    now = current.get(META_IP)
    then = stored.get(META_IP)
    if not now or not then or now == then:
        return None
    before = client_network(then)
    after = client_network(now)
    # A dual-stack browser moves between IPv4 and IPv6 on its own (Happy Eyeballs):
    # a change of family is not a change of network we can judge.
    if before is None or after is None or before.version != after.version:
        return None
    return None if before == after else (str(before), str(after))


def client_network(ip: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network ``SESSIONS_IP_CHANGE`` compares: ``ip`` cut to the prefix."""
    return _network(ip, conf.SESSIONS_IP_PREFIX_V4, conf.SESSIONS_IP_PREFIX_V6)


@lru_cache(maxsize=4096)
def _network(ip: str, v4: int, v6: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = v4 if address.version == 4 else v6
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)

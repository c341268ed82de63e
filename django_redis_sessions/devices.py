"""A readable device and browser for a stored user agent ("Firefox 128 on Windows").

Parsing uses ``ua-parser`` (the optional ``ua`` extra: ``pip install
django-redis-sessionstore[ua]``), the maintained Python port of the uap-core
regexes that most analytics tools share. Without it, pages show the raw string:
accurate, just less friendly. Writing our own regexes would go stale within
months.

A session's device name is parsed once, when its user agent is recorded
(``request_meta.client_meta``), and stored with it; pages read it from there.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .storage.record import DEVICE_MAX_LENGTH


def _parser() -> Any:
    try:
        from ua_parser import parse
    except ImportError:
        return None
    return parse


def _version(part: Any, *, minor: bool) -> str:
    """``"128"`` for a browser; ``"17.5"`` for an OS (a ``.0`` minor is dropped)."""
    numbers = [part.major, part.minor if minor and part.minor not in ("0", 0) else None]
    return ".".join(str(v) for v in numbers if v not in (None, ""))


@lru_cache(maxsize=1024)
def describe_user_agent(user_agent: str | None) -> str:
    """``"Firefox 128 on Windows 10"``, or the raw string when it cannot say better.

    Cached: one site sees few distinct user agents, and parsing costs about a
    millisecond.
    """
    if not user_agent:
        return ""
    parse = _parser()
    if parse is None:
        return user_agent
    result = parse(user_agent)
    browser = result.user_agent
    os_ = result.os
    device = result.device
    parts: list[str] = []
    if browser is not None and browser.family != "Other":
        parts.append(f"{browser.family} {_version(browser, minor=False)}".strip())
    if os_ is not None and os_.family != "Other":
        parts.append(f"on {os_.family} {_version(os_, minor=True)}".strip())
    if device is not None and device.family not in ("Other", "Spider") and device.brand:
        parts.append(f"({device.family})")
    return " ".join(parts) or user_agent


def device_name(user_agent: str) -> str:
    """What a session records as its device when its user agent is recorded
    (``record.META_DEVICE``): the description, capped at
    ``record.DEVICE_MAX_LENGTH`` characters, or ``""`` when it would only repeat
    the user agent (no parser, or one that does not know it)."""
    described = describe_user_agent(user_agent)
    return "" if described == user_agent else described[:DEVICE_MAX_LENGTH]


def shown_device(user_agent: str | None, recorded: str | None) -> str:
    """The device a page shows for a session: the name recorded with it; the user
    agent when that name is ``""``; parsed now only for a record written before
    device names were recorded (``recorded`` is ``None``)."""
    if recorded is None:
        return describe_user_agent(user_agent)
    return recorded or user_agent or ""

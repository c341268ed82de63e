"""A readable device and browser for a stored user agent ("Firefox 128 on Windows").

Parsing uses ``ua-parser`` (the optional ``ua`` extra: ``pip install
django-redis-sessionstore[ua]``), the maintained Python port of the uap-core
regexes that most analytics tools share. Without it, pages show the raw string:
accurate, just less friendly. Writing our own regexes would go stale within
months.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


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

"""What a session records about its client (``SessionActivityMiddleware``)."""

from __future__ import annotations

import re

from django.core.checks import CheckMessage, Error

from ..conf import conf
from . import ids
from .base import boolean_errors, is_int, this_engine_only

#: A request.META key holding one address or a comma-separated list of them.
_META_KEY = re.compile(r"REMOTE_ADDR|HTTP_[A-Z0-9_]+")


@this_engine_only
def check_recording_flags() -> list[CheckMessage]:
    return boolean_errors(
        ("SESSIONS_RECORD_IP", "SESSIONS_RECORD_USER_AGENT", "SESSIONS_TRUNCATE_IP")
    )


@this_engine_only
def check_ip_header() -> list[CheckMessage]:
    """Security: the header names where the client's address is trusted from."""
    header = conf.raw("SESSIONS_IP_HEADER_NAME")
    if header is None or (
        isinstance(header, str)
        and _META_KEY.fullmatch(header) is not None
        # RFC 7239's "Forwarded: for=..." has its own syntax, which is not parsed.
        and header != "HTTP_FORWARDED"
    ):
        return []
    from ..middleware import meta_form

    upper = header.upper() if isinstance(header, str) else None
    written = "REMOTE_ADDR" if upper == "REMOTE_ADDR" else meta_form(header)
    write = f': write "{written}"' if written and written != "HTTP_FORWARDED" else ""
    return [
        Error(
            f"SESSIONS_IP_HEADER_NAME must name a request.META key, not {header!r}{write}.",
            hint='Headers appear in request.META as "HTTP_" + the name in upper case '
            'with "_" for "-": X-Forwarded-For is "HTTP_X_FORWARDED_FOR". The RFC 7239 '
            '"Forwarded" header is not supported; use X-Forwarded-For or X-Real-IP.',
            id=ids.IP_HEADER_INVALID,
        )
    ]


@this_engine_only
def check_proxy_count() -> list[CheckMessage]:
    """Security: a wrong count trusts an address the client wrote itself."""
    count = conf.raw("SESSIONS_PROXY_COUNT")
    if is_int(count) and count >= 1:
        return []
    return [
        Error(
            f"SESSIONS_PROXY_COUNT must be a whole number of 1 or more, not {count!r}.",
            hint="The number of reverse proxies you run in front of Django that append "
            "to SESSIONS_IP_HEADER_NAME.",
            id=ids.PROXY_COUNT_INVALID,
        )
    ]


@this_engine_only
def check_user_agent_max_length() -> list[CheckMessage]:
    length = conf.raw("SESSIONS_USER_AGENT_MAX_LENGTH")
    if is_int(length) and 1 <= length <= 4096:
        return []
    return [
        Error(
            "SESSIONS_USER_AGENT_MAX_LENGTH must be a whole number from 1 to 4096, "
            f"not {length!r}.",
            id=ids.USER_AGENT_MAX_LENGTH_INVALID,
        )
    ]

"""``SessionActivityMiddleware``: request metadata and a cookie that slides.

Put it directly after Django's ``SessionMiddleware``::

    MIDDLEWARE = [
        ...
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django_redis_sessions.middleware.SessionActivityMiddleware",
        ...
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]

On every request that carries a session cookie it

* hands the client's IP and user agent (``request_meta.py``) to the session before it
  loads, so the load script records them when they changed, in the round trip
  the request makes anyway;
* loads the session, which refreshes last-seen and slides the idle window even
  when the view never reads the session (activity is activity);
* re-sends the session cookie with a ``max-age`` equal to what Redis now gives
  the session (the idle window, never past the absolute deadline), without
  writing anything to Redis. Django only re-sends the cookie when the session is
  saved, so without this an active user's browser would drop the cookie at its
  first ``max-age`` while the server still held the session.

Sync and async: under ASGI it awaits the engine's native async load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from .backend import SessionStore
from .request_meta import client_meta

_GetResponse = Callable[[HttpRequest], Any]


class SessionActivityMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: _GetResponse) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        session = self._prepare(request)
        if session is not None:
            session.touch()
        response: HttpResponseBase = self.get_response(request)
        self._slide_cookie(request, response)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        session = self._prepare(request)
        if session is not None:
            await session.atouch()
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        response = await get_response(request)
        self._slide_cookie(request, response)
        return response

    @staticmethod
    def _prepare(request: HttpRequest) -> SessionStore | None:
        """Give the session this request's client; return it if a cookie named one."""
        session = getattr(request, "session", None)
        if not isinstance(session, SessionStore):
            # Another engine, or no SessionMiddleware: system check W006 says so.
            return None
        meta = client_meta(request)
        if meta:
            session.record_client(meta)
        return session if session.session_key is not None else None

    @staticmethod
    def _slide_cookie(request: HttpRequest, response: HttpResponseBase) -> None:
        session = getattr(request, "session", None)
        if (
            not isinstance(session, SessionStore)
            or not session.accessed
            # A modified session is saved by SessionMiddleware, which sets the
            # cookie itself (with the engine's capped expiry age).
            or session.modified
            # Redis was unreachable: what it gives the session is unknown, and the
            # browser keeps its cookie as it is (SESSION_REDIS_ON_OUTAGE = "degrade").
            or session.degraded
            or response.status_code >= 500
            or session.session_key is None
            or session.get_expire_at_browser_close()
        ):
            return
        age = session.stored_expiry_age()
        if not age:
            return
        response.set_cookie(
            settings.SESSION_COOKIE_NAME,
            session.session_key,
            max_age=age,  # Django derives the matching Expires from it
            domain=settings.SESSION_COOKIE_DOMAIN,
            path=settings.SESSION_COOKIE_PATH,
            secure=bool(settings.SESSION_COOKIE_SECURE),
            httponly=bool(settings.SESSION_COOKIE_HTTPONLY),
            samesite=settings.SESSION_COOKIE_SAMESITE,
        )

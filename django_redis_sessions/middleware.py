"""The engine's middleware: request metadata, a sliding cookie, sessions by header.

* ``SessionActivityMiddleware``, directly after the session middleware: the
  client's IP address and user agent, activity, and a cookie that slides;
* ``HeaderSessionMiddleware``, in place of Django's ``SessionMiddleware``: the
  session key in a request header, for API clients that keep no cookies.

Request metadata and a cookie that slides
-----------------------------------------

Put ``SessionActivityMiddleware`` directly after Django's ``SessionMiddleware`` (or
``HeaderSessionMiddleware``)::

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

"You were signed out"
---------------------

A browser whose cookie names a session that has ended (revoked from another
device or by an admin, signed out by a password change elsewhere, expired) is
told so on its next page, instead of silently finding itself signed out. The
load above shows it: the cookie named a session, and Redis had none under it
(nothing is read for this; an unreachable Redis tells nothing). Then

* ``request.session_ended`` is true (it is false on every other request), for
  templates: ``{% if request.session_ended %}...{% endif %}``;
* unless a template showed that, a message (``SESSION_ENDED_MESSAGE``, level
  ``INFO``) goes to Django's messages framework, when it is installed, for the
  page the browser opens next (the login page a redirect leads to, typically).

The browser's cookie is then deleted by ``SessionMiddleware`` (the session is
empty), so the notice comes once. A visitor who never had a session, or whose
cookie was malformed, sees nothing. Header requests (API clients) get neither.

Sessions by header, for API clients
-----------------------------------

``HeaderSessionMiddleware`` replaces Django's ``SessionMiddleware``, in the same place
in ``MIDDLEWARE``::

    MIDDLEWARE = [
        ...
        "django_redis_sessions.middleware.HeaderSessionMiddleware",
        "django_redis_sessions.middleware.SessionActivityMiddleware",
        ...
    ]
    SESSIONS_HEADER_NAME = "HTTP_X_SESSION_ID"  # clients send "X-Session-Id"

``SESSIONS_HEADER_NAME`` is the header's ``request.META`` key, as Django's
``CSRF_HEADER_NAME`` is; responses carry the header under its HTTP name
(``X-Session-Id``). With it unset (``None``, the default) it *is* Django's
``SessionMiddleware``: same requests, same responses. With it set:

* **One precedence rule.** A request that carries the session cookie (any value)
  uses the cookie, and the header is ignored. A request *without* the session
  cookie that sends the header (any value, even empty) is a *header request*: its
  session key is the header's value. A request with neither starts without a
  session, as under Django. The cookie wins because a browser sends it by itself,
  while it sends a custom header only when a script of the page (or of an origin
  CORS allows) adds it: letting that header replace the cookie would let any
  script on the page switch the browser to a session of its choosing, and read
  the key that ``HttpOnly`` hides from it.
* **Same validation as the cookie.** The value goes through the engine's
  ``SessionStore`` exactly as a cookie value does (``keys.is_valid_session_key``):
  a malformed value is no session and builds no Redis command; a well-formed key
  Redis does not know is never adopted, and a write starts a fresh key.
* **Header requests are answered by header.** Their responses never set (or
  delete) the session cookie. They carry the header when the key the client must
  send from now on differs from the one it sent: the new key (a new session,
  ``cycle_key`` at login), or an empty value when it has none (logout, ``flush``,
  a key that expired, is unknown or is malformed): "forget your key".
* **Cookie requests, and requests with neither, are answered as by Django** (the
  cookie), and never with the key in a header: a same-origin script can read any
  response header, so the key of a browser's ``HttpOnly`` cookie never goes into
  one.
* **Vary.** Every response that varies on ``Cookie`` varies on the header too (it
  stands in for the cookie), and so does every response that carries it.
* **Out of sight.** The header is removed from ``request.META`` (and
  ``request.headers``) as soon as it is read, on every request: views, logs and
  Django's error reports (which hide ``HTTP_COOKIE`` but not custom headers)
  never see the key. Nothing here logs.

``request.session_from_header`` is ``True`` on header requests and ``False``
otherwise; ``session_from_header(request)`` reads it (also through a Django REST
framework ``Request``). ``csrf_exempt_for_header_clients`` exempts a view from
CSRF checks for header requests only (see its docstring for why that is safe).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.contrib import messages
from django.contrib.messages.storage.base import BaseStorage
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import has_vary_header, patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.debug import sensitive_variables

from .backend import SessionStore
from .conf import conf
from .request_meta import client_meta

__all__ = [
    "FROM_HEADER",
    "SESSION_ENDED_MESSAGE",
    "HeaderSessionMiddleware",
    "SessionActivityMiddleware",
    "SessionEnded",
    "csrf_exempt_for_header_clients",
    "session_from_header",
]

_GetResponse = Callable[[HttpRequest], Any]

#: What a browser signed out elsewhere is told (through Django's messages).
SESSION_ENDED_MESSAGE = _("You were signed out. Please sign in again.")


class SessionEnded:
    """``request.session_ended``: true when the request's cookie named a session that
    has ended. Reading it as true (``{% if request.session_ended %}``) counts as
    having told the user, so no message is queued as well."""

    __slots__ = ("ended", "shown")

    def __init__(self, ended: bool = False) -> None:
        self.ended = ended
        self.shown = False

    def __bool__(self) -> bool:
        if self.ended:
            self.shown = True
        return self.ended

    def __repr__(self) -> str:
        return f"<SessionEnded {self.ended}>"


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
        self._note_ended(request, session)
        response: HttpResponseBase = self.get_response(request)
        self._slide_cookie(request, response)
        self._tell_ended(request, response)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        session = self._prepare(request)
        if session is not None:
            await session.atouch()
        self._note_ended(request, session)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response
        response = await get_response(request)
        self._slide_cookie(request, response)
        self._tell_ended(request, response)
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
    def _note_ended(request: HttpRequest, loaded: SessionStore | None) -> None:
        """``request.session_ended``: ``loaded`` (the session a cookie named, just
        loaded) came back without its key, and not because Redis failed."""
        ended = (
            loaded is not None
            and loaded.session_key is None
            and not loaded.degraded
            and not session_from_header(request)
        )
        request.session_ended = SessionEnded(ended)  # type: ignore[attr-defined]

    @staticmethod
    def _tell_ended(request: HttpRequest, response: HttpResponseBase) -> None:
        """Queue the "signed out" message for the next page, unless this one said it."""
        notice = getattr(request, "session_ended", None)
        if not isinstance(notice, SessionEnded) or not notice.ended or notice.shown:
            return
        storage = messages.get_messages(request)
        if not isinstance(storage, BaseStorage):
            return  # the messages framework is not installed
        storage.add(messages.INFO, str(SESSION_ENDED_MESSAGE))
        # MessageMiddleware (inside this one) has stored the messages already: store
        # again, with this one. Storing twice is harmless if it runs after us.
        storage.update(response)

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


# -- sessions by header ---------------------------------------------------------

#: The request attribute that says whether this request's session came by header.
FROM_HEADER = "session_from_header"
#: The header value a header request sent ("" for an empty one); absent otherwise.
#: Kept on the request, not in request.META, so error reports never show it.
_SENT = "_django_redis_sessions_header_value"

#: A header's request.META key, as WSGI and ASGI servers build it: "HTTP_" and the
#: name in upper case with "-" as "_". Letters and digits only between the "_": a
#: server folds "-" and "_" into the same key, so nginx and Django's runserver drop
#: headers whose names hold "_" (one could pose as another), and the header's HTTP
#: name (for responses) is this key read back, "_" as "-".
_META_KEY = re.compile(r"HTTP_[A-Z0-9]+(?:_[A-Z0-9]+)*")
#: Headers with a meaning of their own (or that browsers forbid scripts to set).
_TAKEN = frozenset(
    {
        "authorization",
        "connection",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "forwarded",
        "host",
        "keep-alive",
        "origin",
        "range",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "via",
        "x-csrftoken",
        "x-real-ip",
        "x-requested-with",
    }
)
_TAKEN_PREFIXES = ("accept", "access-control-", "content-", "if-", "proxy-", "sec-", "x-forwarded-")


def meta_key(header: str) -> str:
    """The ``request.META`` key of a header: ``X-Session-Id`` -> ``HTTP_X_SESSION_ID``."""
    return "HTTP_" + header.upper().replace("-", "_")


@functools.lru_cache(maxsize=8)
def http_header_name(key: str) -> str:
    """The HTTP name of a ``request.META`` key: ``HTTP_X_SESSION_ID`` -> ``X-Session-Id``."""
    return "-".join(part.capitalize() for part in key.removeprefix("HTTP_").split("_"))


def meta_form(value: object) -> str | None:
    """The ``request.META`` key a header name (or a near miss) means, if any.

    ``"X-Session-Id"`` and ``"http_x_session_id"`` -> ``"HTTP_X_SESSION_ID"``; what
    cannot be a header (a space, a non-ASCII letter) -> ``None``.
    """
    if not isinstance(value, str):
        return None
    key = value.upper().replace("-", "_")
    key = key if key.startswith("HTTP_") else meta_key(value)
    return key if _META_KEY.fullmatch(key) else None


def header_name_problem(key: object) -> str | None:
    """Why ``key`` cannot be ``SESSIONS_HEADER_NAME``, or ``None`` if it can.

    A header name in its raw form (``"X-Session-Id"``) gets a problem that says
    the ``request.META`` key to write instead (``"HTTP_X_SESSION_ID"``).
    """
    if not isinstance(key, str) or _META_KEY.fullmatch(key) is None:
        if written := meta_form(key):
            return (
                "is not a request.META key (the form CSRF_HEADER_NAME takes): write "
                f'"{written}" for the header {http_header_name(written)}'
            )
        return (
            'is not a request.META key: "HTTP_" and the header\'s name in upper case, '
            'letters and digits with "_" for "-", e.g. "HTTP_X_SESSION_ID" for '
            "X-Session-Id"
        )
    name = http_header_name(key).lower()
    if name in _TAKEN or name.startswith(_TAKEN_PREFIXES):
        return "names a header that has a meaning of its own"
    if key == settings.CSRF_HEADER_NAME or key == conf.SESSIONS_IP_HEADER_NAME:
        return "is already CSRF_HEADER_NAME or SESSIONS_IP_HEADER_NAME"
    return None


def session_from_header(request: object) -> bool:
    """Whether ``request`` (Django's, or a REST framework ``Request``) is a header request."""
    return getattr(request, FROM_HEADER, False) is True


class HeaderSessionMiddleware(SessionMiddleware):
    """Django's ``SessionMiddleware``, plus the session key in ``SESSIONS_HEADER_NAME``.

    Sync and async alike: like Django's, it is a ``MiddlewareMixin`` whose hooks do
    no I/O of their own besides the session save Django's ``process_response``
    makes.
    """

    @sensitive_variables("value", "sent")
    def process_request(self, request: HttpRequest) -> None:
        header = conf.SESSIONS_HEADER_NAME
        sent: str | None = None
        if header:
            # Out of request.META (and of a request.headers an earlier middleware
            # built) before a view, a log line or an error report can see it.
            value = request.META.pop(header, None)
            request.__dict__.pop("headers", None)
            if value is not None and settings.SESSION_COOKIE_NAME not in request.COOKIES:
                sent = value if isinstance(value, str) else ""
        setattr(request, FROM_HEADER, sent is not None)
        if sent is None:
            super().process_request(request)
            return
        setattr(request, _SENT, sent)
        # The engine validates the key as it does a cookie's: malformed -> None.
        request.session = self.SessionStore(sent)

    @sensitive_variables("sent", "current")
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response = super().process_response(request, response)
        key = conf.SESSIONS_HEADER_NAME
        if not key:
            return response
        header = http_header_name(key)
        sent: str | None = getattr(request, _SENT, None)
        answered = False
        if sent is not None:
            # Django's save (or SessionActivityMiddleware's sliding cookie) set the
            # cookie for this session: a header client gets the header instead.
            response.cookies.pop(settings.SESSION_COOKIE_NAME, None)
            session = getattr(request, "session", None)
            current = getattr(session, "session_key", None) or ""
            if current != sent:
                response.headers[header] = current
                answered = True
        if answered or has_vary_header(response, "Cookie"):
            patch_vary_headers(response, (header,))
        return response


_View = TypeVar("_View", bound=Callable[..., Any])


def csrf_exempt_for_header_clients(view: _View) -> _View:
    """Skip CSRF checks for header requests; check every other request as usual.

    Safe because of what a header request is: one *without* the session cookie,
    with the session header. A forged cross-site request rides on what the
    browser adds by itself, the cookie; a page on another site cannot make the
    browser send a custom header at all unless your CORS policy lets that origin
    (a preflight asks first), and even then it can only send a key it already
    holds: its own session, not the victim's. Requests that carry the cookie
    (browsers), or neither, go through Django's ``csrf_protect`` as if the view
    were not decorated. Use it only on views that authenticate by the session
    alone, not by anything else a browser sends by itself (HTTP authentication,
    client certificates, ``RemoteUserMiddleware``).
    """
    protected = csrf_protect(view)
    wrapper: Callable[..., Any]
    if iscoroutinefunction(view):

        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if session_from_header(request):
                return await view(request, *args, **kwargs)
            return await protected(request, *args, **kwargs)

        wrapper = async_wrapper
    else:

        def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if session_from_header(request):
                return view(request, *args, **kwargs)
            return protected(request, *args, **kwargs)

        wrapper = sync_wrapper
    return cast(_View, csrf_exempt(functools.wraps(view)(wrapper)))

"""The signed-in user's own sessions: list them, sign one out, sign out all others.

What GitHub's and Google's "your devices" pages do. A user only ever reaches
their own sessions: every lookup goes through their own index, so a fingerprint
of somebody else's session (or a made-up one) is a 404, never a revocation.
Revoking the session the request itself uses is a sign-out.

The lists are paged (``PAGE_SIZE`` sessions a page): the request's own session
first, then the others by last activity, most recent first. A page costs one
round trip however many sessions the user has (``api.user_sessions_page``), and
device names come from the records (parsed once, when each user agent was
recorded). "Sign out all other sessions" is one action whatever page is shown.

Every view is ``csrf_protect``-ed, as Django's own auth views and admin are: the
views that end sessions refuse a POST without the CSRF token even in a project
whose ``MIDDLEWARE`` lacks ``CsrfViewMiddleware`` (and the pages still set the
cookie their forms need). With the middleware the decorator does nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST, require_safe

from . import api
from .conf import conf
from .devices import shown_device
from .identifiers import check_fingerprint
from .signals import By
from .storage import keys

View = Callable[..., HttpResponse]

#: Sessions per page, on the HTML page and by default in the JSON API.
PAGE_SIZE = 50
#: The largest ``limit`` the JSON API accepts.
MAX_PAGE_SIZE = 200
#: The largest ``offset`` (or page) the JSON API accepts: far past any real page.
MAX_OFFSET = 10**9


def _devices(sessions: list[api.SessionInfo]) -> list[tuple[api.SessionInfo, str]]:
    """Each session of a page with its readable device: the one recorded with it;
    parsed now only for records written before device names were recorded."""
    return [(info, shown_device(info.user_agent, info.device)) for info in sessions]


def _signed_in(request: HttpRequest) -> AbstractBaseUser:
    """The request's user, on a page only a signed-in user reaches."""
    user = request.user
    if not isinstance(user, AbstractBaseUser):
        raise PermissionDenied  # AnonymousUser: the page's decorator lets none through
    return user


def page_offset(number: str | None, per_page: int) -> int:
    """The offset of page ``number`` (a bad or missing number is page 1; one past
    the end is corrected by :func:`sessions_page` once the total is known)."""
    try:
        return min(max(0, int(number or 1) - 1), MAX_OFFSET) * per_page
    except ValueError:
        return 0


def sessions_page(
    number: str | None, per_page: int, fetch: Callable[[int], api.SessionPage]
) -> tuple[api.SessionPage, Page[Any]]:
    """Page ``number`` of a user's sessions, with Django's ``Paginator`` semantics
    (a bad number is page 1, one past the end the last page). The storage slices:
    the paginator only checks the number against the total (a ``range`` costs
    nothing), and the page is read again when the number was past the end.
    ``fetch(offset)`` reads one page."""
    result = fetch(page_offset(number, per_page))
    page = Paginator(range(result.total), per_page).get_page(number)
    if result.total and page.start_index() - 1 != result.offset:
        result = fetch(page.start_index() - 1)
        page = Paginator(range(result.total), per_page).get_page(page.number)
    return result, page


def _end(request: HttpRequest, fingerprint: str) -> bool:
    """End one of the user's sessions; ``True`` when it was the request's own."""
    try:
        fingerprint = check_fingerprint(fingerprint)
    except ValueError:
        raise Http404(_("No such session.")) from None
    own_key = request.session.session_key
    # The page shows a session under the fingerprint it had before any key
    # rotation (SessionStore.fingerprint); its current key's names it too.
    own = (
        {keys.fingerprint(own_key), getattr(request.session, "fingerprint", None)}
        if own_key is not None
        else set()
    )
    if fingerprint in own:
        logout(request)  # ends it in Redis, with Django's user_logged_out signal
        return True
    # Only the user's own index is searched: anybody else's fingerprint ends nothing.
    if not api.revoke_sessions(
        [fingerprint], user=_signed_in(request), by=By.USER, actor=request.user
    ):
        raise Http404(_("No such session."))
    return False


# -- HTML ------------------------------------------------------------------------------


@csrf_protect
@require_safe
@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    result, page = sessions_page(
        request.GET.get("page"),
        PAGE_SIZE,
        lambda offset: api.user_sessions_page(
            _signed_in(request), offset=offset, limit=PAGE_SIZE, current=request
        ),
    )
    return render(
        request,
        "django_redis_sessions/sessions.html",
        {
            "sessions": [
                {"info": info, "device": device} for info, device in _devices(result.sessions)
            ],
            "total": result.total,
            "page": page,
            "base_template": conf.SESSIONS_BASE_TEMPLATE,
        },
    )


@csrf_protect
@require_POST
@login_required
def revoke_session(request: HttpRequest, fingerprint: str) -> HttpResponse:
    if _end(request, fingerprint):
        return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))
    messages.success(request, _("That session was signed out."))
    return HttpResponseRedirect(reverse("django_redis_sessions:sessions"))


@csrf_protect
@require_POST
@login_required
def revoke_others(request: HttpRequest) -> HttpResponse:
    ended = api.revoke_other_sessions(request)
    messages.success(
        request,
        ngettext(
            "%(count)d other session was signed out.",
            "%(count)d other sessions were signed out.",
            ended,
        )
        % {"count": ended},
    )
    return HttpResponseRedirect(reverse("django_redis_sessions:sessions"))


# -- JSON --------------------------------------------------------------------------------


def _json_login_required(view: View) -> View:
    """A 401 with a JSON body instead of a redirect to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"error": _("Authentication required.")}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


@csrf_protect
@require_safe
@_json_login_required
def api_session_list(request: HttpRequest) -> HttpResponse:
    """One page of the user's sessions: ``?offset=&limit=`` (or ``?page=``, pages
    of ``limit``), with ``total`` and the ``next`` and ``previous`` pages' URLs."""
    try:
        offset, limit = _json_window(request)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    result = api.user_sessions_page(
        _signed_in(request), offset=offset, limit=limit, current=request
    )
    sessions = [{**info.as_dict(), "device": device} for info, device in _devices(result.sessions)]

    def link(at: int) -> str:
        return request.build_absolute_uri(
            f"{request.path}?{urlencode({'offset': at, 'limit': limit})}"
        )

    return JsonResponse(
        {
            "sessions": sessions,
            "total": result.total,
            "offset": offset,
            "limit": limit,
            "next": link(offset + limit) if result.has_next else None,
            # From past the end, "previous" is the last page.
            "previous": link(max(0, min(offset - limit, result.total - limit)))
            if result.has_previous
            else None,
        }
    )


def _json_window(request: HttpRequest) -> tuple[int, int]:
    """``(offset, limit)`` from the query string; ``ValueError`` saying what is wrong."""

    def number(name: str, default: int, low: int, high: int) -> int:
        raw = request.GET.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(_("%(name)s must be a whole number.") % {"name": name}) from None
        if not low <= value <= high:
            raise ValueError(
                _("%(name)s must be between %(low)d and %(high)d.")
                % {"name": name, "low": low, "high": high}
            )
        return value

    limit = number("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if "page" in request.GET:
        if "offset" in request.GET:
            raise ValueError(_("Give offset or page, not both."))
        return (number("page", 1, 1, MAX_OFFSET) - 1) * limit, limit
    return number("offset", 0, 0, MAX_OFFSET), limit


@csrf_protect
@require_POST
@_json_login_required
def api_revoke_session(request: HttpRequest, fingerprint: str) -> HttpResponse:
    try:
        signed_out = _end(request, fingerprint)
    except Http404:
        return JsonResponse({"error": _("No such session.")}, status=404)
    return JsonResponse({"revoked": 1, "signed_out": signed_out})


@csrf_protect
@require_POST
@_json_login_required
def api_revoke_others(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"revoked": api.revoke_other_sessions(request)})

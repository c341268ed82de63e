"""The signed-in user's own sessions: list them, sign one out, sign out all others.

What GitHub's and Google's "your devices" pages do. A user only ever reaches
their own sessions: every lookup goes through their own index, so a fingerprint
of somebody else's session (or a made-up one) is a 404, never a revocation.
Revoking the session the request itself uses is a sign-out.

Every view is ``csrf_protect``-ed, as Django's own auth views and admin are: the
views that end sessions refuse a POST without the CSRF token even in a project
whose ``MIDDLEWARE`` lacks ``CsrfViewMiddleware`` (and the pages still set the
cookie their forms need). With the middleware the decorator does nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_POST, require_safe

from . import api
from .conf import conf
from .devices import describe_user_agent
from .identifiers import check_fingerprint
from .signals import By
from .storage import keys

View = Callable[..., HttpResponse]


def _listing(request: HttpRequest) -> list[tuple[api.SessionInfo, str]]:
    """The user's sessions, each with a readable device."""
    return [
        (info, describe_user_agent(info.user_agent))
        for info in api.list_user_sessions(request.user, current=request)
    ]


def _end(request: HttpRequest, fingerprint: str) -> bool:
    """End one of the user's sessions; ``True`` when it was the request's own."""
    try:
        fingerprint = check_fingerprint(fingerprint)
    except ValueError:
        raise Http404("No such session.") from None
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
    if not api.revoke_sessions(request.user, [fingerprint], by=By.USER, actor=request.user):
        raise Http404("No such session.")
    return False


# -- HTML ------------------------------------------------------------------------------


@csrf_protect
@require_safe
@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "django_redis_sessions/sessions.html",
        {
            "sessions": [{"info": info, "device": device} for info, device in _listing(request)],
            "base_template": conf.SESSION_REDIS_BASE_TEMPLATE,
        },
    )


@csrf_protect
@require_POST
@login_required
def revoke_session(request: HttpRequest, fingerprint: str) -> HttpResponse:
    if _end(request, fingerprint):
        return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))
    messages.success(request, "That session was signed out.")
    return HttpResponseRedirect(reverse("django_redis_sessions:sessions"))


@csrf_protect
@require_POST
@login_required
def revoke_others(request: HttpRequest) -> HttpResponse:
    ended = api.revoke_other_sessions(request)
    plural = "session was" if ended == 1 else "sessions were"
    messages.success(request, f"{ended} other {plural} signed out.")
    return HttpResponseRedirect(reverse("django_redis_sessions:sessions"))


# -- JSON --------------------------------------------------------------------------------


def _json_login_required(view: View) -> View:
    """A 401 with a JSON body instead of a redirect to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return JsonResponse({"error": "Authentication required."}, status=401)
        return view(request, *args, **kwargs)

    return wrapper


@csrf_protect
@require_safe
@_json_login_required
def api_session_list(request: HttpRequest) -> HttpResponse:
    sessions = [{**info.as_dict(), "device": device} for info, device in _listing(request)]
    return JsonResponse({"sessions": sessions})


@csrf_protect
@require_POST
@_json_login_required
def api_revoke_session(request: HttpRequest, fingerprint: str) -> HttpResponse:
    try:
        signed_out = _end(request, fingerprint)
    except Http404:
        return JsonResponse({"error": "No such session."}, status=404)
    return JsonResponse({"revoked": 1, "signed_out": signed_out})


@csrf_protect
@require_POST
@_json_login_required
def api_revoke_others(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"revoked": api.revoke_other_sessions(request)})

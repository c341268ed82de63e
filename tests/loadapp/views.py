"""The load app's endpoints: small plain-text or JSON answers, no templates.

Every view but ``sign_in`` needs a signed-in user and answers 401 otherwise (a
revoked or signed-out session reads as anonymous). Reading ``request.user``
loads the session and then the user from the database, as any signed-in page
does; ``peek`` reads the session alone.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth import SESSION_KEY, authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from django_redis_sessions import api
from django_redis_sessions.storage import keys


def _anonymous() -> HttpResponse:
    return HttpResponse("signed out", status=401, content_type="text/plain")


@csrf_exempt
@require_POST
def sign_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request,
        username=request.POST.get("username", ""),
        password=request.POST.get("password", ""),
    )
    if user is None:
        return HttpResponse("bad credentials", status=403, content_type="text/plain")
    login(request, user)
    session_key = request.session.session_key
    assert session_key is not None
    return JsonResponse({"user": str(user.pk), "fp": keys.fingerprint(session_key)})


@require_GET
def read(request: HttpRequest) -> HttpResponse:
    """The common signed-in page: who is this? (session load + user lookup)."""
    if not request.user.is_authenticated:
        return _anonymous()
    return HttpResponse(str(request.user.pk), content_type="text/plain")


@require_GET
def peek(request: HttpRequest) -> HttpResponse:
    """A page that needs the session but not the user's row (a cart, a preference).

    Signed in means the session names a user; the user is not loaded, so the
    request costs the session store and no query. ``bench_load.py --page peek``
    measures the engines on it: with no ORM lookup in every request, more of
    each request's cost is the store's.
    """
    if SESSION_KEY not in request.session:
        return _anonymous()
    return HttpResponse(str(request.session.get("t0", "")), content_type="text/plain")


@require_GET
def data(request: HttpRequest) -> HttpResponse:
    """The whole session, as JSON: the load test's final check of what was written."""
    if not request.user.is_authenticated:
        return _anonymous()
    return HttpResponse(json.dumps(dict(request.session.items())), content_type="application/json")


@csrf_exempt
@require_POST
def write(request: HttpRequest) -> HttpResponse:
    """Set one session key the client names (each browser tab writes its own keys)."""
    if not request.user.is_authenticated:
        return _anonymous()
    key = request.POST.get("key", "")
    if not key.startswith("t"):
        return HttpResponse("keys start with 't'", status=400, content_type="text/plain")
    request.session[key] = request.POST.get("value", "")
    return HttpResponse("ok", content_type="text/plain")


@csrf_exempt
@require_POST
def revoke(request: HttpRequest) -> HttpResponse:
    """End the user's other sessions, or the one whose fingerprint is posted."""
    if settings.SESSION_ENGINE != "django_redis_sessions.backend":
        return HttpResponse("needs our engine", status=501, content_type="text/plain")
    if not request.user.is_authenticated:
        return _anonymous()
    fingerprint = request.POST.get("fingerprint")
    if fingerprint:
        ended = api.revoke_sessions([fingerprint], user=request.user)
    else:
        ended = api.revoke_user_sessions(request.user, keep=request)
    return HttpResponse(str(ended), content_type="text/plain")


@csrf_exempt
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("ok", content_type="text/plain")

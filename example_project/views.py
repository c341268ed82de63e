"""The example's pages.

``home`` and ``sign_in`` are async views: they use the engine's native async
methods (``aget``, ``aset``, ``aitems``, ``aget_expiry_age``), the async API
(``api.auser_sessions_page``) and Django's ``aauthenticate``/``alogin``. They run
as they are under an ASGI server (uvicorn) and through Django's async-to-sync
adapter under a WSGI one (runserver, gunicorn). ``sign_up`` is a plain sync view.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import aauthenticate, alogin, login
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from django_redis_sessions import api
from django_redis_sessions.storage.keys import fingerprint

from .demo import demo_user_rows, describe_store, is_embedded
from .forms import SignInForm

#: Session keys whose values the home page does not print.
HIDDEN_KEYS = frozenset({"_auth_user_hash"})

INVALID_LOGIN = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)


def format_duration(seconds: int) -> str:
    """``"0:29:59"``; ``"2 d 3:04:05"`` past a day. The page's script writes the same."""
    days, rest = divmod(max(0, seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days} d {clock}" if days else clock


def plain_duration(seconds: int) -> str:
    """``"30 minutes"``, ``"12 hours"``: a setting's age in words."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _countdown(seconds: float, now: datetime) -> dict[str, Any]:
    """What the page shows for one deadline: seconds left, as text, and when."""
    left = max(0, int(seconds))
    return {
        "seconds": left,
        "text": format_duration(left),
        "at": datetime.fromtimestamp(now.timestamp() + left, tz=UTC),
    }


async def _current_session_info(request: HttpRequest, user: Any) -> api.SessionInfo | None:
    """The request's own session as the user's listing shows it (signed in only)."""
    if not user.is_authenticated:
        return None
    # The current session comes first on the first page: a page of one is enough,
    # however many sessions the user has (one round trip).
    page = await api.auser_sessions_page(user, limit=1, current=request)
    return next((info for info in page.sessions if info.current), None)


@never_cache
async def home(request: HttpRequest) -> HttpResponse:
    """Count visits in the session and show what the engine knows about it."""
    session = request.session
    visits = await session.aget("visits", 0) + 1
    await session.aset("visits", visits)
    if session.session_key is None:
        # A first visit: create the session now (SessionMiddleware would only do
        # it after this view), so that the page can show it.
        await session.asave()
    user = await request.auser()
    now = datetime.now(UTC)
    absolute_age: int | None = getattr(settings, "SESSIONS_ABSOLUTE_AGE", None)
    info = await _current_session_info(request, user)
    if info is not None:
        # Signed in: the session is in the user's index, and the listing has it
        # all (created, last seen, both deadlines).
        idle = (
            _countdown((info.idle_expiry - now).total_seconds(), now) if info.idle_expiry else None
        )
        absolute = (
            _countdown((info.absolute_expiry - now).total_seconds(), now)
            if info.absolute_expiry
            else None
        )
        source = "api.auser_sessions_page(user, limit=1, current=request)"
    else:
        # Anonymous: no index lists it, but the session itself knows its expiry.
        # get_expiry_age() is the idle window, never past the absolute deadline;
        # asked for an age as long as the whole absolute lifetime, it answers
        # with what is left of that lifetime.
        idle = _countdown(await session.aget_expiry_age(), now)
        absolute = (
            _countdown(await session.aget_expiry_age(expiry=absolute_age), now)
            if absolute_age
            else None
        )
        source = "request.session.aget_expiry_age()"
    key = session.session_key
    data = [
        (name, "(hidden)" if name in HIDDEN_KEYS else value)
        for name, value in sorted(await session.aitems())
    ]
    return render(
        request,
        "home.html",
        {
            # The auth context processor's ``user`` would be loaded synchronously
            # on first use, which an async view must not do: give the template ours.
            "user": user,
            "visits": visits,
            "fingerprint": fingerprint(key) if key else None,
            "info": info,
            "idle": idle,
            "absolute": absolute,
            "source": source,
            "data": data,
            "idle_timeout": plain_duration(settings.SESSION_COOKIE_AGE),
            "absolute_timeout": plain_duration(absolute_age) if absolute_age else None,
            "embedded": is_embedded(),
            "store": describe_store(),
            "demo_users": demo_user_rows(),
        },
    )


def _safe_next(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
async def sign_in(request: HttpRequest) -> HttpResponse:
    """Sign in with ``aauthenticate`` and ``alogin`` (a new session key, indexed)."""
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            user = await aauthenticate(
                request,
                username=form.cleaned_data["username"],
                password=form.cleaned_data["password"],
            )
            if user is not None:
                await alogin(request, user)
                return HttpResponseRedirect(_safe_next(request, next_url))
            form.add_error(None, INVALID_LOGIN)
    else:
        form = SignInForm()
    return render(
        request,
        "sign_in.html",
        {"form": form, "next": next_url, "user": await request.auser()},
    )


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_up(request: HttpRequest) -> HttpResponse:
    """Django's ``UserCreationForm``; the new user is signed in at once."""
    form: UserCreationForm[Any]
    if request.method == "POST":
        form = UserCreationForm(request.POST)
        if form.is_valid():
            user = form.save()
            login(request, user)
            messages.success(
                request, f"Welcome, {user.get_username()}: your account is ready and signed in."
            )
            return redirect("home")
    else:
        form = UserCreationForm()
    return render(request, "sign_up.html", {"form": form})

"""Tiny views the HTTP tests drive through Django's full middleware stack."""

from __future__ import annotations

import json

from django.contrib.auth import aauthenticate, alogin, authenticate, login, logout
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import RequestContext, Template
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import CreateView


def read_session(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "data": dict(request.session.items()),
            "user": request.user.get_username() if request.user.is_authenticated else None,
        }
    )


@csrf_exempt
def write_session(request: HttpRequest) -> JsonResponse:
    for key, value in json.loads(request.body or b"{}").items():
        request.session[key] = value
    return JsonResponse({"ok": True})


async def aread_session(request: HttpRequest) -> JsonResponse:
    items = await request.session.aitems()
    return JsonResponse({"data": dict(items)})


@csrf_exempt
async def awrite_session(request: HttpRequest) -> JsonResponse:
    for key, value in json.loads(request.body or b"{}").items():
        await request.session.aset(key, value)
    return JsonResponse({"ok": True})


@csrf_exempt
def login_view(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    login(request, user)
    return HttpResponse("ok")


@csrf_exempt
async def alogin_view(request: HttpRequest) -> HttpResponse:
    user = await aauthenticate(
        request, username=request.POST["username"], password=request.POST["password"]
    )
    if user is None:
        return HttpResponse("bad credentials", status=403)
    await alogin(request, user)
    return HttpResponse("ok")


@csrf_exempt
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return HttpResponse("bye")


# -- views for tests/test_middleware.py ----------------------------------------------


@csrf_exempt
def flush_session(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    return HttpResponse("flushed")


@csrf_exempt
def cycle_session(request: HttpRequest) -> HttpResponse:
    request.session.cycle_key()
    return HttpResponse("cycled")


@csrf_exempt
def interrupted_write(request: HttpRequest) -> HttpResponse:
    """Read the session, have "another request" delete it, then change it."""
    key = request.session.get("key")
    request.session.__class__(request.session.session_key).delete()
    request.session["key"] = f"{key}-changed"
    return HttpResponse("changed after a concurrent delete")


@csrf_exempt
async def ainterrupted_write(request: HttpRequest) -> HttpResponse:
    key = await request.session.aget("key")
    await request.session.__class__(request.session.session_key).adelete()
    await request.session.aset("key", f"{key}-changed")
    return HttpResponse("changed after a concurrent delete")


@csrf_exempt
def write_then_fail(request: HttpRequest) -> HttpResponse:
    request.session["key"] = "written by a failing request"
    return HttpResponse("server error", status=500)


def untouched(request: HttpRequest) -> HttpResponse:
    return HttpResponse("session not used")


def ip_changed(request: HttpRequest) -> JsonResponse:
    """What SESSIONS_IP_CHANGE = "flag" marked on this request's session."""
    request.session.get("_auth_user_id")  # load it: the policy runs at load
    return JsonResponse(
        {
            "ip_changed": getattr(request.session, "ip_changed", False),
            "user": request.user.get_username() if request.user.is_authenticated else None,
        }
    )


class SignUpView(CreateView):  # type: ignore[type-arg]
    """A sign-up page (``UserCreationForm``), as a project would have one."""

    form_class = UserCreationForm
    template_name = "signup.html"
    success_url = "/read/"


#: A page that shows ``request.session_ended`` itself, then the messages.
_NOTICE_PAGE = (
    "{% if request.session_ended %}<p id='ended'>Signed out elsewhere</p>{% endif %}"
    "{% for message in messages %}<p class='message {{ message.tags }}'>{{ message }}</p>"
    "{% endfor %}"
)
#: A page that shows only the messages.
_MESSAGES_PAGE = (
    "{% for message in messages %}<p class='message {{ message.tags }}'>{{ message }}</p>"
    "{% endfor %}"
)


def notice_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(Template(_NOTICE_PAGE).render(RequestContext(request)))


def messages_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(Template(_MESSAGES_PAGE).render(RequestContext(request)))


async def amessages_page(request: HttpRequest) -> HttpResponse:
    await request.auser()
    return HttpResponse(Template(_MESSAGES_PAGE).render(RequestContext(request)))

"""Tiny views the HTTP tests drive through Django's full middleware stack."""

from __future__ import annotations

import json

from django.contrib.auth import aauthenticate, alogin, authenticate, login, logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


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

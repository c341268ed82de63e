"""API clients: the session key in ``SESSIONS_HEADER_NAME`` instead of the cookie.

Against the real Redis, through the test ``Client`` / ``AsyncClient`` and the full
middleware stack of ``tests/settings.py`` with Django's ``SessionMiddleware``
replaced by ``middleware.HeaderSessionMiddleware`` (fixture ``on``). This module
is also the URLconf of its tests: the views of ``tests/urls.py`` plus a few that
show the CSRF pattern and what a view sees.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client, RequestFactory
from django.urls import include, path
from django.utils.cache import has_vary_header
from django.views.debug import ExceptionReporter

from django_redis_sessions.checks import check_settings
from django_redis_sessions.middleware import (
    HeaderSessionMiddleware,
    csrf_exempt_for_header_clients,
    header_name_problem,
    http_header_name,
    meta_key,
    session_from_header,
)
from django_redis_sessions.storage import keys

from .helpers import index_members, redis_key, saved_key

pytestmark = [pytest.mark.real_redis, pytest.mark.urls(__name__)]

H = "X-Session-Id"
META = "HTTP_X_SESSION_ID"
COOKIE = django_settings.SESSION_COOKIE_NAME
DJANGO_SESSIONS = "django.contrib.sessions.middleware.SessionMiddleware"
OURS = "django_redis_sessions.middleware.HeaderSessionMiddleware"
ACTIVITY = "django_redis_sessions.middleware.SessionActivityMiddleware"
CREDENTIALS = {"username": "alice", "password": "pw-alice"}
CSRF_SECRET = "A" * 32


# -- views of this module's URLconf ------------------------------------------------------


@csrf_exempt_for_header_clients
def api_write(request: HttpRequest) -> JsonResponse:
    request.session["api"] = request.POST.get("value", "x")
    return JsonResponse({"ok": True})


@csrf_exempt_for_header_clients
async def aapi_write(request: HttpRequest) -> JsonResponse:
    await request.session.aset("api", request.POST.get("value", "x"))
    return JsonResponse({"ok": True})


def protected_write(request: HttpRequest) -> JsonResponse:
    """An ordinary view: CSRF-protected, for header clients too."""
    request.session["protected"] = True
    return JsonResponse({"ok": True})


def what_the_view_sees(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "from_header": session_from_header(request),
            "attribute": request.session_from_header,  # type: ignore[attr-defined]
            "in_meta": META in request.META,
            "in_headers": H in request.headers,
        }
    )


def cycle_then_fail(request: HttpRequest) -> HttpResponse:
    request.session.cycle_key()
    request.session["lost"] = "not saved on a 5xx"
    return HttpResponse("server error", status=500)


def boom(request: HttpRequest) -> HttpResponse:
    request.session["before"] = "the crash"
    raise RuntimeError("boom")


urlpatterns = [
    path("api/write/", api_write),
    path("api/awrite/", aapi_write),
    path("protected/write/", protected_write),
    path("sees/", what_the_view_sees),
    path("boom/", boom),
    path("cycle-then-fail/", cycle_then_fail),
    path("", include("tests.urls")),
]


# -- fixtures and helpers -----------------------------------------------------------------


def with_ours(middleware: list[str]) -> list[str]:
    return [OURS if m == DJANGO_SESSIONS else m for m in middleware]


@pytest.fixture
def on(settings: Any) -> None:
    """The header feature on, our middleware in place of Django's."""
    settings.SESSIONS_HEADER_NAME = META
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))


def hget(client: Client, url: str, key: str = "", **extra: Any) -> Any:
    return client.get(url, headers={H: key}, **extra)


def hwrite(client: Client, data: dict[str, object], key: str = "") -> Any:
    response = client.post(
        "/write/", data=json.dumps(data), content_type="application/json", headers={H: key}
    )
    assert response.status_code == 200, response.content
    return response


def hlogin(client: Client, key: str = "") -> str:
    """Sign ``client`` in by header; return the key the response header gave it."""
    response = client.post("/login/", CREDENTIALS, headers={H: key})
    assert response.status_code == 200, response.content
    assert COOKIE not in response.cookies
    new: str = response[H]
    assert keys.is_valid_session_key(new)
    return new


def no_session_cookie(response: Any) -> bool:
    return COOKIE not in response.cookies


# -- 1. login, use, logout by header -----------------------------------------------------


def test_login_by_header_answers_by_header_not_cookie(r, on, alice):
    client = Client()
    response = client.post("/login/", CREDENTIALS, headers={H: ""})
    assert response.status_code == 200
    key = response[H]
    assert keys.is_valid_session_key(key)
    assert no_session_cookie(response)
    assert COOKIE not in client.cookies
    assert r.exists(redis_key(key)) == 1
    assert index_members(r, alice.pk) == {keys.digest(key)}
    assert has_vary_header(response, H)
    assert has_vary_header(response, "Cookie")


def test_header_client_is_signed_in_on_later_requests(r, on, alice):
    client = Client()
    key = hlogin(client)
    for _ in range(2):
        response = hget(client, "/read/", key)
        assert response.json()["user"] == "alice"
        # Same key: nothing to tell the client, and no cookie, not even the
        # activity middleware's sliding one.
        assert H not in response
        assert no_session_cookie(response)
        assert has_vary_header(response, H)


def test_logout_by_header_ends_the_session_and_says_so(r, on, alice):
    client = Client()
    key = hlogin(client)
    response = client.post("/logout/", headers={H: key})
    assert response.status_code == 200
    assert response[H] == ""  # forget your key
    assert no_session_cookie(response)
    assert r.exists(redis_key(key)) == 0
    assert index_members(r, alice.pk) == set()
    # The old key is dead: replaying it is anonymous and resurrects nothing.
    response = hget(client, "/read/", key)
    assert response.json()["user"] is None
    assert response[H] == ""
    assert r.exists(redis_key(key)) == 0


def test_login_after_an_anonymous_session_cycles_the_key(r, on, alice):
    client = Client()
    anonymous = hwrite(client, {"cart": [1, 2]})[H]
    assert keys.is_valid_session_key(anonymous)
    key = hlogin(client, anonymous)
    assert key != anonymous
    assert r.exists(redis_key(anonymous)) == 0
    response = hget(client, "/read/", key).json()
    assert (response["data"]["cart"], response["user"]) == ([1, 2], "alice")


def test_flush_and_cycle_by_header(r, on):
    client = Client()
    key = hwrite(client, {"a": 1})[H]
    response = client.post("/cycle/", headers={H: key})
    cycled = response[H]
    assert keys.is_valid_session_key(cycled)
    assert cycled != key
    assert r.exists(redis_key(key)) == 0
    assert hget(client, "/read/", cycled).json()["data"] == {"a": 1}
    response = client.post("/flush/", headers={H: cycled})
    assert response[H] == ""
    assert r.exists(redis_key(cycled)) == 0
    assert no_session_cookie(response)


def test_writes_with_the_same_key_send_no_header(r, on, settings):
    client = Client()
    key = hwrite(client, {"a": 1})[H]
    response = hwrite(client, {"b": 2}, key)
    assert H not in response
    assert no_session_cookie(response)
    settings.SESSION_SAVE_EVERY_REQUEST = True
    response = hget(client, "/read/", key)
    assert H not in response
    assert no_session_cookie(response)
    assert response.json()["data"] == {"a": 1, "b": 2}


def test_a_5xx_creates_no_session_and_sends_no_key(r, on, count_round_trips):
    response = Client().post("/fail/", headers={H: ""})
    assert response.status_code == 500
    assert H not in response
    assert no_session_cookie(response)
    assert count_round_trips.round_trips == 0


def test_a_5xx_after_cycle_key_still_gives_the_new_key(r, on):
    client = Client()
    key = hwrite(client, {"a": 1})[H]
    response = client.get("/cycle-then-fail/", headers={H: key})
    assert response.status_code == 500
    new = response[H]
    assert keys.is_valid_session_key(new)
    assert new != key
    assert r.exists(redis_key(key)) == 0
    assert hget(client, "/read/", new).json()["data"] == {"a": 1}


def test_interrupted_session_is_a_400_without_a_key(r, on):
    client = Client()
    key = hwrite(client, {"key": "v"})[H]
    response = client.post("/interrupted/", headers={H: key})
    assert response.status_code == 400
    assert H not in response
    assert no_session_cookie(response)
    assert hget(client, "/read/", key)[H] == ""


# -- 2. validation: malformed, hostile and unknown values ---------------------------------

HOSTILE = [
    "short",
    "A" * 32,  # upper case: not a key this engine issues
    "a" * 65,
    "x" * 10_000,
    "abcdefgh abcdefgh",
    "abcdefgh12345678\r\nSet-Cookie: sessionid=abcdefgh12345678",
    "../../../../etc/passwd",
    "session:s:*",
    "*",
    "abcdefgh12345678\x00",
    "абвгдежзийклмнопабвгдежзийклмноп",
    "null",
    "[object Object]",
    '{"$gt": ""}',
]


@pytest.mark.parametrize("value", HOSTILE)
def test_malformed_header_makes_no_redis_command(r, on, count_round_trips, value):
    response = hget(Client(), "/read/", value)
    assert response.status_code == 200
    assert response.json() == {"data": {}, "user": None}
    assert count_round_trips.round_trips == 0
    # What the client sent is not a session: forget it (never echoed back).
    assert response[H] == ""
    assert value not in response.serialize_headers().decode("latin-1")
    assert no_session_cookie(response)


@pytest.mark.parametrize("value", HOSTILE)
def test_malformed_header_then_write_gets_a_fresh_key(r, on, value):
    response = hwrite(Client(), {"a": 1}, value)
    new = response[H]
    assert keys.is_valid_session_key(new)
    assert new != value
    assert r.exists(redis_key(new)) == 1
    assert no_session_cookie(response)


def test_empty_header_is_a_header_client_without_a_session(r, on, count_round_trips):
    response = hget(Client(), "/read/", "")
    assert response.json() == {"data": {}, "user": None}
    assert count_round_trips.round_trips == 0
    assert H not in response  # nothing to forget


@pytest.mark.parametrize("unknown", ["abcdefgh12345678abcdefgh12345678", "undefined"])
def test_unknown_key_is_not_adopted(r, on, unknown):
    # "undefined" (what a careless JavaScript client sends) is well-formed:
    # looked up, not found, not adopted.
    client = Client()
    response = hget(client, "/read/", unknown)
    assert response.json()["data"] == {}
    assert response[H] == ""
    response = hwrite(client, {"a": 1}, unknown)
    new = response[H]
    assert keys.is_valid_session_key(new)
    assert new != unknown
    assert r.exists(redis_key(unknown)) == 0


def test_without_the_activity_middleware_an_unread_unknown_key_is_left_alone(
    r, on, settings, count_round_trips
):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != ACTIVITY]
    unknown = "abcdefgh12345678abcdefgh12345678"
    response = hget(Client(), "/untouched/", unknown)
    assert count_round_trips.round_trips == 0
    assert H not in response  # never looked up, so nothing to say about it
    response = hget(Client(), "/read/", unknown)
    assert response[H] == ""


# -- 3. precedence: the cookie wins --------------------------------------------------------


def test_cookie_wins_over_header(r, on, alice):
    header_key = hlogin(Client())  # alice's session, by header
    browser = Client()
    browser.post("/write/", data=json.dumps({"mine": 1}), content_type="application/json")
    cookie_key = browser.cookies[COOKIE].value
    response = browser.get("/read/", headers={H: header_key})
    assert response.json() == {"data": {"mine": 1}, "user": None}
    assert H not in response
    # Writes and logins answer by cookie, never by header, while the cookie is sent.
    response = browser.post("/login/", CREDENTIALS, headers={H: header_key})
    assert H not in response
    assert response.cookies[COOKIE].value not in ("", cookie_key)
    assert r.exists(redis_key(cookie_key)) == 0
    # The header's session was neither used nor touched.
    assert hget(Client(), "/read/", header_key).json()["user"] == "alice"


def test_malformed_cookie_still_wins_over_a_valid_header(r, on, alice, count_round_trips):
    header_key = hlogin(Client())
    count_round_trips.round_trips = 0
    client = Client()
    client.cookies[COOKIE] = "not a key"
    response = client.get("/read/", headers={H: header_key})
    assert response.json() == {"data": {}, "user": None}
    assert count_round_trips.round_trips == 0
    assert H not in response
    assert response.cookies[COOKIE].value == ""  # Django deletes the bad cookie


def test_what_a_view_sees(r, on):
    key = saved_key(a=1)
    by_header = hget(Client(), "/sees/", key).json()
    assert by_header == {
        "from_header": True,
        "attribute": True,
        "in_meta": False,
        "in_headers": False,
    }
    browser = Client()
    browser.cookies[COOKIE] = key
    by_cookie = browser.get("/sees/", headers={H: key}).json()
    assert by_cookie == {
        "from_header": False,
        "attribute": False,
        "in_meta": False,  # removed even when the cookie won
        "in_headers": False,
    }


def test_header_removed_from_request_headers_built_earlier(r, on):
    key = saved_key(a=1)
    request = RequestFactory().get("/", headers={H: key})
    assert H in request.headers  # an earlier middleware built request.headers

    def view(request: HttpRequest) -> HttpResponse:
        assert H not in request.headers
        assert META not in request.META
        return HttpResponse(str(request.session.get("a")))

    response = HeaderSessionMiddleware(view)(request)
    assert isinstance(response, HttpResponse)
    assert response.content == b"1"
    assert H not in response


# -- 4. off: the header is ignored entirely ------------------------------------------------


@pytest.mark.parametrize("ours", [True, False])
def test_setting_off_ignores_the_header(r, settings, ours, count_round_trips):
    if ours:
        settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    key = saved_key(a=1)
    count_round_trips.round_trips = 0
    client = Client()
    response = hget(client, "/read/", key)
    assert response.json()["data"] == {}
    assert count_round_trips.round_trips == 0
    assert H not in response
    response = hwrite(client, {"b": 2}, key)
    assert H not in response
    assert response.cookies[COOKIE].value not in ("", key)
    assert not has_vary_header(response, H)


def test_setting_off_leaves_meta_alone(r, settings):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    request = RequestFactory().get("/", headers={H: "abcdefgh12345678"})
    seen: dict[str, object] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["meta"] = request.META.get(META)
        seen["flag"] = session_from_header(request)
        return HttpResponse()

    HeaderSessionMiddleware(view)(request)
    assert seen == {"meta": "abcdefgh12345678", "flag": False}


# -- 5. async views --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_async_login_read_logout_by_header(r, on, alice):
    client = AsyncClient()
    response = await client.post("/alogin/", CREDENTIALS, headers={H: ""})
    assert response.status_code == 200
    key = response[H]
    assert keys.is_valid_session_key(key)
    assert no_session_cookie(response)
    assert index_members(r, alice.pk) == {keys.digest(key)}

    response = await client.post(
        "/awrite/", data=json.dumps({"a": 1}), content_type="application/json", headers={H: key}
    )
    assert H not in response
    response = await client.get("/aread/", headers={H: key})
    assert response.json()["data"]["a"] == 1
    assert H not in response
    assert no_session_cookie(response)
    assert has_vary_header(response, H)

    response = await client.post("/logout/", headers={H: key})
    assert response[H] == ""
    assert r.exists(redis_key(key)) == 0


async def test_async_write_without_a_session_gets_a_key(r, on):
    response = await AsyncClient().post(
        "/awrite/", data=json.dumps({"a": 1}), content_type="application/json", headers={H: ""}
    )
    key = response[H]
    assert keys.is_valid_session_key(key)
    assert no_session_cookie(response)
    assert r.exists(redis_key(key)) == 1


@pytest.mark.parametrize("value", ["short", "x" * 10_000, "a\r\nb"])
async def test_async_malformed_header_makes_no_redis_command(r, on, count_round_trips, value):
    response = await AsyncClient().get("/aread/", headers={H: value})
    assert response.json()["data"] == {}
    assert count_round_trips.round_trips == 0
    assert response[H] == ""


async def test_async_cookie_wins(r, on):
    cookie_key = saved_key(mine=1)
    header_key = saved_key(theirs=1)
    client = AsyncClient()
    client.cookies[COOKIE] = cookie_key
    response = await client.get("/aread/", headers={H: header_key})
    assert response.json()["data"] == {"mine": 1}
    assert H not in response


# -- 6. Vary -----------------------------------------------------------------------------------


def test_vary_on_the_header_wherever_it_varies_on_cookie(r, on):
    key = saved_key(a=1)
    browser = Client()
    browser.cookies[COOKIE] = key
    by_cookie = browser.get("/read/")
    assert has_vary_header(by_cookie, "Cookie")
    assert has_vary_header(by_cookie, H)
    by_header = hget(Client(), "/read/", key)
    assert has_vary_header(by_header, "Cookie")
    assert has_vary_header(by_header, H)


def test_no_vary_when_the_session_is_not_used(r, on):
    response = Client().get("/untouched/")
    assert not response.has_header("Vary")


def test_vary_when_the_header_is_answered_without_the_session_being_read(r, on, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != ACTIVITY]
    response = hget(Client(), "/untouched/", "not-a-key")
    assert response[H] == ""
    assert has_vary_header(response, H)


# -- 7. CSRF -----------------------------------------------------------------------------------


def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


def test_csrf_still_applies_to_header_clients_of_ordinary_views(r, on):
    response = csrf_client().post("/protected/write/", headers={H: ""})
    assert response.status_code == 403


def test_exempt_for_header_clients_lets_header_requests_through(r, on):
    client = csrf_client()
    response = client.post("/api/write/", {"value": "one"}, headers={H: ""})
    assert response.status_code == 200
    key = response[H]
    response = client.post("/api/write/", {"value": "two"}, headers={H: key})
    assert response.status_code == 200
    assert hget(Client(), "/read/", key).json()["data"] == {"api": "two"}


@pytest.mark.parametrize("with_header", [False, True])
def test_exempt_for_header_clients_still_protects_cookie_requests(r, on, with_header):
    client = csrf_client()
    client.cookies[COOKIE] = saved_key(a=1)
    headers = {H: saved_key(b=1)} if with_header else {}
    response = client.post("/api/write/", {"value": "forged"}, headers=headers)
    assert response.status_code == 403  # the cookie wins, so CSRF applies
    client.cookies["csrftoken"] = CSRF_SECRET
    response = client.post(
        "/api/write/", {"value": "real"}, headers={**headers, "X-CSRFToken": CSRF_SECRET}
    )
    assert response.status_code == 200


def test_exempt_for_header_clients_protects_requests_with_neither(r, on):
    response = csrf_client().post("/api/write/", {"value": "x"})
    assert response.status_code == 403


def test_exempt_for_header_clients_is_only_for_header_requests_when_off(r, settings):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    response = csrf_client().post("/api/write/", {"value": "x"}, headers={H: ""})
    assert response.status_code == 403


async def test_exempt_for_header_clients_async_view(r, on):
    client = AsyncClient(enforce_csrf_checks=True)
    response = await client.post("/api/awrite/", {"value": "a"}, headers={H: ""})
    assert response.status_code == 200
    assert keys.is_valid_session_key(response[H])
    browser = AsyncClient(enforce_csrf_checks=True)
    browser.cookies[COOKIE] = saved_key(a=1)
    response = await browser.post("/api/awrite/", {"value": "forged"})
    assert response.status_code == 403


# -- 8. no key in logs or error reports --------------------------------------------------------


def test_no_session_key_in_logs_or_error_reports(r, on, alice, caplog):
    caplog.set_level(logging.DEBUG)
    client = Client(raise_request_exception=False)
    seen: list[str] = []
    key = hlogin(client)
    seen.append(key)
    hget(client, "/read/", key)
    seen.append(hwrite(client, {"key": "v"}, "")[H])
    client.post("/interrupted/", headers={H: seen[-1]})  # 400, logged
    csrf_client().post("/protected/write/", headers={H: key})  # 403, logged
    response = client.post("/boom/", headers={H: key})  # 500, logged with a report
    assert response.status_code == 500
    hget(client, "/read/", "abcdefgh12345678abcdefgh12345678")
    client.post("/logout/", headers={H: key})
    seen.append("abcdefgh12345678abcdefgh12345678")

    reports = []
    for rec in caplog.records:
        request = getattr(rec, "request", None)
        if isinstance(request, HttpRequest):
            kind, exc, tb = rec.exc_info or (None, None, None)
            reporter = ExceptionReporter(request, kind, exc, tb, is_email=True)
            reports.append(reporter.get_traceback_text())
    assert any("RuntimeError" in report for report in reports)
    logged = [rec.getMessage() for rec in caplog.records]
    logged += [repr(rec.args) for rec in caplog.records]
    logged += reports
    for text in logged:
        for session_key in seen:
            assert session_key not in text
        # Not in the report's META (the settings it lists name the key: that is fine).
        assert f"{META} =" not in text


def test_an_error_report_does_not_show_the_header(r, on):
    key = saved_key(a=1)
    request = RequestFactory().get("/", headers={H: key})

    def view(request: HttpRequest) -> HttpResponse:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            text = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
        return HttpResponse(text)

    response = HeaderSessionMiddleware(view)(request)
    assert key not in response.content.decode()


# -- 9. system checks ---------------------------------------------------------------------------


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("HTTP_X_SESSION_ID", "X-Session-Id"),
        ("HTTP_X_SESSION_TOKEN", "X-Session-Token"),
        ("HTTP_SESSION", "Session"),
        ("HTTP_X_APP_SID", "X-App-Sid"),
        ("HTTP_X_SESSION2", "X-Session2"),
    ],
)
def test_good_header_names(settings, key, name):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    settings.SESSIONS_HEADER_NAME = key
    assert check_settings() == []
    assert header_name_problem(key) is None
    assert http_header_name(key) == name
    assert meta_key(name) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "HTTP_",
        "HTTP_X__ID",
        "HTTP_X_SESSION_ID_",
        "HTTP_X SESSION",
        "HTTP_X_SÉSSION",
        "HTTP_X_SESSION_ID:",
        "X Session",
        "X-Séssion",
        42,
        b"HTTP_X_SESSION_ID",
        "CONTENT_TYPE",
        "HTTP_COOKIE",
        "HTTP_AUTHORIZATION",
        "HTTP_PROXY_AUTHORIZATION",
        "HTTP_HOST",
        "HTTP_ORIGIN",
        "HTTP_CONTENT_TYPE",
        "HTTP_CONTENT_LENGTH",
        "HTTP_X_CSRFTOKEN",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_SEC_SESSION",
        "HTTP_ACCEPT",
        # Header names as clients send them: the form the setting took before 0.1.0.
        "X-Session-Id",
        "Cookie",
        "Authorization",
    ],
)
def test_bad_header_names(settings, key):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    settings.SESSIONS_HEADER_NAME = key
    assert ids(check_settings()) == ["django_redis_sessions.E024"]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("X-Session-Key", "HTTP_X_SESSION_KEY"),
        ("x-session-key", "HTTP_X_SESSION_KEY"),
        ("X_Session_Key", "HTTP_X_SESSION_KEY"),
        ("http_x_session_key", "HTTP_X_SESSION_KEY"),
        ("HTTP_X-SESSION-KEY", "HTTP_X_SESSION_KEY"),
        ("Session", "HTTP_SESSION"),
    ],
)
def test_a_raw_header_name_gets_the_meta_key_to_write(settings, written, meant):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    settings.SESSIONS_HEADER_NAME = written
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E024"
    assert f'write "{meant}"' in error.msg
    assert repr(written) in error.msg
    settings.SESSIONS_HEADER_NAME = meant  # and what it says to write is accepted
    assert check_settings() == []


def test_header_that_is_the_ip_header(settings):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_CLIENT"
    settings.SESSIONS_HEADER_NAME = "HTTP_X_CLIENT"
    assert ids(check_settings()) == ["django_redis_sessions.E024"]


def test_header_that_is_the_csrf_header(settings):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    settings.CSRF_HEADER_NAME = "HTTP_X_MY_CSRF"
    settings.SESSIONS_HEADER_NAME = "HTTP_X_MY_CSRF"
    assert ids(check_settings()) == ["django_redis_sessions.E024"]


def test_header_without_our_middleware(settings):
    settings.SESSIONS_HEADER_NAME = META
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E024"
    assert OURS in error.msg


def test_header_with_both_session_middlewares(settings):
    settings.SESSIONS_HEADER_NAME = META
    settings.MIDDLEWARE = [OURS, *settings.MIDDLEWARE]
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E024"
    assert DJANGO_SESSIONS in error.msg


def test_our_middleware_with_the_header_off_is_clean(settings):
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    assert check_settings() == []


def test_activity_middleware_must_follow_ours(settings):
    settings.SESSIONS_HEADER_NAME = META
    middleware = [m for m in with_ours(list(settings.MIDDLEWARE)) if m != ACTIVITY]
    settings.MIDDLEWARE = [ACTIVITY, *middleware]
    assert ids(check_settings()) == ["django_redis_sessions.E017"]


def test_meta_key():
    assert meta_key("X-Session-Id") == "HTTP_X_SESSION_ID"
    assert meta_key("session") == "HTTP_SESSION"


def test_http_header_name():
    assert http_header_name("HTTP_X_SESSION_ID") == "X-Session-Id"
    assert http_header_name("HTTP_SESSION") == "Session"


def test_the_setting_names_the_meta_key_end_to_end(r, settings, alice):
    """SESSIONS_HEADER_NAME = "HTTP_X_SESSION_KEY": clients send X-Session-Key."""
    settings.SESSIONS_HEADER_NAME = "HTTP_X_SESSION_KEY"
    settings.MIDDLEWARE = with_ours(list(settings.MIDDLEWARE))
    assert check_settings() == []
    client = Client()
    response = client.post("/login/", CREDENTIALS, headers={"X-Session-Key": ""})
    assert response.status_code == 200
    assert COOKIE not in response.cookies
    key = response["X-Session-Key"]  # answered under the header's HTTP name
    assert "X-Session-Key" in response.headers["Vary"]
    assert keys.is_valid_session_key(key)
    response = client.get("/read/", headers={"X-Session-Key": key})
    assert response.json()["user"] == "alice"
    assert client.get("/read/", headers={H: key}).json()["user"] is None  # another header

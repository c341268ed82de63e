"""Django's ``SessionMiddleware`` contract with our engine behind it.

Mirrors what Django's ``SessionMiddlewareTests`` checks (cookie flags, deletion
of the cookie, ``Vary: Cookie``, 5xx responses, ``SessionInterrupted``), plus the
cookie behaviours every request goes through: read-only requests,
``SESSION_SAVE_EVERY_REQUEST``, stale cookies, expiry and login. Run through
``RequestFactory`` + ``SessionMiddleware`` and through the test ``Client`` /
``AsyncClient`` with the full middleware stack of ``tests/settings.py``.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory, override_settings

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys

from .helpers import redis_key, saved_key

pytestmark = pytest.mark.real_redis

COOKIE = settings.SESSION_COOKIE_NAME
DELETED_EXPIRES = "Thu, 01 Jan 1970 00:00:00 GMT"

factory = RequestFactory()


def run(view, cookie: str | None = None):
    """Pass a GET request (with ``cookie`` as its session cookie) through the middleware."""
    request = factory.get("/")
    if cookie is not None:
        request.COOKIES[COOKIE] = cookie
    response = SessionMiddleware(view)(request)
    return request, response


def touching_view(request):
    request.session["hello"] = "world"
    return HttpResponse("Session test")


def reading_view(request):
    return HttpResponse(str(request.session.get("hello")))


def flushing_view(request):
    request.session.flush()
    return HttpResponse("Session test")


def assert_deleted_cookie(response, *, path: str = "/", domain: str = "") -> None:
    morsel = response.cookies[COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == 0
    assert morsel["expires"] == DELETED_EXPIRES
    assert morsel["path"] == path
    assert morsel["domain"] == domain
    assert morsel["samesite"] == settings.SESSION_COOKIE_SAMESITE


# -- cookie flags follow the settings -------------------------------------------------


@override_settings(SESSION_COOKIE_SECURE=True)
def test_secure_session_cookie(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["secure"] is True
    assert "Secure" in str(response.cookies[COOKIE])


@override_settings(SESSION_COOKIE_SECURE=False)
def test_insecure_session_cookie(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["secure"] == ""


@override_settings(SESSION_COOKIE_HTTPONLY=True)
def test_httponly_session_cookie(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["httponly"] is True
    assert "HttpOnly" in str(response.cookies[COOKIE])


@override_settings(SESSION_COOKIE_HTTPONLY=False)
def test_no_httponly_session_cookie(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["httponly"] == ""
    assert "HttpOnly" not in str(response.cookies[COOKIE])


@pytest.mark.parametrize("samesite", ["Strict", "Lax", "None"])
def test_samesite_session_cookie(r, samesite):
    with override_settings(SESSION_COOKIE_SAMESITE=samesite):
        _, response = run(touching_view)
    assert response.cookies[COOKIE]["samesite"] == samesite


@override_settings(SESSION_COOKIE_DOMAIN=".example.local", SESSION_COOKIE_PATH="/example/")
def test_domain_and_path_session_cookie(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["domain"] == ".example.local"
    assert response.cookies[COOKIE]["path"] == "/example/"


@override_settings(SESSION_COOKIE_NAME="custom_session")
def test_custom_cookie_name(r):
    request, response = run(touching_view)
    assert response.cookies["custom_session"].value == request.session.session_key
    assert "sessionid" not in response.cookies


def test_cookie_carries_the_saved_key(r):
    request, response = run(touching_view)
    key = response.cookies[COOKIE].value
    assert key == request.session.session_key
    assert keys.is_valid_session_key(key)
    assert SessionStore(key).load() == {"hello": "world"}
    assert response.headers["Vary"] == "Cookie"


# -- cookie lifetime -------------------------------------------------------------------


def test_cookie_max_age_is_the_session_cookie_age(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["max-age"] == settings.SESSION_COOKIE_AGE
    assert response.cookies[COOKIE]["expires"]


def test_cookie_max_age_follows_set_expiry(r):
    def view(request):
        request.session["a"] = 1
        request.session.set_expiry(300)
        return HttpResponse()

    _, response = run(view)
    assert response.cookies[COOKIE]["max-age"] == 300
    key = response.cookies[COOKIE].value
    assert 0 < SessionStore(key).get_expiry_age() <= 300


def test_browser_close_session_sets_a_session_cookie(r):
    def view(request):
        request.session["a"] = 1
        request.session.set_expiry(0)
        return HttpResponse()

    _, response = run(view)
    assert response.cookies[COOKIE]["max-age"] == ""
    assert response.cookies[COOKIE]["expires"] == ""
    assert SessionStore(response.cookies[COOKIE].value).load() == {"a": 1, "_session_expiry": 0}


@override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True)
def test_expire_at_browser_close_setting_sets_a_session_cookie(r):
    _, response = run(touching_view)
    assert response.cookies[COOKIE]["max-age"] == ""
    assert response.cookies[COOKIE]["expires"] == ""


@override_settings(SESSION_COOKIE_AGE=60 * 86400)
def test_cookie_max_age_is_capped_by_absolute_age(r):
    # Engine choice (2): SESSIONS_ABSOLUTE_AGE (30 days by default) caps
    # get_expiry_age(), so the cookie never outlives the server-side session.
    _, response = run(touching_view)
    assert 30 * 86400 - 2 <= response.cookies[COOKIE]["max-age"] <= 30 * 86400


# -- when the cookie is set, kept or deleted -------------------------------------------


def test_read_only_session_does_not_set_a_cookie(r):
    key = saved_key(hello="there")
    request, response = run(reading_view, cookie=key)
    assert response.content == b"there"
    assert COOKIE not in response.cookies
    assert response.headers["Vary"] == "Cookie"  # accessed: caches must vary on it
    assert request.session.session_key == key
    assert SessionStore(key).load() == {"hello": "there"}


def test_untouched_session_sets_neither_cookie_nor_vary(r):
    key = saved_key(hello="there")
    _, response = run(lambda request: HttpResponse("no session"), cookie=key)
    assert COOKIE not in response.cookies
    assert "Vary" not in response.headers


def test_modified_session_resets_cookie_with_same_key(r):
    key = saved_key(hello="there")
    _, response = run(touching_view, cookie=key)
    assert response.cookies[COOKIE].value == key
    assert SessionStore(key).load() == {"hello": "world"}


def test_flush_deletes_cookie_and_record(r):
    key = saved_key(hello="there")
    request, response = run(flushing_view, cookie=key)
    assert_deleted_cookie(response)
    assert response.headers["Vary"] == "Cookie"
    assert r.exists(redis_key(key)) == 0
    assert request.session.session_key is None


def test_flush_with_invalid_cookie_deletes_cookie(r):
    _, response = run(flushing_view, cookie="abc")
    assert_deleted_cookie(response)
    assert response.headers["Vary"] == "Cookie"


@override_settings(SESSION_COOKIE_DOMAIN=".example.local", SESSION_COOKIE_PATH="/example/")
def test_flush_deletes_cookie_with_custom_domain_and_path(r):
    key = saved_key(hello="there")
    _, response = run(flushing_view, cookie=key)
    assert_deleted_cookie(response, path="/example/", domain=".example.local")
    assert "Domain=.example.local" in str(response.cookies[COOKIE])


def test_flush_without_cookie_sets_no_cookie(r):
    _, response = run(flushing_view)
    assert response.cookies == {}
    assert response.headers["Vary"] == "Cookie"


def test_stale_cookie_is_deleted_when_the_session_is_read(r):
    # A well-formed key that Redis does not know (expired, revoked): the session
    # comes back empty with no key, so the middleware deletes the cookie.
    stale = "0" * 32
    request, response = run(reading_view, cookie=stale)
    assert response.content == b"None"
    assert request.session.session_key is None
    assert_deleted_cookie(response)
    assert r.exists(redis_key(stale)) == 0


def test_stale_cookie_replaced_by_a_new_session_when_written(r):
    stale = "0" * 32
    _, response = run(touching_view, cookie=stale)
    new_key = response.cookies[COOKIE].value
    assert new_key not in ("", stale)
    assert r.exists(redis_key(stale)) == 0
    assert SessionStore(new_key).load() == {"hello": "world"}


def test_emptied_session_is_still_saved_and_cookie_kept(r):
    def view(request):
        request.session["foo"] = "bar"
        return HttpResponse("Session test")

    middleware = SessionMiddleware(view)
    request = factory.get("/")
    response = middleware(request)
    key = request.session.session_key
    assert tuple(request.session.items()) == (("foo", "bar"),)
    assert response.cookies[COOKIE].value == key
    assert response.headers["Vary"] == "Cookie"

    # Empty the data, keep the key: the empty session is saved, not deleted.
    del request.session["foo"]
    response = middleware.process_response(request, HttpResponse("Session test"))
    assert dict(request.session.items()) == {}
    assert SessionStore(key).load() == {}
    assert r.exists(redis_key(key)) == 1
    assert response.cookies[COOKIE].value == key
    assert response.headers["Vary"] == "Cookie"


def test_cycle_key_in_a_view_sends_the_new_key(r):
    key = saved_key(hello="there")

    def view(request):
        request.session.cycle_key()
        return HttpResponse()

    _, response = run(view, cookie=key)
    new_key = response.cookies[COOKIE].value
    assert new_key not in ("", key)
    assert r.exists(redis_key(key)) == 0
    assert SessionStore(new_key).load() == {"hello": "there"}


# -- SESSION_SAVE_EVERY_REQUEST -------------------------------------------------------


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_resets_cookie_on_read(r):
    key = saved_key(hello="there")
    _, response = run(reading_view, cookie=key)
    assert response.cookies[COOKIE].value == key
    assert response.cookies[COOKIE]["max-age"] == settings.SESSION_COOKIE_AGE
    assert SessionStore(key).load() == {"hello": "there"}


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_resets_cookie_when_untouched(r):
    key = saved_key(hello="there")
    _, response = run(lambda request: HttpResponse("no session"), cookie=key)
    assert response.cookies[COOKIE].value == key
    assert response.headers["Vary"] == "Cookie"
    assert SessionStore(key).load() == {"hello": "there"}


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_without_session_sets_no_cookie(r):
    request, response = run(lambda request: HttpResponse("no session"))
    assert COOKIE not in response.cookies
    assert request.session.session_key is None


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_with_stale_cookie_issues_a_fresh_key(r):
    # As with Django's db backend: the middleware reads the (unknown) session
    # before saving it, so the stale key is dropped and a new one issued; the
    # stale key must not come back to life.
    stale = "1" * 32
    request, response = run(lambda request: HttpResponse("no session"), cookie=stale)
    new_key = response.cookies[COOKIE].value
    assert new_key not in ("", stale)
    assert request.session.session_key == new_key
    assert r.exists(redis_key(stale)) == 0
    assert SessionStore(new_key).load() == {}


# -- Vary: Cookie ----------------------------------------------------------------------


def test_vary_cookie_is_added_to_an_existing_vary_header(r):
    def view(request):
        request.session["a"] = 1
        response = HttpResponse()
        response.headers["Vary"] = "Accept-Encoding"
        return response

    _, response = run(view)
    assert response.headers["Vary"] == "Accept-Encoding, Cookie"


def test_vary_cookie_is_not_duplicated(r):
    def view(request):
        request.session.get("a")
        response = HttpResponse()
        response.headers["Vary"] = "Cookie"
        return response

    _, response = run(view)
    assert response.headers["Vary"] == "Cookie"


# -- 5xx responses and interrupted sessions ------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_no_session_saved_on_5xx(r, status):
    def view(request):
        request.session["hello"] = "world"
        return HttpResponse("error", status=status)

    request, response = run(view)
    assert request.session.session_key is None  # no key was ever created
    assert COOKIE not in response.cookies
    assert request.session.load() == {}


@pytest.mark.parametrize("status", [500, 503])
def test_existing_session_not_updated_on_5xx(r, status):
    key = saved_key(hello="there")

    def view(request):
        request.session["hello"] = "world"
        return HttpResponse("error", status=status)

    _, response = run(view, cookie=key)
    assert COOKIE not in response.cookies
    assert SessionStore(key).load() == {"hello": "there"}


def test_session_deleted_during_request_raises_session_interrupted(r):
    def view(request):
        request.session = SessionStore()
        request.session.save(must_create=True)
        request.session.delete()
        return HttpResponse()

    request = factory.get("/foo/")
    with pytest.raises(SessionInterrupted, match="deleted before the request completed"):
        SessionMiddleware(view)(request)
    assert r.exists(redis_key(request.session.session_key)) == 0


def test_session_deleted_by_another_request_raises_session_interrupted(r):
    key = saved_key(hello="there")

    def view(request):
        assert request.session["hello"] == "there"
        SessionStore(key).delete()  # a concurrent logout
        request.session["hello"] = "world"
        return HttpResponse()

    request = factory.get("/")
    request.COOKIES[COOKIE] = key
    with pytest.raises(SessionInterrupted):
        SessionMiddleware(view)(request)
    assert r.exists(redis_key(key)) == 0  # not resurrected


# -- through the test Client (full middleware stack) --------------------------------------

#: Django's own stack, without SessionActivityMiddleware (which re-sends the cookie
#: on reads on purpose: test_activity_middleware.py).
django_stack_only = override_settings(
    MIDDLEWARE=[m for m in settings.MIDDLEWARE if not m.startswith("django_redis_sessions.")]
)


@django_stack_only
def test_client_write_then_read_round_trip(r):
    client = Client()
    response = client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    assert response.status_code == 200
    morsel = response.cookies[COOKIE]
    assert morsel["httponly"] is True  # Django's default SESSION_COOKIE_HTTPONLY
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    key = morsel.value
    response = client.get("/read/")
    assert response.json()["data"] == {"a": 1}
    assert COOKIE not in response.cookies  # read only: no new cookie
    assert client.cookies[COOKIE].value == key


def test_client_session_interrupted_is_a_400(r):
    client = Client()
    client.post("/write/", data=b'{"key": "v"}', content_type="application/json")
    key = client.cookies[COOKIE].value
    response = client.post("/interrupted/")
    assert response.status_code == 400
    assert r.exists(redis_key(key)) == 0


def test_client_500_does_not_save(r):
    client = Client(raise_request_exception=False)
    client.post("/write/", data=b'{"key": "v"}', content_type="application/json")
    key = client.cookies[COOKIE].value
    response = client.post("/fail/")
    assert response.status_code == 500
    assert COOKIE not in response.cookies
    assert SessionStore(key).load() == {"key": "v"}


def test_client_logout_deletes_cookie_and_record(r):
    client = Client()
    client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    key = client.cookies[COOKIE].value
    response = client.post("/logout/")
    assert_deleted_cookie(response)
    assert r.exists(redis_key(key)) == 0
    assert client.get("/read/").json()["data"] == {}


def test_client_cycle_sends_new_cookie(r):
    client = Client()
    client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    old = client.cookies[COOKIE].value
    response = client.post("/cycle/")
    new = response.cookies[COOKIE].value
    assert new not in ("", old)
    assert r.exists(redis_key(old)) == 0
    assert client.get("/read/").json()["data"] == {"a": 1}


@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_client_save_every_request_resends_cookie(r):
    client = Client()
    client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    key = client.cookies[COOKIE].value
    response = client.get("/untouched/")
    assert response.cookies[COOKIE].value == key
    assert SessionStore(key).load() == {"a": 1}


@pytest.mark.django_db
def test_client_login_cycles_the_key_and_keeps_data(r, django_user_model):
    django_user_model.objects.create_user(username="ann", password="pw")
    client = Client()
    client.post("/write/", data=b'{"cart": [1, 2]}', content_type="application/json")
    anonymous_key = client.cookies[COOKIE].value
    response = client.post("/login/", {"username": "ann", "password": "pw"})
    assert response.status_code == 200
    new_key = response.cookies[COOKIE].value
    assert new_key not in ("", anonymous_key)  # no session fixation
    assert r.exists(redis_key(anonymous_key)) == 0
    body = client.get("/read/").json()
    assert body["user"] == "ann"
    assert body["data"]["cart"] == [1, 2]


# -- through the AsyncClient ------------------------------------------------------------


@django_stack_only
async def test_async_client_write_then_read_round_trip(r):
    client = AsyncClient()
    response = await client.post("/awrite/", data=b'{"a": 1}', content_type="application/json")
    assert response.status_code == 200
    key = response.cookies[COOKIE].value
    assert keys.is_valid_session_key(key)
    response = await client.get("/aread/")
    assert response.json()["data"] == {"a": 1}
    assert COOKIE not in response.cookies
    assert response.headers["Vary"] == "Cookie"


async def test_async_client_session_interrupted_is_a_400(r):
    client = AsyncClient()
    await client.post("/awrite/", data=b'{"key": "v"}', content_type="application/json")
    key = client.cookies[COOKIE].value
    response = await client.post("/ainterrupted/")
    assert response.status_code == 400
    assert r.exists(redis_key(key)) == 0


async def test_async_client_flush_deletes_cookie(r):
    client = AsyncClient()
    await client.post("/awrite/", data=b'{"a": 1}', content_type="application/json")
    key = client.cookies[COOKIE].value
    response = await client.post("/flush/")
    assert_deleted_cookie(response)
    assert r.exists(redis_key(key)) == 0

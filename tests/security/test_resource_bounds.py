"""Resource bounds: anonymous floods create nothing; oversized sessions are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.checks import run_checks
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionTooLarge
from django_redis_sessions.middleware import SessionActivityMiddleware
from tests.helpers import redis_key, saved_session

pytestmark = pytest.mark.real_redis


def stored_keys(client: redis.Redis) -> list[bytes]:
    # Sessions and indexes, not the short-lived receipts of writes (receipts.py).
    return list(client.scan_iter(match=f"{conf.SESSION_REDIS_PREFIX}:[su]:*", count=1000))


def _reading_view(request: HttpRequest) -> HttpResponse:
    # Reads the session (so a load runs for every cookie) but never writes.
    return HttpResponse(str(request.session.get("cart", "empty")))


def test_a_flood_of_sessionless_requests_creates_no_redis_keys(r: redis.Redis) -> None:
    # 10,000 distinct clients: half send no cookie, half a well-formed key that no
    # one issued, and some a malformed one. None of them writes, so none may cost a
    # key in Redis: an attacker cannot fill the store without a real session.
    factory = RequestFactory()
    stack = SessionMiddleware(SessionActivityMiddleware(_reading_view))
    statuses: set[int] = set()
    issued = 0
    for n in range(10_000):
        request = factory.get("/", HTTP_USER_AGENT=f"bot/{n}", REMOTE_ADDR=f"10.0.{n % 250}.1")
        if n % 2:
            request.COOKIES["sessionid"] = SessionStore()._get_new_session_key()
        elif n % 7 == 0:
            request.COOKIES["sessionid"] = f"../{n}*"
        response = stack(request)
        statuses.add(response.status_code)
        # A cookie that named no session is deleted (an empty value), never replaced.
        cookie = response.cookies.get("sessionid")
        issued += cookie is not None and cookie.value != ""
    assert statuses == {200}
    assert issued == 0
    assert stored_keys(r) == []


def test_a_flood_through_the_full_stack_creates_no_keys(r: redis.Redis) -> None:
    for n in range(200):
        client = Client(HTTP_USER_AGENT=f"flood/{n}")
        if n % 2:
            client.cookies["sessionid"] = SessionStore()._get_new_session_key()
        assert client.get("/read/").status_code == 200
    assert stored_keys(r) == []


def big(size: int) -> str:
    return "x" * size


def test_an_oversized_save_is_refused_before_redis_and_keeps_the_stored_data(
    r: redis.Redis, settings: Any
) -> None:
    settings.SESSION_REDIS_MAX_SIZE = 1000
    session = saved_session(cart="small")
    before = r.get(redis_key(session.session_key or ""))
    session["cart"] = big(2000)
    with pytest.raises(SessionTooLarge) as raised:
        session.save()
    message = str(raised.value)
    assert "SESSION_REDIS_MAX_SIZE (1,000 bytes)" in message
    assert "nothing was saved" in message
    assert (session.session_key or "?") not in message
    assert raised.value.size > 2000
    assert raised.value.limit == 1000
    assert r.get(redis_key(session.session_key or "")) == before
    assert SessionStore(session.session_key).load() == {"cart": "small"}


def test_the_cap_counts_the_whole_session_not_the_changed_part(
    r: redis.Redis, settings: Any
) -> None:
    settings.SESSION_REDIS_MAX_SIZE = 1000
    session = saved_session(a=big(600))
    session["b"] = big(600)  # each value fits; together they do not
    with pytest.raises(SessionTooLarge):
        session.save()
    assert SessionStore(session.session_key).load() == {"a": big(600)}


def test_a_new_oversized_session_is_never_created(r: redis.Redis, settings: Any) -> None:
    settings.SESSION_REDIS_MAX_SIZE = 1000
    session = SessionStore()
    session["blob"] = big(5000)
    with pytest.raises(SessionTooLarge):
        session.save()
    assert stored_keys(r) == []


def test_cycle_key_with_oversized_data_keeps_the_old_session(r: redis.Redis, settings: Any) -> None:
    settings.SESSION_REDIS_MAX_SIZE = 1000
    session = saved_session(cart="small")
    old_key = session.session_key
    session["cart"] = big(5000)
    with pytest.raises(SessionTooLarge):
        session.cycle_key()
    assert SessionStore(old_key).load() == {"cart": "small"}
    assert len(stored_keys(r)) == 1


async def test_the_cap_applies_to_asave(r: redis.Redis, settings: Any) -> None:
    settings.SESSION_REDIS_MAX_SIZE = 1000
    session = SessionStore()
    await session.aset("cart", "small")
    await session.asave()
    await session.aset("cart", big(2000))
    with pytest.raises(SessionTooLarge):
        await session.asave()
    assert await SessionStore(session.session_key).aload() == {"cart": "small"}


def test_at_the_limit_is_allowed_and_none_removes_the_cap(r: redis.Redis, settings: Any) -> None:
    settings.SESSION_REDIS_MAX_SIZE = None
    saved_session(blob=big(2 * 1024 * 1024))
    # Exactly at the limit: key "k" (1 byte) + the JSON string with its quotes.
    settings.SESSION_REDIS_MAX_SIZE = 1 + 2 + 997
    session = saved_session(k=big(997))
    assert SessionStore(session.session_key).load() == {"k": big(997)}


def test_the_default_cap_is_one_mebibyte(r: redis.Redis) -> None:
    assert conf.SESSION_REDIS_MAX_SIZE == 1024 * 1024
    session = SessionStore()
    session["blob"] = big(1024 * 1024)
    with pytest.raises(SessionTooLarge):
        session.save()


def test_through_http_an_oversized_write_is_a_500_and_the_session_survives(
    r: redis.Redis, settings: Any
) -> None:
    settings.SESSION_REDIS_MAX_SIZE = 1000
    client = Client(raise_request_exception=False)
    client.post("/write/", data=json.dumps({"cart": "small"}), content_type="application/json")
    key = client.cookies["sessionid"].value
    response = client.post(
        "/write/", data=json.dumps({"cart": big(3000)}), content_type="application/json"
    )
    assert response.status_code == 500
    assert client.get("/read/").json()["data"] == {"cart": "small"}
    assert client.cookies["sessionid"].value == key


@pytest.mark.parametrize("value", [0, -1, "1MB", 1.5, True])
def test_a_wrong_cap_is_a_system_check_error(settings: Any, value: object) -> None:
    settings.SESSION_REDIS_MAX_SIZE = value
    messages = [m for m in run_checks() if m.id == "django_redis_sessions.E018"]
    assert len(messages) == 1
    assert repr(value) in messages[0].msg

"""SESSION_REDIS_CLIENT_FACTORY: the engine runs on clients a callable builds."""

from __future__ import annotations

from typing import Any

import fakeredis
import pytest
import redis
import redis.asyncio
from django.conf import settings
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import connection
from tests.helpers import redis_key

CALLS: list[bool] = []
TEST_REDIS_URL = settings.SESSION_REDIS_URL
FAKE_SERVER = fakeredis.FakeServer()


def fake_factory(*, asynchronous: bool) -> Any:
    CALLS.append(asynchronous)
    if asynchronous:
        return fakeredis.FakeAsyncRedis(server=FAKE_SERVER)
    return fakeredis.FakeRedis(server=FAKE_SERVER)


def real_factory(*, asynchronous: bool) -> Any:
    CALLS.append(asynchronous)
    if asynchronous:
        return redis.asyncio.Redis.from_url(TEST_REDIS_URL)
    return redis.Redis.from_url(TEST_REDIS_URL)


@pytest.fixture(autouse=True)
def _forget_calls() -> None:
    CALLS.clear()
    FAKE_SERVER.connected = True
    fakeredis.FakeRedis(server=FAKE_SERVER).flushall()


def test_a_dotted_path_factory_serves_sync_and_async_from_one_store(settings: Any) -> None:
    settings.SESSION_REDIS_CLIENT_FACTORY = "tests.test_client_factory.fake_factory"
    session = SessionStore()
    session["cart"] = [1, 2]
    session.save()
    assert SessionStore(session.session_key).load() == {"cart": [1, 2]}
    # The record lives in the factory's store, under its digest.
    assert fakeredis.FakeRedis(server=FAKE_SERVER).exists(redis_key(session.session_key or ""))
    assert CALLS == [False]  # built once, then cached


async def test_the_async_side_calls_the_factory_with_asynchronous_true(settings: Any) -> None:
    settings.SESSION_REDIS_CLIENT_FACTORY = fake_factory
    session = SessionStore()
    await session.aset("v", "async")
    await session.asave()
    assert await SessionStore(session.session_key).aload() == {"v": "async"}
    assert CALLS == [True]


@pytest.mark.real_redis
def test_a_factory_on_the_real_server_runs_logins_and_revocation(
    r: redis.Redis, settings: Any, alice: Any
) -> None:
    settings.SESSION_REDIS_CLIENT_FACTORY = real_factory
    settings.SESSION_REDIS_URL = "redis://wrong-host.invalid:1/0"  # proves it is not used
    from django.test import Client

    from tests.helpers import login

    client = Client()
    key = login(client)
    assert r.exists(redis_key(key)) == 1
    assert len(api.list_user_sessions(alice)) == 1
    assert api.revoke_user_sessions(alice) == 1
    assert r.exists(redis_key(key)) == 0
    assert False in CALLS


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("tests.no_such_module.factory", "cannot be imported"),
        (42, "must be a callable"),
    ],
)
def test_a_wrong_factory_is_a_check_error_and_a_clear_error_at_use(
    settings: Any, value: object, fragment: str
) -> None:
    settings.SESSION_REDIS_CLIENT_FACTORY = value
    [error] = [m for m in run_checks() if m.id.startswith("django_redis_sessions.")]
    assert error.id == "django_redis_sessions.E019"
    assert fragment in error.msg
    with pytest.raises(ImproperlyConfigured, match=fragment):
        connection.get_client()


def test_the_url_is_not_checked_when_a_factory_replaces_it(settings: Any) -> None:
    settings.SESSION_REDIS_CLIENT_FACTORY = fake_factory
    settings.SESSION_REDIS_URL = "not a url"
    assert [m.id for m in run_checks() if m.id.startswith("django_redis_sessions.")] == []

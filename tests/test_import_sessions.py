"""``manage.py import_sessions``: users stay signed in across a switch of engine."""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import CommandError, call_command
from django.test import Client

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys
from tests.helpers import index_members, redis_key

pytestmark = pytest.mark.real_redis

OLD_PREFIX = f"{settings.SESSION_REDIS_PREFIX}-old"


def signed_in_data(user: Any) -> dict[str, Any]:
    return {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
        HASH_SESSION_KEY: user.get_session_auth_hash(),
        "cart": [1, 2],
    }


def old_engine_session(engine: str, data: dict[str, Any]) -> str:
    store = importlib.import_module(engine).SessionStore()
    store.update(data)
    store.save()
    assert store.session_key is not None
    return str(store.session_key)


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_sessions", *args, stdout=out)
    return out.getvalue()


def who(session_key: str) -> str | None:
    client = Client()
    client.cookies["sessionid"] = session_key
    user: str | None = client.get("/read/").json()["user"]
    return user


@pytest.fixture
def old_cache(r: redis.Redis, settings: Any) -> Any:
    settings.SESSION_CACHE_ALIAS = "redis"
    yield settings
    old = redis.Redis.from_url(settings.SESSION_REDIS_URL)
    for name in old.scan_iter(match=f"{settings.SESSION_REDIS_PREFIX}-cache*"):
        old.delete(name)


def test_from_the_cache_engine_users_stay_signed_in(
    old_cache: Any, r: redis.Redis, alice: Any
) -> None:
    signed = old_engine_session("django.contrib.sessions.backends.cache", signed_in_data(alice))
    anonymous = old_engine_session("django.contrib.sessions.backends.cache", {"theme": "dark"})
    assert r.exists(redis_key(signed)) == 0

    output = run("--from", "cache", "--cache-alias", "redis")

    assert output.startswith("Imported 2 sessions (1 signed in) from cache in ")
    assert "0 were already here, 0 skipped." in output
    assert signed not in output
    assert SessionStore(anonymous).load() == {"theme": "dark"}
    assert index_members(r, alice.pk) == {keys.digest(signed)}
    # The browser's old cookie now finds the user through the full middleware stack.
    assert who(signed) == "alice"
    assert who(anonymous) is None


def test_cached_db_sessions_come_from_the_cache_too(
    old_cache: Any, r: redis.Redis, alice: Any
) -> None:
    key = old_engine_session("django.contrib.sessions.backends.cached_db", signed_in_data(alice))
    assert run("--from", "cache", "--cache-alias", "redis").startswith("Imported 1 sessions")
    assert who(key) == "alice"


def test_a_second_run_never_overwrites_what_this_engine_holds(
    old_cache: Any, r: redis.Redis, alice: Any
) -> None:
    key = old_engine_session("django.contrib.sessions.backends.cache", signed_in_data(alice))
    run("--from", "cache", "--cache-alias", "redis")
    ours = SessionStore(key)
    ours["cart"] = [9]  # the user went on shopping after the switch
    ours.save()

    output = run("--from", "cache", "--cache-alias", "redis")

    assert output.startswith("Imported 0 sessions (0 signed in)")
    assert "1 were already here" in output
    assert SessionStore(key).load()["cart"] == [9]


def test_from_the_database_engine(r: redis.Redis, alice: Any) -> None:
    key = old_engine_session("django.contrib.sessions.backends.db", signed_in_data(alice))
    output = run("--from", "db")
    assert output.startswith("Imported 1 sessions (1 signed in) from db")
    assert who(key) == "alice"
    assert SessionStore(key).load()["cart"] == [1, 2]


def test_from_django_redis_sessions_with_junk_and_forgeries_skipped(
    r: redis.Redis, alice: Any
) -> None:
    # That package stores SessionBase.encode(data) at "<prefix>:<session key>".
    encoder = SessionStore()
    good = encoder._get_new_session_key()
    forged = encoder._get_new_session_key()
    r.set(f"{OLD_PREFIX}:{good}", encoder.encode(signed_in_data(alice)))
    r.set(f"{OLD_PREFIX}:{forged}", b"not-signed:" + b"x" * 40)
    r.set(f"{OLD_PREFIX}:not a key*", encoder.encode({"a": 1}))
    try:
        output = run(
            "--from", "django-redis-sessions", "--url", settings.SESSION_REDIS_URL,
            "--prefix", OLD_PREFIX,
        )  # fmt: skip
    finally:
        r.delete(f"{OLD_PREFIX}:{good}", f"{OLD_PREFIX}:{forged}", f"{OLD_PREFIX}:not a key*")
    assert output.splitlines() == [
        output.splitlines()[0],
        "  skipped 1: empty, expired or unreadable",
    ]
    assert output.startswith("Imported 1 sessions (1 signed in) from django-redis-sessions")
    assert "0 were already here, 1 skipped." in output
    assert who(good) == "alice"
    assert r.exists(redis_key(forged)) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "cache", "--cache-alias", "nope"], "No cache 'nope' in CACHES."),
        (["--from", "cache", "--cache-alias", "default"], "cannot list its keys"),
        (["--from", "django-redis-sessions"], "needs --url"),
        (
            ["--from", "django-redis-sessions", "--url", "redis://127.0.0.1:1/0"],
            "Cannot read the django-redis-sessions store",
        ),
    ],
)
def test_bad_sources_are_command_errors_and_import_nothing(
    r: redis.Redis, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert list(r.scan_iter(match=f"{settings.SESSION_REDIS_PREFIX}:*")) == []


def test_an_unknown_source_is_refused_by_the_parser() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run("--from", "memcached")

"""``check --deploy``: cookie flags, TLS to Redis and pickle, each with its own id."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_redis_sessions.checks import check_deploy, check_settings

SECURE = {
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_REDIS_URL": "redis://127.0.0.1:6379/9",
}


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


@pytest.fixture
def secure(settings: Any) -> Any:
    for name, value in SECURE.items():
        setattr(settings, name, value)
    return settings


def test_a_hardened_configuration_is_clean(secure: Any) -> None:
    assert check_deploy() == []


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("SESSION_COOKIE_SECURE", False, "W007"),
        ("SESSION_COOKIE_HTTPONLY", False, "W008"),
        ("SESSION_COOKIE_SAMESITE", None, "W009"),
        ("SESSION_COOKIE_SAMESITE", False, "W009"),
        ("SESSION_COOKIE_SAMESITE", "None", "W009"),
        ("SESSION_COOKIE_SAMESITE", "lax ", "W009"),
    ],
)
def test_each_weak_cookie_flag_has_its_own_warning(
    secure: Any, setting: str, value: object, expected: str
) -> None:
    setattr(secure, setting, value)
    assert ids(check_deploy()) == [f"django_redis_sessions.{expected}"]


@pytest.mark.parametrize("samesite", ["Lax", "Strict", "strict"])
def test_lax_and_strict_are_accepted(secure: Any, samesite: str) -> None:
    secure.SESSION_COOKIE_SAMESITE = samesite
    assert check_deploy() == []


@pytest.mark.parametrize(
    "url",
    [
        "redis://10.0.0.5:6379/0",
        "redis://:hunter2@redis.example.com:6379/0",
        "redis://[2001:db8::1]:6379/0",
    ],
)
def test_plain_redis_to_another_host_warns_without_echoing_the_password(
    secure: Any, url: str
) -> None:
    secure.SESSION_REDIS_URL = url
    [warning] = check_deploy()
    assert warning.id == "django_redis_sessions.W010"
    assert "hunter2" not in warning.msg
    assert "hunter2" not in (warning.hint or "")


@pytest.mark.parametrize(
    "url",
    [
        "rediss://:secret@redis.example.com:6380/0",
        "redis://localhost:6379/0",
        "redis://127.0.0.1:6379/0",
        "redis://[::1]:6379/0",
        "unix:///var/run/redis.sock?db=0",
    ],
)
def test_tls_loopback_and_unix_sockets_are_fine(secure: Any, url: str) -> None:
    secure.SESSION_REDIS_URL = url
    assert check_deploy() == []


def test_tls_through_connection_kwargs_counts(secure: Any) -> None:
    secure.SESSION_REDIS_URL = "redis://redis.example.com:6380/0"
    secure.SESSION_REDIS_CONNECTION_KWARGS = {"ssl": True}
    assert check_deploy() == []


def test_the_django_redis_cache_location_is_checked_when_sessions_share_it(secure: Any) -> None:
    secure.CACHES = {
        **secure.CACHES,
        "sessions": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": ["redis://127.0.0.1:6379/1", "redis://10.1.2.3:6379/1"],
        },
    }
    secure.SESSION_REDIS_CACHE_ALIAS = "sessions"
    [warning] = check_deploy()
    assert warning.id == "django_redis_sessions.W010"
    assert "10.1.2.3" in warning.msg


def test_deploy_warnings_do_not_run_without_deploy(settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = False
    settings.SESSION_COOKIE_SAMESITE = None
    assert check_settings() == []


def test_check_deploy_reports_them_and_pickle_through_manage_py(settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = False
    settings.SESSION_SERIALIZER = "tests.pickle_serializer.PickleSerializer"
    stderr = StringIO()
    # --fail-level ERROR (the default) lets warnings through; make them fail here
    # so the command's exit proves they were raised by the deploy run.
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", "--deploy", "--fail-level", "WARNING", stderr=stderr)
    text = str(raised.value)
    assert "django_redis_sessions.W007" in text
    assert "django_redis_sessions.W001" in text
    # Without --deploy only the pickle warning stays.
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", "--fail-level", "WARNING", stderr=stderr)
    assert "django_redis_sessions.W007" not in str(raised.value)
    assert "django_redis_sessions.W001" in str(raised.value)

"""System checks: each misconfiguration gets its own id (exact lists asserted)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_redis_sessions.checks import check_settings


def ids(messages) -> list[str]:
    return [m.id for m in messages]


def test_defaults_are_clean(settings):
    assert check_settings() == []


@pytest.mark.parametrize(
    "url",
    ["http://localhost:6379", "localhost:6379", "", 42, "redis://localhost:notaport/0"],
)
def test_bad_url(settings, url):
    settings.SESSION_REDIS_URL = url
    assert ids(check_settings()) == ["django_redis_sessions.E001"]


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://:secret@cache.example.com:6380/2",
        "unix:///var/run/redis.sock?db=3",
        "redis://user:pass@127.0.0.1/5",
    ],
)
def test_good_urls(settings, url):
    settings.SESSION_REDIS_URL = url
    assert check_settings() == []


def test_url_error_does_not_echo_the_password(settings):
    settings.SESSION_REDIS_URL = "redis://:hunter2@localhost:nope/0"
    [error] = check_settings()
    assert "hunter2" not in error.msg


@pytest.mark.parametrize("prefix", ["", "has space", None, 5])
def test_bad_prefix(settings, prefix):
    settings.SESSION_REDIS_PREFIX = prefix
    assert ids(check_settings()) == ["django_redis_sessions.E002"]


def test_brace_in_prefix_warns(settings):
    settings.SESSION_REDIS_PREFIX = "site{1}"
    assert ids(check_settings()) == ["django_redis_sessions.W005"]


@pytest.mark.parametrize("age", [0, -5, "3600", 1.5, True])
def test_bad_absolute_age(settings, age):
    settings.SESSION_REDIS_ABSOLUTE_AGE = age
    assert ids(check_settings()) == ["django_redis_sessions.E003"]


def test_absolute_shorter_than_idle_warns(settings):
    settings.SESSION_COOKIE_AGE = 3600
    settings.SESSION_REDIS_ABSOLUTE_AGE = 600
    assert ids(check_settings()) == ["django_redis_sessions.W002"]


def test_absolute_none_is_fine(settings):
    settings.SESSION_REDIS_ABSOLUTE_AGE = None
    assert check_settings() == []


def test_bad_cookie_age(settings):
    settings.SESSION_COOKIE_AGE = 0
    assert ids(check_settings()) == ["django_redis_sessions.E008"]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SESSION_REDIS_SOCKET_TIMEOUT", 0, "django_redis_sessions.E004"),
        ("SESSION_REDIS_CONNECT_TIMEOUT", "2", "django_redis_sessions.E004"),
        ("SESSION_REDIS_SOCKET_TIMEOUT", None, "django_redis_sessions.W003"),
        ("SESSION_REDIS_RETRIES", -1, "django_redis_sessions.E005"),
        ("SESSION_REDIS_RETRIES", 1.5, "django_redis_sessions.E005"),
        ("SESSION_REDIS_CONNECTION_KWARGS", [("a", 1)], "django_redis_sessions.E006"),
        ("SESSION_REDIS_CACHE_ALIAS", "nope", "django_redis_sessions.E007"),
        ("SESSION_REDIS_CACHE_ALIAS", "default", "django_redis_sessions.E007"),
        ("SESSION_SERIALIZER", "no.such.Serializer", "django_redis_sessions.E009"),
    ],
)
def test_connection_settings(settings, name, value, expected):
    setattr(settings, name, value)
    assert ids(check_settings()) == [expected]


def test_cache_alias_of_django_redis_is_accepted(settings):
    settings.SESSION_REDIS_CACHE_ALIAS = "redis"
    assert check_settings() == []


def test_pickle_serializer_warns(settings):
    settings.SESSION_SERIALIZER = "tests.pickle_serializer.PickleSerializer"
    assert ids(check_settings()) == ["django_redis_sessions.W001"]


def test_checks_run_through_manage_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.SESSION_REDIS_ABSOLUTE_AGE = -1
    with pytest.raises(SystemCheckError, match=r"django_redis_sessions\.E003"):
        call_command("check")


def test_engine_without_the_app_is_refused(settings):
    from django.apps import apps

    from django_redis_sessions.backend import SessionStore

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(apps, "is_installed", lambda name: name != "django_redis_sessions")
        with pytest.raises(ImproperlyConfigured, match=r"django_redis_sessions\.E010"):
            SessionStore()

"""System checks: each misconfiguration gets its own id (exact lists asserted)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from django_redis_sessions.checks import (
    DEPLOY_CHECKS,
    SETTINGS_CHECKS,
    check_deploy,
    check_settings,
)
from django_redis_sessions.checks import ids as check_ids
from django_redis_sessions.conf import RENAMED, SETTINGS, conf
from django_redis_sessions.storage import connection

from .docs_helpers import DOCS, load_docs_tables


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
    settings.SESSIONS_ABSOLUTE_AGE = age
    assert ids(check_settings()) == ["django_redis_sessions.E003"]


def test_absolute_shorter_than_idle_warns(settings):
    settings.SESSION_COOKIE_AGE = 3600
    settings.SESSIONS_ABSOLUTE_AGE = 600
    assert ids(check_settings()) == ["django_redis_sessions.W002"]


def test_absolute_none_is_fine(settings):
    settings.SESSIONS_ABSOLUTE_AGE = None
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
        ("SESSION_REDIS_RETRY_WINDOW", -1, "django_redis_sessions.E038"),
        ("SESSION_REDIS_RETRY_WINDOW", "10", "django_redis_sessions.E038"),
        ("SESSION_REDIS_RETRY_WINDOW", 600, "django_redis_sessions.E038"),
        ("SESSION_REDIS_RETRY_WINDOW", True, "django_redis_sessions.E038"),
        ("SESSION_REDIS_CONNECTION_KWARGS", [("a", 1)], "django_redis_sessions.E006"),
        ("SESSION_REDIS_CACHE_ALIAS", "nope", "django_redis_sessions.E007"),
        ("SESSION_REDIS_CACHE_ALIAS", "default", "django_redis_sessions.E007"),
        ("SESSION_SERIALIZER", "no.such.Serializer", "django_redis_sessions.E009"),
    ],
)
def test_connection_settings(settings, name, value, expected):
    setattr(settings, name, value)
    assert ids(check_settings()) == [expected]


@pytest.mark.parametrize(("window", "retries"), [(None, 2), (0, 2), (0.1, 2), (2, 6), (10, 22)])
def test_the_retry_window_sets_how_many_retries(settings, window, retries):
    """Enough retries for their backoff waits (0.1 s doubling, at most 0.5 s) to span it."""
    settings.SESSION_REDIS_RETRY_WINDOW = window
    assert check_settings() == []
    assert connection.retry_count() == retries
    waits = [min(0.5, 0.05 * 2**n) for n in range(1, retries + 1)]
    assert sum(waits) >= (window or 0)


def test_cache_alias_of_django_redis_is_accepted(settings):
    settings.SESSION_REDIS_CACHE_ALIAS = "redis"
    assert check_settings() == []


def test_pickle_serializer_warns(settings):
    settings.SESSION_SERIALIZER = "tests.pickle_serializer.PickleSerializer"
    assert ids(check_settings()) == ["django_redis_sessions.W001"]


def test_checks_run_through_manage_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.SESSIONS_ABSOLUTE_AGE = -1
    with pytest.raises(SystemCheckError, match=r"django_redis_sessions\.E003"):
        call_command("check")


def test_engine_without_the_app_is_refused(settings):
    from django.apps import apps

    from django_redis_sessions import backend
    from django_redis_sessions.backend import SessionStore

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(apps, "is_installed", lambda name: name != "django_redis_sessions")
        mp.setattr(backend, "_app_found", False)  # as in a project without the app
        with pytest.raises(ImproperlyConfigured, match=r"django_redis_sessions\.E010"):
            SessionStore()


# -- request metadata and SessionActivityMiddleware ------------------------------------

SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
ACTIVITY_MIDDLEWARE = "django_redis_sessions.middleware.SessionActivityMiddleware"


@pytest.mark.parametrize(
    "name",
    [
        "SESSIONS_RECORD_IP",
        "SESSIONS_RECORD_USER_AGENT",
        "SESSIONS_TRUNCATE_IP",
        "SESSIONS_ADMIN_SHOW_DATA",
    ],
)
@pytest.mark.parametrize("value", ["yes", 1, 0, None, "False"])
def test_boolean_metadata_settings_must_be_booleans(settings, name, value):
    setattr(settings, name, value)
    messages = check_settings()
    assert ids(messages) == ["django_redis_sessions.E011"]
    assert name in messages[0].msg


@pytest.mark.parametrize(
    "name",
    [
        "SESSIONS_RECORD_IP",
        "SESSIONS_RECORD_USER_AGENT",
        "SESSIONS_TRUNCATE_IP",
        "SESSIONS_ADMIN_SHOW_DATA",
    ],
)
@pytest.mark.parametrize("value", [True, False])
def test_boolean_metadata_settings_accept_booleans(settings, name, value):
    setattr(settings, name, value)
    assert check_settings() == []


def test_each_bad_boolean_gets_its_own_error(settings):
    settings.SESSIONS_RECORD_IP = "no"
    settings.SESSIONS_TRUNCATE_IP = 1
    assert ids(check_settings()) == ["django_redis_sessions.E011"] * 2


@pytest.mark.parametrize(
    "header",
    [
        "X-Forwarded-For",
        "X_FORWARDED_FOR",
        "http_x_forwarded_for",
        "HTTP_X-FORWARDED-FOR",
        "Http_X_Forwarded_For",
        "",
        "remote_addr",
        42,
        ["HTTP_X_FORWARDED_FOR"],
        "HTTP_X FORWARDED",
        "HTTP_FORWARDED",  # RFC 7239 syntax ("for=...;proto=..."), not parsed
    ],
)
def test_bad_ip_header(settings, header):
    settings.SESSIONS_IP_HEADER_NAME = header
    assert ids(check_settings()) == ["django_redis_sessions.E012"]


@pytest.mark.parametrize(
    ("header", "meant"),
    [
        ("X-Forwarded-For", "HTTP_X_FORWARDED_FOR"),
        ("x-real-ip", "HTTP_X_REAL_IP"),
        ("http_x_forwarded_for", "HTTP_X_FORWARDED_FOR"),
        ("remote_addr", "REMOTE_ADDR"),
    ],
)
def test_a_raw_ip_header_gets_the_meta_key_to_write(settings, header, meant):
    settings.SESSIONS_IP_HEADER_NAME = header
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E012"
    assert f'write "{meant}"' in error.msg


@pytest.mark.parametrize(
    "header",
    [None, "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_CF_CONNECTING_IP", "REMOTE_ADDR"],
)
def test_good_ip_header(settings, header):
    settings.SESSIONS_IP_HEADER_NAME = header
    assert check_settings() == []


@pytest.mark.parametrize("count", [0, -1, "1", 1.0, True, None])
def test_bad_proxy_count(settings, count):
    settings.SESSIONS_PROXY_COUNT = count
    assert ids(check_settings()) == ["django_redis_sessions.E013"]


@pytest.mark.parametrize("count", [1, 2, 5])
def test_good_proxy_count(settings, count):
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    settings.SESSIONS_PROXY_COUNT = count
    assert check_settings() == []


@pytest.mark.parametrize("length", [0, -1, 4097, "256", 25.5, True, None])
def test_bad_user_agent_max_length(settings, length):
    settings.SESSIONS_USER_AGENT_MAX_LENGTH = length
    assert ids(check_settings()) == ["django_redis_sessions.E014"]


@pytest.mark.parametrize("length", [1, 256, 4096])
def test_good_user_agent_max_length(settings, length):
    settings.SESSIONS_USER_AGENT_MAX_LENGTH = length
    assert check_settings() == []


@pytest.mark.parametrize("policy", ["log", "FLAG", "End", "", True, 1])
def test_bad_user_agent_change_policy(settings, policy):
    settings.SESSIONS_USER_AGENT_CHANGE = policy
    assert ids(check_settings()) == ["django_redis_sessions.E015"]


@pytest.mark.parametrize("policy", ["ignore", "flag", "end"])
def test_good_user_agent_change_policy(settings, policy):
    settings.SESSIONS_USER_AGENT_CHANGE = policy
    assert check_settings() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("SESSIONS_USER_AGENT_CHANGE", "django_redis_sessions.E015"),
        ("SESSIONS_IP_CHANGE", "django_redis_sessions.E027"),
    ],
)
def test_none_the_old_ignore_says_to_write_ignore(settings, name, expected):
    setattr(settings, name, None)
    [error] = check_settings()
    assert error.id == expected
    assert f'write {name} = "ignore"' in error.msg


def test_the_change_policies_default_to_ignore():
    assert conf.SESSIONS_USER_AGENT_CHANGE == conf.SESSIONS_IP_CHANGE == "ignore"


@pytest.mark.parametrize("policy", ["flag", "end"])
def test_user_agent_policy_without_recording_warns(settings, policy):
    settings.SESSIONS_USER_AGENT_CHANGE = policy
    settings.SESSIONS_RECORD_USER_AGENT = False
    assert ids(check_settings()) == ["django_redis_sessions.W006"]


@pytest.mark.parametrize("policy", ["flag", "end"])
def test_user_agent_policy_without_the_middleware_warns(settings, policy):
    settings.SESSIONS_USER_AGENT_CHANGE = policy
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != ACTIVITY_MIDDLEWARE]
    assert ids(check_settings()) == ["django_redis_sessions.W006"]


def test_no_policy_needs_no_recording(settings):
    settings.SESSIONS_RECORD_USER_AGENT = False
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != ACTIVITY_MIDDLEWARE]
    assert check_settings() == []


@pytest.mark.parametrize("template", ["", None, 5])
def test_bad_base_template(settings, template):
    settings.SESSIONS_BASE_TEMPLATE = template
    assert ids(check_settings()) == ["django_redis_sessions.E016"]


def test_good_base_template(settings):
    settings.SESSIONS_BASE_TEMPLATE = "admin/base_site.html"
    assert check_settings() == []


def test_activity_middleware_before_session_middleware(settings):
    settings.MIDDLEWARE = [ACTIVITY_MIDDLEWARE, SESSION_MIDDLEWARE]
    messages = check_settings()
    assert ids(messages) == ["django_redis_sessions.E017"]
    assert ACTIVITY_MIDDLEWARE in messages[0].msg


def test_activity_middleware_without_session_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != SESSION_MIDDLEWARE]
    assert ids(check_settings()) == ["django_redis_sessions.E017"]


@pytest.mark.parametrize(
    "middleware",
    [
        [SESSION_MIDDLEWARE, ACTIVITY_MIDDLEWARE],
        [SESSION_MIDDLEWARE, "django.middleware.common.CommonMiddleware", ACTIVITY_MIDDLEWARE],
        [SESSION_MIDDLEWARE],  # the middleware is optional
        [],
    ],
)
def test_good_middleware_orders(settings, middleware):
    settings.MIDDLEWARE = middleware
    assert check_settings() == []


def test_middleware_order_error_through_manage_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    others = [m for m in settings.MIDDLEWARE if m != ACTIVITY_MIDDLEWARE]
    settings.MIDDLEWARE = [ACTIVITY_MIDDLEWARE, *others]
    with pytest.raises(SystemCheckError, match=r"django_redis_sessions\.E017"):
        call_command("check")


def test_the_app_below_django_sessions_is_w012(settings):
    apps_list = list(settings.INSTALLED_APPS)
    apps_list.remove("django_redis_sessions")
    apps_list.insert(apps_list.index("django.contrib.sessions") + 1, "django_redis_sessions")
    settings.INSTALLED_APPS = apps_list
    messages = check_settings()
    assert ids(messages) == ["django_redis_sessions.W012"]
    assert "Move" in (messages[0].hint or "")


def test_the_app_above_django_sessions_is_clean(settings):
    names = list(settings.INSTALLED_APPS)
    assert names.index("django_redis_sessions") < names.index("django.contrib.sessions")
    assert check_settings() == []


# -- ids, the engine gate, tags ---------------------------------------------------------

PACKAGE = Path(check_ids.__file__).parents[1]


def _id_constants_used() -> set[str]:
    """The ``ids.NAME`` constants the checks package and the backend refer to."""
    used: set[str] = set()
    for path in [*(PACKAGE / "checks").glob("*.py"), PACKAGE / "backend.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ids"
            ):
                used.add(getattr(check_ids, node.attr))
    # backend.py raises E010 in a message of its own (not a check).
    backend = (PACKAGE / "backend.py").read_text()
    used.update(re.findall(r"django_redis_sessions\.[EW]\d{3}", backend))
    return used


def test_the_ids_emitted_are_exactly_the_constants():
    assert _id_constants_used() == check_ids.ALL
    # No id literal outside ids.py: each is named once.
    for path in (PACKAGE / "checks").glob("*.py"):
        if path.name != "ids.py":
            assert not re.search(r"[EW]\d{3}\"", path.read_text()), path.name
    assert len(check_ids.ALL) == len(
        [name for name in vars(check_ids) if name.isupper() and name not in ("ALL", "DOCS", "_P")]
    )


def test_the_checks_reference_lists_exactly_the_constants():
    # docs/checks.md's tables are generated from ids.DOCS (docs/_ext/drs_tables.py):
    # every constant is declared with its meaning, and the two tables between them
    # (``check`` and ``check --deploy``) list each id once.
    assert set(check_ids.DOCS) == check_ids.ALL
    rows = load_docs_tables().check_rows()
    assert sorted(row.id for row in rows) == sorted(check_ids.ALL)
    assert all(row.problem.strip() for row in rows)
    assert {row.level for row in rows if row.id.split(".")[1].startswith("E")} == {"Error"}
    assert {row.level for row in rows if row.id.split(".")[1].startswith("W")} == {"Warning"}
    checks_md = (DOCS / "checks.md").read_text()
    assert "```{drs-checks}\n```" in checks_md
    assert "```{drs-checks}\n:deploy:\n```" in checks_md


BROKEN = {
    "SESSION_REDIS_URL": 42,
    "SESSION_REDIS_PREFIX": "",
    "SESSIONS_ABSOLUTE_AGE": -1,
    "SESSIONS_RECORD_IP": "yes",
    "SESSION_REDIS_ENCRYPTION_KEYS": ["not a key"],
    "SESSIONS_IP_CHANGE": "sometimes",
    "SESSION_REDIS_CLUSTER": "yes",
    "SESSION_COOKIE_SECURE": False,
}


def test_broken_settings_are_reported_with_this_engine(settings):
    for name, value in BROKEN.items():
        setattr(settings, name, value)
    assert len(check_settings()) >= len(BROKEN) - 1
    assert ids(check_deploy()) == ["django_redis_sessions.W007"]


@pytest.mark.parametrize(
    "engine", ["django.contrib.sessions.backends.cache", "django.contrib.sessions.backends.db"]
)
def test_checks_are_silent_with_another_engine(settings, engine):
    from django.core.checks import run_checks

    for name, value in BROKEN.items():
        setattr(settings, name, value)
    apps_list = list(settings.INSTALLED_APPS)  # W012's order too
    apps_list.remove("django_redis_sessions")
    apps_list.append("django_redis_sessions")
    settings.INSTALLED_APPS = apps_list
    settings.SESSION_ENGINE = engine
    assert check_settings() == []
    assert check_deploy() == []
    ours = [m for m in run_checks(include_deployment_checks=True) if m.id.startswith("django_r")]
    assert ours == []


#: The checks that guard security: lifetimes, what is trusted from a request, what
#: a stolen key can do, what someone who can write to Redis can do, what Redis
#: holds and the admin shows, bounds a client could push, the cookie, the link, and
#: a setting that is silently ignored (an old or mistyped name).
SECURITY_CHECKS = {
    "check_renamed_settings",
    "check_unknown_settings",
    "check_removed_validator",
    "check_absolute_age",
    "check_idle_age",
    "check_absolute_against_idle",
    "check_serializer",
    "check_encryption_keys",
    "check_recording_flags",
    "check_admin_show_data",
    "check_ip_header",
    "check_proxy_count",
    "check_user_agent_max_length",
    "check_user_agent_change",
    "check_max_size",
    "check_activity_middleware",
    "check_session_header",
    "check_session_limit",
    "check_session_limit_action",
    "check_rotate_after",
    "check_rotate_grace",
    "check_ip_change",
    "check_ip_prefixes",
    "check_audit_flag",
    "check_audit_limits",
    "check_cookie_flags",
    "check_redis_tls",
}
#: Django's compatibility tag means configuration from an earlier version: E039
#: (an old setting name) and E040 (the removed password validator).
COMPATIBILITY_CHECKS = {"check_renamed_settings", "check_removed_validator"}


def _name(check: object) -> str:
    return str(getattr(check, "__name__", ""))


def test_security_checks_are_tagged_security():
    from django.core.checks import Tags, registry

    registered = {
        _name(check): check
        for check in registry.registry.get_checks(include_deployment_checks=True)
        if check.__module__.startswith("django_redis_sessions.")
    }
    listed = {check.__name__ for check, _tags in (*SETTINGS_CHECKS, *DEPLOY_CHECKS)}
    assert set(registered) == listed
    security = {name for name, check in registered.items() if Tags.security in check.tags}
    assert security == SECURITY_CHECKS
    compatibility = {name for name, check in registered.items() if Tags.compatibility in check.tags}
    assert compatibility == COMPATIBILITY_CHECKS
    assert Tags.templates in registered["check_base_template"].tags
    assert Tags.caches in registered["check_cache_alias"].tags
    deploy = {_name(check) for check in registry.registry.deployment_checks}
    assert {"check_cookie_flags", "check_redis_tls"} <= deploy


def test_check_tag_security_runs_only_the_security_checks(settings):
    from django.core.checks import Tags, run_checks

    settings.SESSION_REDIS_PREFIX = ""  # E002: not security
    settings.SESSIONS_ROTATE_GRACE = -1  # E030: security
    found = [m.id for m in run_checks(tags=[Tags.security]) if m.id.startswith("django_r")]
    assert found == ["django_redis_sessions.E030"]


# -- the settings' names: renamed (E039) and unknown (W013) ----------------------------
# rename-settings: off (to the end: these tests set earlier names on purpose)


@pytest.mark.parametrize("old", sorted(RENAMED))
def test_each_renamed_setting_is_an_error_naming_the_new_one(settings, old):
    new, note = RENAMED[old]
    setattr(settings, old, getattr(settings, new, conf.default(new)))
    messages = check_settings()
    assert ids(messages) == ["django_redis_sessions.E039"]
    assert messages[0].msg.startswith(f"{old} was renamed to {new}")
    assert note in messages[0].msg
    assert new in (messages[0].hint or "")


def test_the_renamed_table_maps_old_names_to_settings_of_the_table():
    assert len(RENAMED) == 21
    for old, (new, note) in RENAMED.items():
        assert old.startswith("SESSION_REDIS_"), old
        assert old not in SETTINGS, old
        assert new in SETTINGS, new
        assert new.startswith("SESSIONS_"), new
        assert "\n" not in note
    assert len({new for new, _note in RENAMED.values()}) == len(RENAMED)


@pytest.mark.parametrize(
    ("old", "value", "write"),
    [
        ("SESSION_REDIS_HEADER", "X-Session-Key", 'SESSIONS_HEADER_NAME = "HTTP_X_SESSION_KEY"'),
        ("SESSION_REDIS_IP_CHANGE", None, 'SESSIONS_IP_CHANGE = "ignore"'),
        ("SESSION_REDIS_USER_AGENT_CHANGE", None, 'SESSIONS_USER_AGENT_CHANGE = "ignore"'),
    ],
)
def test_a_renamed_setting_with_an_old_value_says_the_new_value(settings, old, value, write):
    setattr(settings, old, value)
    [error] = check_settings()
    assert error.id == "django_redis_sessions.E039"
    assert f"Write {write}." in (error.hint or "")


def test_every_old_name_set_at_once_is_one_error_each(settings):
    for old, (new, _note) in RENAMED.items():
        setattr(settings, old, conf.default(new))
    assert ids(check_settings()) == ["django_redis_sessions.E039"] * len(RENAMED)


def test_a_renamed_setting_fails_manage_check(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.SESSION_REDIS_RECORD_IP = False
    with pytest.raises(
        SystemCheckError, match="SESSION_REDIS_RECORD_IP was renamed to SESSIONS_RECORD_IP"
    ):
        call_command("check")


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("SESSIONS_RECORD_IPS", "SESSIONS_RECORD_IP"),
        ("SESSIONS_ABSOLUTE_AGES", "SESSIONS_ABSOLUTE_AGE"),
        ("SESSIONS_MAX_SESSIONS_PER_USER", "SESSIONS_MAX_PER_USER"),
        ("SESSIONS_HEADER", "SESSIONS_HEADER_NAME"),
        ("SESSIONS_URL", "SESSION_REDIS_URL"),
        ("SESSION_REDIS_SOCKET_TIMOUT", "SESSION_REDIS_SOCKET_TIMEOUT"),
        # A typo of an old name points at its new one.
        ("SESSION_REDIS_ROTATE_AFTR", "SESSIONS_ROTATE_AFTER"),
    ],
)
def test_an_unknown_setting_with_our_prefix_warns_with_did_you_mean(settings, typo, meant):
    setattr(settings, typo, 1)
    messages = check_settings()
    assert ids(messages) == ["django_redis_sessions.W013"]
    assert typo in messages[0].msg
    assert messages[0].hint == f"Did you mean {meant}?"


def test_an_unknown_setting_without_a_close_name_still_warns(settings):
    settings.SESSIONS_XYZZY = 1
    [warning] = check_settings()
    assert warning.id == "django_redis_sessions.W013"
    assert "Did you mean" not in (warning.hint or "")


def test_names_outside_our_prefixes_are_not_ours(settings):
    settings.SESSION_SAVE_EVERY_REQUEST = True  # Django's
    settings.SESSIONREDIS_URL = "x"  # no prefix of ours: not our business
    assert check_settings() == []


# -- the removed password validator (E040) --------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "django_redis_sessions.policies.password_change.RevokeSessionsOnPasswordChange",
        "django_redis_sessions.auth.RevokeSessionsOnPasswordChange",
    ],
)
def test_the_removed_password_validator_is_an_error_saying_to_remove_it(settings, name):
    from django.core.checks import run_checks

    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": name},
    ]
    ours = [m for m in run_checks() if m.id.startswith("django_redis_sessions.")]
    assert [m.id for m in ours] == ["django_redis_sessions.E040"]
    assert name in ours[0].msg
    assert ours[0].hint.startswith("Remove the entry")
    # Even with another session engine: Django would still fail to import it.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    assert [m.id for m in run_checks() if m.id.startswith("django_redis_sessions.")] == [
        "django_redis_sessions.E040"
    ]


def test_other_password_validators_pass(settings):
    from django.core.checks import run_checks

    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
        {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    ]
    assert not [m for m in run_checks() if m.id == "django_redis_sessions.E040"]

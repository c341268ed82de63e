"""conf: one table of settings, read through one object, reset by one receiver."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.signals import setting_changed

from django_redis_sessions import conf as conf_module
from django_redis_sessions.conf import DJANGO_DEFAULT, RENAMED, SETTINGS, Setting, conf


def test_every_row_has_a_name_a_type_and_one_line_of_doc():
    assert len(SETTINGS) > 40
    for name, setting in SETTINGS.items():
        assert name.startswith(("SESSION_", "SESSIONS_"))
        assert setting.name == name
        assert setting.value_type is not None
        assert setting.doc, name
        assert "\n" not in setting.doc, name
        assert type(conf).__dict__[name] is setting


def test_unset_settings_read_their_default(settings):
    del settings.SESSION_REDIS_PREFIX
    assert conf.SESSION_REDIS_PREFIX == "session" == SETTINGS["SESSION_REDIS_PREFIX"].default


def test_djangos_settings_are_defaulted_by_django(settings):
    assert SETTINGS["SESSION_COOKIE_AGE"].default is DJANGO_DEFAULT
    settings.SESSION_COOKIE_AGE = 1800
    assert conf.SESSION_COOKIE_AGE == 1800


def test_a_value_is_read_once_then_kept_until_setting_changed(settings):
    settings.SESSION_REDIS_PREFIX = "one"
    assert conf.SESSION_REDIS_PREFIX == "one"
    assert vars(conf)["SESSION_REDIS_PREFIX"] == "one"  # a plain attribute from now on
    settings.SESSION_REDIS_PREFIX = "two"  # the fixture sends setting_changed
    assert "SESSION_REDIS_PREFIX" not in vars(conf)
    assert conf.SESSION_REDIS_PREFIX == "two"


def test_coercion_applies_to_the_value_not_to_raw(settings):
    settings.SESSIONS_RECORD_IP = "yes"
    assert conf.SESSIONS_RECORD_IP is True
    assert conf.raw("SESSIONS_RECORD_IP") == "yes"


def test_raw_refuses_a_name_outside_the_table():
    with pytest.raises(KeyError):
        conf.raw("SESSION_REDIS_NO_SUCH_SETTING")


def test_reset_runs_the_hooks_once_each(settings):
    calls: list[str] = []

    def hook() -> None:
        calls.append("hook")

    conf.on_reset(hook)
    conf.on_reset(hook)
    try:
        settings.SESSION_REDIS_PREFIX = "changed"
        assert calls == ["hook"]
    finally:
        conf_module._reset_hooks.remove(hook)


def test_one_setting_changed_receiver_in_the_package():
    package = Path(conf_module.__file__).parent
    connects = [
        path.name
        for path in package.rglob("*.py")
        for line in path.read_text().splitlines()
        if "setting_changed.connect(" in line
    ]
    assert connects == ["conf.py"]
    uids = [entry[0][0] for entry in setting_changed.receivers]
    assert [uid for uid in uids if str(uid).startswith("django_redis_sessions")] == [
        "django_redis_sessions.conf"
    ]


def test_setting_is_a_descriptor_on_the_class():
    assert isinstance(type(conf).SESSION_REDIS_URL, Setting)


# -- the renamed settings (conf.RENAMED) -------------------------------------------------

_ROOT = Path(__file__).resolve().parent.parent


def test_the_docs_migration_section_shows_the_generated_table():
    """docs/settings.md's "Migrating from earlier names" renders conf.RENAMED itself
    (the ``drs-renamed-settings`` directive, tests/test_docs.py), so it cannot drift."""
    text = (_ROOT / "docs" / "settings.md").read_text()
    section = text[text.index("## Migrating from earlier names") :]
    assert "```{drs-renamed-settings}\n```" in section


def test_the_package_reads_no_old_name():
    """Only conf.RENAMED (for check E039) still spells an earlier name."""
    package = Path(conf_module.__file__).parent
    old_names = re.compile(r"\b(" + "|".join(RENAMED) + r")\b")
    for path in package.rglob("*"):
        if path.suffix in (".py", ".html", ".txt", ".lua") and path.name != "conf.py":
            assert not old_names.search(path.read_text()), path

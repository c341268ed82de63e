"""The message catalogues: complete, current, shipped, and used.

``django_redis_sessions/locale/en`` is the source catalogue (every marked string);
``de`` translates it. ``makemessages`` run on a copy of the package must find no
string the committed catalogue lacks (nor keep one the code dropped), and the
compiled ``.mo`` must say what its ``.po`` says, so neither can drift.
"""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

import django_redis_sessions

from .helpers import login

PACKAGE = Path(django_redis_sessions.__file__).resolve().parent
LOCALE = PACKAGE / "locale"
LANGUAGES = ("en", "de")

_ENTRY = re.compile(r'^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) "(.*)"$')
_MORE = re.compile(r'^"(.*)"$')


def read_po(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    """``{(context, msgid): {"msgstr": ..., "msgstr[0]": ..., ...}}`` of a ``.po`` file
    (obsolete ``#~`` entries left out; the header's empty msgid too)."""
    entries: dict[tuple[str, str], dict[str, str]] = {}
    current: dict[str, str] = {}
    field = ""

    def flush() -> None:
        if current.get("msgid"):
            entries[(current.get("msgctxt", ""), current["msgid"])] = current.copy()
        current.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        start = _ENTRY.match(line)
        if start:
            if start.group(1) in ("msgctxt", "msgid") and "msgstr" in "".join(current):
                flush()
            field = start.group(1)
            current[field] = _unescape(start.group(2))
            continue
        more = _MORE.match(line)
        if more and field:
            current[field] += _unescape(more.group(1))
        elif not line.strip():
            flush()
            field = ""
    flush()
    return entries


def _unescape(text: str) -> str:
    return (
        text.encode("latin-1", "backslashreplace")
        .decode("unicode_escape")
        .encode("latin-1")
        .decode("utf-8")
        if "\\" in text
        else text
    )


def makemessages(directory: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--no-obsolete"]
        + [f"--locale={language}" for language in LANGUAGES],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr


def test_the_committed_catalogues_hold_every_marked_string(tmp_path: Path) -> None:
    copy = tmp_path / "django_redis_sessions"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    makemessages(copy)
    for language in LANGUAGES:
        committed = read_po(LOCALE / language / "LC_MESSAGES" / "django.po")
        fresh = read_po(copy / "locale" / language / "LC_MESSAGES" / "django.po")
        assert len(fresh) > 100  # the parser read the catalogue
        missing = sorted(fresh.keys() - committed.keys())
        assert not missing, (
            f"{language}: strings missing from the catalogue; run `django-admin makemessages "
            f"-l en -l de` in django_redis_sessions/ and translate them: {missing}"
        )
        stale = sorted(committed.keys() - fresh.keys())
        assert not stale, f"{language}: strings no code uses any more: {stale}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_says_what_the_po_file_says(language: str) -> None:
    directory = LOCALE / language / "LC_MESSAGES"
    with (directory / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    translated = 0
    for (_context, msgid), entry in read_po(directory / "django.po").items():
        if "msgid_plural" in entry:
            for n, field in ((1, "msgstr[0]"), (2, "msgstr[1]")):
                if entry.get(field):
                    assert compiled.ngettext(msgid, entry["msgid_plural"], n) == entry[field]
                    translated += 1
        elif entry.get("msgstr"):
            assert compiled.gettext(msgid) == entry["msgstr"], msgid
            translated += 1
    if language == "de":
        assert translated > 100


def test_the_wheel_ships_the_catalogues() -> None:
    # What tests run against is the installed package (in CI: the built wheel).
    for language in LANGUAGES:
        for name in ("django.po", "django.mo"):
            assert (LOCALE / language / "LC_MESSAGES" / name).is_file(), (language, name)


@pytest.mark.real_redis
@pytest.mark.django_db
def test_the_pages_speak_the_browsers_language(r: Any, alice: Any, settings: Any) -> None:
    # LocaleMiddleware activates the browser's language in this thread and leaves it
    # active after the response: give the tests that follow theirs back.
    with translation.override(translation.get_language()):
        _pages_in_german_and_english(settings)


def _pages_in_german_and_english(settings: Any) -> None:
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:2],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[2:],
    ]
    client = Client(HTTP_ACCEPT_LANGUAGE="de")
    login(client)
    page = client.get("/account/sessions/").content.decode()
    assert '<html lang="de" dir="ltr">' in page
    assert '<h1 id="drs-sessions-heading">Ihre Sitzungen</h1>' in page
    assert "1 angemeldete Sitzung." in page
    assert ">gerade eben</time>" in page
    assert ">Abmelden</button>" in page
    assert "Zurück zur Website" in page
    # Same page, English browser: the source strings.
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    login(english)
    assert (
        '<h1 id="drs-sessions-heading">Your sessions</h1>'
        in english.get("/account/sessions/").content.decode()
    )

"""The example project, run as a newcomer runs it.

* With ``REDIS_URL`` (the test Redis, under the run's prefix): its checks, a walk
  through its pages (``example_walkthrough.py``), and ``demo_data``.
* In its embedded default (no ``REDIS_URL``: an in-process fakeredis): ``demo_data``
  explains why it seeds no sessions, and the project started as a real server
  (``runserver``, and ``uvicorn`` for ASGI) serves the demo it seeded at start-up.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings

from .example_server import NOTICE, Visitor, example_env, example_server, migrate, run

DEMO_IPS = {"203.0.113.24", "198.51.100.7", "2001:db8:85a3::8a2e:370:7334"}


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An example database with its tables, for each test to copy."""
    env = example_env(tmp_path_factory.mktemp("example-db"), embedded=True)
    migrate(env)
    return Path(env["DJANGO_DB"])


# -- with REDIS_URL: the test Redis ------------------------------------------------------


@pytest.mark.real_redis
def test_manage_py_check_passes(r: redis.Redis, tmp_path: Path) -> None:
    result = run(["manage.py", "check"], example_env(tmp_path, embedded=False))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert NOTICE not in result.stderr


@pytest.mark.real_redis
def test_a_walk_through_the_pages_with_sessions_in_redis(
    r: redis.Redis, tmp_path: Path, migrated: Path
) -> None:
    env = example_env(tmp_path, embedded=False)
    migrate(env, migrated)
    result = run(["-c", "from tests.example_walkthrough import main; main()"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "example ok"
    # The sessions went to the test Redis, under the example's prefix.
    assert any(r.scan_iter(match=env["SESSION_REDIS_PREFIX"] + ":s:*", count=1000))


@pytest.mark.real_redis
def test_demo_data_seeds_sessions_in_redis_and_seeding_again_replaces_them(
    r: redis.Redis, tmp_path: Path, migrated: Path
) -> None:
    env = example_env(tmp_path, embedded=False)
    migrate(env, migrated)
    first = run(["manage.py", "demo_data"], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "User ann: created",
        "User bob: created",
        "User cho: created",
        "User admin (superuser): created",
        f"Seeded 9 sessions in {settings.SESSION_REDIS_URL}.",
        "Sign in as: ann / ann-demo, bob / bob-demo, cho / cho-demo, "
        "admin / admin-demo (superuser).",
    ]
    again = run(["manage.py", "demo_data"], env)
    assert again.returncode == 0, again.stderr
    assert "User ann: already there, left as it is" in again.stdout
    assert (
        f"Seeded 9 sessions in {settings.SESSION_REDIS_URL}, replacing 9 earlier demo sessions."
        in again.stdout
    )

    listing = run(["manage.py", "list_sessions", "ann", "--json"], env)
    assert listing.returncode == 0, listing.stderr
    sessions = json.loads(listing.stdout)
    assert {s["ip"] for s in sessions} == DEMO_IPS
    agents = " ".join(s["user_agent"] for s in sessions)
    for fragment in ("Firefox/128.0", "iPhone", "Android 14"):
        assert fragment in agents
    # 9 sessions and the 4 users' indexes: nothing left over from the first run.
    prefix = env["SESSION_REDIS_PREFIX"]
    assert len(list(r.scan_iter(match=prefix + ":s:*", count=1000))) == 9
    assert len(list(r.scan_iter(match=prefix + ":u:*", count=1000))) == 4


# -- the embedded default: no REDIS_URL ----------------------------------------------------


def test_demo_data_without_redis_url_says_the_server_seeds_the_sessions(
    tmp_path: Path, migrated: Path
) -> None:
    env = example_env(tmp_path, embedded=True)
    migrate(env, migrated)
    result = run(["manage.py", "demo_data"], env)
    assert result.returncode == 0, result.stderr
    assert "User ann: created" in result.stdout
    assert "No sessions seeded: without REDIS_URL" in result.stdout
    assert "seeds the demo sessions into its own store when it starts" in result.stdout
    assert result.stderr.count(NOTICE) == 1, result.stderr


def _walk_the_demo(url: str) -> None:
    """Home and sign-in pages, then a demo user's sessions (seeded at start-up)."""
    visitor = Visitor(url)
    home = visitor.get("/")
    assert home.status == 200
    assert "Hello, visitor" in home.text
    assert re.search(r'<code id="fingerprint">[0-9a-f]{12}</code>', home.text), home.text
    assert 'id="idle-countdown" data-countdown="' in home.text
    assert "an in-process fakeredis, because <code>REDIS_URL</code> is not set" in home.text

    signin = visitor.sign_in("ann", "ann-demo")
    assert (signin.status, signin.location) == (302, "/"), signin.text
    assert "Hello, ann" in visitor.get("/").text
    sessions = visitor.get("/account/sessions/")
    assert sessions.status == 200
    assert sessions.text.count('class="drs-session"') == 4  # 3 seeded + this one
    assert "(this device)" in sessions.text
    for ip in DEMO_IPS:
        assert ip in sessions.text


def test_runserver_serves_the_demo_with_its_in_process_store(
    tmp_path: Path, migrated: Path
) -> None:
    env = example_env(tmp_path, embedded=True)
    migrate(env, migrated)
    with example_server("runserver", env, tmp_path) as server:
        _walk_the_demo(server.url)
        output = server.output()
    assert output.count(NOTICE) == 1, output
    assert "Demo data: 9 sessions on other devices for the demo users" in output


def test_uvicorn_serves_the_demo_over_asgi(tmp_path: Path, migrated: Path) -> None:
    pytest.importorskip("uvicorn")
    env = example_env(tmp_path, embedded=True)
    migrate(env, migrated)
    with example_server("uvicorn", env, tmp_path) as server:
        _walk_the_demo(server.url)
        output = server.output()
    assert output.count(NOTICE) == 1, output
    assert "Demo data: 9 sessions on other devices for the demo users" in output


# -- helpers of the example ------------------------------------------------------------------


def test_countdowns_and_setting_ages_read_as_the_page_writes_them() -> None:
    from example_project.views import format_duration, plain_duration

    assert format_duration(1799) == "0:29:59"
    assert format_duration(43200) == "12:00:00"
    assert format_duration(2 * 86400 + 3723) == "2 d 1:02:03"
    assert format_duration(-5) == "0:00:00"
    assert plain_duration(1800) == "30 minutes"
    assert plain_duration(3600) == "1 hour"
    assert plain_duration(90) == "90 seconds"


def test_the_redis_url_is_shown_without_its_password(settings: Any) -> None:
    from example_project.demo import describe_store

    settings.SESSION_REDIS_URL = "redis://user:s3cret@redis.internal:6380/2"
    assert describe_store() == "redis://user:***@redis.internal:6380/2"
    settings.SESSION_REDIS_URL = "redis://127.0.0.1:6379/0"
    assert describe_store() == "redis://127.0.0.1:6379/0"

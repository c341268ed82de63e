"""The example project's demo, walked in Debian's chromium.

The example runs as a newcomer starts it: ``manage.py runserver --noreload`` in
its embedded default (no ``REDIS_URL``: an in-process fakeredis, with the demo
users and their sessions on other devices seeded at start-up), on a free
loopback port, stopped when the module's tests end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.example_server import ExampleServer, example_env, example_server, migrate

pytestmark = pytest.mark.browser

Contexts = Callable[..., BrowserContext]

CLOCK = re.compile(r"^(?:(\d+) d )?(\d+):(\d\d):(\d\d)$")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    tmp_path = tmp_path_factory.mktemp("demo")
    env = example_env(tmp_path, embedded=True)
    migrate(env)
    with example_server("runserver", env, tmp_path) as server:
        yield server


def seconds(clock: str) -> int:
    """``"0:29:58"`` (or ``"1 d 2:03:04"``) as seconds."""
    match = CLOCK.match(clock.strip())
    assert match, f"not a countdown: {clock!r}"
    days, hours, minutes, secs = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + secs


def sign_in(page: Page, username: str, password: str) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_demo_user_sees_the_countdown_and_the_other_devices(
    demo: ExampleServer, browser_contexts: Contexts, shot: Any
) -> None:
    page = browser_contexts(base_url=demo.url).new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Hello, visitor")).to_be_visible()
    expect(page.locator("#demo-users")).to_contain_text("ann-demo")
    shot(page, "home-visitor")

    sign_in(page, "ann", "ann-demo")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Hello, ann")).to_be_visible()
    expect(page.locator("#fingerprint")).to_have_text(re.compile(r"^[0-9a-f]{12}$"))
    expect(page.locator("#created time")).to_be_visible()

    # The countdowns tick: both are lower 1.5 s later.
    idle, absolute = page.locator("#idle-countdown"), page.locator("#absolute-countdown")
    idle_before, absolute_before = seconds(idle.inner_text()), seconds(absolute.inner_text())
    assert 1790 <= idle_before <= 1800
    assert 43190 <= absolute_before <= 43200
    page.wait_for_timeout(1500)
    idle_after, absolute_after = seconds(idle.inner_text()), seconds(absolute.inner_text())
    assert 1 <= idle_before - idle_after <= 3, (idle_before, idle_after)
    assert 1 <= absolute_before - absolute_after <= 3, (absolute_before, absolute_after)
    shot(page, "home-ann")

    # "Your sessions": this browser and the three devices seeded at start-up.
    page.get_by_role("navigation").get_by_role("link", name="Your sessions").click()
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    rows = page.locator("tr.drs-session")
    expect(rows).to_have_count(4)
    expect(page.locator(".drs-this-device")).to_have_count(1)
    others = rows.filter(has_not=page.locator(".drs-this-device"))
    expect(others.filter(has_text="203.0.113.24")).to_contain_text("Firefox 128 on Windows")
    expect(others.filter(has_text="198.51.100.7")).to_contain_text("iPhone")
    expect(others.filter(has_text="2001:db8:85a3::8a2e:370:7334")).to_contain_text("Android")
    # The page sits in the site's layout (SESSIONS_BASE_TEMPLATE).
    expect(page.get_by_role("navigation")).to_contain_text("django_redis_sessions demo")
    shot(page, "your-sessions")

    others.filter(has_text="203.0.113.24").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("That session was signed out.")
    expect(rows).to_have_count(3)
    shot(page, "one-device-signed-out")

    # Sign out of this browser from the site's navigation.
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Hello, visitor")).to_be_visible()


def test_the_home_page_shows_the_figures_without_javascript(
    demo: ExampleServer, browser_contexts: Contexts, shot: Any
) -> None:
    page = browser_contexts(base_url=demo.url, java_script_enabled=False).new_page()
    page.goto("/")
    expect(page.locator("#fingerprint")).to_have_text(re.compile(r"^[0-9a-f]{12}$"))
    idle = page.locator("#idle-countdown")
    first = seconds(idle.inner_text())
    assert 1790 <= first <= 1800
    assert 43190 <= seconds(page.locator("#absolute-countdown").inner_text()) <= 43200
    page.wait_for_timeout(1200)
    assert seconds(idle.inner_text()) == first  # as served: nothing runs it down
    shot(page, "home-without-javascript")

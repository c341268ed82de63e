"""Every page fits a phone's screen, and stays a table on a desktop's.

Each page is opened at 390x844 (a phone held upright) signed in with real
sessions (several devices, so the tables have rows) and must not scroll
sideways: ``document.documentElement.scrollWidth <= 390``. A wide table may
scroll inside its own box (the admin's, as Django's changelist does) or become
stacked rows (the "your sessions" page); the page itself never does. At 1280 px
the same pages still show a table.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from playwright.sync_api import BrowserContext, Page, expect

from django_redis_sessions import api
from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.storage import keys
from tests.browser.test_flows import (
    CHROME_ANDROID,
    FIREFOX_WINDOWS,
    OVERVIEW,
    SAFARI_MAC,
    admin_sign_in,
    user_sign_in,
)
from tests.example_server import ExampleServer, example_env, example_server, migrate

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def fits(page: Page, width: int = PHONE["width"]) -> None:
    """The page does not scroll sideways at this width."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width} px wide at {width} px"


def table_shown(page: Page, selector: str = "table") -> None:
    """At desktop width the rows are a real table: header cells side by side."""
    table = page.locator(selector).first
    expect(table).to_be_visible()
    assert table.evaluate("t => getComputedStyle(t).display") == "table"
    header = table.locator("thead th")
    assert header.count() >= 3
    tops = header.evaluate_all("cells => cells.map(c => c.getBoundingClientRect().top)")
    assert len({round(top) for top in tops}) == 1, tops  # one line of headings


def check(page: Page, shot: Any, url: str, name: str, table: str | None = None) -> None:
    """Open ``url`` on the phone, then on the desktop."""
    page.set_viewport_size(PHONE)
    response = page.goto(url)
    assert response is not None
    fits(page)
    shot(page, f"{name}-390")
    if table is not None:
        page.set_viewport_size(DESKTOP)
        page.reload()
        table_shown(page, table)
        shot(page, f"{name}-1280")
        page.set_viewport_size(PHONE)


@pytest.fixture
def ann(site: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(
        "ann-with-a-rather-long-username",
        "ann.with.a.rather.long.address@example.com",
        "pw-ann",
    )


@pytest.fixture
def superuser(site: str) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")


@pytest.fixture
def devices(new_context: NewContext, ann: Any) -> list[Page]:
    """Ann signed in on three devices; the first page is the phone's."""
    pages = []
    for agent in (CHROME_ANDROID, FIREFOX_WINDOWS, SAFARI_MAC):
        context = new_context(user_agent=agent, viewport=PHONE)
        pages.append(user_sign_in(context, ann.get_username(), "pw-ann"))
    return pages


def test_your_sessions_fits_a_phone(devices: list[Page], shot: Any) -> None:
    page = devices[0]
    check(page, shot, "/account/sessions/", "your-sessions", table=".drs-sessions table")
    expect(page.locator("tr.drs-session")).to_have_count(3)
    # Stacked on the phone: each session's cells are lines below one another.
    row = page.locator("tr.drs-session").first
    assert row.evaluate("r => getComputedStyle(r).display") == "block"
    expect(page.locator("#drs-back")).to_have_attribute("href", "/")
    # The buttons stay on one line each.
    for button in page.get_by_role("button").all():
        box = button.bounding_box()
        assert box is not None
        assert box["height"] < 40, f"{button.inner_text()!r} wraps: {box}"


def test_your_sessions_empty_state_fits_a_phone(devices: list[Page], ann: Any, shot: Any) -> None:
    # A session missing from its user's index (an index lost to a Redis failover,
    # say): the page lists nothing, and says so.
    client = redis.Redis.from_url(settings.SESSION_REDIS_URL)
    try:
        client.delete(keys.user_index_key(settings.SESSION_REDIS_PREFIX, str(ann.pk)))
    finally:
        client.close()
    page = devices[0]
    check(page, shot, "/account/sessions/", "your-sessions-empty")
    expect(page.locator("tr.drs-empty")).to_contain_text("No session")


def test_admin_pages_fit_a_phone(
    new_context: NewContext, devices: list[Page], ann: Any, superuser: Any, shot: Any
) -> None:
    admin = admin_sign_in(new_context(viewport=PHONE), "root", "pw-root")
    check(admin, shot, "/admin/", "admin-index")
    check(admin, shot, OVERVIEW, "admin-overview", table="#result_list")
    check(admin, shot, f"{OVERVIEW}?q=ann", "admin-overview-search", table="#result_list")
    check(admin, shot, f"{OVERVIEW}user/{ann.pk}/", "admin-user", table="#result_list")
    expect(admin.locator("tr.session")).to_have_count(3)
    check(admin, shot, f"{OVERVIEW}user/{ann.pk}/revoke-all/", "admin-revoke-all")
    expect(admin.get_by_role("button", name="Yes, revoke all")).to_be_visible()
    check(admin, shot, f"{OVERVIEW}user/{superuser.pk}/", "admin-user-root", table="#result_list")


def test_admin_unavailable_page_fits_a_phone(
    new_context: NewContext, superuser: Any, shot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = admin_sign_in(new_context(viewport=PHONE), "root", "pw-root")

    def down(*args: Any, **kwargs: Any) -> Any:
        raise SessionStoreUnavailable(
            "Redis at redis://example.invalid:6379/0 did not answer within 0.5 s",
            "redis://example.invalid:6379/0",
        )

    monkeypatch.setattr(api, "session_overview", down)
    admin.set_viewport_size(PHONE)
    response = admin.goto(OVERVIEW)
    assert response is not None
    assert response.status == 503
    expect(admin.locator(".errornote")).to_contain_text("The session store cannot be read")
    fits(admin)
    shot(admin, "admin-unavailable-390")


# -- the example project ---------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    tmp_path = tmp_path_factory.mktemp("demo-widths")
    env = example_env(tmp_path, embedded=True)
    migrate(env)
    with example_server("runserver", env, tmp_path) as server:
        yield server


def test_example_project_fits_a_phone(
    demo: ExampleServer, browser_contexts: Callable[..., BrowserContext], shot: Any
) -> None:
    page = browser_contexts(base_url=demo.url, viewport=PHONE).new_page()
    check(page, shot, "/", "demo-home-visitor", table="#demo-users")
    check(page, shot, "/accounts/login/", "demo-sign-in")
    check(page, shot, "/accounts/signup/", "demo-sign-up")
    page.get_by_label("Username").fill("ann")
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill("ann-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    check(page, shot, "/", "demo-home-ann")
    check(page, shot, "/account/sessions/", "demo-your-sessions", table=".drs-sessions table")
    expect(page.locator("tr.drs-session")).to_have_count(4)
    admin = browser_contexts(base_url=demo.url, viewport=PHONE).new_page()
    admin.goto("/admin/login/?next=/admin/")
    admin.locator("#id_username").fill("admin")
    admin.locator("#id_password").fill("admin-demo")
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("heading", name="Site administration")).to_be_visible()
    check(admin, shot, "/admin/", "demo-admin-index")
    check(admin, shot, OVERVIEW, "demo-admin-overview", table="#result_list")


def test_example_project_tells_a_browser_signed_out_elsewhere(
    demo: ExampleServer, browser_contexts: Callable[..., BrowserContext], shot: Any
) -> None:
    laptop = browser_contexts(base_url=demo.url, viewport=DESKTOP).new_page()
    phone = browser_contexts(
        base_url=demo.url, viewport=PHONE, user_agent=CHROME_ANDROID
    ).new_page()
    for page in (laptop, phone):
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill("cho")
        page.get_by_label("Password").fill("cho-demo")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Hello, cho")).to_be_visible()

    # The laptop signs the phone out from "your sessions".
    laptop.goto("/account/sessions/")
    laptop.locator("tr.drs-session", has_text="Pixel 8").get_by_role(
        "button", name="Sign out"
    ).click()
    expect(laptop.get_by_role("status")).to_have_text("That session was signed out.")

    # The phone's next page says so, once.
    phone.reload()
    expect(phone.locator("#session-ended")).to_contain_text("You were signed out")
    expect(phone.get_by_role("heading", name="Hello, visitor")).to_be_visible()
    fits(phone)
    shot(phone, "demo-signed-out-elsewhere-390")
    phone.reload()
    expect(phone.locator("#session-ended")).to_have_count(0)

    # A page that needs a sign-in sends the next one to the login page, which says it.
    laptop.context.clear_cookies()
    laptop.goto("/")
    laptop.goto("/accounts/login/")
    laptop.get_by_label("Username").fill("cho")
    laptop.get_by_label("Password").fill("cho-demo")
    laptop.get_by_role("button", name="Sign in").click()
    expect(laptop.get_by_role("heading", name="Hello, cho")).to_be_visible()
    phone.goto("/accounts/login/")
    phone.get_by_label("Username").fill("cho")
    phone.get_by_label("Password").fill("cho-demo")
    phone.get_by_role("button", name="Sign in").click()
    expect(phone.get_by_role("heading", name="Hello, cho")).to_be_visible()
    laptop.goto("/account/sessions/")
    laptop.get_by_role("button", name="Sign out all other sessions").click()
    phone.goto("/account/sessions/")
    expect(phone).to_have_url(re.compile(r"/accounts/login/\?next=/account/sessions/$"))
    expect(phone.get_by_role("status")).to_have_text("You were signed out. Please sign in again.")
    fits(phone)
    shot(phone, "demo-sign-in-after-sign-out-elsewhere-390")

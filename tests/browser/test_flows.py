"""The key admin and "your sessions" flows, in Debian's chromium.

Each signed-in device is its own browser context (its own cookie jar, its own user
agent). Tests identify a context's session by the fingerprint of its session
cookie, computed here; the pages themselves never show session keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from playwright.sync_api import BrowserContext, Page, expect

from django_redis_sessions.storage.keys import fingerprint

pytestmark = pytest.mark.browser

NewContext = Callable[..., BrowserContext]

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

OVERVIEW = "/admin/django_redis_sessions/redissession/"


# -- helpers ---------------------------------------------------------------------------


def session_fingerprint(context: BrowserContext) -> str:
    """The fingerprint of the session this browser context is signed in with."""
    values = [c["value"] for c in context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    assert len(values) == 1, f"expected one {settings.SESSION_COOKIE_NAME} cookie, got {values}"
    return fingerprint(values[0])


def signed_in_as(page: Page) -> str | None:
    """Who the site sees in this page's browser context (``None``: signed out)."""
    response = page.goto("/read/")
    assert response is not None
    assert response.ok, response.status
    user: str | None = response.json()["user"]
    return user


def user_sign_in(context: BrowserContext, username: str, password: str) -> Page:
    """Sign in through the site's login form; lands on "Your sessions"."""
    page = context.new_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/account/sessions/$"))
    expect(page.get_by_role("heading", name="Your sessions")).to_be_visible()
    return page


def admin_sign_in(context: BrowserContext, username: str, password: str) -> Page:
    page = context.new_page()
    page.goto("/admin/login/?next=/admin/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    return page


@pytest.fixture
def ann(site: str) -> Any:
    return get_user_model().objects.create_user("ann", "ann@example.com", "pw-ann")


@pytest.fixture
def superuser(site: str) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")


# -- admin -----------------------------------------------------------------------------


def test_admin_revokes_one_selected_session(
    new_context: NewContext, shot: Any, ann: Any, superuser: Any
) -> None:
    admin = admin_sign_in(new_context(), "root", "pw-root")
    context_b = new_context(user_agent=FIREFOX_WINDOWS)
    context_c = new_context(user_agent=SAFARI_MAC)
    page_b = user_sign_in(context_b, "ann", "pw-ann")
    page_c = user_sign_in(context_c, "ann", "pw-ann")
    fp_b, fp_c = session_fingerprint(context_b), session_fingerprint(context_c)
    assert fp_b != fp_c
    shot(page_b, "ann-signed-in-B")

    # Admin index -> Sessions overview -> search "ann".
    shot(admin, "admin-index")
    admin.get_by_role("link", name="Sessions", exact=True).click()
    expect(admin).to_have_url(re.compile(re.escape(OVERVIEW) + "$"))
    expect(admin.locator("#total-signed-in")).to_have_text("3")
    admin.locator("#searchbar").fill("ann")
    admin.get_by_role("button", name="Search").click()
    expect(admin).to_have_url(re.compile(r"\?q=ann$"))
    rows = admin.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)  # the search leaves the admin's own row out
    expect(rows.first.locator("td.sessions")).to_have_text("2")
    shot(admin, "overview-search-ann")

    # Ann's page: two sessions, one per device; revoke B's.
    rows.first.get_by_role("link", name="ann", exact=True).click()
    expect(admin).to_have_url(re.compile(rf"{re.escape(OVERVIEW)}user/{ann.pk}/$"))
    expect(admin.get_by_role("heading", name=f"Sessions of ann (id {ann.pk})")).to_be_visible()
    sessions = admin.locator("tr.session")
    expect(sessions).to_have_count(2)
    assert sorted(sessions.evaluate_all("rows => rows.map(r => r.dataset.fingerprint)")) == sorted(
        [fp_b, fp_c]
    )
    row_b = admin.locator(f'tr.session[data-fingerprint="{fp_b}"]')
    expect(row_b).to_contain_text("Firefox")
    expect(admin.locator(f'tr.session[data-fingerprint="{fp_c}"]')).to_contain_text("Safari")
    admin.locator(f"#select-{fp_b}").check()
    shot(admin, "ann-sessions-B-selected")
    admin.get_by_role("button", name="Revoke selected sessions").click()

    expect(admin.locator("ul.messagelist li.success")).to_have_text("1 session revoked.")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_have_attribute("data-fingerprint", fp_c)
    shot(admin, "ann-sessions-after-revoke")

    # B is signed out, C still signed in as ann.
    assert signed_in_as(page_b) is None
    assert signed_in_as(page_c) == "ann"
    page_b.goto("/account/sessions/")
    expect(page_b).to_have_url(re.compile(r"/accounts/login/\?next=/account/sessions/$"))
    shot(page_b, "B-signed-out")
    # The admin's own session was not touched.
    admin.goto(OVERVIEW)
    expect(admin.locator("#total-signed-in")).to_have_text("2")


def test_admin_revokes_all_sessions_after_confirmation(
    new_context: NewContext, shot: Any, ann: Any, superuser: Any
) -> None:
    admin = admin_sign_in(new_context(), "root", "pw-root")
    page_b = user_sign_in(new_context(user_agent=FIREFOX_WINDOWS), "ann", "pw-ann")
    page_c = user_sign_in(new_context(user_agent=SAFARI_MAC), "ann", "pw-ann")

    admin.goto(f"{OVERVIEW}user/{ann.pk}/")
    expect(admin.locator("tr.session")).to_have_count(2)
    admin.get_by_role("link", name="Revoke all sessions…").click()

    expect(admin).to_have_url(re.compile(rf"user/{ann.pk}/revoke-all/$"))
    expect(admin.locator("#content")).to_contain_text(
        f"Are you sure you want to revoke every session of ann (id {ann.pk})?"
    )
    expect(admin.locator("#content")).to_contain_text("(2 sessions)")
    expect(admin.locator("#content li code")).to_have_count(2)
    shot(admin, "revoke-all-confirmation")
    admin.get_by_role("button", name="Yes, revoke all").click()

    expect(admin).to_have_url(re.compile(rf"{re.escape(OVERVIEW)}user/{ann.pk}/$"))
    expect(admin.locator("ul.messagelist li.success")).to_have_text("2 sessions revoked.")
    expect(admin.locator("tr.session")).to_have_count(0)
    expect(admin.locator("p.empty")).to_have_text(f"ann (id {ann.pk}) has no active session.")
    shot(admin, "after-revoke-all")

    assert signed_in_as(page_b) is None
    assert signed_in_as(page_c) is None
    # The admin is still signed in; nobody but the admin has a session now.
    admin.goto(OVERVIEW)
    expect(admin.locator("#total-signed-in")).to_have_text("1")
    expect(admin.locator("#result_list tbody tr")).to_have_count(1)
    expect(admin.locator("#result_list tbody tr").first).to_contain_text("root")
    shot(admin, "overview-after")


# -- "your sessions" -------------------------------------------------------------------


def test_user_signs_out_another_device(new_context: NewContext, shot: Any, ann: Any) -> None:
    context_a = new_context(user_agent=FIREFOX_WINDOWS)
    context_b = new_context(user_agent=SAFARI_MAC)
    page_a = user_sign_in(context_a, "ann", "pw-ann")
    page_b = user_sign_in(context_b, "ann", "pw-ann")
    fp_a, fp_b = session_fingerprint(context_a), session_fingerprint(context_b)

    page_a.goto("/account/sessions/")
    rows = page_a.locator("tr.drs-session")
    expect(rows).to_have_count(2)
    this_device = rows.filter(has=page_a.locator(".drs-this-device"))
    expect(this_device).to_have_count(1)
    expect(this_device).to_have_attribute("data-fingerprint", fp_a)
    expect(this_device).to_contain_text("(this device)")
    other = rows.filter(has_not=page_a.locator(".drs-this-device"))
    expect(other).to_have_attribute("data-fingerprint", fp_b)
    expect(other).to_contain_text("Safari")
    shot(page_a, "two-sessions")

    other.get_by_role("button", name="Sign out").click()

    expect(page_a).to_have_url(re.compile(r"/account/sessions/$"))
    expect(page_a.get_by_role("status")).to_have_text("That session was signed out.")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-fingerprint", fp_a)
    expect(rows.first).to_contain_text("(this device)")
    expect(page_a.locator("#drs-revoke-others")).to_have_count(0)
    shot(page_a, "one-session-left")

    page_b.goto("/account/sessions/")
    expect(page_b).to_have_url(re.compile(r"/accounts/login/\?next=/account/sessions/$"))
    shot(page_b, "other-device-signed-out")
    assert signed_in_as(page_b) is None
    assert signed_in_as(page_a) == "ann"


def test_user_signs_out_all_other_sessions(new_context: NewContext, shot: Any, ann: Any) -> None:
    agents = [FIREFOX_WINDOWS, SAFARI_MAC, CHROME_ANDROID]
    contexts = [new_context(user_agent=agent) for agent in agents]
    page_a, page_b, page_c = (user_sign_in(context, "ann", "pw-ann") for context in contexts)
    fp_a = session_fingerprint(contexts[0])

    page_a.goto("/account/sessions/")
    rows = page_a.locator("tr.drs-session")
    expect(rows).to_have_count(3)
    expect(page_a.locator(".drs-this-device")).to_have_count(1)
    shot(page_a, "three-sessions")

    page_a.get_by_role("button", name="Sign out all other sessions").click()

    expect(page_a.get_by_role("status")).to_have_text("2 other sessions were signed out.")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-fingerprint", fp_a)
    expect(rows.first).to_contain_text("(this device)")
    expect(page_a.locator("#drs-revoke-others")).to_have_count(0)
    shot(page_a, "only-this-device-left")

    assert signed_in_as(page_b) is None
    assert signed_in_as(page_c) is None
    assert signed_in_as(page_a) == "ann"


def test_user_signs_out_this_device(new_context: NewContext, shot: Any, ann: Any) -> None:
    page_a = user_sign_in(new_context(user_agent=FIREFOX_WINDOWS), "ann", "pw-ann")
    page_b = user_sign_in(new_context(user_agent=SAFARI_MAC), "ann", "pw-ann")

    page_a.goto("/account/sessions/")
    rows = page_a.locator("tr.drs-session")
    expect(rows).to_have_count(2)
    rows.filter(has=page_a.locator(".drs-this-device")).get_by_role(
        "button", name="Sign out"
    ).click()

    expect(page_a).to_have_url(re.compile(r"/accounts/login/$"))
    shot(page_a, "signed-out-to-login")
    assert signed_in_as(page_a) is None
    page_b.goto("/account/sessions/")
    expect(page_b.locator("tr.drs-session")).to_have_count(1)
    expect(page_b.locator(".drs-this-device")).to_have_count(1)
    assert signed_in_as(page_b) == "ann"

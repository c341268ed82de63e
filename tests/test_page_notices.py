"""What the pages tell people, over HTTP against the real Redis.

* a browser signed out elsewhere is told so on its next page;
* the admin index offers "View" on Sessions, never "Change" or "Add";
* every page writes a moment the same way, with its timezone, and last activity
  as "… ago" with the absolute date beside it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from django_redis_sessions.middleware import SESSION_ENDED_MESSAGE
from django_redis_sessions.storage import keys

from .helpers import login

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
NOTICE = str(SESSION_ENDED_MESSAGE)
CHANGELIST = "/admin/django_redis_sessions/redissession/"


def two_devices() -> tuple[Client, str, Client, str]:
    """Alice signed in on two browsers: (laptop, its key, phone, its key)."""
    laptop = Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.10")
    phone = Client(HTTP_USER_AGENT=CHROME, REMOTE_ADDR="198.51.100.23")
    return laptop, login(laptop), phone, login(phone)


def revoke_from(client: Client, session_key: str) -> None:
    """``client`` signs the session ``session_key`` out on "your sessions"."""
    response = client.post(f"/account/sessions/{keys.fingerprint(session_key)}/revoke/")
    assert response.status_code == 302
    assert response["Location"] == "/account/sessions/"


# -- signed out elsewhere -------------------------------------------------------------


def test_a_browser_signed_out_elsewhere_is_told_on_its_next_page(r, alice):
    laptop, _, phone, phone_key = two_devices()
    revoke_from(laptop, phone_key)

    # The phone opens a page that needs a sign-in: the login page it is sent to
    # says why.
    response = phone.get("/account/sessions/", follow=True)
    assert response.redirect_chain == [("/accounts/login/?next=/account/sessions/", 302)]
    assert NOTICE in response.content.decode()
    assert "You were signed out. Please sign in again." in response.content.decode()
    # Once: the stale cookie is gone, and so is the message.
    assert phone.cookies["sessionid"].value == ""
    again = phone.get("/accounts/login/").content.decode()
    assert NOTICE not in again
    # The laptop, still signed in, is told nothing.
    page = laptop.get("/account/sessions/")
    assert page.status_code == 200
    assert NOTICE not in page.content.decode()


def test_a_page_that_shows_the_request_attribute_is_not_followed_by_a_message(r, alice):
    laptop, _, phone, phone_key = two_devices()
    revoke_from(laptop, phone_key)
    first = phone.get("/notice/").content.decode()
    assert "<p id='ended'>Signed out elsewhere</p>" in first
    assert NOTICE not in first
    # It was said: the next page carries no message.
    assert phone.get("/messages/").content.decode() == ""


def test_a_page_that_ignores_the_attribute_leaves_the_message_for_the_next_one(r, alice):
    laptop, _, phone, phone_key = two_devices()
    revoke_from(laptop, phone_key)
    assert phone.get("/read/").json()["user"] is None  # a JSON view: no place for it
    shown = phone.get("/messages/").content.decode()
    assert shown == f"<p class='message info'>{NOTICE}</p>"
    assert phone.get("/messages/").content.decode() == ""


def test_a_session_that_expired_is_told_too(r, alice):
    laptop, laptop_key, _, _ = two_devices()
    r.delete(keys.session_redis_key(_prefix(), keys.digest(laptop_key)))  # Redis expired it
    response = laptop.get("/account/sessions/", follow=True)
    assert NOTICE in response.content.decode()


@pytest.mark.django_db(transaction=True)
async def test_the_async_path_tells_too(r, alice):
    laptop, _, _, phone_key = await sync_to_async(two_devices)()
    await sync_to_async(revoke_from)(laptop, phone_key)
    client = AsyncClient(HTTP_USER_AGENT=CHROME)
    client.cookies["sessionid"] = phone_key
    first = await client.get("/amessages/")
    assert first.status_code == 200
    shown = (await client.get("/amessages/")).content.decode()
    assert shown == f"<p class='message info'>{NOTICE}</p>"


def test_a_visitor_who_never_signed_in_sees_no_notice(r, alice):
    visitor = Client()
    response = visitor.get("/account/sessions/", follow=True)
    assert response.redirect_chain == [("/accounts/login/?next=/account/sessions/", 302)]
    assert NOTICE not in response.content.decode()
    assert "<p id='ended'>" not in visitor.get("/notice/").content.decode()
    # Nor one whose cookie was never a session key (malformed: never looked up).
    forged = Client()
    forged.cookies["sessionid"] = "not a session key"
    assert forged.get("/notice/").content.decode() == ""
    assert forged.get("/messages/").content.decode() == ""


def test_a_signed_in_browser_that_signs_itself_out_sees_no_notice(r, alice):
    laptop, _, _, _ = two_devices()
    assert laptop.post("/logout/").status_code == 200
    assert laptop.get("/notice/").content.decode() == ""
    assert laptop.get("/messages/").content.decode() == ""


def test_header_clients_get_no_notice(r, alice, settings):
    settings.SESSIONS_HEADER_NAME = "HTTP_X_SESSION_ID"
    settings.MIDDLEWARE = [
        "django_redis_sessions.middleware.HeaderSessionMiddleware"
        if m == "django.contrib.sessions.middleware.SessionMiddleware"
        else m
        for m in settings.MIDDLEWARE
    ]
    laptop, _, phone, phone_key = two_devices()
    revoke_from(laptop, phone_key)
    api_client = Client()
    response = api_client.get("/notice/", headers={"X-Session-Id": phone_key})
    assert response["X-Session-Id"] == ""  # "forget your key": it was seen as ended
    assert response.content.decode() == ""
    assert "messages" not in response.cookies
    # The same key as a cookie is told.
    phone.cookies["sessionid"] = phone_key
    assert "<p id='ended'>" in phone.get("/notice/").content.decode()


def _prefix() -> str:
    from django_redis_sessions.conf import conf

    return str(conf.SESSION_REDIS_PREFIX)


# -- the admin index ---------------------------------------------------------------------


def test_the_admin_index_offers_view_not_change_on_sessions(r: Any, admin_client: Client) -> None:
    page = admin_client.get("/admin/").content.decode()
    row = re.search(r'<tr class="model-redissession[^"]*">(.*?)</tr>', page, re.S)
    assert row, page
    cells = row.group(1)
    assert f'<a href="{CHANGELIST}"' in cells  # the name still links the page
    assert f'<a href="{CHANGELIST}" class="viewlink"' in cells
    assert "changelink" not in cells
    assert "addlink" not in cells
    # Django's own models keep their "Change" (the superuser may change users).
    assert 'class="changelink"' in page
    assert admin_client.get(CHANGELIST).status_code == 200


# -- dates -----------------------------------------------------------------------------

ABSOLUTE = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


def test_dates_have_one_format_with_the_timezone_everywhere(r, alice, settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    laptop, _, _, _ = two_devices()
    page = laptop.get("/account/sessions/").content.decode()
    # Last active: relative, with the absolute date as its title.
    assert re.search(rf'<time datetime="[0-9T:+.-]+" title="{ABSOLUTE}">just now</time>', page), (
        page
    )
    # Signed in: the absolute date.
    assert re.search(rf'<time datetime="[0-9T:+.-]+">{ABSOLUTE}</time>', page)
    assert re.search(rf'aria-label="Sign out [^"]*, last active {ABSOLUTE}"', page)

    admin = Client()
    from django.contrib.auth import get_user_model

    admin.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    for url in (
        CHANGELIST,
        f"{CHANGELIST}user/{alice.pk}/",
        f"{CHANGELIST}user/{alice.pk}/revoke-all/",
    ):
        shown = admin.get(url).content.decode()
        times = re.findall(r"<time [^>]*>[^<]*</time>", shown)
        assert times, url
        for time in times:
            assert re.search(ABSOLUTE, time), (url, time)
        # Never Django's default "Dec. 4, 2026, 2:47 a.m." (no timezone).
        assert not re.search(r"\b[ap]\.m\.", shown), url

    # The JSON API keeps ISO 8601.
    data = laptop.get("/account/sessions/api/").json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", data["sessions"][0]["last_seen"])

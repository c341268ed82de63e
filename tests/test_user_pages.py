"""The user's own "your sessions" pages, over HTTP against the real Redis.

``account/sessions/`` (HTML, works without JavaScript) and ``account/sessions/api/``
(JSON): who may see what, signing one session out, signing out every other one,
CSRF, methods, and what the HTML gives assistive technology.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.signals import user_logged_out
from django.test import Client

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys

from .helpers import index_members, login, redis_key
from .test_commands_at_scale import FIELDS

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

PAGE = "/account/sessions/"
API = "/account/sessions/api/"
REVOKE_OTHERS = "/account/sessions/revoke-others/"
API_REVOKE_OTHERS = "/account/sessions/api/revoke-others/"

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)

#: (user agent, REMOTE_ADDR, a word the readable device must contain)
DEVICES = [
    (FIREFOX, "203.0.113.10", "Firefox"),
    (IPHONE, "2001:db8::7", "iPhone"),
    (CHROME, "198.51.100.23", "Chrome"),
]

#: The JSON view's fields: list_sessions --json's, plus the device it shows.
JSON_FIELDS = FIELDS | {"device"}


def revoke_url(fingerprint: str) -> str:
    return f"/account/sessions/{fingerprint}/revoke/"


def api_revoke_url(fingerprint: str) -> str:
    return f"/account/sessions/api/{fingerprint}/revoke/"


def client_for(user_agent: str, ip: str, **kwargs: Any) -> Client:
    return Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip, **kwargs)


def signed_in_client(
    user_agent: str = FIREFOX,
    ip: str = "203.0.113.10",
    username: str = "alice",
    password: str = "pw-alice",
    **kwargs: Any,
) -> tuple[Client, str]:
    """A client signed in through ``/login/``, and its session key."""
    client = client_for(user_agent, ip, **kwargs)
    key = login(client, username, password)
    return client, key


def reader(client: Client) -> str | None:
    """Who ``client`` is signed in as, seen by an ordinary view."""
    response = client.get("/read/")
    assert response.status_code == 200
    user: str | None = response.json()["user"]
    return user


def auth_session(user: Any, **meta: str) -> SessionStore:
    """A session of ``user`` as Django's login stores it, saved to Redis."""
    session = SessionStore()
    if meta:
        session.record_client(meta)
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    assert session.session_key is not None
    return session


def fp(key: str) -> str:
    return keys.fingerprint(key)


class Page(HTMLParser):
    """What the sessions page shows, read the way a browser without JS would."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self.captions: list[str] = []
        self.scripts = 0
        self.forms: list[dict[str, Any]] = []
        self.buttons: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any]] = []
        self.messages: list[str] = []
        self._text_into: list[str] | None = None
        self._row: dict[str, Any] | None = None
        self._button: dict[str, Any] | None = None
        self._in_messages = False
        self._message: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "h1":
            self.h1.append("")
            self._text_into = self.h1
        elif tag == "caption":
            self.captions.append("")
            self._text_into = self.captions
        elif tag == "script":
            self.scripts += 1
        elif tag == "form":
            self.forms.append({"attrs": a, "inputs": {}, "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"][a.get("name", "")] = a.get("value", "")
        elif tag == "button":
            self._button = {"attrs": a, "text": ""}
            self.buttons.append(self._button)
            if self.forms:
                self.forms[-1]["buttons"].append(self._button)
        elif tag == "tr" and "data-fingerprint" in a:
            self._row = {"fingerprint": a["data-fingerprint"], "cells": [], "form": None}
            self.rows.append(self._row)
        elif tag in ("th", "td") and self._row is not None:
            self._cell = []
        elif tag == "ul" and "messages" in a.get("class", "").split():
            self._in_messages = True
            assert a.get("role") == "status"
        elif tag == "li" and self._in_messages:
            self._message = []
        if tag == "form" and self._row is not None:
            self._row["form"] = self.forms[-1]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("h1", "caption"):
            self._text_into = None
        elif tag == "button":
            self._button = None
        elif tag == "tr":
            self._row = None
        elif tag in ("th", "td") and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "ul":
            self._in_messages = False
        elif tag == "li" and self._message is not None:
            self.messages.append("".join(self._message).strip())
            self._message = None

    def handle_data(self, data: str) -> None:
        if self._text_into is not None:
            self._text_into[-1] += data
        if self._button is not None:
            self._button["text"] += data
        if self._cell is not None:
            self._cell.append(data)
        if self._message is not None:
            self._message.append(data)

    def row(self, fingerprint: str) -> dict[str, Any]:
        (match,) = [row for row in self.rows if row["fingerprint"] == fingerprint]
        return match

    @property
    def fingerprints(self) -> list[str]:
        return [row["fingerprint"] for row in self.rows]

    def revoke_others_form(self) -> dict[str, Any] | None:
        forms = [f for f in self.forms if f["attrs"].get("action") == REVOKE_OTHERS]
        assert len(forms) <= 1
        return forms[0] if forms else None


def page_of(client: Client, query: str = "") -> tuple[Page, str]:
    response = client.get(PAGE + query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    return Page(html), html


@pytest.fixture
def three(r, alice):
    """Alice signed in from three clients (different browsers and addresses)."""
    return [signed_in_client(ua, ip) for ua, ip, _ in DEVICES]


@pytest.fixture
def bobs(r, bob):
    """Bob signed in from two clients."""
    return [
        signed_in_client(FIREFOX, "192.0.2.1", "bob", "pw-bob"),
        signed_in_client(CHROME, "192.0.2.2", "bob", "pw-bob"),
    ]


# -- anonymous visitors --------------------------------------------------------------


def test_anonymous_page_redirects_to_login_with_next(r, settings):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next={PAGE}"


def test_anonymous_page_login_round_trip_lands_on_the_page(r, alice):
    client = Client(HTTP_USER_AGENT=FIREFOX)
    response = client.get(PAGE, follow=True)
    assert response.redirect_chain[-1][0].startswith("/accounts/login/?next=")
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "pw-alice", "next": PAGE},
        follow=True,
    )
    assert response.redirect_chain == [(PAGE, 302)]
    page = Page(response.content.decode())
    assert page.fingerprints == [fp(client.cookies["sessionid"].value)]


def test_anonymous_api_list_is_401_json(r):
    response = Client().get(API)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Authentication required."}


def test_anonymous_posts_revoke_nothing(r, alice, three):
    victim = fp(three[0][1])
    anonymous = Client()
    anonymous.get("/read/")  # an anonymous session of its own must not matter

    for url in (revoke_url(victim), REVOKE_OTHERS):
        response = anonymous.post(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    for url in (api_revoke_url(victim), API_REVOKE_OTHERS):
        response = anonymous.post(url)
        assert response.status_code == 401
        assert response.json() == {"error": "Authentication required."}

    assert len(index_members(r, alice.pk)) == 3
    for client, key in three:
        assert r.exists(redis_key(key))
        assert reader(client) == "alice"


# -- the listing -----------------------------------------------------------------------


def test_page_lists_exactly_the_users_sessions_with_ip_device_and_this_device(
    r, alice, three, bobs
):
    current_client, current_key = three[1]
    page, html = page_of(current_client)

    assert sorted(page.fingerprints) == sorted(fp(key) for _, key in three)
    for (_, key), (ua, ip, word) in zip(three, DEVICES, strict=True):
        assert ua not in html  # readable text, not the raw header
        row = page.row(fp(key))
        device_cell, ip_cell = row["cells"][0], row["cells"][1]
        assert word in device_cell
        assert ip_cell == ip
        assert ("(this device)" in device_cell) == (key == current_key)
    assert html.count("(this device)</strong>") == 1
    assert page.row(fp(current_key))["cells"][0].endswith("(this device)")
    # The device text comes from ua-parser, not the raw header.
    assert "Firefox 128" in page.row(fp(three[0][1]))["cells"][0]

    # Bob's sessions exist but are nowhere on Alice's page.
    for _, bob_key in bobs:
        assert r.exists(redis_key(bob_key))
        assert fp(bob_key) not in html
    assert "192.0.2." not in html


def test_no_session_key_in_html_or_json(r, alice, three, bobs):
    client = three[0][0]
    _, html = page_of(client)
    body = client.get(API).content.decode()
    for _, key in [*three, *bobs]:
        assert key not in html
        assert key not in body
        # nor the digest Redis stores it under (only its 12-digit prefix)
        assert keys.digest(key) not in html
        assert keys.digest(key) not in body


def test_json_list_fields(r, alice, three, bobs):
    client, current_key = three[2]
    response = client.get(API)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"sessions", "total", "offset", "limit", "next", "previous"}
    assert (data["total"], data["offset"], data["limit"]) == (3, 0, 50)
    assert data["next"] is data["previous"] is None
    sessions = data["sessions"]
    assert sorted(s["fingerprint"] for s in sessions) == sorted(fp(k) for _, k in three)
    assert [s["current"] for s in sessions].count(True) == 1
    by_fp = {s["fingerprint"]: s for s in sessions}
    assert by_fp[fp(current_key)]["current"] is True
    for (_, key), (ua, ip, word) in zip(three, DEVICES, strict=True):
        item = by_fp[fp(key)]
        assert set(item) == JSON_FIELDS
        assert item["user_id"] == str(alice.pk)
        assert item["ip"] == ip
        assert item["user_agent"] == ua
        assert word in item["device"]
        times = {
            name: datetime.fromisoformat(item[name])
            for name in ("created", "last_seen", "idle_expiry", "absolute_expiry", "expires")
        }
        for when in times.values():
            offset = when.utcoffset()
            assert offset is not None
            assert offset.total_seconds() == 0
        assert times["created"] <= times["last_seen"] < times["expires"]
        assert times["expires"] == min(times["idle_expiry"], times["absolute_expiry"])
    # Most recently active first.
    seen = [datetime.fromisoformat(s["last_seen"]) for s in sessions]
    assert seen == sorted(seen, reverse=True)


def test_json_list_matches_the_page(r, alice, three):
    client = three[0][0]
    page, _ = page_of(client)
    api_fps = [s["fingerprint"] for s in client.get(API).json()["sessions"]]
    assert sorted(api_fps) == sorted(page.fingerprints)


def test_single_session_has_no_sign_out_others_button(r, alice):
    client, key = signed_in_client()
    page, html = page_of(client)
    assert page.fingerprints == [fp(key)]
    assert page.revoke_others_form() is None
    assert "Sign out all other sessions" not in html
    assert page.row(fp(key))["cells"][0].endswith("(this device)")


def test_revoke_others_with_no_other_sessions(r, alice, revocations):
    client, key = signed_in_client()
    response = client.post(API_REVOKE_OTHERS)
    assert response.status_code == 200
    assert response.json() == {"revoked": 0}

    response = client.post(REVOKE_OTHERS, follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    page = Page(response.content.decode())
    assert page.messages == ["0 other sessions were signed out."]
    assert page.fingerprints == [fp(key)]
    assert reader(client) == "alice"
    assert revocations == []


def test_sessions_without_metadata_show_unknowns(r, alice):
    bare = auth_session(alice)
    client, _ = signed_in_client()
    page, _ = page_of(client)
    row = page.row(fp(bare.session_key))
    assert row["cells"][0] == "Unknown device"
    assert row["cells"][1] == "unknown"
    (button,) = row["form"]["buttons"]
    # Rows that look alike still get distinct labels: the last activity is in it.
    assert button["attrs"]["aria-label"].startswith("Sign out this session, last active ")
    item = next(
        s for s in client.get(API).json()["sessions"] if s["fingerprint"] == fp(bare.session_key)
    )
    assert item["ip"] is None
    assert item["user_agent"] is None
    assert item["device"] == ""


def test_hostile_user_agent_is_escaped(r, alice):
    hostile = '<script>alert(1)</script>" onmouseover="alert(2)'
    signed_in_client(hostile, "203.0.113.99")
    client, _ = signed_in_client()
    page, html = page_of(client)
    assert "<script>" not in html
    assert page.scripts == 0
    for button in page.buttons:
        assert "onmouseover" not in button["attrs"]
    row = next(row for row in page.rows if "alert(1)" in row["cells"][0])
    assert row["cells"][0] == hostile
    (button,) = row["form"]["buttons"]
    assert button["attrs"]["aria-label"].startswith(
        f"Sign out {hostile}, 203.0.113.99, last active"
    )


def test_a_hundred_sessions(r, alice):
    sessions = [
        auth_session(alice, ip=f"10.0.{i // 250}.{i % 250 + 1}", ua=f"Agent/{i}")
        for i in range(100)
    ]
    client = Client()
    client.cookies["sessionid"] = str(sessions[42].session_key)
    assert reader(client) == "alice"

    # Two pages of 50: this device first on page 1, every session on one of them.
    page, html = page_of(client)
    second, html_2 = page_of(client, "?page=2")
    assert len(page.rows) == len(second.rows) == 50
    assert page.fingerprints[0] == fp(sessions[42].session_key)
    assert sorted(page.fingerprints + second.fingerprints) == sorted(
        fp(s.session_key) for s in sessions
    )
    assert html.count("(this device)</strong>") == 1
    assert "(this device)</strong>" not in html_2
    assert page.row(fp(sessions[42].session_key))["cells"][0].endswith("(this device)")
    assert page.revoke_others_form() is not None
    assert second.revoke_others_form() is not None
    listed = client.get(API).json()
    assert (len(listed["sessions"]), listed["total"]) == (50, 100)

    response = client.post(API_REVOKE_OTHERS)
    assert response.json() == {"revoked": 99}
    assert index_members(r, alice.pk) == {keys.digest(sessions[42].session_key)}


# -- signing one session out -----------------------------------------------------------


def test_sign_out_one_session(r, alice, three, revocations):
    (client, current), (gone_client, gone), (other_client, other) = three
    response = client.post(revoke_url(fp(gone)))
    assert response.status_code == 302
    assert response["Location"] == PAGE

    assert reader(gone_client) is None
    assert not r.exists(redis_key(gone))
    assert reader(client) == "alice"
    assert reader(other_client) == "alice"
    assert index_members(r, alice.pk) == {keys.digest(current), keys.digest(other)}

    page, _ = page_of(client)
    assert page.messages == ["That session was signed out."]
    assert sorted(page.fingerprints) == sorted([fp(current), fp(other)])
    # The message is shown once.
    page, _ = page_of(client)
    assert page.messages == []

    (sent,) = revocations
    assert sent["by"] == "user"
    assert sent["actor"] == alice
    assert sent["user_id"] == str(alice.pk)
    assert sent["fingerprints"] == (fp(gone),)
    assert sent["count"] == 1


def test_revoked_client_is_sent_to_login_by_the_page(r, alice, three):
    (client, _), (gone_client, gone), _ = three
    client.post(revoke_url(fp(gone)))
    response = gone_client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_sign_out_one_session_twice_is_404(r, alice, three):
    (client, _), (_, gone), _ = three
    assert client.post(revoke_url(fp(gone))).status_code == 302
    assert client.post(revoke_url(fp(gone))).status_code == 404
    response = client.post(api_revoke_url(fp(gone)))
    assert response.status_code == 404
    assert response.json() == {"error": "No such session."}


def test_api_sign_out_one_session(r, alice, three, revocations):
    (client, _), (gone_client, gone), (other_client, _) = three
    response = client.post(api_revoke_url(fp(gone)))
    assert response.status_code == 200
    assert response.json() == {"revoked": 1, "signed_out": False}
    assert reader(gone_client) is None
    assert reader(other_client) == "alice"
    assert reader(client) == "alice"
    assert [s["by"] for s in revocations] == ["user"]
    assert revocations[0]["actor"] == alice


def forged_fingerprints(bob_key: str, own_key: str, own_keys: list[str]) -> list[str]:
    # An all-digit fingerprint (about 1 in 280) is its own upper case: pick one with a letter.
    lettered = next(fp(k) for k in own_keys if not fp(k).isdigit())
    return [
        fp(bob_key),  # a real session, of somebody else
        secrets.token_hex(6),  # well-formed, nobody's
        "zz",
        "zzzzzzzzzzzz",
        fp(own_key) + "0",  # too long
        fp(own_key)[:-1],  # too short
        lettered.upper(),  # not lowercase
        keys.digest(own_key),  # the full digest is not a fingerprint
        own_key,  # nor the session key itself
        "%20" + fp(own_key)[1:],
    ]


def test_forged_fingerprints_are_404_and_end_nothing(r, alice, bob, three, bobs, revocations):
    client, own = three[0]
    bob_client, bob_key = bobs[0]
    for forged in forged_fingerprints(bob_key, own, [k for _, k in three]):
        response = client.post(revoke_url(forged))
        assert response.status_code == 404, forged
        response = client.post(api_revoke_url(forged))
        assert response.status_code == 404, forged
        assert response.json() == {"error": "No such session."}

    assert revocations == []
    assert r.exists(redis_key(bob_key))
    assert reader(bob_client) == "bob"
    assert len(index_members(r, bob.pk)) == 2
    assert len(index_members(r, alice.pk)) == 3
    assert reader(client) == "alice"


def test_anonymous_session_fingerprint_is_404(r, alice):
    anonymous = Client()
    anonymous.post("/write/", data=json.dumps({"cart": 1}), content_type="application/json")
    anon_key = anonymous.cookies["sessionid"].value
    client, _ = signed_in_client()
    assert client.post(revoke_url(fp(anon_key))).status_code == 404
    assert r.exists(redis_key(anon_key))
    assert anonymous.get("/read/").json()["data"] == {"cart": 1}


def test_sign_out_this_device_logs_out(r, alice, three, settings, revocations):
    logged_out: list[Any] = []

    def on_logout(sender: Any, user: Any, **kwargs: Any) -> None:
        logged_out.append(user)

    user_logged_out.connect(on_logout)
    try:
        (client, current), (other_client, _), _ = three
        response = client.post(revoke_url(fp(current)))
    finally:
        user_logged_out.disconnect(on_logout)

    assert response.status_code == 302
    assert response["Location"] == settings.LOGIN_URL
    assert logged_out == [alice]
    assert reader(client) is None
    assert not r.exists(redis_key(current))
    assert keys.digest(current) not in index_members(r, alice.pk)
    assert reader(other_client) == "alice"
    assert len(index_members(r, alice.pk)) == 2
    # Ending one's own session is a sign-out: Django's user_logged_out, not
    # session_revoked (views._end).
    assert revocations == []


def test_sign_out_this_device_honours_a_named_login_url(r, alice, settings):
    settings.LOGIN_URL = "login"
    client, key = signed_in_client()
    response = client.post(revoke_url(fp(key)))
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert reader(client) is None


def test_api_sign_out_this_device(r, alice, three):
    (client, current), (other_client, _), _ = three
    response = client.post(api_revoke_url(fp(current)))
    assert response.status_code == 200
    assert response.json() == {"revoked": 1, "signed_out": True}
    assert reader(client) is None
    assert not r.exists(redis_key(current))
    assert reader(other_client) == "alice"
    assert client.get(API).status_code == 401


# -- signing out every other session ----------------------------------------------------


def test_sign_out_all_other_sessions(r, alice, three, bobs, revocations):
    (client, current), (c2, k2), (c3, k3) = three
    response = client.post(REVOKE_OTHERS)
    assert response.status_code == 302
    assert response["Location"] == PAGE

    assert reader(client) == "alice"
    assert reader(c2) is None
    assert reader(c3) is None
    assert index_members(r, alice.pk) == {keys.digest(current)}
    for bob_client, _ in bobs:
        assert reader(bob_client) == "bob"

    page, _ = page_of(client)
    assert page.messages == ["2 other sessions were signed out."]
    assert page.fingerprints == [fp(current)]
    assert page.revoke_others_form() is None

    (sent,) = revocations
    assert sent["by"] == "user"
    assert sent["actor"] == alice
    assert sorted(sent["fingerprints"]) == sorted([fp(k2), fp(k3)])
    assert sent["count"] == 2


def test_sign_out_the_one_other_session_message_is_singular(r, alice):
    client, _ = signed_in_client()
    other, _ = signed_in_client(CHROME, "198.51.100.1")
    response = client.post(REVOKE_OTHERS, follow=True)
    assert Page(response.content.decode()).messages == ["1 other session was signed out."]
    assert reader(other) is None


def test_api_sign_out_all_other_sessions(r, alice, three, bobs):
    (client, current), (c2, _), (c3, _) = three
    response = client.post(API_REVOKE_OTHERS)
    assert response.status_code == 200
    assert response.json() == {"revoked": 2}
    assert reader(client) == "alice"
    assert reader(c2) is None
    assert reader(c3) is None
    assert [s["fingerprint"] for s in client.get(API).json()["sessions"]] == [fp(current)]
    assert all(reader(c) == "bob" for c, _ in bobs)


# -- methods ---------------------------------------------------------------------------


def test_methods(r, alice, three):
    client, _ = three[0]
    other = fp(three[1][1])
    for url in (revoke_url(other), REVOKE_OTHERS, api_revoke_url(other), API_REVOKE_OTHERS):
        response = client.get(url)
        assert response.status_code == 405, url
        assert response["Allow"] == "POST"
    for url in (PAGE, API):
        response = client.post(url)
        assert response.status_code == 405, url
        assert response["Allow"] == "GET, HEAD"
    assert len(index_members(r, alice.pk)) == 3
    assert all(reader(c) == "alice" for c, _ in three)


def test_get_on_revoke_urls_is_405_for_anonymous_too(r, alice, three):
    other = fp(three[1][1])
    for url in (revoke_url(other), REVOKE_OTHERS, api_revoke_url(other), API_REVOKE_OTHERS):
        assert Client().get(url).status_code == 405


# -- CSRF -----------------------------------------------------------------------------


@pytest.fixture
def guarded(r, alice):
    """Alice from a CSRF-enforcing browser plus two other signed-in clients."""
    client, key = signed_in_client(enforce_csrf_checks=True)
    others = [signed_in_client(ua, ip) for ua, ip, _ in DEVICES[1:]]
    return client, key, others


def test_csrf_html_post_without_token_is_403(guarded):
    client, _, others = guarded
    target = fp(others[0][1])
    assert client.post(revoke_url(target)).status_code == 403
    assert client.post(REVOKE_OTHERS).status_code == 403
    # A wrong token is no better.
    page_of(client)  # sets the csrftoken cookie
    assert client.post(REVOKE_OTHERS, {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert all(reader(c) == "alice" for c, _ in others)


def test_csrf_html_forms_carry_a_working_token(guarded):
    client, _, others = guarded
    page, _ = page_of(client)
    target = fp(others[0][1])
    form = page.row(target)["form"]
    token = form["inputs"]["csrfmiddlewaretoken"]
    response = client.post(form["attrs"]["action"], {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert reader(others[0][0]) is None
    assert reader(others[1][0]) == "alice"

    page, _ = page_of(client)
    form = page.revoke_others_form()
    assert form is not None
    response = client.post(
        form["attrs"]["action"],
        {"csrfmiddlewaretoken": form["inputs"]["csrfmiddlewaretoken"]},
        follow=True,
    )
    assert response.status_code == 200
    assert Page(response.content.decode()).messages == ["1 other session was signed out."]
    assert reader(others[1][0]) is None
    assert reader(client) == "alice"


def test_csrf_json_api_needs_the_header(guarded):
    client, _, others = guarded
    target = fp(others[0][1])
    assert client.post(api_revoke_url(target)).status_code == 403
    assert client.post(API_REVOKE_OTHERS).status_code == 403
    assert all(reader(c) == "alice" for c, _ in others)

    page_of(client)  # a page with a form sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = client.post(api_revoke_url(target), HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert response.json() == {"revoked": 1, "signed_out": False}
    assert reader(others[0][0]) is None

    response = client.post(API_REVOKE_OTHERS, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert response.json() == {"revoked": 1}
    assert reader(others[1][0]) is None
    assert reader(client) == "alice"


def test_csrf_json_api_wrong_header_is_403(guarded):
    client, _, others = guarded
    page_of(client)
    response = client.post(API_REVOKE_OTHERS, HTTP_X_CSRFTOKEN="y" * 32)
    assert response.status_code == 403
    assert all(reader(c) == "alice" for c, _ in others)


# -- templates and accessibility ----------------------------------------------------------


def test_page_structure_and_accessibility(r, alice, three):
    client, _ = three[0]
    response = client.get(PAGE)
    templates = [t.name for t in response.templates]
    assert "django_redis_sessions/sessions.html" in templates
    assert "django_redis_sessions/base.html" in templates
    html = response.content.decode()
    page = Page(html)

    assert '<html lang="en-us" dir="ltr">' in html  # the active language (LANGUAGE_CODE)
    assert "<title>Your sessions</title>" in html
    assert page.h1 == ["Your sessions"]
    assert page.captions == ["Signed-in sessions"]
    assert page.scripts == 0
    assert 'aria-labelledby="drs-sessions-heading"' in html
    assert '<th scope="col">Device</th>' in html
    # A name for the action column, for screen readers only.
    assert '<span class="visually-hidden">Action</span>' in html

    # One plain POST form per session, pointing at its own revoke URL, each with a
    # token and a button whose accessible name says which session it signs out.
    assert len(page.rows) == 3
    for row in page.rows:
        form = row["form"]
        assert form["attrs"]["method"] == "post"
        assert form["attrs"]["action"] == revoke_url(row["fingerprint"])
        assert form["inputs"]["csrfmiddlewaretoken"]
        (button,) = form["buttons"]
        assert button["attrs"]["type"] == "submit"
        assert button["text"].strip() == "Sign out"
        label = button["attrs"]["aria-label"]
        device = row["cells"][0].removesuffix(" (this device)")
        assert label.startswith(f"Sign out {device}")
        assert ("(this device)" in label) == row["cells"][0].endswith("(this device)")
    labels = [b["attrs"]["aria-label"] for b in page.buttons if "aria-label" in b["attrs"]]
    assert len(labels) == len(set(labels)) == 3

    form = page.revoke_others_form()
    assert form is not None
    assert form["attrs"]["method"] == "post"
    assert form["inputs"]["csrfmiddlewaretoken"]
    (button,) = form["buttons"]
    assert button["attrs"]["type"] == "submit"
    assert button["text"].strip() == "Sign out all other sessions"


def test_messages_have_a_status_role(r, alice, three):
    client, _ = three[0]
    response = client.post(revoke_url(fp(three[1][1])), follow=True)
    html = response.content.decode()
    assert '<ul class="messages" role="status">' in html
    assert Page(html).messages == ["That session was signed out."]


CUSTOM_BASE = (
    "<!DOCTYPE html><html lang='en'><head><title>{% block title %}{% endblock %}"
    " | Example site</title></head><body><nav id='custom-base-marker'>Site nav</nav>"
    "{% block content %}{% endblock %}</body></html>"
)


@pytest.fixture
def custom_base(settings):
    """A project base template (in a locmem loader, so no file is needed)."""
    settings.TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": settings.TEMPLATES[0]["DIRS"],
            "APP_DIRS": False,
            "OPTIONS": {
                "context_processors": settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {"site/custom_base.html": CUSTOM_BASE},
                    ),
                    "django.template.loaders.filesystem.Loader",
                    "django.template.loaders.app_directories.Loader",
                ],
            },
        }
    ]
    settings.SESSIONS_BASE_TEMPLATE = "site/custom_base.html"


def test_base_template_setting(r, alice, custom_base):
    client, key = signed_in_client()
    response = client.get(PAGE)
    assert response.status_code == 200
    templates = [t.name for t in response.templates]
    assert "site/custom_base.html" in templates
    assert "django_redis_sessions/base.html" not in templates
    html = response.content.decode()
    assert "custom-base-marker" in html
    assert "<title>Your sessions | Example site</title>" in html
    page = Page(html)
    assert page.h1 == ["Your sessions"]
    assert page.fingerprints == [fp(key)]
    # The default base's frame and styles are gone; the list keeps its own styles.
    assert 'id="drs-back"' not in html
    assert "--drs-fg" not in html
    assert ".drs-sessions td[data-label]::before" in html


def test_base_template_setting_change_is_picked_up(r, alice, settings, custom_base):
    client, _ = signed_in_client()
    assert "custom-base-marker" in client.get(PAGE).content.decode()
    settings.SESSIONS_BASE_TEMPLATE = "django_redis_sessions/base.html"
    assert "custom-base-marker" not in client.get(PAGE).content.decode()

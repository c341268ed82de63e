"""Paged user pages: ``api.user_sessions_page`` and the three pages built on it.

A user with a few hundred sessions, against the real Redis: the user's own page
(HTML and JSON) and the admin's page for that user, through Django's test client.
Sessions are built through the engine (a save each, no login), their last
activity set straight in Redis so the expected order is known. Device names are
recorded with the user agent (``request_meta.client_meta``) and read back from
the records: the parser is made to fail while the pages are viewed.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.test import Client, RequestFactory

from django_redis_sessions import api, devices
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.request_meta import client_meta
from django_redis_sessions.storage import keys, record

from .helpers import index_members, load_scripts, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

PAGE = "/account/sessions/"
API = "/account/sessions/api/"
REVOKE_OTHERS = "/account/sessions/revoke-others/"
ADMIN_USER = "/admin/django_redis_sessions/redissession/user/{pk}/"
MANY = 230
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
factory = RequestFactory()
#: The cached parser itself (tests put stand-ins in its place).
describe = devices.describe_user_agent


def agent(i: int) -> str:
    """A distinct Firefox user agent per session (a different major version)."""
    return FIREFOX.replace("128.0", f"{i + 1}.0")


def recorded_meta(user_agent: str, ip: str) -> dict[str, str]:
    """What the request-metadata middleware records for such a request."""
    return client_meta(factory.get("/", HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip))


def auth_session(user: Any, meta: dict[str, str]) -> str:
    """A session of ``user`` as Django's login stores it, with ``meta``; its key."""
    session = SessionStore()
    session.record_client(meta)
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    assert session.session_key is not None
    return session.session_key


def set_seen(r: Any, key: str, seen: int) -> None:
    r.setrange(redis_key(key), record.SEEN_OFFSET, record.field(seen))


def fp(key: str) -> str:
    return keys.fingerprint(key)


@pytest.fixture(autouse=True)
def _fresh_parser_cache() -> Any:
    describe.cache_clear()
    yield
    describe.cache_clear()


@pytest.fixture
def many(r: Any, alice: Any) -> list[str]:
    """``MANY`` sessions of alice, most recently active first (each 10 s apart,
    written in a shuffled order so neither creation nor index order gives it)."""
    now = int(time.time())
    order = list(range(MANY))
    random.Random(19).shuffle(order)
    made: dict[int, str] = {}
    for i in order:
        key = auth_session(alice, recorded_meta(agent(i), f"10.0.{i // 200}.{i % 200 + 1}"))
        set_seen(r, key, now - 60 - 10 * i)
        made[i] = key
    return [made[i] for i in range(MANY)]


def viewer(key: str) -> Client:
    """A browser presenting ``key`` (it sends no user agent of its own)."""
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def page_rows(html: str) -> list[str]:
    """Fingerprints of the user page's rows, in page order."""
    return re.findall(r'<tr class="drs-session" data-fingerprint="([0-9a-f]+)"', html)


def admin_rows(html: str) -> list[str]:
    return re.findall(r'<tr class="session" data-fingerprint="([0-9a-f]+)">', html)


def boom(*args: Any, **kwargs: Any) -> str:
    raise AssertionError("a user agent was parsed while a page was viewed")


# -- the API -------------------------------------------------------------------------


def test_pages_follow_last_activity_and_count_every_session(many, alice):
    first = api.user_sessions_page(alice, offset=0, limit=50)
    assert first.total == MANY
    assert (first.offset, first.limit) == (0, 50)
    assert [s.fingerprint for s in first.sessions] == [fp(k) for k in many[:50]]
    assert (first.has_next, first.has_previous) == (True, False)
    seen = [s.last_seen for s in first.sessions]
    assert seen == sorted(seen, reverse=True)

    last = api.user_sessions_page(alice, offset=200, limit=50)
    assert [s.fingerprint for s in last.sessions] == [fp(k) for k in many[200:]]
    assert (last.total, last.has_next, last.has_previous) == (MANY, False, True)

    middle = api.user_sessions_page(alice, offset=35, limit=7)
    assert [s.fingerprint for s in middle.sessions] == [fp(k) for k in many[35:42]]
    # A window near the front (offset + limit under an eighth of the sessions)
    # keeps only its entries in order instead of sorting them all: same order.
    assert [s.fingerprint for s in api.user_sessions_page(alice, offset=0, limit=10).sessions] == [
        fp(k) for k in many[:10]
    ]
    assert [s.fingerprint for s in api.user_sessions_page(alice, offset=20, limit=5).sessions] == [
        fp(k) for k in many[20:25]
    ]

    past = api.user_sessions_page(alice, offset=MANY + 100, limit=50)
    assert (past.sessions, past.total) == ([], MANY)
    counted = api.user_sessions_page(alice, limit=0)
    assert (counted.sessions, counted.total) == ([], MANY)


async def test_the_async_twin_reads_the_same_page(many, alice):
    page = await api.auser_sessions_page(alice, offset=50, limit=25, current=many[120])
    assert page.total == MANY
    # The current session is listed first: on page 1, not on this one.
    assert [s.fingerprint for s in page.sessions] == [
        fp(k) for k in [key for key in many if key != many[120]][49:74]
    ]
    first = await api.auser_sessions_page(alice, offset=0, limit=3, current=many[120])
    assert [s.fingerprint for s in first.sessions] == [fp(many[120]), fp(many[0]), fp(many[1])]
    assert [s.current for s in first.sessions] == [True, False, False]


# A Cluster reads the headers across slots (test_cluster.py counts its round trips).
@pytest.mark.single_server
def test_one_round_trip_on_one_server(many, alice, count_round_trips):
    load_scripts()
    before = count_round_trips.round_trips
    page = api.user_sessions_page(alice, offset=100, limit=50)
    assert count_round_trips.round_trips - before == 1
    assert len(page.sessions) == 50


def test_an_ended_session_is_pruned_from_the_index(r, many, alice):
    gone = many[3]
    r.delete(redis_key(gone))
    assert keys.digest(gone) in index_members(r, alice.pk)
    page = api.user_sessions_page(alice, offset=0, limit=10)
    assert page.total == MANY - 1
    assert [s.fingerprint for s in page.sessions] == [fp(k) for k in [*many[:3], *many[4:11]]]
    assert keys.digest(gone) not in index_members(r, alice.pk)
    assert len(index_members(r, alice.pk)) == MANY - 1


def test_a_session_now_of_another_user_is_not_listed(r, alice, bob):
    mine = auth_session(alice, {})
    moved = auth_session(alice, {})
    # As if the session signed in as bob without its entry in alice's index going.
    raw = r.get(redis_key(moved))
    summary, data = record.split_record(raw)
    r.set(
        redis_key(moved),
        raw[: record.HEADER_LENGTH] + record.encode_meta(str(bob.pk), summary.meta) + data,
    )
    page = api.user_sessions_page(alice)
    assert [s.fingerprint for s in page.sessions] == [fp(mine)]
    assert page.total == 1


def test_with_data_decodes_the_page_only(many, alice):
    page = api.user_sessions_page(alice, offset=10, limit=5, with_data=True)
    assert page.data is not None
    assert set(page.data) == {s.fingerprint for s in page.sessions}
    assert all(value and value[SESSION_KEY] == str(alice.pk) for value in page.data.values())


# -- device names ----------------------------------------------------------------------


def test_the_device_name_is_recorded_with_the_user_agent(r, alice):
    client = Client(HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="203.0.113.5")
    response = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    meta = record.decode(r.get(redis_key(key))).meta
    assert meta[record.META_USER_AGENT] == FIREFOX
    assert meta[record.META_DEVICE] == "Firefox 128 on Windows 10"
    # An agent the parser cannot describe better is not stored twice.
    unknown = recorded_meta("x" * 300, "203.0.113.5")
    assert unknown[record.META_USER_AGENT] == "x" * 256
    assert unknown[record.META_DEVICE] == ""


def test_the_device_name_moves_with_the_session(r, alice, settings):
    settings.SESSIONS_ROTATE_AFTER = 60
    settings.SESSIONS_ROTATE_GRACE = 30
    firefox = Client(HTTP_USER_AGENT=FIREFOX)
    firefox.post("/write/", data=b'{"a": 1}', content_type="application/json")
    anonymous = firefox.cookies[settings.SESSION_COOKIE_NAME].value
    name = record.decode(r.get(redis_key(anonymous))).meta[record.META_DEVICE]
    assert name == "Firefox 128 on Windows 10"
    # Later requests send no user agent: what the new keys hold came from the old.
    quiet = viewer(anonymous)
    response = quiet.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    signed_in = quiet.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in != anonymous  # cycle_key
    assert record.decode(r.get(redis_key(signed_in))).meta[record.META_DEVICE] == name
    raw = r.get(redis_key(signed_in))
    created = record.read_field(raw, record.CREATED_OFFSET) - 120
    deadline = record.read_field(raw, record.DEADLINE_OFFSET) - 120
    aged = raw[:1] + record.field(created) + raw[9:17] + record.field(deadline) + raw[25:]
    r.set(redis_key(signed_in), aged, keepttl=True)
    assert quiet.get("/read/").status_code == 200
    rotated = quiet.cookies[settings.SESSION_COOKIE_NAME].value
    assert rotated != signed_in  # rotation
    after = record.decode(r.get(redis_key(rotated))).meta
    assert after[record.META_DEVICE] == name
    assert after[record.META_USER_AGENT] == FIREFOX


def test_a_device_name_is_capped(monkeypatch):
    class Long:
        family = "B" * 200
        major = "1"
        minor = None

    result = type("Result", (), {"user_agent": Long(), "os": None, "device": None})()
    monkeypatch.setattr(devices, "_parser", lambda: lambda _agent: result)
    name = devices.device_name("Some/1.0")
    assert name.startswith("BBB")
    assert len(name) == record.DEVICE_MAX_LENGTH


def test_pages_show_recorded_devices_without_parsing(many, alice, monkeypatch):
    client = viewer(many[0])
    admin = Client()
    admin.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    )
    monkeypatch.setattr(devices, "describe_user_agent", boom)
    html = client.get(PAGE).content.decode()
    assert "Firefox 1 on Windows 10" in html  # agent(0), this device
    assert "Firefox 50 on Windows 10" in html  # agent(49), last of page 1
    assert "Firefox 51 on" not in html
    data = client.get(API, {"limit": 5}).json()
    assert [s["device"] for s in data["sessions"]] == [
        f"Firefox {i + 1} on Windows 10" for i in range(5)
    ]
    admin_html = admin.get(ADMIN_USER.format(pk=alice.pk), {"p": 2}).content.decode()
    assert "Firefox 51 on Windows 10" in admin_html
    assert "Firefox 101 on Windows 10" not in admin_html


def test_records_without_a_device_are_parsed_for_the_page_only(r, alice, monkeypatch):
    now = int(time.time())
    old = []
    for i in range(60):
        # Written before device names were recorded: ip and ua only.
        key = auth_session(alice, {"ip": "198.51.100.1", "ua": agent(i)})
        set_seen(r, key, now - 60 - i)
        old.append(key)
    assert record.META_DEVICE not in record.decode(r.get(redis_key(old[0]))).meta
    parsed: list[str] = []
    original = devices.describe_user_agent

    def counting(user_agent: str | None) -> str:
        parsed.append(str(user_agent))
        return original(user_agent)

    monkeypatch.setattr(devices, "describe_user_agent", counting)
    html = viewer(old[0]).get(PAGE).content.decode()
    assert len(page_rows(html)) == 50
    assert "Firefox 1 on Windows 10" in html
    assert sorted(parsed) == sorted(agent(i) for i in range(50))


# -- the user's own page ----------------------------------------------------------------


def test_user_page_pages_by_last_activity(many):
    client = viewer(many[70])  # its own request makes it the most recent anyway
    html = client.get(PAGE).content.decode()
    others = [k for k in many if k != many[70]]
    assert page_rows(html) == [fp(k) for k in [many[70], *others[:49]]]
    assert html.count("(this device)</strong>") == 1
    assert f"{MANY} signed-in sessions" in html
    assert "Page 1 of 5" in html
    assert 'href="?page=2" rel="next"' in html

    third = client.get(PAGE, {"page": 3}).content.decode()
    assert page_rows(third) == [fp(k) for k in others[99:149]]
    assert "(this device)</strong>" not in third
    assert "This device is listed first on page 1" in third
    # Past the end: the last page, as Django's Paginator.get_page; a bad number: page 1.
    assert page_rows(client.get(PAGE, {"page": 99}).content.decode()) == [
        fp(k) for k in others[199:]
    ]
    assert page_rows(client.get(PAGE, {"page": "x"}).content.decode()) == page_rows(html)


def test_sign_out_all_others_from_page_two_ends_every_page(r, many, alice, revocations):
    own = many[5]
    client = viewer(own)
    second = client.get(PAGE, {"page": 2}).content.decode()
    assert 'id="drs-revoke-others"' in second
    response = client.post(REVOKE_OTHERS)
    assert response.status_code == 302
    assert index_members(r, alice.pk) == {keys.digest(own)}
    assert not any(r.exists(redis_key(k)) for k in many if k != own)
    after = client.get(PAGE).content.decode()
    assert page_rows(after) == [fp(own)]
    assert 'id="drs-revoke-others"' not in after
    assert sum(len(event["fingerprints"]) for event in revocations) == MANY - 1


def test_sign_out_all_others_needs_the_csrf_token(many, alice):
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.SESSION_COOKIE_NAME] = many[0]
    assert client.post(REVOKE_OTHERS).status_code == 403
    assert api.user_sessions_page(alice, limit=0).total == MANY


# -- the JSON API -------------------------------------------------------------------------


def test_json_api_pages_with_offset_and_limit(many):
    client = viewer(many[0])
    data = client.get(API, {"offset": 40, "limit": 20}).json()
    assert [s["fingerprint"] for s in data["sessions"]] == [fp(k) for k in many[40:60]]
    assert (data["total"], data["offset"], data["limit"]) == (MANY, 40, 20)
    assert data["next"] == "http://testserver/account/sessions/api/?offset=60&limit=20"
    assert data["previous"] == "http://testserver/account/sessions/api/?offset=20&limit=20"
    assert client.get(API, {"page": 3, "limit": 20}).json() == data

    default = client.get(API).json()
    assert (len(default["sessions"]), default["limit"], default["previous"]) == (50, 50, None)
    assert default["sessions"][0]["current"] is True

    end = client.get(API, {"offset": 220, "limit": 20}).json()
    assert [s["fingerprint"] for s in end["sessions"]] == [fp(k) for k in many[220:]]
    assert end["next"] is None
    past = client.get(API, {"offset": 1000, "limit": 20}).json()
    assert (past["sessions"], past["total"], past["next"]) == ([], MANY, None)
    assert past["previous"].endswith(f"?offset={MANY - 20}&limit=20")


@pytest.mark.parametrize(
    "query",
    [
        {"limit": 0},
        {"limit": 201},
        {"limit": "ten"},
        {"offset": -1},
        {"page": 0},
        {"page": 2, "offset": 50},
        {"offset": "9" * 5000},
    ],
)
def test_json_api_refuses_a_bad_window(many, query):
    response = viewer(many[0]).get(API, query)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


# -- the admin's page for the user ---------------------------------------------------------


def test_admin_user_page_pages_by_last_activity(many, alice):
    admin = Client()
    admin.force_login(
        get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    )
    url = ADMIN_USER.format(pk=alice.pk)
    first = admin.get(url).content.decode()
    assert admin_rows(first) == [fp(k) for k in many[:50]]
    assert f"{MANY} active sessions" in first
    assert "Page 1 of 5" in first
    fifth = admin.get(url, {"p": 5}).content.decode()
    assert admin_rows(fifth) == [fp(k) for k in many[200:]]
    assert admin_rows(admin.get(url, {"p": 50}).content.decode()) == admin_rows(fifth)
    confirm = admin.get(url + "revoke-all/").content.decode()
    assert f"({MANY} sessions)" in confirm
    assert f"and {MANY - 50} more" in confirm


def test_a_front_window_and_a_full_sort_agree_on_ties(r, alice):
    """Sessions with the same last activity: the partial selection of a front
    window (user_page.lua) breaks ties as the full sort does (created, then
    digest)."""
    now = int(time.time())
    made = [auth_session(alice, recorded_meta(agent(i), "10.1.0.1")) for i in range(90)]
    for i, key in enumerate(made):
        set_seen(r, key, now - 60 - 10 * (i % 3))  # three groups of 30 equal values
    everything = [s.fingerprint for s in api.user_sessions_page(alice, offset=0, limit=90).sessions]
    assert len(everything) == 90
    front = []
    for offset in range(0, 10, 2):  # windows of 2: each under an eighth of 90
        front += [
            s.fingerprint for s in api.user_sessions_page(alice, offset=offset, limit=2).sessions
        ]
    assert front == everything[:10]

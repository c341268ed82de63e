"""``SessionActivityMiddleware``: client metadata and a session cookie that slides.

Against the real Redis, through the test ``Client`` / ``AsyncClient`` with the
full middleware stack of ``tests/settings.py`` (the middleware right after
``SessionMiddleware``), and through ``RequestFactory`` where a view the test
URLs do not have is needed. The stored record is read straight from Redis.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.utils import timezone
from django.utils.http import parse_http_date

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import DEFAULT_ABSOLUTE_AGE
from django_redis_sessions.devices import device_name
from django_redis_sessions.middleware import SessionActivityMiddleware
from django_redis_sessions.storage import keys, record

from .helpers import index_members, login, redis_key, saved_key, saved_session

pytestmark = pytest.mark.real_redis

COOKIE = django_settings.SESSION_COOKIE_NAME
SECURITY_LOGGER = "django.security.SuspiciousSession"
DAY = 24 * 60 * 60
UA_A = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
UA_B = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15"
#: The device names recorded with them (parsed once, when the user agent is recorded).
DV_A = device_name(UA_A)
DV_B = device_name(UA_B)
IP_A = "198.51.100.10"
IP_B = "203.0.113.20"

factory = RequestFactory()


# -- helpers ---------------------------------------------------------------------------


def browser(ua: str = UA_A, ip: str = IP_A, **kwargs: object) -> Client:
    """A test client that sends ``ua`` and comes from ``ip`` unless a request says otherwise."""
    return Client(headers={"user-agent": ua}, REMOTE_ADDR=ip, **kwargs)


def write(client: Client, data: dict[str, object], **extra: object) -> Any:
    response = client.post(
        "/write/", data=json.dumps(data), content_type="application/json", **extra
    )
    assert response.status_code == 200, response.content
    return response


def cookie_of(client: Client | AsyncClient) -> str:
    value: str = client.cookies[COOKIE].value
    return value


def stored(r, session_key: str) -> record.Record:
    raw = r.get(redis_key(session_key))
    assert raw is not None, "the session has no record in Redis"
    return record.decode(raw)


def decoded_data(rec: record.Record) -> dict[str, object]:
    return {k: json.loads(v) for k, v in rec.data.items()}


def recorded_meta(r, **extra: object) -> dict[str, str]:
    """The metadata stored for a new session written by a request with ``extra`` META."""
    client = Client()  # sends no User-Agent of its own
    write(client, {"a": 1}, **extra)
    return stored(r, cookie_of(client)).meta


def age_session(r, session_key: str, seconds: int) -> None:
    """Move the stored creation time of a session ``seconds`` into the past."""
    raw = r.get(redis_key(session_key))
    created = record.read_field(raw, record.CREATED_OFFSET) - seconds
    r.setrange(redis_key(session_key), record.CREATED_OFFSET, record.field(created))


def set_seen(r, session_key: str, seen: int) -> None:
    r.setrange(redis_key(session_key), record.SEEN_OFFSET, record.field(seen))


def without_seen(raw: bytes) -> bytes:
    return raw[: record.SEEN_OFFSET] + raw[record.SEEN_OFFSET + record.FIELD_WIDTH :]


def assert_deleted_cookie(response) -> None:
    morsel = response.cookies[COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == 0


def security_messages(caplog) -> list[str]:
    return [rec.getMessage() for rec in caplog.records if rec.name == SECURITY_LOGGER]


def async_browser(session_key: str | None = None) -> AsyncClient:
    client = AsyncClient()
    if session_key is not None:
        client.cookies[COOKIE] = session_key
    return client


async def aget(client: AsyncClient, path: str, ua: str | None = None):
    # Per request: AsyncClient(headers=...) does not reach request.META as
    # HTTP_USER_AGENT in this Django version.
    return await client.get(path, headers={"user-agent": ua} if ua else None)


def session_of(response: Any) -> SessionStore:
    session = response.wsgi_request.session
    assert isinstance(session, SessionStore)
    return session


def reading_view(request):
    return HttpResponse(str(request.session.get("a")))


def through_both(view, session_key: str | None, **extra: object):
    """A GET through SessionMiddleware + SessionActivityMiddleware around ``view``."""
    request = factory.get("/", **extra)
    if session_key is not None:
        request.COOKIES[COOKIE] = session_key
    response = SessionMiddleware(SessionActivityMiddleware(view))(request)
    return request, response


# -- 1. what is recorded, and when -----------------------------------------------------


def test_anonymous_write_records_ip_and_user_agent(r):
    client = browser()
    write(client, {"a": 1})
    rec = stored(r, cookie_of(client))
    assert rec.meta == {"ip": IP_A, "ua": UA_A, "dv": DV_A}
    assert rec.user_id == ""
    assert decoded_data(rec) == {"a": 1}


def test_without_the_middleware_nothing_is_recorded(r, settings):
    settings.MIDDLEWARE = [
        m
        for m in settings.MIDDLEWARE
        if m != "django_redis_sessions.middleware.SessionActivityMiddleware"
    ]
    client = browser()
    write(client, {"a": 1})
    assert stored(r, cookie_of(client)).meta == {}


def test_login_without_a_prior_session_records_the_client(r, alice):
    client = browser()
    key = login(client)
    rec = stored(r, key)
    assert rec.meta == {"ip": IP_A, "ua": UA_A, "dv": DV_A}
    assert rec.user_id == str(alice.pk)
    assert index_members(r, alice.pk) == {keys.digest(key)}


def test_login_cycle_carries_the_metadata_to_the_new_key(r, alice):
    client = browser()
    write(client, {"cart": [1, 2]})
    anonymous = cookie_of(client)
    assert stored(r, anonymous).meta == {"ip": IP_A, "ua": UA_A, "dv": DV_A}
    # Signed in from another address: the new key carries this request's IP.
    response = client.post(
        "/login/", {"username": "alice", "password": "pw-alice"}, REMOTE_ADDR=IP_B
    )
    assert response.status_code == 200
    key = cookie_of(client)
    assert key != anonymous
    assert r.exists(redis_key(anonymous)) == 0
    rec = stored(r, key)
    assert rec.meta == {"ip": IP_B, "ua": UA_A, "dv": DV_A}
    assert rec.user_id == str(alice.pk)
    assert decoded_data(rec)["cart"] == [1, 2]
    assert index_members(r, alice.pk) == {keys.digest(key)}


def test_login_cycle_keeps_stored_meta_the_request_does_not_supply(r, alice):
    client = browser()
    write(client, {"cart": [1]})
    # The login request sends no User-Agent: the one recorded earlier survives
    # the move to the new key, next to this request's IP.
    response = client.post(
        "/login/",
        {"username": "alice", "password": "pw-alice"},
        REMOTE_ADDR=IP_B,
        HTTP_USER_AGENT="",
    )
    assert response.status_code == 200
    assert stored(r, cookie_of(client)).meta == {"ip": IP_B, "ua": UA_A, "dv": DV_A}


def test_switching_user_records_the_client_on_the_new_session(r, alice, bob):
    client = browser()
    alice_key = login(client)
    # Django flushes alice's session and creates a new one for bob.
    bob_key = login(client, "bob", "pw-bob")
    assert bob_key != alice_key
    assert r.exists(redis_key(alice_key)) == 0
    rec = stored(r, bob_key)
    assert rec.user_id == str(bob.pk)
    assert rec.meta == {"ip": IP_A, "ua": UA_A, "dv": DV_A}
    assert index_members(r, alice.pk) == set()
    assert index_members(r, bob.pk) == {keys.digest(bob_key)}


def test_plain_read_from_a_new_ip_rewrites_meta_and_keeps_everything_else(r, alice, settings):
    client = browser()
    key = login(client)
    before = stored(r, key)
    assert before.meta == {"ip": IP_A, "ua": UA_A, "dv": DV_A}
    long_ago = int(time.time()) - 500
    set_seen(r, key, long_ago)
    r.pexpire(redis_key(key), 5_000)

    response = client.get("/read/", REMOTE_ADDR=IP_B)

    assert response.json()["user"] == "alice"
    after = stored(r, key)
    assert after.meta == {"ip": IP_B, "ua": UA_A, "dv": DV_A}
    assert after.data == before.data
    assert after.user_id == str(alice.pk)
    assert (after.created, after.deadline, after.idle) == (
        before.created,
        before.deadline,
        before.idle,
    )
    assert after.seen >= int(time.time()) - 1
    assert index_members(r, alice.pk) == {keys.digest(key)}
    # The rewrite keeps the slid expiry, not the 5 s left before the request.
    assert settings.SESSION_COOKIE_AGE - 5 <= r.ttl(redis_key(key)) <= settings.SESSION_COOKIE_AGE


def test_plain_read_with_a_new_user_agent_records_it_and_keeps_the_ip(r):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    response = client.get("/read/", headers={"user-agent": UA_B})
    assert response.json()["data"] == {"a": 1}
    assert stored(r, key).meta == {"ip": IP_A, "ua": UA_B, "dv": DV_B}


def test_read_with_unchanged_client_only_touches_last_seen(r):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    set_seen(r, key, int(time.time()) - 500)
    before = r.get(redis_key(key))
    client.get("/read/")
    after = r.get(redis_key(key))
    assert without_seen(after) == without_seen(before)
    assert record.decode(after).seen >= int(time.time()) - 1


def test_save_supplying_other_meta_replaces_it_keeps_the_rest_and_merges_data(r):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    # A request that loaded without client metadata (no middleware involved)...
    session = SessionStore(key)
    assert session["a"] == 1
    # ...while another request adds a key...
    other = SessionStore(key)
    other["other"] = "x"
    other.save()
    # ...then saves a change, supplying only an IP.
    session.record_client({"ip": IP_B})
    session["c"] = 3
    session.save()
    rec = stored(r, key)
    assert rec.meta == {"ip": IP_B, "ua": UA_A, "dv": DV_A}
    assert decoded_data(rec) == {"a": 1, "other": "x", "c": 3}


def test_save_with_ip_recording_off_keeps_the_stored_ip(r, settings):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    settings.SESSIONS_RECORD_IP = False
    write(client, {"b": 2}, REMOTE_ADDR=IP_B, headers={"user-agent": UA_B})
    rec = stored(r, key)
    assert rec.meta == {"ip": IP_A, "ua": UA_B, "dv": DV_B}
    assert decoded_data(rec) == {"a": 1, "b": 2}


def test_signed_in_write_from_a_new_client_keeps_user_and_index(r, alice):
    client = browser()
    key = login(client)
    write(client, {"b": 2}, REMOTE_ADDR=IP_B, headers={"user-agent": UA_B})
    rec = stored(r, key)
    assert rec.meta == {"ip": IP_B, "ua": UA_B, "dv": DV_B}
    assert rec.user_id == str(alice.pk)
    assert decoded_data(rec)["b"] == 2
    assert index_members(r, alice.pk) == {keys.digest(key)}
    assert client.get("/read/", REMOTE_ADDR=IP_B).json()["user"] == "alice"


# -- 2. round trips --------------------------------------------------------------------


def test_signed_in_read_with_unchanged_client_is_one_round_trip(r, alice, count_round_trips):
    client = browser()
    login(client)
    client.get("/read/")  # warm: connection and script cache
    count_round_trips.round_trips = 0
    response = client.get("/read/")
    assert response.json()["user"] == "alice"
    assert count_round_trips.round_trips == 1


def test_signed_in_read_from_a_new_client_is_still_one_round_trip(r, alice, count_round_trips):
    client = browser()
    key = login(client)
    client.get("/read/")  # warm
    count_round_trips.round_trips = 0
    response = client.get("/read/", REMOTE_ADDR=IP_B, headers={"user-agent": UA_B})
    assert response.json()["user"] == "alice"
    assert count_round_trips.round_trips == 1
    assert stored(r, key).meta == {"ip": IP_B, "ua": UA_B, "dv": DV_B}


def test_untouched_view_costs_one_round_trip_and_slides(r, settings, count_round_trips):
    settings.SESSION_COOKIE_AGE = 600
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    client.get("/untouched/")  # warm
    r.pexpire(redis_key(key), 5_000)
    set_seen(r, key, int(time.time()) - 300)
    count_round_trips.round_trips = 0

    response = client.get("/untouched/")

    assert response.content == b"session not used"
    assert count_round_trips.round_trips == 1
    assert 595_000 < r.pttl(redis_key(key)) <= 600_000
    assert stored(r, key).seen >= int(time.time()) - 1
    morsel = response.cookies[COOKIE]
    assert morsel.value == key
    assert morsel["max-age"] == 600


def test_request_without_a_cookie_costs_nothing(r, count_round_trips):
    client = browser()
    count_round_trips.round_trips = 0
    response = client.get("/untouched/")
    assert response.status_code == 200
    response = client.get("/read/")
    assert response.json() == {"data": {}, "user": None}
    assert count_round_trips.round_trips == 0
    assert COOKIE not in response.cookies


# -- 3. which address: REMOTE_ADDR or a trusted proxy's header -------------------------


def test_default_uses_remote_addr_and_ignores_forwarded_for(r):
    meta = recorded_meta(r, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert meta == {"ip": "10.1.2.3"}


def test_spoofed_forwarded_for_does_not_change_the_recorded_ip(r):
    client = Client(REMOTE_ADDR=IP_A)
    write(client, {"a": 1})
    key = cookie_of(client)
    client.get("/read/", HTTP_X_FORWARDED_FOR=IP_B, HTTP_X_REAL_IP=IP_B)
    assert stored(r, key).meta == {"ip": IP_A}


@pytest.mark.parametrize(
    ("count", "forwarded_for", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (1, " 6.6.6.6 ,  198.51.100.7 ", "198.51.100.7"),
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "198.51.100.7,10.0.0.2", "198.51.100.7"),
        (3, "6.6.6.6, 198.51.100.7, 10.0.0.2, 10.0.0.3", "198.51.100.7"),
        (1, "6.6.6.6, 2001:DB8:0:0::7", "2001:db8::7"),
        (1, "6.6.6.6, ::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_trusted_proxy_header_takes_the_entry_of_the_outermost_proxy(
    r, settings, count, forwarded_for, expected
):
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    settings.SESSIONS_PROXY_COUNT = count
    meta = recorded_meta(r, REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR=forwarded_for)
    assert meta == {"ip": expected}


@pytest.mark.parametrize(
    ("count", "forwarded_for"),
    [
        (2, "198.51.100.7"),  # fewer entries than proxies
        (3, "6.6.6.6, 198.51.100.7"),
        (1, "not-an-ip"),
        (1, "6.6.6.6, 198.51.100.7:443"),  # with a port
        (1, "6.6.6.6, [2001:db8::7]"),
        (1, "198.51.100.7, unknown"),
        (1, ""),
        (1, " , "),
        (1, None),  # header absent: no fallback to REMOTE_ADDR
    ],
)
def test_trusted_proxy_header_without_a_usable_entry_records_no_ip(
    r, settings, count, forwarded_for
):
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    settings.SESSIONS_PROXY_COUNT = count
    extra = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    meta = recorded_meta(r, REMOTE_ADDR="10.9.9.9", HTTP_USER_AGENT=UA_A, **extra)
    assert meta == {"ua": UA_A, "dv": DV_A}


def test_unusable_address_keeps_the_ip_recorded_earlier(r, settings):
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    client = Client()
    write(client, {"a": 1}, HTTP_X_FORWARDED_FOR="198.51.100.7")
    key = cookie_of(client)
    client.get("/read/", HTTP_X_FORWARDED_FOR="garbage")
    assert stored(r, key).meta == {"ip": "198.51.100.7"}


@pytest.mark.parametrize(
    ("remote_addr", "expected"),
    [
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("::FFFF:C633:6407", "198.51.100.7"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ],
)
def test_addresses_are_normalised(r, remote_addr, expected):
    assert recorded_meta(r, REMOTE_ADDR=remote_addr) == {"ip": expected}


# -- 4. privacy settings -----------------------------------------------------------------


def test_ip_recording_off_stores_no_ip(r, settings):
    settings.SESSIONS_RECORD_IP = False
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    client.get("/read/", REMOTE_ADDR=IP_B)
    assert stored(r, key).meta == {"ua": UA_A, "dv": DV_A}


def test_user_agent_recording_off_stores_no_user_agent(r, settings):
    settings.SESSIONS_RECORD_USER_AGENT = False
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    client.get("/read/", headers={"user-agent": UA_B})
    assert stored(r, key).meta == {"ip": IP_A}


def test_both_off_store_nothing(r, settings, alice):
    settings.SESSIONS_RECORD_IP = False
    settings.SESSIONS_RECORD_USER_AGENT = False
    client = browser()
    key = login(client)
    client.get("/read/", REMOTE_ADDR=IP_B, headers={"user-agent": UA_B})
    rec = stored(r, key)
    assert rec.meta == {}
    assert rec.user_id == str(alice.pk)


@pytest.mark.parametrize(
    ("remote_addr", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("198.51.100.255", "198.51.100.0"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1::"),
        ("2001:db8:abcd:ffff:ffff:ffff:ffff:ffff", "2001:db8:abcd::"),
        ("::ffff:203.0.113.77", "203.0.113.0"),
    ],
)
def test_truncate_ip_zeroes_the_host_part(r, settings, remote_addr, expected):
    settings.SESSIONS_TRUNCATE_IP = True
    assert recorded_meta(r, REMOTE_ADDR=remote_addr) == {"ip": expected}


def test_truncate_ip_applies_to_proxy_header_addresses(r, settings):
    settings.SESSIONS_TRUNCATE_IP = True
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    meta = recorded_meta(r, HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.77")
    assert meta == {"ip": "203.0.113.0"}


def test_turning_truncation_on_rewrites_a_full_address_at_the_next_read(r, settings):
    client = browser(ip="203.0.113.77")
    write(client, {"a": 1})
    key = cookie_of(client)
    assert stored(r, key).meta["ip"] == "203.0.113.77"
    settings.SESSIONS_TRUNCATE_IP = True
    client.get("/read/")
    assert stored(r, key).meta["ip"] == "203.0.113.0"


def test_user_agent_is_capped_at_the_default_length(r):
    meta = recorded_meta(r, HTTP_USER_AGENT="x" * 300)
    assert meta["ua"] == "x" * 256


def test_user_agent_is_capped_at_the_configured_length(r, settings):
    settings.SESSIONS_USER_AGENT_MAX_LENGTH = 10
    meta = recorded_meta(r, HTTP_USER_AGENT=UA_A)
    assert meta["ua"] == UA_A[:10]


def test_control_characters_are_dropped_from_the_user_agent(r):
    meta = recorded_meta(r, HTTP_USER_AGENT="Evil\x00/1.0\r\n\x1b[31mRED\x7f\tend\x85")
    assert meta["ua"] == "Evil/1.0[31mREDend"


def test_control_characters_are_dropped_before_the_cap(r, settings):
    settings.SESSIONS_USER_AGENT_MAX_LENGTH = 5
    meta = recorded_meta(r, HTTP_USER_AGENT="\x01\x02\x03\x04\x05abcdefgh")
    assert meta["ua"] == "abcde"


def test_non_ascii_user_agent_round_trips(r):
    agent = "Navigateur/1.0 (français; ü)"
    # WSGI hands headers over as latin-1 decoded text.
    meta = recorded_meta(r, HTTP_USER_AGENT=agent.encode("utf-8").decode("latin-1"))
    assert meta["ua"] == agent.encode("utf-8").decode("latin-1")


def test_user_agent_of_only_control_characters_records_none(r):
    meta = recorded_meta(r, REMOTE_ADDR=IP_A, HTTP_USER_AGENT="\x00\x01\r\n")
    assert meta == {"ip": IP_A}


# -- 5. the cookie slides --------------------------------------------------------------


def test_read_only_request_resends_the_cookie_with_the_idle_window(r, settings):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    response = client.get("/read/")
    assert response.json()["data"] == {"a": 1}
    morsel = response.cookies[COOKIE]
    assert morsel.value == key
    assert morsel["max-age"] == settings.SESSION_COOKIE_AGE
    assert (
        abs(parse_http_date(morsel["expires"]) - (time.time() + settings.SESSION_COOKIE_AGE)) <= 2
    )
    assert morsel["path"] == "/"
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["secure"] == ""
    assert "Cookie" in response.headers["Vary"]
    assert stored(r, key).data == {"a": b"1"}  # nothing written


def test_slid_cookie_follows_the_cookie_settings(r, settings):
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_HTTPONLY = False
    settings.SESSION_COOKIE_SAMESITE = "Strict"
    settings.SESSION_COOKIE_DOMAIN = ".example.local"
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    morsel = client.get("/read/").cookies[COOKIE]
    assert morsel.value == key
    assert morsel["secure"] is True
    assert morsel["httponly"] == ""
    assert morsel["samesite"] == "Strict"
    assert morsel["domain"] == ".example.local"


def test_slid_cookie_uses_a_per_session_expiry(r):
    session = saved_session(a=1)
    session.set_expiry(300)
    session.save()
    client = browser()
    client.cookies[COOKIE] = str(session.session_key)
    morsel = client.get("/read/").cookies[COOKIE]
    assert morsel["max-age"] == 300


def test_slid_cookie_of_a_fixed_expiry_is_the_time_left(r):
    session = saved_session(a=1)
    session.set_expiry(timezone.now() + timedelta(hours=1))
    session.save()
    client = browser()
    client.cookies[COOKIE] = str(session.session_key)
    morsel = client.get("/read/").cookies[COOKIE]
    assert abs(morsel["max-age"] - 3600) <= 2


def test_max_age_is_capped_by_the_absolute_deadline_of_an_old_session(r):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    # Created 30 days minus an hour ago: an hour left, far less than the idle window.
    age_session(r, key, DEFAULT_ABSOLUTE_AGE - 3600)
    response = client.get("/read/")
    assert response.json()["data"] == {"a": 1}
    morsel = response.cookies[COOKIE]
    assert morsel.value == key
    assert abs(morsel["max-age"] - 3600) <= 2
    assert abs(r.ttl(redis_key(key)) - 3600) <= 2  # and Redis agrees


def test_max_age_is_capped_by_a_small_absolute_age(r, settings):
    settings.SESSION_COOKIE_AGE = 3600
    settings.SESSIONS_ABSOLUTE_AGE = 600
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    age_session(r, key, 200)
    morsel = client.get("/read/").cookies[COOKIE]
    assert abs(morsel["max-age"] - 400) <= 2
    assert abs(r.ttl(redis_key(key)) - 400) <= 2


def test_lowered_absolute_age_applies_to_the_cookie_at_once(r, settings):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    settings.SESSIONS_ABSOLUTE_AGE = 900
    morsel = client.get("/read/").cookies[COOKIE]
    assert morsel.value == key
    assert abs(morsel["max-age"] - 900) <= 2


def test_no_absolute_age_gives_the_idle_window(r, settings):
    settings.SESSIONS_ABSOLUTE_AGE = None
    client = browser()
    write(client, {"a": 1})
    age_session(r, cookie_of(client), 365 * DAY)
    morsel = client.get("/read/").cookies[COOKIE]
    assert morsel["max-age"] == settings.SESSION_COOKIE_AGE


def test_no_cookie_without_a_session_cookie(r):
    response = browser().get("/read/")
    assert response.status_code == 200
    assert COOKIE not in response.cookies


def test_no_slid_cookie_when_sessions_expire_at_browser_close(r, settings):
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    client = browser()
    write(client, {"a": 1})
    response = client.get("/read/")
    assert response.json()["data"] == {"a": 1}
    assert COOKIE not in response.cookies


def test_no_slid_cookie_for_a_session_set_to_expire_at_browser_close(r):
    session = saved_session(a=1)
    session.set_expiry(0)
    session.save()
    client = browser()
    client.cookies[COOKIE] = str(session.session_key)
    response = client.get("/read/")
    assert response.json()["data"]["a"] == 1
    assert COOKIE not in response.cookies


def test_stale_cookie_is_deleted_not_slid(r):
    client = browser()
    client.cookies[COOKIE] = "abcdefgh12345678abcdefgh12345678"
    response = client.get("/read/")
    assert response.json()["data"] == {}
    assert_deleted_cookie(response)


def test_session_past_its_absolute_deadline_is_deleted_not_slid(r, settings):
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    age_session(r, key, DEFAULT_ABSOLUTE_AGE + 10)
    response = client.get("/read/")
    assert response.json()["data"] == {}
    assert_deleted_cookie(response)
    assert r.exists(redis_key(key)) == 0


def test_activity_middleware_alone_sets_no_cookie_for_an_unknown_key(r):
    request = factory.get("/")
    request.session = SessionStore("abcdefgh12345678abcdefgh12345678")
    response = SessionActivityMiddleware(reading_view)(request)
    assert response.content == b"None"
    assert COOKIE not in response.cookies


@pytest.mark.parametrize(
    ("status", "slides"), [(200, True), (404, True), (500, False), (503, False)]
)
def test_no_slid_cookie_on_a_server_error(r, status, slides):
    key = saved_key(a=1)

    def view(request):
        return HttpResponse(str(request.session.get("a")), status=status)

    _, response = through_both(view, key)
    assert response.content == b"1"
    assert (COOKIE in response.cookies) is slides
    if slides:
        assert response.cookies[COOKIE].value == key


def test_no_cookie_when_a_writing_view_fails(r):
    client = browser(raise_request_exception=False)
    write(client, {"key": "v"})
    key = cookie_of(client)
    response = client.post("/fail/")
    assert response.status_code == 500
    assert COOKIE not in response.cookies
    assert decoded_data(stored(r, key)) == {"key": "v"}


def test_modified_session_gets_the_cookie_from_session_middleware(r, settings):
    settings.SESSION_COOKIE_AGE = 3600
    settings.SESSIONS_ABSOLUTE_AGE = 600
    client = browser()
    write(client, {"a": 1})
    key = cookie_of(client)
    age_session(r, key, 100)
    response = write(client, {"b": 2})
    morsel = response.cookies[COOKIE]
    assert morsel.value == key
    assert abs(morsel["max-age"] - 500) <= 2


def test_redis_outage_is_a_500_that_keeps_the_cookie(r, settings):
    client = browser(raise_request_exception=False)
    write(client, {"a": 1})
    key = cookie_of(client)
    before = r.get(redis_key(key))
    settings.SESSION_REDIS_URL = "redis://127.0.0.1:1/9"  # nothing listens there
    # Even a view that never reads the session: the middleware loads it.
    response = client.get("/untouched/")
    assert response.status_code == 500
    assert COOKIE not in response.cookies  # neither slid nor deleted
    assert r.get(redis_key(key)) == before


def test_other_session_engines_are_left_alone(r, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = browser()
    write(client, {"a": 1})
    response = client.get("/read/")
    assert response.json()["data"] == {"a": 1}
    assert COOKIE not in response.cookies  # read only, and not our engine


async def test_async_read_slides_the_cookie_with_the_idle_window(r, settings):
    key = saved_key(a=1)
    response = await aget(async_browser(key), "/aread/", UA_A)
    assert response.json()["data"] == {"a": 1}
    morsel = response.cookies[COOKIE]
    assert morsel.value == key
    assert morsel["max-age"] == settings.SESSION_COOKIE_AGE
    assert "Cookie" in response.headers["Vary"]
    assert stored(r, key).meta == {"ip": "127.0.0.1", "ua": UA_A, "dv": DV_A}


async def test_async_read_cookie_is_capped_by_the_absolute_deadline(r):
    key = saved_key(a=1)
    age_session(r, key, DEFAULT_ABSOLUTE_AGE - 7200)
    response = await aget(async_browser(key), "/aread/")
    assert response.json()["data"] == {"a": 1}
    morsel = response.cookies[COOKIE]
    assert morsel.value == key
    assert abs(morsel["max-age"] - 7200) <= 2


async def test_async_stale_cookie_is_deleted_not_slid(r):
    response = await aget(async_browser("abcdefgh12345678abcdefgh12345678"), "/aread/")
    assert response.json()["data"] == {}
    assert_deleted_cookie(response)


async def test_async_without_a_cookie_sets_none(r):
    response = await AsyncClient().get("/aread/")
    assert response.json()["data"] == {}
    assert COOKIE not in response.cookies


def record_offloads_and_refuse_sync_io(monkeypatch) -> list[object]:
    """From now on: record what is handed to sync_to_async; refuse sync session I/O."""
    import asgiref.sync

    from django_redis_sessions.storage import runner

    calls: list[object] = []
    original = asgiref.sync.SyncToAsync.__init__

    def recording_init(self, func, *args, **kwargs):
        calls.append(func)
        original(self, func, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("sync Redis I/O on the async path")

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__init__", recording_init)
    monkeypatch.setattr(runner.SyncDriver, "run", refuse)
    return calls


def assert_nothing_of_ours_offloaded(calls: list[object]) -> None:
    assert calls, "the recorder saw nothing (AsyncClient offloads response.close)"
    described = [repr(inspect.unwrap(func)) for func in calls]
    ours = [d for d in described if "django_redis_sessions" in d or "SessionStore" in d]
    assert ours == [], described


async def test_async_path_never_offloads_to_a_thread(r, monkeypatch):
    key = saved_key(a=1)
    age_session(r, key, DEFAULT_ABSOLUTE_AGE - 7200)
    client = async_browser(key)
    offloaded = record_offloads_and_refuse_sync_io(monkeypatch)
    response = await aget(client, "/aread/", UA_B)
    assert response.json()["data"] == {"a": 1}
    assert abs(response.cookies[COOKIE]["max-age"] - 7200) <= 2
    assert_nothing_of_ours_offloaded(offloaded)
    # (A write would be saved by Django's own SessionMiddleware, a sync
    # process_response that Django runs in a thread: not this middleware.)
    monkeypatch.undo()
    assert stored(r, key).meta == {"ip": "127.0.0.1", "ua": UA_B, "dv": DV_B}


# -- 6. user-agent change policy -------------------------------------------------------


def test_policy_none_lets_a_new_user_agent_through_silently(r, alice, caplog):
    client = browser()
    key = login(client)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", headers={"user-agent": UA_B})
    assert response.json()["user"] == "alice"
    assert session_of(response).user_agent_changed is False
    assert security_messages(caplog) == []
    assert stored(r, key).meta["ua"] == UA_B


def test_policy_flag_keeps_the_session_and_logs_the_fingerprint(r, alice, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "flag"
    client = browser()
    key = login(client)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", headers={"user-agent": UA_B})
    assert response.json()["user"] == "alice"
    assert session_of(response).user_agent_changed is True
    assert response.cookies[COOKIE].value == key  # still slid, not deleted
    rec = stored(r, key)
    assert rec.meta["ua"] == UA_B
    assert rec.user_id == str(alice.pk)
    assert index_members(r, alice.pk) == {keys.digest(key)}
    [message] = security_messages(caplog)
    assert keys.fingerprint(key) in message
    assert key not in message
    assert "flagged" in message
    assert [rec.levelno for rec in caplog.records if rec.name == SECURITY_LOGGER] == [
        logging.WARNING
    ]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", headers={"user-agent": UA_B})
    assert session_of(response).user_agent_changed is False  # recorded now
    assert security_messages(caplog) == []


def test_policy_end_signs_out_a_request_with_another_user_agent(r, alice, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    client = browser()
    key = login(client)
    assert index_members(r, alice.pk) == {keys.digest(key)}
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", headers={"user-agent": UA_B})
    assert response.json() == {"data": {}, "user": None}
    assert r.exists(redis_key(key)) == 0
    assert index_members(r, alice.pk) == set()
    assert_deleted_cookie(response)
    [message] = security_messages(caplog)
    assert keys.fingerprint(key) in message
    assert key not in message
    assert "ended" in message
    # The old cookie is no good from the original browser either.
    client.cookies[COOKIE] = key
    assert client.get("/read/").json()["user"] is None


def test_policy_end_with_a_write_starts_a_fresh_anonymous_session(r, alice, settings):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    client = browser()
    key = login(client)
    response = write(client, {"b": 2}, headers={"user-agent": UA_B})
    new_key = response.cookies[COOKIE].value
    assert new_key not in ("", key)
    assert r.exists(redis_key(key)) == 0
    rec = stored(r, new_key)
    assert rec.user_id == ""
    assert decoded_data(rec) == {"b": 2}
    assert rec.meta == {"ip": IP_A, "ua": UA_B, "dv": DV_B}


def test_policy_end_leaves_the_same_user_agent_alone(r, alice, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    client = browser()
    key = login(client)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", REMOTE_ADDR=IP_B)  # a new IP is not a new browser
    assert response.json()["user"] == "alice"
    assert response.cookies[COOKIE].value == key
    assert r.exists(redis_key(key)) == 1
    assert index_members(r, alice.pk) == {keys.digest(key)}
    assert security_messages(caplog) == []


@pytest.mark.parametrize("new_cap", [24, 4096])
def test_policy_end_survives_a_changed_user_agent_cap(r, alice, settings, caplog, new_cap):
    # Stored cut at the default 256, compared cut at the new cap: the same browser.
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    long_agent = UA_A + " " + "x" * 300
    client = browser(ua=long_agent)
    key = login(client)
    assert len(stored(r, key).meta["ua"]) == 256
    settings.SESSIONS_USER_AGENT_MAX_LENGTH = new_cap
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", headers={"user-agent": long_agent})
    assert response.json()["user"] == "alice"
    assert r.exists(redis_key(key)) == 1
    assert security_messages(caplog) == []
    # A browser that really differs within what both hold is still caught.
    response = client.get("/read/", headers={"user-agent": UA_B + " " + "y" * 300})
    assert response.json()["user"] is None


def test_policy_end_needs_both_user_agents(r, alice, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    client = browser()
    key = login(client)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/", HTTP_USER_AGENT="")
    assert response.json()["user"] == "alice"
    assert stored(r, key).meta["ua"] == UA_A
    assert security_messages(caplog) == []


def test_policy_end_ignores_sessions_without_a_recorded_user_agent(r, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    key = saved_key(a=1)  # saved without the middleware: no ua stored
    client = browser()
    client.cookies[COOKIE] = key
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/")
    assert response.json()["data"] == {"a": 1}
    assert stored(r, key).meta == {"ip": IP_A, "ua": UA_A, "dv": DV_A}
    assert security_messages(caplog) == []


def _signed_in_record(user_id: str, agent: str) -> str:
    """A session of ``user_id`` (no database needed) recorded with ``agent``."""
    session = SessionStore()
    session.record_client({"ip": "127.0.0.1", "ua": agent})
    session["_auth_user_id"] = user_id
    session["a"] = 1
    session.save()
    assert session.session_key is not None
    return session.session_key


async def test_async_policy_end(r, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    key = _signed_in_record("4242", UA_A)
    assert index_members(r, "4242") == {keys.digest(key)}
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = await aget(async_browser(key), "/aread/", UA_B)
    assert response.json()["data"] == {}
    assert r.exists(redis_key(key)) == 0
    assert index_members(r, "4242") == set()
    assert_deleted_cookie(response)
    [message] = security_messages(caplog)
    assert keys.fingerprint(key) in message
    assert key not in message


async def test_async_policy_end_same_user_agent_unaffected(r, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "end"
    key = _signed_in_record("4242", UA_A)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = await aget(async_browser(key), "/aread/", UA_A)
    assert response.json()["data"]["a"] == 1
    assert response.cookies[COOKIE].value == key
    assert index_members(r, "4242") == {keys.digest(key)}
    assert security_messages(caplog) == []


async def test_async_policy_flag(r, settings, caplog):
    settings.SESSIONS_USER_AGENT_CHANGE = "flag"
    key = _signed_in_record("4242", UA_A)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = await aget(async_browser(key), "/aread/", UA_B)
    assert response.json()["data"]["a"] == 1
    assert response.cookies[COOKIE].value == key
    assert stored(r, key).meta["ua"] == UA_B
    assert index_members(r, "4242") == {keys.digest(key)}
    [message] = security_messages(caplog)
    assert keys.fingerprint(key) in message
    assert key not in message


def test_cycle_after_revocation_records_this_client_on_the_empty_new_key(r):
    key = saved_key(_auth_user_id="42", cart=[1])
    holder = SessionStore(key)
    holder.record_client({"ip": IP_B, "ua": UA_B, "dv": DV_B})
    assert holder["cart"] == [1]
    SessionStore().delete(key)  # revoked while the request ran
    holder.cycle_key()
    rec = stored(r, holder.session_key)
    assert rec.user_id == ""
    assert rec.data == {}
    assert rec.meta == {"ip": IP_B, "ua": UA_B, "dv": DV_B}


def test_stored_expiry_age_is_zero_at_the_deadline_not_the_idle_window(r, monkeypatch):
    session = saved_session(a=1)
    session.load()
    now = 2_000_000_000
    monkeypatch.setattr("django_redis_sessions.policies.expiry.time.time", lambda: now)
    stored = session._stored
    stored.idle, stored.deadline, stored.created = 600, now, now - 10
    assert session.stored_expiry_age() == 0
    stored.deadline = now + 30
    assert session.stored_expiry_age() == 30
    stored.deadline = 0
    assert session.stored_expiry_age() == 600

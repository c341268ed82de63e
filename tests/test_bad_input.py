"""Hostile cookies, corrupted records, and a Redis that cannot be reached."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import redis
from django.test import Client

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import CorruptRecord, SessionStoreUnavailable
from django_redis_sessions.storage import keys, record

pytestmark = pytest.mark.real_redis

HOSTILE_COOKIES = [
    "short",
    "ABCDEFGHIJKLMNOP",  # upper case
    "a" * 65,
    "x" * 10_000,
    "abc\x00defghijk",
    "abcdefgh*",
    "abcd{efgh}ijkl",
    "sessionkey\n",
    "ключсессииключ",
    "abcdefgh ijkl",
    "../../../etc/passwd",
    "",
]


@pytest.mark.parametrize("cookie", HOSTILE_COOKIES)
def test_malformed_key_sends_no_redis_command_and_is_never_adopted(r, cookie, count_round_trips):
    SessionStore().exists("warmupwarmup")  # open the pooled connection first
    count_round_trips.round_trips = 0
    s = SessionStore(cookie)
    assert s.session_key is None
    assert s.get("anything") is None
    assert not s.exists(cookie)
    s.delete(cookie)
    assert count_round_trips.round_trips == 0
    s["x"] = 1
    s.save()
    assert s.session_key != cookie
    assert keys.is_valid_session_key(s.session_key)


@pytest.mark.parametrize("cookie", ["abcd{efgh}ijkl", "x" * 10_000, "abcdefgh*"])
def test_malformed_cookie_through_the_middleware_gets_a_fresh_key(r, cookie):
    client = Client()
    client.cookies["sessionid"] = cookie
    response = client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    assert response.status_code == 200
    issued = response.cookies["sessionid"].value
    assert issued != cookie
    assert keys.is_valid_session_key(issued)


def test_unknown_well_formed_key_is_not_adopted(r):
    s = SessionStore("a" * 32)
    s["x"] = 1
    s.save()
    assert s.session_key != "a" * 32


@pytest.mark.parametrize(
    "garbage",
    [
        b"not a session",
        b"",
        b"1" + b"9" * 40,  # header only, no meta
        b"1{NOW}{NOW}00000000{IDLE}" + b"5:abc",  # truncated netstring
        # a value the serializer cannot decode
        b"1{NOW}{NOW}00000000{IDLE}" + b"0:" + b"1:a3:{{{",
        bytes(range(256)),
    ],
)
def test_corrupted_record_gives_empty_session_logs_and_is_removed(r, garbage, caplog):
    s = SessionStore()
    s["a"] = 1
    s.save()
    session_key = s.session_key
    redis_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(session_key))
    garbage = garbage.replace(b"{NOW}", record.field(int(time.time())))
    garbage = garbage.replace(b"{IDLE}", record.field(600))
    r.set(redis_key, garbage, ex=600)
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        loaded = SessionStore(session_key)
        assert loaded.get("a") is None
    assert loaded.session_key is None  # a fresh key will be issued
    assert r.exists(redis_key) == 0
    messages = [rec.getMessage() for rec in caplog.records]
    assert any(keys.fingerprint(session_key) in m for m in messages), messages
    assert not any(session_key in m for m in messages)


def test_save_onto_a_record_corrupted_meanwhile_is_refused_not_overwritten(r):
    from django.contrib.sessions.backends.base import UpdateError

    s = SessionStore()
    s["a"] = 1
    s.save()
    redis_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(s.session_key))
    r.set(redis_key, b"1" + b"0" * 40 + b"9:broken", ex=600)
    s["a"] = 2
    with pytest.raises(UpdateError):
        s.save()
    assert r.get(redis_key) == b"1" + b"0" * 40 + b"9:broken"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dead_redis(settings):
    port = free_port()
    settings.SESSION_REDIS_URL = f"redis://:hunter2-secret@127.0.0.1:{port}/0"
    settings.SESSION_REDIS_CONNECT_TIMEOUT = 0.2
    settings.SESSION_REDIS_SOCKET_TIMEOUT = 0.2
    settings.SESSION_REDIS_RETRIES = 1
    return port


def test_unreachable_redis_raises_naming_the_server_not_the_password(r, dead_redis):
    with pytest.raises(SessionStoreUnavailable) as info:
        SessionStore("a" * 32).load()
    message = str(info.value)
    assert f"127.0.0.1:{dead_redis}" in message
    assert "hunter2" not in message
    assert info.value.server == f"127.0.0.1:{dead_redis}"


async def test_unreachable_redis_raises_async(r, dead_redis):
    with pytest.raises(SessionStoreUnavailable) as info:
        await SessionStore("a" * 32).aload()
    assert f"127.0.0.1:{dead_redis}" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_outage_is_an_error_not_a_logout_and_loses_nothing(r, settings):
    client = Client(raise_request_exception=True)
    client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    session_key = client.cookies["sessionid"].value
    redis_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(session_key))
    stored = r.get(redis_key)

    good_url = settings.SESSION_REDIS_URL
    settings.SESSION_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.SESSION_REDIS_CONNECT_TIMEOUT = 0.2
    settings.SESSION_REDIS_RETRIES = 0
    with pytest.raises(SessionStoreUnavailable):
        client.post("/write/", data=b'{"a": 2}', content_type="application/json")
    # The browser keeps its cookie: nothing told it to forget the session.
    assert client.cookies["sessionid"].value == session_key

    settings.SESSION_REDIS_URL = good_url
    assert (
        r.get(redis_key)[record.SEEN_OFFSET + record.FIELD_WIDTH :]
        == stored[record.SEEN_OFFSET + record.FIELD_WIDTH :]
    )
    assert client.get("/read/").json()["data"] == {"a": 1}


def test_outage_gives_http_500_through_the_handler(r, dead_redis):
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a" * 32
    assert client.get("/read/").status_code == 500


def test_redis_never_holds_a_raw_session_key(r):
    client = Client()
    client.post("/write/", data=b'{"a": 1}', content_type="application/json")
    session_key = client.cookies["sessionid"].value
    found = []
    for name in r.scan_iter(match=f"{conf.SESSION_REDIS_PREFIX}*"):
        value = r.get(name) if r.type(name) == b"string" else b"".join(r.zrange(name, 0, -1))
        if session_key.encode() in name or session_key.encode() in (value or b""):
            found.append(name)
    assert found == []


def test_a_dropped_connection_is_replaced_not_reported(r, settings):
    """A pooled connection the server closed (restart, idle timeout, failover) is
    replaced at checkout: the request succeeds, even with retries off."""
    settings.SESSION_REDIS_RETRIES = 0
    s = SessionStore()
    s["a"] = 1
    s.save()  # opens the engine's pooled connection (the only one: no threads here)
    from django_redis_sessions.storage.connection import get_client

    assert r.client_kill_filter(_id=get_client().client_id()) == 1
    assert SessionStore(s.session_key)["a"] == 1


@pytest.mark.single_server
def test_a_server_that_never_answers_times_out_with_a_clear_error(r, settings):
    """A peer that accepts connections but never replies (a hung Redis, a black
    hole): the request fails within the configured timeout, naming the server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    settings.SESSION_REDIS_URL = f"redis://127.0.0.1:{port}/0"
    settings.SESSION_REDIS_SOCKET_TIMEOUT = 0.3
    settings.SESSION_REDIS_RETRIES = 1
    try:
        with pytest.raises(SessionStoreUnavailable, match=f"127.0.0.1:{port}") as info:
            SessionStore("a" * 32).load()
        # The socket timeout fired (redis-py's default would wait for ever).
        assert isinstance(info.value.__cause__, redis.TimeoutError)
    finally:
        listener.close()


# -- the load's own parsing, against the reference implementations -------------------

JSON_VALUES = [
    b'"42"', b"17", b"[]", b"{}", b'{"a":[1,2.5,null,true]}', b"123456789012345678901234567890",
    b'"caf\xc3\xa9"', b'"\xe9"', b'"\\u00e9\\ud83d\\ude00"', b"1e400", b"-0.0",
]  # fmt: skip
NOT_JSON = [b"", b"{", b'\xef\xbb\xbf"x"', b"NaNx", b"'x'", b'"a"b', b"\x00"]


@pytest.mark.parametrize("value", JSON_VALUES + NOT_JSON)
def test_the_json_values_decode_exactly_as_djangos_serializer_decodes_them(value: bytes) -> None:
    from django.core.signing import JSONSerializer

    from django_redis_sessions.codec import ValueCodec

    raw = record.encode(record.Record(1, 1, 0, 600, "7", {"k": value}))
    try:
        expected: object = JSONSerializer().loads(value)
    except Exception as exc:  # the reference's own error
        with pytest.raises(type(exc)):
            ValueCodec(JSONSerializer).open(raw)
        return
    fields, values, data = ValueCodec(JSONSerializer).open(raw)
    assert data == {"k": expected}
    assert repr(data["k"]) == repr(expected)  # -0.0, inf: the same objects, not just equal
    assert values == {"k": value}
    assert fields[:6] == (1, 1, 0, 600, "7", {})


@pytest.mark.parametrize(
    "header",
    [b"1" + b"0" * 32, b"1" + b"f" * 32, b"1" + b"0123abcd" * 4],
)
def test_header_fields_parse_as_field_writes_them(header: bytes) -> None:
    raw = header + record.encode_meta("u1", {"ip": "10.0.0.1"}) + record.encode_data({"a": b"1"})
    width = record.FIELD_WIDTH
    numbers = [int(header[1 + i * width : 1 + (i + 1) * width], 16) for i in range(4)]
    assert record.decode_fields(raw) == (*numbers, "u1", {"ip": "10.0.0.1"}, {"a": b"1"})
    summary = record.decode_summary(raw)
    assert (summary.created, summary.seen, summary.deadline, summary.idle) == tuple(numbers)


@pytest.mark.parametrize(
    "header",
    [
        b"2" + b"0" * 32,
        b"1" + b"A" * 32,
        b"1" + b"0" * 31 + b"+",
        b"1" + b" " * 32,
        b"1" + b"0" * 31,
    ],
)
def test_a_header_field_writes_nothing_like_is_corrupt(header: bytes) -> None:
    raw = header + record.encode_meta("") + record.encode_data({"a": b"1"})
    with pytest.raises(CorruptRecord):
        record.decode_fields(raw)

"""Property-based fuzzing against the real Redis (hypothesis).

Three doors an attacker (or a corrupted store, or an operator's typo) can push
arbitrary input through:

1. the session cookie: any string, any bytes on the wire, keys one edit away
   from a live one. Never a server error, never a Redis command for a malformed
   key, never a session adopted or stored under the value sent;
2. the bytes stored where a session record lives: an empty session, a warning on
   ``django.security.SuspiciousSession`` naming the fingerprint (never the key),
   and the record removed, sync and async;
3. the management commands' arguments and the API's fingerprints: a
   ``CommandError`` (``ValueError``) that changes nothing, or exactly the right
   result.

Hypothesis runs many examples inside one test call, so function-scoped fixtures
(``r``, the users, ``caplog``, the round-trip counter) are shared by the examples
of a test: every example resets what it relies on (keys, counters, log records)
itself. The budget is bounded (``FUZZ``) so the file runs in seconds in CI.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings as django_settings
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import get_str_from_wsgi
from django.core.management import CommandError, call_command
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.test import AsyncClient, Client, RequestFactory
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import connection, keys, record
from tests.conftest import CommandCounter
from tests.helpers import load_scripts, redis_key

pytestmark = pytest.mark.real_redis

#: The whole file's budget: each property test runs this many examples (a few
#: run fewer, below), against the real Redis, in a few seconds all together.
#: ``database=None``: no example database is kept between runs; a failure prints
#: the falsifying example (and a ``@reproduce_failure`` blob) instead.
FUZZ = settings(
    max_examples=80,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
FUZZ_SMALL = settings(FUZZ, max_examples=40)

SECURITY_LOGGER = "django.security.SuspiciousSession"
SERIALIZER = import_string(django_settings.SESSION_SERIALIZER)()

# -- strategies: strings ---------------------------------------------------------------

#: Any code point, lone surrogates included (``characters()`` leaves them out).
ANY_CHAR = st.one_of(st.characters(), st.characters(categories=["Cs"]))
KEY_CHAR = st.sampled_from(VALID_KEY_CHARS)
#: Characters that mean something to Redis (glob, hash tags, protocol), to cookie
#: parsing, to SQL ``LIKE``, to terminals and to Unicode normalisation.
HOSTILE_CHAR = st.sampled_from(
    [
        *"*?[]\\{}:;, =\"'%_-.@\x00\t\n\r\x0b\x7fAZé€ключ\u2028\ufeff\u0130\u212a",
        "\udcff",
        "\ud800",
        "\U0001f600",
    ]
)


@dataclass(frozen=True)
class Edit:
    """One edit of a string: replace, insert or delete a character, or change its case."""

    kind: str
    position: int
    char: str

    def apply(self, text: str) -> str:
        if self.kind == "insert":
            p = self.position % (len(text) + 1)
            return text[:p] + self.char + text[p:]
        if not text:
            return text
        p = self.position % len(text)
        if self.kind == "replace":
            return text[:p] + self.char + text[p + 1 :]
        if self.kind == "delete":
            return text[:p] + text[p + 1 :]
        return text[:p] + text[p].swapcase() + text[p + 1 :]


EDITS = st.builds(
    Edit,
    kind=st.sampled_from(["replace", "insert", "delete", "case"]),
    position=st.integers(0, 70),
    char=st.one_of(HOSTILE_CHAR, KEY_CHAR, ANY_CHAR),
)
WELL_FORMED = st.from_regex(r"[a-z0-9]{8,64}", fullmatch=True)

#: Cookie values: anything at all, hostile alphabets, wrong lengths, well-formed
#: but unknown keys, very long values, keys one edit away from well-formed.
COOKIE_VALUES = st.one_of(
    st.text(ANY_CHAR, max_size=80),
    st.text(st.one_of(KEY_CHAR, HOSTILE_CHAR), max_size=80),
    st.from_regex(r"[a-z0-9]{0,7}|[a-z0-9]{65,80}", fullmatch=True),
    WELL_FORMED,
    st.builds(
        lambda char, count: char * count,
        st.one_of(KEY_CHAR, HOSTILE_CHAR, ANY_CHAR),
        st.integers(65, 20_000),
    ),
    st.builds(lambda key, edit: edit.apply(key), WELL_FORMED, EDITS),
)

#: Session-cookie header bytes as a WSGI server hands them over: any bytes at all,
#: or a cookie value (UTF-8, lone surrogates as their raw bytes) after other cookies.
COOKIE_HEADERS = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda before, value: before + b"sessionid=" + value.encode("utf-8", "surrogatepass"),
        st.sampled_from([b"", b"csrftoken=abc; ", b"sessionid=x; ", b"a=b;", b"\x00; "]),
        COOKIE_VALUES,
    ),
    st.builds(lambda junk: b"sessionid=" + junk, st.binary(max_size=200)),
)


# -- strategies: stored records ----------------------------------------------------------


def netstring(item: bytes) -> bytes:
    return b"%d:%s" % (len(item), item)


#: Pieces that look like parts of a record: netstrings (of junk, of JSON, of broken
#: JSON), lengths that lie, lengths Lua reads but Python does not (" 1", "0x1",
#: "1e0", "-1"), and raw junk.
RECORD_PIECES = st.one_of(
    st.binary(max_size=16).map(netstring),
    st.sampled_from(
        [b"1", b'"x"', b'{"a":[1,2]}', b"[", b"nul", b"NaN", b"1e999", b'"\\ud800"', b"\xff"]
    ).map(netstring),
    st.sampled_from(
        [b":", b"0:", b"1:", b"2:", b"99:", b"999999999999:", b"-1:", b" 1:", b"0x1:", b"1e0:"]
    ),
    st.sampled_from([b"{", b"}", b'"', b"\x00", b"\xff", b"u", b"ip", b"\r\n"]),
    st.binary(max_size=8),
)
RECORD_TAILS = st.lists(RECORD_PIECES, max_size=8).map(b"".join)


def fresh_header(now: int) -> bytes:
    """A header that neither Python nor the load script considers expired."""
    return b"".join(
        (
            record.VERSION,
            record.field(now - 100),
            record.field(now - 100),
            record.field(0),
            record.field(600),
        )
    )


def valid_record(now: int) -> bytes:
    return record.encode(
        record.Record(
            created=now - 100,
            seen=now - 100,
            deadline=0,
            idle=600,
            user_id="",
            data={"a": b"1", "b": b'"two"', "c": b'{"x":[1,2]}'},
            meta={"ip": "203.0.113.5"},
        )
    )


@dataclass(frozen=True)
class ByteEdit:
    kind: str
    position: int
    byte: int

    def apply(self, raw: bytes) -> bytes:
        if self.kind == "truncate":
            return raw[: self.position % (len(raw) + 1)]
        if self.kind == "insert":
            p = self.position % (len(raw) + 1)
            return raw[:p] + bytes([self.byte]) + raw[p:]
        p = self.position % len(raw)
        if self.kind == "delete":
            return raw[:p] + raw[p + 1 :]
        return raw[:p] + bytes([self.byte]) + raw[p + 1 :]

    def keeps_header(self, raw: bytes) -> bool:
        """Whether the header's fields are untouched (the load script then slides
        the record instead of possibly finding it expired)."""
        if self.kind == "truncate":
            return True  # any prefix of a fresh header is not an expired one
        bound = len(raw) + 1 if self.kind == "insert" else len(raw)
        return self.position % bound >= record.HEADER_LENGTH


@dataclass(frozen=True)
class Planted:
    """Bytes to plant where a record lives, built at the example's own clock.

    ``raw``: the payload as it is; ``tail``: a fresh header, then the payload;
    ``mutant``: a valid record with one byte edit.
    """

    kind: str
    payload: bytes = b""
    edit: ByteEdit | None = None

    def build(self, now: int) -> tuple[bytes, bool]:
        """The bytes, and whether the load must report them (not merely expire them).

        Only a record whose header fields the load script can read may be found
        expired and deleted without a report; with a fresh header, or without
        the version byte, the client always sees the bytes and must report them.
        """
        if self.kind == "raw":
            return self.payload, not self.payload.startswith(record.VERSION)
        if self.kind == "tail":
            return fresh_header(now) + self.payload, True
        assert self.edit is not None
        base = valid_record(now)
        return self.edit.apply(base), self.edit.keeps_header(base)


BYTE_EDITS = st.builds(
    ByteEdit,
    kind=st.sampled_from(["replace", "insert", "delete", "truncate"]),
    position=st.one_of(st.integers(0, 200), st.integers(1, record.HEADER_LENGTH - 1)),
    byte=st.one_of(st.integers(0, 255), st.sampled_from(b"+-_ \txXAF0")),
)
PLANTED = st.one_of(
    st.builds(Planted, kind=st.just("raw"), payload=st.binary(max_size=300)),
    st.builds(Planted, kind=st.just("raw"), payload=RECORD_TAILS.map(lambda t: b"1" + t)),
    st.builds(Planted, kind=st.just("tail"), payload=RECORD_TAILS),
    st.builds(Planted, kind=st.just("tail"), payload=st.binary(max_size=200)),
    st.builds(Planted, kind=st.just("mutant"), edit=BYTE_EDITS),
)


#: A header as the engine writes it (``record.field``): the version, then four
#: fields of 8 lowercase hex digits. Python's ``int(x, 16)`` also reads "+1", " 1",
#: "1_0", "-1" and "A"; Lua's ``tonumber`` reads some of those, differently, and
#: not others; only this form means the same to every reader.
WRITTEN_HEADER = re.compile(rb"1[0-9a-f]{32}")


def adoptable(raw: bytes) -> bool:
    """Whether ``raw`` is a record the engine could have written, which it must then
    load as a session (no fuzz case): anything else it must report and remove."""
    if not WRITTEN_HEADER.match(raw):
        return False
    try:
        stored = record.decode(raw)
        for value in stored.data.values():
            SERIALIZER.loads(value)
    except Exception:  # whatever the decoder or the serializer raises
        return False
    return True


# -- helpers -------------------------------------------------------------------------


def warm_up(counter: CommandCounter) -> None:
    """Open the engine's connection and cache its scripts, then zero the counter, so
    what is counted next is the commands of the code under test alone."""
    load_scripts()
    probe = SessionStore("warmupwarmup")
    probe.load()
    probe.exists("warmupwarmup")
    probe.delete("warmupwarmup")
    counter.round_trips = 0
    counter.commands.clear()


def raw_names(value: str) -> list[bytes]:
    """Redis keys the engine would have written had it used ``value`` unvalidated."""
    raw = value.encode("utf-8", "surrogatepass")
    prefix = conf.SESSION_REDIS_PREFIX.encode() + b":s:"
    blake = hashlib.blake2b(raw, digest_size=keys.DIGEST_SIZE).hexdigest().encode()
    return [prefix + raw, prefix + blake]


def assert_fresh_key_issued(r: redis.Redis, response: HttpResponse, sent: str | None) -> None:
    """A write under a cookie that named no live session gets a new, well-formed key,
    stored under its digest and never under what the client sent."""
    assert response.status_code == 200, response.content
    issued = response.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert keys.is_valid_session_key(issued)
    assert issued != sent
    assert SessionStore(issued).load() == {"k": "v"}
    if sent is not None:
        assert all(r.exists(name) == 0 for name in raw_names(sent))
    r.delete(redis_key(issued))


@contextmanager
def request_exceptions() -> Iterator[list[BaseException]]:
    """Exceptions Django's handler turned into a 500 while the block ran."""
    seen: list[BaseException] = []

    def receiver(sender: Any, request: Any = None, **kwargs: Any) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            seen.append(exc)

    got_request_exception.connect(receiver, weak=False)
    try:
        yield seen
    finally:
        got_request_exception.disconnect(receiver)


def through_the_stack(path: str, cookie: str, body: bytes = b"") -> HttpResponse:
    """A request through every middleware of the test project, carrying ``cookie``
    as the session cookie whatever its characters (a test client's header could
    not carry a lone surrogate; code behind ``request.COOKIES`` must still cope)."""
    factory = RequestFactory()
    request: HttpRequest = (
        factory.post(path, data=body, content_type="application/json")
        if body
        else factory.get(path)
    )
    request.COOKIES = {django_settings.SESSION_COOKIE_NAME: cookie}
    handler = BaseHandler()
    handler.load_middleware()
    with request_exceptions() as raised:
        response = handler.get_response(request)
    assert raised == [], raised
    assert response.status_code < 500
    assert isinstance(response, HttpResponse)
    return response


def security_messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [rec.getMessage() for rec in caplog.records if rec.name == SECURITY_LOGGER]


# -- 1. cookies ------------------------------------------------------------------------


@FUZZ
@given(value=COOKIE_VALUES)
@example(value="abc\x00defghijk")
@example(value="\udcff" * 9)
@example(value="a" * 65)
@example(value="abcd{efgh}ijkl")
@example(value="abcdefgh*")
def test_any_session_key_is_validated_before_any_redis_command(
    r: redis.Redis, count_round_trips: CommandCounter, value: str
) -> None:
    warm_up(count_round_trips)
    well_formed = keys.is_valid_session_key(value)
    store = SessionStore(session_key=value)
    assert store.session_key == (value if well_formed else None)
    assert store.load() == {}  # unknown or malformed: nothing to read
    assert store.exists(value) is False
    store.delete(value)
    # A malformed key costs nothing; a well-formed one, one script or command each.
    assert count_round_trips.round_trips == (3 if well_formed else 0), count_round_trips.commands

    store["k"] = "v"
    store.save()
    new_key = store.session_key
    assert new_key is not None
    assert keys.is_valid_session_key(new_key)
    assert new_key != value
    assert all(r.exists(name) == 0 for name in raw_names(value))
    assert SessionStore(new_key).load() == {"k": "v"}
    r.delete(redis_key(new_key))


@FUZZ
@given(value=COOKIE_VALUES)
@example(value="\ud800abcdefgh")
@example(value="x" * 10_000)
@example(value="")
def test_any_cookie_value_through_the_whole_middleware_stack(
    r: redis.Redis, count_round_trips: CommandCounter, value: str
) -> None:
    well_formed = keys.is_valid_session_key(value)
    warm_up(count_round_trips)
    response = through_the_stack("/read/", value)
    assert response.status_code == 200
    assert json.loads(response.content) == {"data": {}, "user": None}
    # Only a well-formed key is looked up (once: the load that also slides).
    assert count_round_trips.round_trips == (1 if well_formed else 0), count_round_trips.commands

    response = through_the_stack("/write/", value, body=b'{"k": "v"}')
    assert_fresh_key_issued(r, response, value)


@FUZZ
@given(header=COOKIE_HEADERS)
@example(header=b"sessionid=" + b"\xff\xfe" * 20)
@example(header=b'sessionid="abcdefgh\\012ijkl"')
@example(header=b"sessionid=abcdefgh; sessionid=ijklmnop")
def test_any_cookie_header_bytes_through_the_test_client(
    r: redis.Redis, count_round_trips: CommandCounter, header: bytes
) -> None:
    # What a WSGI server puts in the environ: the header's bytes as ISO-8859-1.
    environ_value = header.decode("latin-1")
    sent = parse_cookie(get_str_from_wsgi({"HTTP_COOKIE": environ_value}, "HTTP_COOKIE", "")).get(
        django_settings.SESSION_COOKIE_NAME
    )
    well_formed = keys.is_valid_session_key(sent)
    client = Client(raise_request_exception=True)

    warm_up(count_round_trips)
    response = client.get("/read/", HTTP_COOKIE=environ_value)
    assert response.status_code == 200
    assert response.json() == {"data": {}, "user": None}
    assert count_round_trips.round_trips == (1 if well_formed else 0), count_round_trips.commands

    response = client.post(
        "/write/", data=b'{"k": "v"}', content_type="application/json", HTTP_COOKIE=environ_value
    )
    assert_fresh_key_issued(r, response, sent)


def spy_on_session_keys(mp: pytest.MonkeyPatch) -> list[str | None]:
    """Every ``session_key`` a ``SessionStore`` is built with (the middleware passes
    the cookie value as parsed, whatever the handler's parsing rules)."""
    seen: list[str | None] = []
    original = SessionStore.__init__

    def spying_init(self: SessionStore, session_key: str | None = None) -> None:
        seen.append(session_key)
        original(self, session_key)

    mp.setattr(SessionStore, "__init__", spying_init)
    return seen


@FUZZ_SMALL
@given(header=COOKIE_HEADERS)
@example(header=b"sessionid=" + "ключ".encode() * 4)
@example(header=b"sessionid=abcdefgh\x00ijkl")
def test_any_cookie_header_bytes_through_the_async_stack(
    r: redis.Redis, count_round_trips: CommandCounter, header: bytes
) -> None:
    """Under ASGI the middleware loads with ``aload`` and the views are async."""
    cookie_header = header.decode("latin-1")  # ASGI hands header bytes over as-is

    async def exchange() -> tuple[Any, int, list[str | None], Any]:
        try:
            await SessionStore("warmupwarmup").aload()  # this loop's connection
            count_round_trips.round_trips = 0
            count_round_trips.commands.clear()
            client = AsyncClient(raise_request_exception=True)
            with pytest.MonkeyPatch.context() as mp:
                seen = spy_on_session_keys(mp)
                read = await client.get("/aread/", headers={"cookie": cookie_header})
            round_trips = count_round_trips.round_trips
            write = await client.post(
                "/awrite/",
                data=b'{"k": "v"}',
                content_type="application/json",
                headers={"cookie": cookie_header},
            )
            return read, round_trips, seen, write
        finally:
            await connection.aclose_clients()

    read, round_trips, seen, write = asyncio.run(exchange())
    assert read.status_code == 200
    assert read.json() == {"data": {}}
    sent = seen[0]  # the middleware's SessionStore, built from the cookie
    assert round_trips == (1 if keys.is_valid_session_key(sent) else 0), count_round_trips.commands
    assert_fresh_key_issued(r, write, sent)


@FUZZ
@given(edit=EDITS)
@example(edit=Edit("case", 0, ""))
@example(edit=Edit("delete", 5, ""))  # 31 characters: still well-formed, unknown
@example(edit=Edit("replace", 3, "*"))
def test_a_key_one_edit_from_a_live_one_never_opens_it(
    r: redis.Redis, count_round_trips: CommandCounter, edit: Edit
) -> None:
    live = SessionStore()
    live["secret"] = "s3cret"
    live.save()
    live_key = live.session_key
    assert live_key is not None
    stored = r.get(redis_key(live_key))
    forged = edit.apply(live_key)

    warm_up(count_round_trips)
    response = through_the_stack("/read/", forged)
    expected = 1 if keys.is_valid_session_key(forged) else 0
    assert count_round_trips.round_trips == expected, count_round_trips.commands
    data = json.loads(response.content)["data"]
    if forged == live_key:  # an edit that changes nothing (digit to digit): the owner
        assert data == {"secret": "s3cret"}
    else:
        assert data == {}
        # The live session was not even read: its bytes (last-seen too) are as saved.
        assert r.get(redis_key(live_key)) == stored
    r.delete(redis_key(live_key))


# -- 2. stored records -------------------------------------------------------------------


def plant(r: redis.Redis, planted: Planted) -> tuple[str, bytes, bool]:
    """A well-formed key whose record holds ``planted`` (never a valid record)."""
    raw, must_report = planted.build(int(time.time()))
    assume(not adoptable(raw))
    key = get_random_string(32, VALID_KEY_CHARS)
    r.set(redis_key(key), raw, ex=600)
    return key, raw, must_report


def assert_reported_and_removed(
    r: redis.Redis, caplog: pytest.LogCaptureFixture, key: str, must_report: bool
) -> None:
    assert r.exists(redis_key(key)) == 0, r.get(redis_key(key))
    messages = security_messages(caplog)
    if must_report:
        assert any(keys.fingerprint(key) in m for m in messages), messages
    assert not any(key in m for m in messages), messages


@FUZZ
@given(planted=PLANTED, client_meta=st.booleans())
@example(planted=Planted("raw", b""), client_meta=False)
@example(planted=Planted("raw", bytes(range(256))), client_meta=False)
# A record shorter than a header whose fields the load script can still read:
@example(planted=Planted("mutant", edit=ByteEdit("truncate", 26, 0)), client_meta=False)
# Intact metadata, a value the serializer cannot decode, and a client whose IP the
# load records in the same round trip (the SessionActivityMiddleware case):
@example(planted=Planted("tail", b"0:1:a3:{{{"), client_meta=True)
def test_arbitrary_bytes_where_a_record_lives_give_an_empty_session(
    r: redis.Redis, caplog: pytest.LogCaptureFixture, planted: Planted, client_meta: bool
) -> None:
    key, _raw, must_report = plant(r, planted)
    caplog.clear()
    store = SessionStore(key)
    if client_meta:
        store.record_client({"ip": "198.51.100.7", "ua": "fuzzer/1.0"})
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert store.load() == {}
    assert store.session_key is None  # a fresh key will be issued, never this one
    assert_reported_and_removed(r, caplog, key, must_report)


@FUZZ_SMALL
@given(planted=PLANTED)
@example(planted=Planted("tail", b"0:1:a3:{{{"))
@example(planted=Planted("mutant", edit=ByteEdit("truncate", 30, 0)))
def test_arbitrary_bytes_where_a_record_lives_through_the_middleware_stack(
    r: redis.Redis, caplog: pytest.LogCaptureFixture, planted: Planted
) -> None:
    key, _raw, must_report = plant(r, planted)
    caplog.clear()
    client = Client(raise_request_exception=True)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/read/")
    assert response.status_code == 200
    assert response.json() == {"data": {}, "user": None}
    assert_reported_and_removed(r, caplog, key, must_report)


@FUZZ_SMALL
@given(planted=PLANTED)
@example(planted=Planted("tail", b"0:1:a3:{{{"))
def test_arbitrary_bytes_where_a_record_lives_async(
    r: redis.Redis, caplog: pytest.LogCaptureFixture, planted: Planted
) -> None:
    key, _raw, must_report = plant(r, planted)
    caplog.clear()

    async def load() -> tuple[dict[str, Any], str | None]:
        try:
            store = SessionStore(key)
            store.record_client({"ip": "198.51.100.7"})
            return await store.aload(), store.session_key
        finally:
            await connection.aclose_clients()  # this example's loop ends here

    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        data, left_key = asyncio.run(load())
    assert data == {}
    assert left_key is None
    assert_reported_and_removed(r, caplog, key, must_report)


# -- regressions found by the properties above --------------------------------------------


def test_regression_undecodable_data_behind_intact_metadata_is_removed_via_the_middleware(
    r: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The load script records the client's IP in the record (a rewrite of its
    metadata) before the client finds the data undecodable; the removal then saw
    a record that 'changed since it was read' and kept it, while the warning said
    it was removed. It must be gone after the first request."""
    now = int(time.time())
    key = get_random_string(32, VALID_KEY_CHARS)
    r.set(redis_key(key), fresh_header(now) + b"0:" + b"1:a9:{not json", ex=600)
    client = Client(raise_request_exception=True)
    client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert client.get("/read/").json() == {"data": {}, "user": None}
    assert r.exists(redis_key(key)) == 0
    assert any(keys.fingerprint(key) in m for m in security_messages(caplog))


@pytest.mark.parametrize("length", range(26, record.HEADER_LENGTH))
def test_regression_a_record_shorter_than_a_header_is_removed(
    r: redis.Redis, caplog: pytest.LogCaptureFixture, length: int
) -> None:
    """26 to 32 bytes whose header fields the load script can read: it slid the
    record (rewriting last-seen) and the removal, comparing whole records when
    shorter than a header, never matched: the junk lived on, sliding forever."""
    key = get_random_string(32, VALID_KEY_CHARS)
    r.set(redis_key(key), fresh_header(int(time.time()))[:length], ex=600)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert SessionStore(key).load() == {}
    assert r.exists(redis_key(key)) == 0
    assert any(keys.fingerprint(key) in m for m in security_messages(caplog))


@pytest.mark.parametrize(
    ("offset", "mangled"),
    [
        (record.DEADLINE_OFFSET, b"+0000000"),
        (record.DEADLINE_OFFSET, b"-0000000"),
        (record.DEADLINE_OFFSET, b" 0000000"),
        (record.DEADLINE_OFFSET, b"0000000\t"),
        (record.DEADLINE_OFFSET, b"0000_000"),
        (record.CREATED_OFFSET, b"-0000001"),
        (record.SEEN_OFFSET, b"6AAAAAAA"),
    ],
)
def test_regression_a_header_only_int_would_read_is_corrupt(
    r: redis.Redis, caplog: pytest.LogCaptureFixture, offset: int, mangled: bytes
) -> None:
    """Python read header fields with ``int(x, 16)``, which also takes signs, spaces,
    underscores and upper case, so these records were adopted as sessions while
    the Lua scripts read them differently: with "_" every save was refused
    (``UpdateError``, a 400 on each modifying request) and the expiry never slid;
    with a created time of "-0000001" the next save silently deleted the session.
    Only what ``record.field`` writes is a header."""
    key = get_random_string(32, VALID_KEY_CHARS)
    raw = valid_record(int(time.time()))
    raw = raw[:offset] + mangled + raw[offset + record.FIELD_WIDTH :]
    r.set(redis_key(key), raw, ex=600)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert SessionStore(key).load() == {}
    assert r.exists(redis_key(key)) == 0
    assert any(keys.fingerprint(key) in m for m in security_messages(caplog))


# -- 3. management commands and fingerprints ---------------------------------------------


@dataclass(frozen=True)
class PkName:
    """A user named by (a spelling of) a primary key known only at run time."""

    who: str
    form: str

    def render(self, pks: dict[str, int]) -> str:
        pk = str(pks[self.who])
        if self.form == "arabic-indic":
            return pk.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
        return self.form.format(pk)


NameSpec = str | PkName
PK_FORMS = ["{}", " {} ", "+{}", "0{}", "{}.0", "-{}", "{}0", "{}_0", "0x{}", "{}\x00", "{} 1"]
USER_NAMES: st.SearchStrategy[NameSpec] = st.one_of(
    st.sampled_from(
        [
            "alice",
            "bob",
            "ALICE@EXAMPLE.COM",
            "Bob@Example.Com",
            "Alice",
            "alice ",
            "alice@example.co_",
            "alice@example.co%",
            "%",
            "_",
            "\\",
            "*",
            "",
            "zed",
            "alice\x00",
            "alice@example.com\x00trailing",
            "\udcff",
            "alice\udcff",
        ]
    ),
    st.text(ANY_CHAR, max_size=30),
    st.builds(lambda edit: edit.apply("alice"), EDITS),
    st.builds(lambda edit: edit.apply("alice@example.com"), EDITS),
    st.builds(lambda edit: edit.apply("bob@example.com"), EDITS),
    st.builds(PkName, st.sampled_from(["alice", "bob"]), st.sampled_from(PK_FORMS)),
    st.builds(PkName, st.sampled_from(["alice", "bob"]), st.just("arabic-indic")),
    st.from_regex(r"-?[0-9]{1,25}", fullmatch=True),
).filter(lambda name: name != "--")  # argparse versions differ on a second "--"


@dataclass
class Cast:
    """The store every command example starts from."""

    users: list[Any]
    sessions: dict[str, set[str]]  # username -> session keys
    anonymous: str

    @property
    def pks(self) -> dict[str, int]:
        return {user.username: user.pk for user in self.users}

    def fingerprints(self, username: str) -> set[str]:
        return {keys.fingerprint(key) for key in self.sessions[username]}


def wipe(r: redis.Redis) -> None:
    names = list(r.scan_iter(match=keys.escape_glob(conf.SESSION_REDIS_PREFIX) + ":*", count=1000))
    if names:
        r.delete(*names)


def signed_in(user: Any) -> str:
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session.save()
    assert session.session_key is not None
    return session.session_key


def populate(r: redis.Redis, alice: Any, bob: Any) -> Cast:
    """alice with 2 sessions, bob with 1, one anonymous session: nothing else."""
    wipe(r)
    anonymous = SessionStore()
    anonymous["cart"] = [1, 2]
    anonymous.save()
    assert anonymous.session_key is not None
    return Cast(
        users=[alice, bob],
        sessions={
            "alice": {signed_in(alice), signed_in(alice)},
            "bob": {signed_in(bob)},
        },
        anonymous=anonymous.session_key,
    )


def snapshot(r: redis.Redis) -> dict[bytes, Any]:
    """Everything under the run's prefix (values and index scores, not TTLs)."""
    found: dict[bytes, Any] = {}
    for name in r.scan_iter(match=keys.escape_glob(conf.SESSION_REDIS_PREFIX) + ":*", count=1000):
        if r.type(name) == b"zset":
            found[name] = r.zrange(name, 0, -1, withscores=True)
        else:
            found[name] = r.get(name)
    return found


def live(r: redis.Redis, session_keys: set[str]) -> set[str]:
    return {key for key in session_keys if r.exists(redis_key(key))}


def expected_user(name: str, by_id: bool, users: Sequence[Any]) -> Any | None:
    """Who ``name`` names, as the README documents it; ``None``: a CommandError.

    By id: what ``int()`` makes of it (Django's ``AutoField.to_python``). By name:
    the username exactly, or the email without regard to ASCII case (SQLite's
    ``LIKE``, with ``%`` and ``_`` escaped). A name no user can have (a NUL, a
    lone surrogate) names nobody.
    """
    if by_id:
        try:
            pk = int(name)
        except ValueError:
            return None
        return next((user for user in users if user.pk == pk), None)
    if "\x00" in name or re.search("[\ud800-\udfff]", name):
        return None
    for user in users:
        if user.username == name:
            return user
    if name.isascii():
        for user in users:
            if user.email.lower() == name.lower():
                return user
    return None


def label(user: Any) -> str:
    return f"{user.username} (id {user.pk})"


def sessions_word(count: int) -> str:
    return f"{count} session" if count == 1 else f"{count} sessions"


def run_command(command: str, *args: str) -> str:
    out = io.StringIO()
    # revoke_sessions reads its confirmation from ``stdin``: not a terminal here.
    extra = {"stdin": io.StringIO()} if command == "revoke_sessions" else {}
    call_command(command, *args, stdout=out, stderr=io.StringIO(), **extra)
    return out.getvalue()


@pytest.mark.django_db
@FUZZ
@given(spec=USER_NAMES, by_id=st.booleans(), as_json=st.booleans())
@example(spec="alice@example.com\x00trailing", by_id=False, as_json=False)
@example(spec="\udcff", by_id=False, as_json=False)
@example(spec=PkName("alice", "arabic-indic"), by_id=True, as_json=True)
def test_list_sessions_with_any_user_argument(
    r: redis.Redis, alice: Any, bob: Any, spec: NameSpec, by_id: bool, as_json: bool
) -> None:
    cast = populate(r, alice, bob)
    name = spec.render(cast.pks) if isinstance(spec, PkName) else spec
    flags = [flag for flag, on in (("--id", by_id), ("--json", as_json)) if on]
    before = snapshot(r)
    user = expected_user(name, by_id, cast.users)
    if user is None:
        with pytest.raises(CommandError):
            run_command("list_sessions", *flags, "--", name)
    else:
        out = run_command("list_sessions", *flags, "--", name)
        fingerprints = cast.fingerprints(user.username)
        if as_json:
            listed = json.loads(out)
            assert {item["fingerprint"] for item in listed} == fingerprints
            assert {item["user_id"] for item in listed} == {str(user.pk)}
        else:
            lines = out.splitlines()
            count = len(fingerprints)
            assert lines[0] == f"{label(user)}: {sessions_word(count)} (times in UTC)"
            assert lines[1].split()[0] == "FINGERPRINT"
            assert {line.split()[0] for line in lines[2:]} == fingerprints
    assert snapshot(r) == before  # listing never changes anything


@pytest.mark.django_db
@FUZZ
@given(
    specs=st.lists(USER_NAMES, max_size=4),
    by_id=st.booleans(),
    keep_newest=st.booleans(),
    everyone=st.booleans(),
    yes=st.booleans(),
    dry_run=st.booleans(),
)
@example(specs=["alice", "zed"], by_id=False, keep_newest=False, everyone=False, yes=False,
         dry_run=False)  # fmt: skip
@example(specs=["alice\udcff"], by_id=False, keep_newest=False, everyone=False, yes=False,
         dry_run=False)  # fmt: skip
@example(specs=["ALICE@EXAMPLE.COM", "alice"], by_id=False, keep_newest=True, everyone=False,
         yes=False, dry_run=False)  # fmt: skip
@example(specs=[], by_id=False, keep_newest=False, everyone=True, yes=True, dry_run=False)
def test_revoke_sessions_with_any_arguments(
    r: redis.Redis,
    alice: Any,
    bob: Any,
    specs: list[NameSpec],
    by_id: bool,
    keep_newest: bool,
    everyone: bool,
    yes: bool,
    dry_run: bool,
) -> None:
    cast = populate(r, alice, bob)
    names = [spec.render(cast.pks) if isinstance(spec, PkName) else spec for spec in specs]
    options = {
        "--id": by_id,
        "--keep-newest": keep_newest,
        "--all": everyone,
        "--yes": yes,
        "--dry-run": dry_run,
    }
    argv = [flag for flag, on in options.items() if on] + ["--", *names]
    all_keys = {cast.anonymous}.union(*cast.sessions.values())
    before = snapshot(r)

    resolved = [expected_user(name, by_id, cast.users) for name in names]
    refused = (
        (everyone and (names or keep_newest or by_id or (not yes and not dry_run)))
        or (not everyone and not names)
        or None in resolved
    )
    if refused:
        with pytest.raises(CommandError):
            run_command("revoke_sessions", *argv)
        assert snapshot(r) == before  # every error comes before any change
        return

    out = run_command("revoke_sessions", *argv).splitlines()
    if everyone:
        scope = f"(every session under prefix '{conf.SESSION_REDIS_PREFIX}')."
        verb = "would be ended" if dry_run else "ended"
        assert out == [f"{sessions_word(len(all_keys))} {verb} {scope}"]
        assert live(r, all_keys) == (all_keys if dry_run else set())
        return

    users: list[Any] = []
    for user in resolved:
        if all(user.pk != seen.pk for seen in users):
            users.append(user)
    kept = 1 if keep_newest else 0
    if dry_run:
        assert snapshot(r) == before
        headers = [line for line in out if not line.startswith("  ")]
        assert headers == [
            f"{label(user)}: {sessions_word(len(cast.sessions[user.username]) - kept)} "
            "would be ended"
            for user in users
        ]
        listed = {line.split()[0] for line in out if line.startswith("  ")}
        named = set().union(*(cast.fingerprints(user.username) for user in users))
        assert listed <= named
        assert len(listed) == len(named) - kept * len(users)
        return
    assert out == [
        f"{label(user)}: {sessions_word(len(cast.sessions[user.username]) - kept)} ended"
        for user in users
    ]
    for username, session_keys in cast.sessions.items():
        revoked = any(user.username == username for user in users)
        remaining = live(r, session_keys)
        assert len(remaining) == (kept if revoked else len(session_keys)), username
    assert live(r, {cast.anonymous}) == {cast.anonymous}


OPTION_LIKE = st.sampled_from(
    ["--id", "--keep-newest", "--all", "--yes", "--dry-run", "--", "-", "--a", "--d", "--y",
     "--k", "--i", "--all=yes", "--id=1", "--bogus", "-x", "-h", "--verbosity=3", "--settings",
     "--traceback", "--no-color", "-v", "0"]
)  # fmt: skip
RESULT_LINE = re.compile(
    r".+ \(id \d+\): \d+ sessions? (ended|would be ended)"
    r"|  [0-9a-f]{12}  last seen .+ UTC  ip .+"
    r"|\d+ sessions? (ended|would be ended) \(every session under prefix '.+'\)\."
)


def asks_for_help(arg: str) -> bool:
    return arg == "-h" or (
        len(arg) > 2 and any(full.startswith(arg) for full in ("--help", "--version"))
    )


@pytest.mark.django_db
@FUZZ_SMALL
@given(argv=st.lists(st.one_of(OPTION_LIKE, USER_NAMES), max_size=6))
@example(argv=["--a", "--y"])
@example(argv=["-x", "alice"])
@example(argv=["alice", "-h"])
def test_revoke_sessions_with_any_command_line_changes_nothing_or_reports(
    r: redis.Redis, alice: Any, bob: Any, argv: list[NameSpec]
) -> None:
    cast = populate(r, alice, bob)
    args = [spec.render(cast.pks) if isinstance(spec, PkName) else spec for spec in argv]
    before = snapshot(r)
    exit_code: object = None
    try:
        out = run_command("revoke_sessions", *args)
    except CommandError:
        assert snapshot(r) == before
        return
    except SystemExit as exc:
        exit_code = exc.code
    if exit_code is not None:
        # argparse answers --help and --version (or an abbreviation) and exits 0,
        # as every Django command does.
        options = args[: args.index("--")] if "--" in args else args
        assert exit_code == 0
        assert any(asks_for_help(arg) for arg in options), args
        assert snapshot(r) == before
        return
    assert all(RESULT_LINE.fullmatch(line) for line in out.splitlines()), out


FINGERPRINT_LIKE = st.one_of(
    st.text(ANY_CHAR, max_size=16),
    st.from_regex(r"[0-9a-f]{12}", fullmatch=True),
    st.from_regex(r"[0-9a-fA-F*?\[\]\\]{10,14}", fullmatch=True),
)


@dataclass(frozen=True)
class FingerprintOf:
    """One of the cast's sessions' fingerprints (index into a sorted list), edited."""

    index: int
    edit: Edit | None


@pytest.mark.django_db
@FUZZ_SMALL
@given(
    spec=st.one_of(
        FINGERPRINT_LIKE, st.builds(FingerprintOf, st.integers(0, 3), st.none() | EDITS)
    ),
    scoped=st.booleans(),
)
@example(spec="[0-9a-f]*", scoped=False)
@example(spec=FingerprintOf(0, None), scoped=False)
@example(spec=FingerprintOf(3, None), scoped=True)
def test_revoke_session_with_any_fingerprint(
    r: redis.Redis, alice: Any, bob: Any, spec: str | FingerprintOf, scoped: bool
) -> None:
    cast = populate(r, alice, bob)
    all_keys = sorted({cast.anonymous}.union(*cast.sessions.values()))
    if isinstance(spec, FingerprintOf):
        fingerprint = keys.fingerprint(all_keys[spec.index])
        fingerprint = spec.edit.apply(fingerprint) if spec.edit else fingerprint
    else:
        fingerprint = spec
    before = snapshot(r)
    if not re.fullmatch(r"[0-9a-f]{12}", fingerprint):
        with pytest.raises(ValueError, match="is not a session fingerprint"):
            api.revoke_session(fingerprint, user=alice if scoped else None)
        assert snapshot(r) == before
        return
    candidates = cast.sessions["alice"] if scoped else set(all_keys)
    target = {key for key in candidates if keys.fingerprint(key) == fingerprint}
    assert api.revoke_session(fingerprint, user=alice if scoped else None) is bool(target)
    assert live(r, set(all_keys)) == set(all_keys) - target


# -- regressions found by the command properties ---------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["\udcff", "alice\udcff", "alice\x00", "alice@example.com\x00trailing"]
)
@pytest.mark.parametrize("command", ["list_sessions", "revoke_sessions"])
def test_regression_a_name_no_user_can_have_is_an_unknown_user(
    r: redis.Redis, alice: Any, bob: Any, name: str, command: str
) -> None:
    """A lone surrogate (what Python makes of a non-UTF-8 byte in ``argv``) made
    SQLite raise ``UnicodeEncodeError``; an email with a NUL and junk after it
    matched that email (SQLite's ``LIKE`` stops at a NUL), so ``revoke_sessions``
    ended the sessions of a user who was not named."""
    cast = populate(r, alice, bob)
    before = snapshot(r)
    with pytest.raises(CommandError, match="Unknown user"):
        run_command(command, "--", name)
    assert snapshot(r) == before
    assert live(r, cast.sessions["alice"]) == cast.sessions["alice"]

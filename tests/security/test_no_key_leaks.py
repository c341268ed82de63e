"""No raw session key ever leaves the cookie: not in logs, pages, command output,
error reports, Redis commands or anything Redis stores.

One test drives the whole life of several sessions (anonymous use, login, writes,
key cycling, a changed user agent, the user's own pages and JSON API, the admin as
a superuser, revocation by API, admin, user and command, the other management
commands, a corrupted record, hostile cookies, a password change, an unreachable
Redis) while capturing everything an operator or an attacker with access to the
infrastructure could read: every log record of every logger at DEBUG (formatted,
with traceback, raw arguments and extras), every response's status, headers, body
and non-session cookies, command stdout/stderr and errors, what the Python API
returns, signals, warnings, every command sent to Redis, and every key and value
under the test prefix. Every session key generated on the way is then searched for
in all of it: whole, as any 16-character piece, in any case, and hex-encoded.

The search is shown to work first (``test_the_scanner_finds_what_it_must...``), and
within the flow a canary (a key-shaped secret stored in session data and logged)
must be found in the Redis dump, the wire, the logs and the admin's pages, so a
capture that silently collects nothing fails the test instead of passing it.

Django's HTML error report shows frames' local variables; the last tests check it
(end to end as an error e-mail, and for the async twins directly).
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import django
import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.utils.crypto import get_random_string
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.storage import Operations, keys, record

from ..helpers import redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

COOKIE = "sessionid"
#: A leaked fragment this long is a leak (16 of 32 characters: 82 bits of the key).
#: Shorter windows would still be safe from false matches, but 16 needs no argument.
WINDOW = 16
_RUN = re.compile(rf"[0-9a-z]{{{WINDOW},}}")

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
CHANGELIST = "/admin/django_redis_sessions/redissession/"


# -- the scanner -------------------------------------------------------------------------


class KeyScanner:
    """Finds any of ``secrets`` (or a 16-character piece of one) in text or bytes.

    Case-insensitive, and also finds the hex encoding of a secret's ASCII bytes.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        self.windows: dict[str, str] = {}
        for secret in secrets:
            for variant in (secret.lower(), secret.encode("ascii").hex()):
                for start in range(len(variant) - WINDOW + 1):
                    self.windows[variant[start : start + WINDOW]] = secret

    def find(self, haystack: str | bytes) -> set[str]:
        text = haystack.decode("latin-1") if isinstance(haystack, bytes) else haystack
        found: set[str] = set()
        for match in _RUN.finditer(text.lower()):
            run = match.group()
            for start in range(len(run) - WINDOW + 1):
                secret = self.windows.get(run[start : start + WINDOW])
                if secret is not None:
                    found.add(secret)
        return found


def new_key() -> str:
    return get_random_string(32, VALID_KEY_CHARS)


def test_the_scanner_finds_what_it_must_and_nothing_else() -> None:
    key, other = new_key(), new_key()
    scanner = KeyScanner([key])
    assert scanner.find(f"<td>{key}</td>") == {key}
    assert scanner.find(f"x{key}y".encode()) == {key}
    assert scanner.find(key.upper()) == {key}
    assert scanner.find(json.dumps({"k": key[5:21]})) == {key}  # a 16-character piece
    assert scanner.find("cookie " + key.encode().hex()) == {key}
    assert scanner.find(b"\x00\xff" + key.encode() + b"\x00") == {key}
    # Nothing shorter than the window, nothing derived from it, nothing else.
    assert scanner.find(key[:15] + " " + key[15:30]) == set()
    assert scanner.find(keys.digest(key) + " " + keys.fingerprint(key)) == set()
    assert scanner.find(f"{other} {keys.session_redis_key('session', keys.digest(key))}") == set()


# -- capture ---------------------------------------------------------------------------


class _EverythingHandler(logging.Handler):
    """Keeps every record: its formatted line, traceback, raw msg/args and extras."""

    _STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def __init__(self, sink: list[tuple[str, str]]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.seen: set[int] = set()
        self.kept: list[logging.LogRecord] = []  # alive, so that no id() is reused
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if id(record) in self.seen:  # the same record, reaching another logger
            return
        self.seen.add(id(record))
        self.kept.append(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in self._STANDARD}
        text = "\n".join([self.format(record), repr(record.msg), repr(record.args), repr(extras)])
        self.sink.append((f"log {record.name}", text))


@dataclass
class Capture:
    """Everything the flow produced, as ``(where, text)``; and the keys it issued."""

    texts: list[tuple[str, str | bytes]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    generated: list[str] = field(default_factory=list)

    def add(self, where: str, text: str | bytes) -> None:
        self.texts.append((where, text))

    def response(self, who: str, request: dict[str, Any], response: Any) -> None:
        where = f"{who} {request.get('REQUEST_METHOD')} {request.get('PATH_INFO')}"
        self.add(f"{where} status", f"{response.status_code} {response.reason_phrase}")
        self.add(f"{where} headers", repr(sorted(response.headers.items())))
        if not response.streaming:
            self.add(f"{where} body", response.content)
        for name, morsel in response.cookies.items():
            if name == COOKIE:
                if morsel.value:
                    self.issued.add(morsel.value)  # where keys are meant to be
                self.add(f"{where} session cookie attributes", repr(sorted(morsel.items())))
            else:
                self.add(f"{where} cookie {name}", morsel.output())

    def command(self, *args: str, **options: Any) -> str:
        out, err = io.StringIO(), io.StringIO()
        where = "command " + " ".join(args)
        try:
            call_command(*args, stdout=out, stderr=err, **options)
        except CommandError as exc:
            self.add(f"{where} error", str(exc))
        self.add(f"{where} stdout", out.getvalue())
        self.add(f"{where} stderr", err.getvalue())
        return out.getvalue()

    def keyspace(self, r: redis.Redis, moment: str) -> int:
        """Dump every key under the test prefix, with its value whatever its type."""
        count = 0
        for name in r.scan_iter(
            match=keys.escape_glob(conf.SESSION_REDIS_PREFIX) + "*", count=1000
        ):
            kind = r.type(name).decode()
            value: Any
            if kind == "string":
                value = r.get(name)
            elif kind == "zset":
                value = r.zrange(name, 0, -1, withscores=True)
            elif kind == "set":
                value = sorted(r.smembers(name))
            elif kind == "hash":
                value = r.hgetall(name)
            elif kind == "list":
                value = r.lrange(name, 0, -1)
            elif kind == "stream":
                value = r.xrange(name)
            else:
                value = f"<{kind}>"
            self.add(f"redis {moment} key", name)
            self.add(
                f"redis {moment} value of {name!r}", value if kind == "string" else repr(value)
            )
            count += 1
        return count


class Browser(Client):
    """A test client whose every response (redirects included) is captured."""

    def __init__(self, capture: Capture, name: str, **defaults: Any) -> None:
        super().__init__(**defaults)
        self.capture = capture
        self.name = name

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        self.capture.response(self.name, request, response)
        return response

    @property
    def key(self) -> str:
        value: str = self.cookies[COOKIE].value
        return value

    def user(self) -> str | None:
        response = self.get("/read/")
        assert response.status_code == 200
        name: str | None = response.json()["user"]
        return name


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    """Every log record of every logger at DEBUG, and every key the engine generates."""
    result = Capture()
    real_new_key = SessionStore._get_new_session_key

    def recording_new_key(self: SessionStore) -> str:
        session_key = real_new_key(self)
        result.generated.append(session_key)
        return session_key

    monkeypatch.setattr(SessionStore, "_get_new_session_key", recording_new_key)

    handler = _EverythingHandler(result.logs)
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        logger for logger in manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    # Named explicitly, in case nothing created them yet (propagation may be off).
    for name in ("django", "django.request", "django.security", "django_redis_sessions"):
        loggers.append(logging.getLogger(name))
    levels = {logger: logger.level for logger in loggers}
    disabled = manager.disable
    logging.disable(logging.NOTSET)
    for logger in loggers:
        if logger.level != logging.NOTSET or logger is logging.getLogger():
            logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    try:
        yield result
    finally:
        for logger, level in levels.items():
            logger.removeHandler(handler)
            logger.setLevel(level)
        logging.disable(disabled)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fp(session_key: str) -> str:
    return keys.fingerprint(session_key)


# -- the flow -------------------------------------------------------------------------------


def test_no_session_key_appears_anywhere(
    r: redis.Redis,
    alice: Any,
    bob: Any,
    capture: Capture,
    settings: Any,
    count_round_trips: Any,
    revocations: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings.SESSIONS_ADMIN_SHOW_DATA = True  # admin pages show session data too
    settings.SESSIONS_USER_AGENT_CHANGE = "flag"
    settings.SESSIONS_REVOKE_ON_PASSWORD_CHANGE = True
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    canary = new_key()  # key-shaped, stored in session data: every capture must see it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _flow(r, capture, alice, bob, root, canary, settings)
    capture.add("warnings", "\n".join(str(w.message) for w in caught))
    out, err = capsys.readouterr()
    capture.add("process stdout", out)
    capture.add("process stderr", err)
    capture.add("signals", repr(revocations))
    for number, sent in enumerate(count_round_trips.commands):
        capture.add(f"wire command {number}", sent)
    capture.keyspace(r, "at the end")
    for where, text in capture.logs:
        capture.add(where, text)

    # What was issued is what was generated (the harvest works), and there is plenty.
    assert capture.issued <= set(capture.generated)
    assert len(capture.issued) >= 15, len(capture.issued)
    assert all(keys.is_valid_session_key(k) for k in capture.generated)
    assert revocations

    # The canary proves each capture holds what it should, so silence is not success.
    scanner = KeyScanner([*capture.generated, canary])
    kinds_with_canary = {
        where.split(" ")[0] for where, text in capture.texts if canary in scanner.find(text)
    }
    assert {"redis", "wire", "log", "root"} <= kinds_with_canary, kinds_with_canary

    leaks = [
        f"{where}: ...{excerpt(text, secret)}..."
        for where, text in capture.texts
        for secret in scanner.find(text)
        if secret != canary
    ]
    assert not leaks, "session keys leaked (shown by fingerprint):\n" + "\n".join(leaks)


def excerpt(haystack: str | bytes, secret: str) -> str:
    """Where ``secret`` (or a piece of it) sits in ``haystack``, with it masked."""
    text = haystack.decode("latin-1") if isinstance(haystack, bytes) else haystack
    lowered, at = text.lower(), 0
    for start in range(len(secret) - WINDOW + 1):
        if (at := lowered.find(secret[start : start + WINDOW])) >= 0:
            break
    around = text[max(0, at - 120) : at + 80].replace(secret, f"<key {fp(secret)}>")
    for start in range(len(secret) - WINDOW + 1):
        around = around.replace(secret[start : start + WINDOW], "<piece of a key>")
    return around.replace("\n", " ")


def _flow(
    r: redis.Redis, capture: Capture, alice: Any, bob: Any, root: Any, canary: str, settings: Any
) -> None:
    def browser(name: str, agent: str = FIREFOX, ip: str = "203.0.113.10") -> Browser:
        return Browser(capture, name, HTTP_USER_AGENT=agent, REMOTE_ADDR=ip)

    def login(client: Browser, username: str, password: str) -> str:
        response = client.post("/login/", {"username": username, "password": password})
        assert response.status_code == 200
        return client.key

    def write(client: Browser, **data: Any) -> None:
        body = json.dumps(data)
        assert client.post("/write/", body, content_type="application/json").status_code == 200

    logging.getLogger("django_redis_sessions").debug("canary %s", canary)

    # Anonymous use, then login (cycle_key) and more requests, sync and async views.
    phone = browser("alice-phone", SAFARI, "2001:db8::7")
    write(phone, cart=[1, 2])
    anonymous = phone.key
    for _ in range(3):
        assert phone.get("/read/").json()["data"]["cart"] == [1, 2]
    assert login(phone, "alice", "pw-alice") != anonymous
    write(phone, note="hello", canary=canary)
    assert phone.get("/aread/").status_code == 200
    assert phone.post("/awrite/", '{"n": 2}', content_type="application/json").status_code == 200
    before_cycle = phone.key
    assert phone.post("/cycle/").status_code == 200
    assert phone.key != before_cycle
    assert phone.user() == "alice"

    laptop = browser("alice-laptop")
    response = laptop.post(
        "/accounts/login/", {"username": "alice", "password": "pw-alice"}, follow=True
    )
    assert response.status_code == 200  # Django's LoginView, then the sessions page
    tablet, watch, spare = browser("alice-tablet"), browser("alice-watch"), browser("alice-spare")
    for device in (tablet, watch, spare):
        login(device, "alice", "pw-alice")
    # A user agent that changes mid-session ("flag" logs a warning by fingerprint).
    laptop.defaults["HTTP_USER_AGENT"] = SAFARI
    assert laptop.user() == "alice"

    bob_browser = browser("bob", ip="198.51.100.23")
    assert (
        bob_browser.post("/alogin/", {"username": "bob", "password": "pw-bob"}).status_code == 200
    )
    write(bob_browser, basket="bob's")
    bob_spare = browser("bob-spare")
    login(bob_spare, "bob", "pw-bob")

    # The user's own pages: HTML and JSON, signing out one session each way.
    assert phone.get("/account/sessions/").status_code == 200
    listing = phone.get("/account/sessions/api/").json()["sessions"]
    assert fp(tablet.key) in {s["fingerprint"] for s in listing}
    response = phone.post(f"/account/sessions/api/{fp(tablet.key)}/revoke/")
    assert response.json() == {"revoked": 1, "signed_out": False}
    response = phone.post(f"/account/sessions/{fp(watch.key)}/revoke/", follow=True)
    assert response.status_code == 200
    assert phone.post("/account/sessions/api/0123456789ab/revoke/").status_code == 404
    assert tablet.user() is None
    assert watch.user() is None

    # The admin, as a superuser signed in through its login page.
    admin = browser("root", ip="192.0.2.1")
    response = admin.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": "pw-root", "next": "/admin/"},
        follow=True,
    )
    assert response.status_code == 200
    for path in (
        "/admin/",
        CHANGELIST,
        CHANGELIST + "?q=alice",
        f"{CHANGELIST}user/{alice.pk}/",
        f"{CHANGELIST}user/{bob.pk}/revoke-all/",
        f"/admin/auth/user/{alice.pk}/change/",
    ):
        assert admin.get(path).status_code == 200, path
    assert capture.keyspace(r, "mid-flow") >= 8
    response = admin.post(
        f"{CHANGELIST}user/{alice.pk}/", {"fingerprint": [fp(spare.key)]}, follow=True
    )
    assert "1 session revoked." in response.content.decode()
    assert spare.user() is None

    # The Python API, and what it returns (an application might print or log it).
    capture.add("api list", repr(api.list_user_sessions(alice, current=phone.key)))
    capture.add("api data", repr(api.sessions_data(alice)))
    capture.add("api overview", repr(api.session_overview()))
    capture.add("api activity", repr(api.users_activity([alice, bob])))
    assert api.revoke_session(fp(bob_spare.key), user=bob) is True
    assert bob_spare.user() is None

    # A corrupted record: the admin, the command and the owner's next request meet it.
    now = record.field(int(time.time()))
    corrupt = b"1" + now + now + record.field(0) + record.field(600) + b"9:broken"
    r.set(redis_key(bob_browser.key), corrupt, keepttl=True)
    assert admin.get(f"{CHANGELIST}user/{bob.pk}/").status_code == 200
    capture.command("list_sessions", "bob")
    assert bob_browser.user() is None
    assert r.exists(redis_key(bob_browser.key)) == 0

    # Hostile cookies: malformed, oversized, and a well-formed key nobody issued.
    planted = new_key()
    capture.generated.append(planted)  # never issued, but must not be echoed either
    for hostile in ("x" * 10_000, "../../etc/passwd", "abcd{efgh}ijkl", planted):
        thief = browser("thief")
        thief.cookies[COOKIE] = hostile
        assert thief.user() is None
        write(thief, stolen=False)
        assert thief.key != hostile

    # A password change: this session gets a new key, the other devices end.
    laptop_key = laptop.key
    response = laptop.post(
        "/password_change/",
        {
            "old_password": "pw-alice",
            "new_password1": "n3w-Pass!word",
            "new_password2": "n3w-Pass!word",
        },
    )
    assert response.status_code == 302
    assert laptop.key != laptop_key
    assert phone.user() is None
    alice.refresh_from_db()

    # The management commands.
    another = browser("alice-another")
    login(another, "alice", "n3w-Pass!word")
    assert fp(another.key) in capture.command("list_sessions", "alice")
    capture.command("list_sessions", "alice", "--json")
    capture.command("list_sessions", "root")
    capture.command("list_sessions", "nobody")  # an error, captured
    capture.command("revoke_sessions", "alice", "--dry-run")
    capture.command("revoke_sessions", "--keep-newest", "alice")
    capture.command("revoke_sessions", "--id", str(bob.pk))
    capture.command("clearsessions", verbosity=2)

    # Redis unreachable: a request, an admin page, a command, the API, a password change.
    dead = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with override_settings(
        SESSION_REDIS_URL=dead, SESSION_REDIS_CONNECT_TIMEOUT=0.2, SESSION_REDIS_RETRIES=0
    ):
        for name, key, path in (
            ("laptop (outage)", laptop.key, "/read/"),
            ("root (outage)", admin.key, CHANGELIST),
        ):
            victim = Browser(capture, name, raise_request_exception=False)
            victim.cookies[COOKIE] = key
            assert victim.get(path).status_code == 500
        capture.command("revoke_sessions", "alice")
        capture.command("clearsessions")
        try:
            api.revoke_session(fp(laptop.key), user=alice)
        except Exception as exc:
            capture.add("api error", f"{type(exc).__name__}: {exc}")
        alice.set_password("0ther-Pass!word")
        alice.save()  # the validator's revocation fails and is logged

    assert admin.user() == "root"
    capture.command("revoke_sessions", "--all", "--yes")
    assert admin.user() is None


# -- error reports -------------------------------------------------------------------------
#
# Django's HTML error report (``AdminEmailHandler(include_html=True)``, the DEBUG page,
# and error trackers that record frame locals the same way) lists every frame's local
# variables, cleansed only where ``@sensitive_variables`` says so. Rendering either
# report also logs its context, locals included, on ``django.template`` at DEBUG.

# SessionStore.load/aload hold the key in ``session_key``, cycle_key/acycle_key in
# ``old_key`` and ``new_key``, and those frames are on the stack when Redis fails:
# backend.py marks them @sensitive_variables, so the report shows stars instead.


def _unavailable(*args: Any, **kwargs: Any) -> Any:
    """An operation (a generator of steps, as every storage operation is) that fails."""
    raise SessionStoreUnavailable("Session store Redis at 127.0.0.1:1 is unreachable", "x")
    yield


def _assert_no_key(report: str, capture: Capture, session_key: str, frame: str) -> None:
    # The report is real: the failing frame is in it, with local variables shown...
    assert "SessionStoreUnavailable" in report
    assert f"in {frame}" in report
    assert "<td>self</td>" in report
    # ...and neither it nor the DEBUG log of its rendering holds the key.
    scanner = KeyScanner([session_key])
    leaks = [
        f"{where}: {excerpt(text, session_key)}"
        for where, text in [("report", report), *capture.logs]
        if scanner.find(text)
    ]
    assert not leaks, leaks


@pytest.mark.parametrize("frame", ["load", "cycle_key"])
def test_error_e_mails_do_not_show_the_session_key(
    r: redis.Redis,
    alice: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    capture: Capture,
    frame: str,
) -> None:
    """Redis fails mid-request; Django mails the admins the HTML error report."""
    # Django 6.0 takes plain addresses and deprecates (name, address) pairs.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )
    client = Client(raise_request_exception=False)
    if frame == "load":  # a signed-in session's next request cannot load it
        client.post("/login/", {"username": "alice", "password": "pw-alice"})
        monkeypatch.setattr(Operations, "load", _unavailable)
    else:  # an anonymous session signs in: cycle_key fails
        client.post("/write/", b'{"a": 1}', content_type="application/json")
        monkeypatch.setattr(Operations, "cycle", _unavailable)
    session_key = client.cookies[COOKIE].value
    mailer = AdminEmailHandler(include_html=True)
    logging.getLogger("django.request").addHandler(mailer)
    try:
        response = client.post("/login/", {"username": "alice", "password": "pw-alice"})
    finally:
        logging.getLogger("django.request").removeHandler(mailer)
    assert response.status_code == 500
    report = "".join(str(content) for message in mail.outbox for content, _ in message.alternatives)
    _assert_no_key(report, capture, session_key, frame)


@pytest.mark.parametrize("frame", ["aload", "acycle_key"])
async def test_async_error_reports_do_not_show_the_session_key(
    r: redis.Redis, monkeypatch: pytest.MonkeyPatch, capture: Capture, frame: str
) -> None:
    """The same with the async twins, reported directly (through Django's
    ``_aget_session`` CPython 3.11 happens to drop the ``aload`` frame from the
    traceback, which would make an end-to-end check prove nothing there)."""
    session = SessionStore()
    await session.aset("a", 1)
    await session.asave()
    session_key = session.session_key
    assert session_key is not None
    fresh = SessionStore(session_key)
    if frame == "acycle_key":
        await fresh.aload()
    # One implementation serves both worlds and both deployments.
    monkeypatch.setattr(Operations, frame[1:].replace("_key", ""), _unavailable)
    with pytest.raises(SessionStoreUnavailable) as info:
        await getattr(fresh, frame)()
    tb: TracebackType | None = info.tb  # from the engine's frame on (ours holds the key)
    while tb is not None and tb.tb_frame.f_code.co_name != frame:
        tb = tb.tb_next
    report = ExceptionReporter(None, info.type, info.value, tb, is_email=True)
    _assert_no_key(report.get_traceback_html(), capture, session_key, frame)

"""A Redis that goes away and comes back: what requests get meanwhile, and what survives.

Each test runs its own ``redis-server`` on a free loopback port with append-only
persistence (``--appendonly yes --appendfsync always``), creates sessions through
the full middleware stack, stops the server, sends requests while it is down
(``SESSION_REDIS_ON_OUTAGE`` "raise" and "degrade", sync and async), then starts
it again on the same port and directory: every session made before the stop
loads again, byte for byte as it was, with its data, its user and its index entry.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from django.test import AsyncClient, Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.storage import keys

from .servers import free_port, stop_process

pytestmark = [
    pytest.mark.real_redis,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not on PATH"),
]

COOKIE = "sessionid"


class RedisProcess:
    """One persistent ``redis-server`` on loopback that can be stopped and started again."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        args = [
            binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            client = self.client()
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)

    def snapshot(self) -> dict[bytes, Any]:
        """Every key with its value (and whether it has a TTL), read without the engine;
        not the short-lived receipts of writes (receipts.py)."""
        client = self.client()
        try:
            found: dict[bytes, Any] = {}
            for name in client.scan_iter(count=1000):
                if b":o:" in name:
                    continue
                kind = client.type(name)
                if kind == b"string":
                    value: Any = client.get(name)
                elif kind == b"zset":
                    value = client.zrange(name, 0, -1, withscores=True)
                elif kind == b"hash":
                    value = client.hgetall(name)
                else:
                    value = kind
                found[name] = (value, client.pttl(name) > 0)
            return found
        finally:
            client.close()


@pytest.fixture
def server(settings: Any, tmp_path: Path) -> Iterator[RedisProcess]:
    """A fresh persistent Redis the engine talks to; always stopped at the end."""
    process = RedisProcess(free_port(), tmp_path)
    process.start()
    try:
        settings.SESSION_REDIS_URL = f"redis://127.0.0.1:{process.port}/0"
        settings.SESSION_REDIS_CONNECT_TIMEOUT = 0.3
        settings.SESSION_REDIS_SOCKET_TIMEOUT = 0.5
        settings.SESSION_REDIS_RETRIES = 1
        yield process
    finally:
        process.stop()


@dataclass
class Made:
    """A session made before the outage: its cookie, data and user."""

    key: str
    data: dict[str, Any]
    user: str | None
    extra: dict[str, Any] = field(default_factory=dict)


def _cookie(client: Client | AsyncClient) -> str:
    value: str = client.cookies[COOKIE].value
    return value


def make_sessions(alice: Any) -> tuple[list[Made], list[Client]]:
    """A signed-in session with data, an anonymous one, and one made directly."""
    signed_in = Client(raise_request_exception=False)
    assert (
        signed_in.post("/login/", {"username": "alice", "password": "pw-alice"}).status_code == 200
    )
    signed_in.post("/write/", data=b'{"cart": [1, 2]}', content_type="application/json")
    anonymous = Client(raise_request_exception=False)
    anonymous.post("/write/", data=b'{"a": 1}', content_type="application/json")
    direct = SessionStore()
    direct["theme"] = "dark"
    direct.save()
    assert direct.session_key is not None
    made = [
        Made(_cookie(signed_in), {"cart": [1, 2]}, "alice"),
        Made(_cookie(anonymous), {"a": 1}, None),
        Made(direct.session_key, {"theme": "dark"}, None),
    ]
    direct_client = Client(raise_request_exception=False)
    direct_client.cookies[COOKIE] = direct.session_key
    return made, [signed_in, anonymous, direct_client]


def assert_all_back(server: RedisProcess, before: dict[bytes, Any], made: list[Made], alice: Any):
    """Restarted: nothing was overwritten or deleted, and every session loads again."""
    server.start()
    assert server.snapshot() == before
    for session in made:
        client = Client()
        client.cookies[COOKIE] = session.key
        body = client.get("/read/").json()
        data = {k: v for k, v in body["data"].items() if not k.startswith("_auth")}
        assert (data, body["user"]) == (session.data, session.user)
        assert _cookie(client) == session.key
    fingerprints = {info.fingerprint for info in api.list_user_sessions(alice)}
    assert fingerprints == {keys.fingerprint(made[0].key)}


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "django_redis_sessions" and record.levelno == logging.WARNING
    ]


# -- "raise" (the default) ----------------------------------------------------------


def test_raise_mode_answers_500_keeps_cookies_and_loses_nothing(server, alice, settings):
    made, clients = make_sessions(alice)
    before = server.snapshot()
    assert len(before) == 5  # three sessions, alice's index and the users index
    server.stop()

    for session, client in zip(made, clients, strict=True):
        for response in (
            client.get("/read/"),
            client.post("/write/", data=b'{"b": 2}', content_type="application/json"),
            client.post("/logout/"),
        ):
            assert response.status_code == 500, response.request
            assert COOKIE not in response.cookies  # no Set-Cookie, deleting or not
            assert _cookie(client) == session.key
    with pytest.raises(SessionStoreUnavailable, match=f"127.0.0.1:{server.port}"):
        SessionStore(made[0].key).load()

    assert_all_back(server, before, made, alice)


# -- "degrade" ----------------------------------------------------------------------


def test_degrade_mode_serves_an_empty_unsaved_session_and_loses_nothing(
    server, alice, settings, caplog
):
    settings.SESSION_REDIS_ON_OUTAGE = "degrade"
    made, clients = make_sessions(alice)
    before = server.snapshot()
    server.stop()

    for session, client in zip(made, clients, strict=True):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
            response = client.get("/read/")
        assert response.status_code == 200
        assert response.json() == {"data": {}, "user": None}
        assert COOKIE not in response.cookies
        assert _cookie(client) == session.key
        [warning] = outage_warnings(caplog)  # one line for the one failed operation
        assert f"127.0.0.1:{server.port}" in warning
        assert keys.fingerprint(session.key) in warning
        assert session.key not in warning

        response = client.post("/write/", data=b'{"b": 2}', content_type="application/json")
        assert response.status_code == 200
        assert COOKIE not in response.cookies
        assert _cookie(client) == session.key

    signed_in = clients[0]
    # A login needs Redis: a clear error, never a sign-in that is not stored.
    response = signed_in.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 500
    assert COOKIE not in response.cookies
    newcomer = Client(raise_request_exception=False)
    response = newcomer.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 500
    assert COOKIE not in newcomer.cookies
    # Nor may a logout look done when the session lives on.
    response = signed_in.post("/logout/")
    assert response.status_code == 500
    assert COOKIE not in response.cookies
    assert _cookie(signed_in) == made[0].key
    # A visitor without a session may write; nothing is stored.
    assert (
        newcomer.post("/write/", data=b'{"c": 3}', content_type="application/json").status_code
        == 200
    )

    assert_all_back(server, before, made, alice)


@pytest.mark.django_db(transaction=True)
async def test_degrade_mode_async(server, alice, settings, caplog):
    settings.SESSION_REDIS_ON_OUTAGE = "degrade"
    signed_in = AsyncClient(raise_request_exception=False)
    response = await signed_in.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    await signed_in.post("/awrite/", data=b'{"cart": [1]}', content_type="application/json")
    anonymous = AsyncClient(raise_request_exception=False)
    await anonymous.post("/awrite/", data=b'{"a": 1}', content_type="application/json")
    made = [
        Made(_cookie(signed_in), {"cart": [1]}, "alice"),
        Made(_cookie(anonymous), {"a": 1}, None),
    ]
    before = server.snapshot()
    server.stop()

    for session, client in zip(made, (signed_in, anonymous), strict=True):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
            response = await client.get("/aread/")
        assert response.status_code == 200
        assert response.json() == {"data": {}}
        assert COOKIE not in response.cookies
        [warning] = outage_warnings(caplog)
        assert f"127.0.0.1:{server.port}" in warning
        assert keys.fingerprint(session.key) in warning
        response = await client.post("/awrite/", data=b'{"b": 2}', content_type="application/json")
        assert response.status_code == 200
        assert COOKIE not in response.cookies
        assert _cookie(client) == session.key
    response = await signed_in.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 500
    assert _cookie(signed_in) == made[0].key

    # The engine's own async paths, directly.
    degraded = SessionStore(made[0].key)
    assert await degraded.aget("cart") is None
    assert degraded.degraded
    assert not degraded.modified
    assert not degraded.is_empty()
    await degraded.aset("cart", [9])
    await degraded.asave()  # writes nothing, raises nothing
    with pytest.raises(SessionStoreUnavailable, match="cycle_key"):
        await degraded.acycle_key()
    with pytest.raises(SessionStoreUnavailable):
        await degraded.adelete()

    server.start()
    assert server.snapshot() == before
    for session in made:
        loaded = SessionStore(session.key)
        data = {k: v for k, v in (await loaded.aitems()) if not k.startswith("_auth")}
        assert data == session.data
        assert not loaded.degraded
    infos = await api.alist_user_sessions(alice)
    assert {info.fingerprint for info in infos} == {keys.fingerprint(made[0].key)}


def test_degraded_session_engine_contract(server, settings, caplog):
    """The engine directly: what each operation does on a degraded session."""
    settings.SESSION_REDIS_ON_OUTAGE = "degrade"
    stored = SessionStore()
    stored["a"] = 1
    stored.save()
    server.stop()

    s = SessionStore(stored.session_key)
    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        assert s.get("a") is None
        s["b"] = 2
        s.save()
        s.save()
    assert len(outage_warnings(caplog)) == 1
    assert s.degraded
    assert s.session_key == stored.session_key  # kept: the cookie is not replaced
    assert not s.is_empty()
    assert not s.modified
    assert s.stored_expiry_age() is None
    with pytest.raises(SessionStoreUnavailable, match="cycle_key"):
        s.cycle_key()
    with pytest.raises(SessionStoreUnavailable, match="delete"):
        s.flush()

    # "raise" keeps today's behaviour exactly.
    settings.SESSION_REDIS_ON_OUTAGE = "raise"
    with pytest.raises(SessionStoreUnavailable):
        SessionStore(stored.session_key).load()

    server.start()
    assert SessionStore(stored.session_key).load() == {"a": 1}


def test_degrade_mode_save_failure_mid_request_keeps_the_stored_session(server, settings):
    """Redis goes away between a request's load and its save: the change is dropped
    (logged), the stored session is untouched; a change of user still raises."""
    settings.SESSION_REDIS_ON_OUTAGE = "degrade"
    stored = SessionStore()
    stored["a"] = 1
    stored.save()
    s = SessionStore(stored.session_key)
    assert s["a"] == 1
    other = SessionStore(stored.session_key)
    assert other["a"] == 1
    server.stop()
    s["a"] = 2
    s.save()
    assert s.degraded
    other["_auth_user_id"] = "42"  # a sign-in must not look done
    with pytest.raises(SessionStoreUnavailable):
        other.save()
    server.start()
    assert SessionStore(stored.session_key).load() == {"a": 1}


# -- a short blip is ridden out by the retries ------------------------------------------


def _restart_after(server: RedisProcess, delay: float, failures: list[BaseException]):
    def run() -> None:
        try:
            time.sleep(delay)
            server.start()
        except BaseException as exc:  # reported by the test
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_blip_shorter_than_the_retry_window_is_not_an_error(server, settings):
    # redis-py waits 0.05 * 2**n from n = 1, capped at 0.5 s: six retries wait about
    # 2.2 s in all, while the server is away for about 0.2 s (plus its start-up).
    settings.SESSION_REDIS_RETRIES = 6
    stored = SessionStore()
    stored["a"] = 1
    stored.save()
    server.stop()
    failures: list[BaseException] = []
    thread = _restart_after(server, 0.2, failures)
    try:
        started = time.monotonic()
        assert SessionStore(stored.session_key).load() == {"a": 1}
        assert time.monotonic() - started >= 0.15  # it did wait for the server
    finally:
        thread.join(timeout=15)
    assert failures == []


async def test_a_blip_is_ridden_out_async(server, settings):
    settings.SESSION_REDIS_RETRIES = 6
    stored = SessionStore()
    stored["a"] = 1
    await stored.asave()
    server.stop()
    failures: list[BaseException] = []
    thread = _restart_after(server, 0.2, failures)
    try:
        assert await SessionStore(stored.session_key).aload() == {"a": 1}
    finally:
        thread.join(timeout=15)
    assert failures == []


def test_e033_rejects_an_unknown_outage_mode(settings):
    from django_redis_sessions.checks import check_settings

    for mode in ("raise", "degrade"):
        settings.SESSION_REDIS_ON_OUTAGE = mode
        assert "django_redis_sessions.E033" not in [m.id for m in check_settings()]
    for bad in ("ignore", None, "Degrade"):
        settings.SESSION_REDIS_ON_OUTAGE = bad
        assert [m.id for m in check_settings()].count("django_redis_sessions.E033") == 1
    assert conf.SESSION_REDIS_ON_OUTAGE == "Degrade"

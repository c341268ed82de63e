"""Scripts sent over a pooled connection directly (``storage/direct.py``).

The hot path skips redis-py's per-command layers only where nothing is lost by
it: these tests hold it to the same replies, the same retries, the same pool and
the same visibility to instrumentation as ``Redis.execute_command``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import redis
import redis.asyncio
import redis.connection
from django.conf import settings as django_settings

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import connection, direct, runner

pytestmark = [pytest.mark.real_redis, pytest.mark.single_server]

TEST_REDIS_URL = django_settings.SESSION_REDIS_URL


@pytest.fixture
def direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The SHA of every script the direct path sent."""
    sent: list[bytes] = []
    original = direct.DirectSender.evalsha

    def spy(self: direct.DirectSender, sha: bytes, *args: Any) -> Any:
        sent.append(sha)
        return original(self, sha, *args)

    monkeypatch.setattr(direct.DirectSender, "evalsha", spy)
    return sent


@pytest.fixture
def through_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Command names that went through ``Redis.execute_command``, wrapped the way an
    APM integration patches it (a plain function of its own in the class)."""
    seen: list[str] = []
    original = redis.Redis.execute_command

    def instrumented(self: redis.Redis, *args: Any, **options: Any) -> Any:
        seen.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", instrumented)
    connection.reset_clients()
    yield seen
    connection.reset_clients()


@pytest.fixture
def async_direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The SHA of every script the asyncio direct path sent."""
    sent: list[bytes] = []
    original = direct.AsyncDirectSender.evalsha

    async def spy(self: direct.AsyncDirectSender, sha: bytes, *args: Any) -> Any:
        sent.append(sha)
        return await original(self, sha, *args)

    monkeypatch.setattr(direct.AsyncDirectSender, "evalsha", spy)
    return sent


async def _asign_in_and_read() -> dict[str, Any]:
    session = SessionStore()
    await session.aupdate({"_auth_user_id": "7", "cart": [1, 2]})
    await session.asave()
    return await SessionStore(session.session_key).aload()


def _sign_in_and_read() -> dict[str, Any]:
    session = SessionStore()
    session.update({"_auth_user_id": "7", "cart": [1, 2]})
    session.save()
    return SessionStore(session.session_key).load()


class Recording(redis.Redis):
    """A project's client class that overrides ``execute_command``."""

    commands: ClassVar[list[str]] = []

    def execute_command(self, *args: Any, **options: Any) -> Any:
        Recording.commands.append(str(args[0]))
        return super().execute_command(*args, **options)


def recording_factory(*, asynchronous: bool) -> Any:
    if asynchronous:
        return redis.asyncio.Redis.from_url(TEST_REDIS_URL)
    return Recording.from_url(TEST_REDIS_URL)


def _assert_sent_directly(sent: list[bytes], driver: Any, client: Any) -> None:
    """The save and the load went the direct way, and every connection is back in
    the pool."""
    scripts = driver.ops.scripts
    assert scripts.save.sha_bytes in sent
    assert scripts.load.sha_bytes in sent
    assert not client.connection_pool._in_use_connections


def test_a_plain_client_sends_the_load_and_the_save_directly(
    r: redis.Redis, direct_calls: list[bytes]
) -> None:
    assert _sign_in_and_read() == {"_auth_user_id": "7", "cart": [1, 2]}
    _assert_sent_directly(direct_calls, runner.sync_driver(), connection.get_client())


async def test_an_asyncio_client_sends_the_load_and_the_save_directly(
    r: redis.Redis, async_direct_calls: list[bytes]
) -> None:
    # redis-py resolves whether its metrics are on at its first command; until
    # then the client's own path runs (and records them if they are).
    await connection.get_async_client().ping()
    assert await _asign_in_and_read() == {"_auth_user_id": "7", "cart": [1, 2]}
    _assert_sent_directly(async_direct_calls, runner.async_driver(), connection.get_async_client())


async def test_a_patched_asyncio_execute_command_sees_every_script(
    r: redis.Redis, async_direct_calls: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    original = redis.asyncio.Redis.execute_command

    async def instrumented(self: redis.asyncio.Redis, *args: Any, **options: Any) -> Any:
        seen.append(str(args[0]))
        return await original(self, *args, **options)

    monkeypatch.setattr(redis.asyncio.Redis, "execute_command", instrumented)
    assert await _asign_in_and_read() == {"_auth_user_id": "7", "cart": [1, 2]}
    assert async_direct_calls == []
    assert seen.count("EVALSHA") >= 2


def test_a_patched_execute_command_sees_every_script(
    r: redis.Redis, direct_calls: list[bytes], through_client: list[str]
) -> None:
    assert _sign_in_and_read() == {"_auth_user_id": "7", "cart": [1, 2]}
    assert direct_calls == []
    assert through_client.count("EVALSHA") >= 2


def test_a_client_class_that_overrides_execute_command_sees_every_script(
    r: redis.Redis, direct_calls: list[bytes], settings: Any
) -> None:
    settings.SESSION_REDIS_CLIENT_FACTORY = recording_factory
    Recording.commands = []
    assert _sign_in_and_read() == {"_auth_user_id": "7", "cart": [1, 2]}
    assert direct_calls == []
    assert Recording.commands.count("EVALSHA") >= 2


def test_redis_py_metrics_switched_on_take_the_client_path(
    r: redis.Redis, direct_calls: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, arecorder = direct._recorder, direct._async_recorder
    if recorder is None or arecorder is None:
        # A redis-py without its own metrics: nothing to keep.
        assert direct.DirectSender.usable()
        assert direct.AsyncDirectSender.usable()
        return
    redis.Redis.from_url(TEST_REDIS_URL).ping()  # redis-py resolves its collector
    assert direct.DirectSender.usable()
    monkeypatch.setattr(recorder, "_metrics_collector", object())
    assert not direct.DirectSender.usable()
    monkeypatch.setattr(arecorder, "_async_collector_resolved", True)
    assert direct.AsyncDirectSender.usable()
    monkeypatch.setattr(arecorder, "_async_metrics_collector", object())
    assert not direct.AsyncDirectSender.usable()
    session = SessionStore()
    session["k"] = "v"
    session.save()
    assert direct_calls == []


def test_clients_it_does_not_serve() -> None:
    single = redis.Redis.from_url(TEST_REDIS_URL, single_connection_client=True)
    try:
        assert direct.sender_for(single) is None
    finally:
        single.close()
    asingle = redis.asyncio.Redis.from_url(TEST_REDIS_URL, single_connection_client=True)
    assert direct.async_sender_for(asingle) is None
    assert direct.sender_for(redis.asyncio.Redis.from_url(TEST_REDIS_URL)) is None
    assert direct.async_sender_for(redis.Redis.from_url(TEST_REDIS_URL)) is None
    assert direct.sender_for(redis.Redis.from_url(TEST_REDIS_URL)) is not None
    assert direct.async_sender_for(redis.asyncio.Redis.from_url(TEST_REDIS_URL)) is not None


def test_a_killed_connection_is_retried_on_a_new_one(
    r: redis.Redis, direct_calls: list[bytes], settings: Any
) -> None:
    settings.SESSION_REDIS_RETRIES = 2
    session = SessionStore()
    session["k"] = "before"
    session.save()
    client = connection.get_client()
    (pooled,) = client.connection_pool._available_connections
    # The server drops the pooled connection: the next send or read fails, the
    # connection's Retry reconnects and resends, and the request never notices.
    r.client_kill_filter(laddr=f"{pooled._sock.getsockname()[0]}:{pooled._sock.getsockname()[1]}")
    assert SessionStore(session.session_key).load() == {"k": "before"}
    assert len(direct_calls) == 2
    assert not client.connection_pool._in_use_connections


def _lose_first_reply(monkeypatch: pytest.MonkeyPatch, marker: bytes) -> list[bytes]:
    """Every command sent from now on (returned); the reply of the first one that
    contains ``marker`` is read (Redis ran it) and then lost, with its connection."""
    sends: list[bytes] = []
    send = redis.connection.AbstractConnection.send_packed_command
    read = redis.connection.AbstractConnection.read_response

    def counting_send(self: Any, command: Any, *args: Any, **kwargs: Any) -> None:
        sends.append(b"".join(bytes(part) for part in command))
        send(self, command, *args, **kwargs)

    def losing_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        reply = read(self, *args, **kwargs)
        if sends and marker in sends[-1] and sum(marker in sent for sent in sends) == 1:
            self.disconnect()
            raise redis.ConnectionError("reply lost (injected by the test)")
        return reply

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting_send)
    monkeypatch.setattr(redis.connection.AbstractConnection, "read_response", losing_read)
    return sends


@pytest.mark.parametrize("retries", [0, 1])
def test_a_lost_reply_is_resent_as_often_as_the_setting_says(
    r: redis.Redis,
    direct_calls: list[bytes],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    retries: int,
) -> None:
    from django_redis_sessions.exceptions import SessionStoreUnavailable

    settings.SESSION_REDIS_RETRIES = retries
    session = SessionStore()
    session["k"] = "before"
    session.save()
    sends = _lose_first_reply(monkeypatch, b"EVALSHA")
    store = SessionStore(session.session_key)
    if retries:
        assert store.load() == {"k": "before"}
        # Resent once, byte for byte, on a new connection.
        evalshas = [sent for sent in sends if b"EVALSHA" in sent]
        assert len(evalshas) == 2
        assert evalshas[0] == evalshas[1]
    else:
        with pytest.raises(SessionStoreUnavailable, match="unreachable"):
            store.load()
        assert len([sent for sent in sends if b"EVALSHA" in sent]) == 1
    monkeypatch.undo()
    assert direct_calls  # the direct path was the one retrying
    assert SessionStore(session.session_key).load() == {"k": "before"}
    pool = connection.get_client().connection_pool
    assert not pool._in_use_connections


def test_a_save_whose_reply_is_lost_is_resent_with_its_receipt(
    r: redis.Redis, direct_calls: list[bytes], settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SESSION_REDIS_RETRIES = 1
    session = SessionStore()
    session.update({"_auth_user_id": "7", "k": "before"})
    session.save()
    save_sha = runner.sync_driver().ops.scripts.save.sha_bytes
    sends = _lose_first_reply(monkeypatch, save_sha)
    direct_calls.clear()
    loaded = SessionStore(session.session_key)
    loaded["k"] = "after"
    loaded.save()
    monkeypatch.undo()
    saves = [sent for sent in sends if save_sha in sent]
    # Sent twice, byte for byte: the same receipt key, so the second run only
    # returned the first one's reply.
    assert len(saves) == 2
    assert saves[0] == saves[1]
    assert save_sha in direct_calls
    assert SessionStore(session.session_key).load() == {"_auth_user_id": "7", "k": "after"}


def test_an_unknown_script_is_sent_whole_once(r: redis.Redis, direct_calls: list[bytes]) -> None:
    session = SessionStore()
    session["k"] = "v"
    session.save()
    r.script_flush()
    assert SessionStore(session.session_key).load() == {"k": "v"}
    load = runner.sync_driver().ops.scripts.load
    assert r.script_exists(load.sha)[0]


@pytest.mark.parametrize(
    "args",
    [
        (b"EVALSHA", b"abc", b"1", b"key", b""),
        (b"SET", b"k", b"\r\n\x00binary\r\n", b"PX", b"60000"),
        (b"X", b"v" * 70000),
    ],
    ids=["short", "binary", "long"],
)
def test_packing_without_hiredis_matches_redis_py(
    args: tuple[bytes, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    encoder = redis.Redis().get_encoder()
    expected = b"".join(redis.connection.PythonRespSerializer(6000, encoder.encode).pack(*args))
    monkeypatch.setattr(direct, "_hiredis_pack", None)
    assert direct.pack(args) == expected

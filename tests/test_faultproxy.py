"""The fault-injection proxy (tests/faultproxy.py) against a real ``redis-server``.

The module runs its own server on a free loopback port and puts a ``FaultProxy``
between it and redis-py (sync and asyncio): traffic passes through untouched,
pipelines included, and each fault does what it says, which the tests check on
the server itself, through a direct client that bypasses the proxy.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, OutOfMemoryError, ResponseError, TimeoutError
from redis.retry import Retry

from .faultproxy import (
    HOST,
    FaultProxy,
    RespProtocolError,
    command_is,
    is_push,
    parse_command,
    reply_end,
    resp_command,
)
from .servers import full_redis_server

# A server of its own: nothing to gain from a --redis-cluster run.
pytestmark = pytest.mark.single_server


@pytest.fixture
def proxy(upstream_port: int, direct: redis.Redis) -> Iterator[FaultProxy]:
    with FaultProxy(upstream_port) as proxy:
        yield proxy
        assert proxy.errors == []


def through(
    proxy: FaultProxy, retries: int = 0, socket_timeout: float = 2, protocol: int = 3
) -> redis.Redis:
    """A sync client through the proxy that retries ``retries`` times on ConnectionError only.

    RESP3 by default, as redis-py 8 speaks unless told otherwise.
    """
    return redis.Redis(
        host=HOST,
        port=proxy.port,
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), retries, supported_errors=(ConnectionError,)),
        protocol=protocol,
    )


def named(proxy: FaultProxy, name: bytes) -> list[list[bytes]]:
    return [command for command in proxy.commands if command[0].upper() == name]


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


# -- the RESP parsers -------------------------------------------------------------------


def test_parse_command_waits_for_the_whole_command() -> None:
    wire = resp_command("SET", "k", b"a\r\nb") + resp_command("GET", "k")
    first_end = len(resp_command("SET", "k", b"a\r\nb"))
    for cut_at in range(first_end):
        assert parse_command(wire[:cut_at]) is None
    assert parse_command(wire) == ([b"SET", b"k", b"a\r\nb"], first_end)
    assert parse_command(wire, first_end) == ([b"GET", b"k"], len(wire))
    assert parse_command(b"PING\r\n") == ([b"PING"], 6)
    assert parse_command(b"*0\r\n") == ([], 4)
    with pytest.raises(RespProtocolError):
        parse_command(b"*1\r\n:1\r\n")


@pytest.mark.parametrize(
    "reply",
    [
        b"+OK\r\n",
        b"-ERR wrong\r\n",
        b":-42\r\n",
        b"$5\r\nab\r\nc\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"*0\r\n",
        b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n*1\r\n$-1\r\n-ERR in\r\n",
        # RESP3, which redis-py 8 asks for by default.
        b"_\r\n",
        b",3.14\r\n",
        b"#t\r\n",
        b"(12345678901234567890\r\n",
        b"!8\r\nERR\r\nbad\r\n",
        b"=7\r\ntxt:a\r\n\r\n",
        b"%2\r\n+a\r\n*1\r\n:1\r\n+b\r\n%1\r\n_\r\n~2\r\n,1\r\n#f\r\n",
        b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n",
        b">3\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n_\r\n",
    ],
)
def test_reply_end_finds_the_end_of_each_reply(reply: bytes) -> None:
    for cut_at in range(len(reply)):
        assert reply_end(reply[:cut_at]) is None
    assert reply_end(reply + b"+next\r\n") == len(reply)
    assert reply_end(b"+first\r\n" + reply, 8) == 8 + len(reply)


def test_reply_end_rejects_what_it_cannot_frame() -> None:
    with pytest.raises(RespProtocolError):
        reply_end(b"?what\r\n")
    with pytest.raises(RespProtocolError):
        reply_end(b"$?\r\n;4\r\nabcd\r\n;0\r\n")  # RESP3 streamed string
    assert is_push(b">2\r\n")
    assert not is_push(b"*2\r\n")


# -- traffic passes through -------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_get_and_set_pass_through(upstream_port: int, direct: redis.Redis, protocol: int) -> None:
    big = b"\x00\r\n" * 400_000  # 1.2 MB: many reads on both sides
    with FaultProxy(upstream_port) as proxy:
        client = through(proxy, protocol=protocol)
        assert client.set("k", "v") is True
        assert client.get("k") == b"v"
        assert client.get("missing") is None
        assert client.set("big", big) is True
        assert client.get("big") == big
        client.close()
        assert direct.get("k") == b"v"
        assert named(proxy, b"SET")[0] == [b"SET", b"k", b"v"]
        assert [command[0] for command in named(proxy, b"GET")] == [b"GET"] * 3
        assert proxy.faults_fired == 0
        assert proxy.connections == 1
        assert proxy.errors == []
        port = proxy.port
    # Closed: nothing listens any more and every relay thread has ended.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=1).close()
    assert not [t for t in threading.enumerate() if t.name.startswith(f"faultproxy:{port}:")]


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipelines_pass_through_in_order(proxy: FaultProxy, protocol: int) -> None:
    client = through(proxy, protocol=protocol)
    pipe = client.pipeline(transaction=False)
    pipe.set("a", 1)
    pipe.incr("a")
    pipe.get("a")
    pipe.get("missing")
    pipe.rpush("l", "x", "y")
    pipe.lrange("l", 0, -1)
    pipe.incr("l")
    pipe.blpop(["empty"], timeout=0.01)  # a null array
    pipe.hset("h", "f", "v")
    pipe.hgetall("h")
    results = pipe.execute(raise_on_error=False)
    assert results[:6] == [True, 2, b"2", None, 2, [b"x", b"y"]]
    assert isinstance(results[6], ResponseError)
    assert "WRONGTYPE" in str(results[6])
    assert results[7:] == [None, 1, {b"f": b"v"}]
    # MULTI/EXEC: EXEC's reply is an array of replies, arrays among them.
    with client.pipeline(transaction=True) as tx:
        tx.incr("a")
        tx.lrange("l", 0, -1)
        tx.hgetall("h")
        tx.get("missing")
        results = tx.execute()
    assert results == [3, [b"x", b"y"], {b"f": b"v"}, None]
    sent = [command[0] for command in proxy.commands if command[0] != b"CLIENT"]
    assert sent[-6:] == [b"MULTI", b"INCRBY", b"LRANGE", b"HGETALL", b"GET", b"EXEC"]
    client.close()


# -- drop_reply ---------------------------------------------------------------------------


def test_drop_reply_runs_the_command_and_redis_py_resends_it(
    proxy: FaultProxy, direct: redis.Redis
) -> None:
    client = redis.Redis(
        host=HOST,
        port=proxy.port,
        socket_timeout=2,
        retry=Retry(NoBackoff(), 1),
        retry_on_error=[ConnectionError],
    )
    proxy.drop_reply(match=command_is("INCRBY"))
    # Ran once for the dropped reply, once more for the resend.
    assert client.incr("k") == 2
    assert direct.get("k") == b"2"
    assert named(proxy, b"INCRBY") == [[b"INCRBY", b"k", b"1"]] * 2
    assert proxy.faults_fired == 1
    assert proxy.connections == 2
    # Used up: the next INCRBY is answered normally.
    assert client.incr("k") == 3
    client.close()


def test_drop_reply_on_evalsha(proxy: FaultProxy, direct: redis.Redis) -> None:
    client = through(proxy, retries=1)
    script = client.register_script("return redis.call('INCR', KEYS[1])")
    client.script_load(script.script)
    proxy.drop_reply(match=lambda cmd: cmd[0].upper() in (b"EVALSHA", b"EVAL"))
    assert script(keys=["counter"]) == 2
    assert direct.get("counter") == b"2"
    assert [command[:4] for command in named(proxy, b"EVALSHA")] == [
        [b"EVALSHA", script.sha.encode(), b"1", b"counter"]
    ] * 2
    client.close()


def test_drop_reply_times_outlasts_the_retries(proxy: FaultProxy, direct: redis.Redis) -> None:
    client = through(proxy, retries=1)
    proxy.drop_reply(match=command_is("INCRBY"), times=2)
    with pytest.raises(ConnectionError):
        client.incr("k")
    # Both attempts ran, and the client was told of neither.
    assert direct.get("k") == b"2"
    assert proxy.faults_fired == 2
    client.close()


def test_drop_reply_keeps_the_replies_before_it(proxy: FaultProxy, direct: redis.Redis) -> None:
    proxy.drop_reply(match=command_is("INCR"))
    with socket.create_connection((HOST, proxy.port), timeout=2) as raw:
        raw.sendall(resp_command("SET", "a", "1") + resp_command("INCR", "n"))
        assert read_until_closed(raw) == b"+OK\r\n"
    assert direct.get("a") == b"1"
    assert direct.get("n") == b"1"


async def test_drop_reply_async(proxy: FaultProxy, direct: redis.Redis) -> None:
    client = redis.asyncio.Redis(
        host=HOST,
        port=proxy.port,
        socket_timeout=2,
        retry=redis.asyncio.retry.Retry(NoBackoff(), 1),
        retry_on_error=[ConnectionError],
    )
    try:
        proxy.drop_reply(match=command_is("INCRBY"))
        assert await client.incr("k") == 2
        assert direct.get("k") == b"2"
        assert len(named(proxy, b"INCRBY")) == 2
        assert proxy.faults_fired == 1
        assert await client.incr("k") == 3
    finally:
        await client.aclose()


# -- stall ----------------------------------------------------------------------------------


def test_stall_times_the_client_out_after_redis_ran_the_command(
    proxy: FaultProxy, direct: redis.Redis
) -> None:
    client = through(proxy, socket_timeout=0.2)
    assert client.ping() is True
    proxy.stall(5, match=command_is("SET"))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.set("k", "v")
    assert time.monotonic() - started < 2
    assert direct.get("k") == b"v"
    assert proxy.faults_fired == 1
    # The client reconnects; the connection with the held reply went with the timeout.
    assert client.get("k") == b"v"
    client.close()


def test_stall_delays_the_reply_and_keeps_the_order(proxy: FaultProxy) -> None:
    client = through(proxy)
    proxy.stall(0.3, match=command_is("INCRBY"))
    pipe = client.pipeline(transaction=False)
    pipe.set("a", "1")
    pipe.incr("n")
    pipe.get("a")
    pipe.incr("n")
    started = time.monotonic()
    assert pipe.execute() == [True, 1, b"1", 2]
    assert time.monotonic() - started >= 0.3
    assert proxy.faults_fired == 1  # times=1: the second INCRBY was not held
    client.close()


# -- cut ------------------------------------------------------------------------------------


def test_cut_closes_the_connection_without_forwarding(
    proxy: FaultProxy, direct: redis.Redis
) -> None:
    client = through(proxy)
    assert client.ping() is True
    proxy.cut(match=command_is("SET"))
    with pytest.raises(ConnectionError):
        client.set("k", "v")
    assert direct.get("k") is None
    assert named(proxy, b"SET") == [[b"SET", b"k", b"v"]]
    assert proxy.faults_fired == 1
    assert client.set("k", "v") is True
    assert direct.get("k") == b"v"
    client.close()


def test_cut_with_a_retry_runs_the_command_once(proxy: FaultProxy, direct: redis.Redis) -> None:
    client = through(proxy, retries=1)
    proxy.cut(match=command_is("INCRBY"))
    assert client.incr("k") == 1
    assert direct.get("k") == b"1"
    assert len(named(proxy, b"INCRBY")) == 2
    client.close()


def test_cut_in_a_pipeline_delivers_the_earlier_replies(
    proxy: FaultProxy, direct: redis.Redis
) -> None:
    proxy.cut(match=lambda cmd: cmd[:2] == [b"SET", b"b"])
    wire = resp_command("SET", "a", "1") + resp_command("SET", "b", "2")
    with socket.create_connection((HOST, proxy.port), timeout=2) as raw:
        raw.sendall(wire + resp_command("SET", "c", "3"))
        assert read_until_closed(raw) == b"+OK\r\n"
    assert direct.mget("a", "b", "c") == [b"1", None, None]


def test_clear_disarms_the_faults(proxy: FaultProxy, direct: redis.Redis) -> None:
    client = through(proxy)
    proxy.cut(match=command_is("SET"))
    proxy.drop_reply()
    proxy.clear()
    assert client.set("k", "v") is True
    assert proxy.faults_fired == 0
    client.close()


# -- pause / resume -------------------------------------------------------------------------


def test_pause_holds_everything_until_resume(proxy: FaultProxy, direct: redis.Redis) -> None:
    client = through(proxy, socket_timeout=0.3)
    assert client.ping() is True
    proxy.pause()
    with pytest.raises(TimeoutError):
        client.set("late", "1")
    assert direct.get("late") is None
    # A new connection is accepted, but nothing passes either way.
    with socket.create_connection((HOST, proxy.port), timeout=2) as raw:
        raw.sendall(resp_command("SET", "k", "v"))
        raw.settimeout(0.3)
        with pytest.raises(socket.timeout):
            raw.recv(100)
        assert direct.get("k") is None
        proxy.resume()
        raw.settimeout(2)
        assert raw.recv(100) == b"+OK\r\n"
    assert direct.get("k") == b"v"
    assert client.get("k") == b"v"
    # What the timed-out client sent during the pause still reaches Redis, late.
    deadline = time.monotonic() + 2
    while direct.get("late") is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert direct.get("late") == b"1"
    client.close()


# -- a server out of memory -----------------------------------------------------------------


def fill(client: redis.Redis, value: bytes, count: int) -> None:
    for i in range(count):
        client.set(f"fill:{i}", value)


def test_out_of_memory_server(tmp_path: Path) -> None:
    with full_redis_server(tmp_path, maxmemory="2mb") as port, FaultProxy(port) as proxy:
        client = through(proxy)
        assert client.set("first", "kept") is True
        # 200 x 64 KiB is 12.5 MiB, far past the 2 MiB allowed. redis-py maps the
        # "OOM" error code to OutOfMemoryError (a ResponseError) and keeps the rest.
        with pytest.raises(
            OutOfMemoryError, match=r"^command not allowed when used memory"
        ) as info:
            fill(client, b"x" * 65536, 200)
        assert isinstance(info.value, ResponseError)
        assert 1 < client.dbsize() < 200
        assert client.get("first") == b"kept"
        # What the server sent, through the proxy, on the wire.
        with socket.create_connection((HOST, proxy.port), timeout=2) as raw:
            raw.sendall(resp_command("SET", "one-more", "x" * 65536))
            reply = b""
            while not reply.endswith(b"\r\n"):
                reply += raw.recv(4096)
        assert reply.startswith(b"-OOM command not allowed when used memory")
        assert client.delete("first") == 1  # deleting is still allowed
        client.close()
        assert proxy.errors == []

"""A fault-injection TCP proxy between redis-py and a real ``redis-server``.

``FaultProxy(upstream_port)`` listens on a free loopback port and relays every
client connection to its own connection to Redis on ``127.0.0.1:upstream_port``.
It reads enough RESP to split the client's bytes into commands (arrays of bulk
strings, or inline commands) and Redis's bytes into replies (RESP2's simple
strings, errors, integers, bulk strings, arrays, nested arrays and nulls, and the
RESP3 types redis-py 8 gets by default after its ``HELLO 3``), and pairs them up
in order, pipelines included. Faults are armed for the next commands that
``match``:

* ``drop_reply``: the command reaches Redis and runs; its reply is read and
  thrown away, and the client connection is closed (the replies before it are
  delivered first). redis-py sees a ``ConnectionError`` and, with a ``Retry``,
  sends the command again.
* ``stall``: the command reaches Redis at once; its reply (and every reply
  after it on that connection) is held for ``seconds``.
* ``cut``: the command is not forwarded; once the replies to the commands before
  it have been delivered, the client connection is closed.
* ``pause`` / ``resume``: nothing passes in either direction (connections are
  still accepted), like a partition or a stopped server; bytes sent meanwhile
  are relayed on ``resume``.

Threads only (one accept thread, two per connection, all daemons), so sync and
asyncio clients work alike. ``close()`` (or leaving the ``with`` block) closes
every socket and joins every thread.

Not supported: commands that answer more than once (SUBSCRIBE, MONITOR), whose
extra replies would be paired with the commands after them, and RESP3 streamed
strings and aggregates (which Redis does not send). RESP3 push messages answer
no command: they are relayed as they come.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

Matcher = Callable[[list[bytes]], bool]
Action = Literal["pass", "drop", "stall", "cut"]

HOST = "127.0.0.1"
_CRLF = b"\r\n"
#: RESP2 ``+ - :`` and RESP3 null, double, boolean and big number: one line each.
_LINE_TYPES = b"+-:_,#("
#: Length-prefixed: bulk strings, RESP3 blob errors and verbatim strings.
_BLOB_TYPES = b"$!="
#: Arrays, and RESP3 sets, pushes, maps and attributes.
_AGGREGATE_TYPES = b"*~>%|"


class RespProtocolError(Exception):
    """Bytes that are not the RESP the proxy understands."""


def _int_at(buf: bytes | bytearray, start: int, end: int) -> int:
    try:
        return int(buf[start:end])
    except ValueError:
        raise RespProtocolError(f"bad length {bytes(buf[start:end])!r}") from None


def parse_command(buf: bytes | bytearray, pos: int = 0) -> tuple[list[bytes], int] | None:
    """The client command starting at ``buf[pos]`` and the offset just past it.

    ``None`` while the command is incomplete. An array of bulk strings (what
    redis-py sends) or an inline command (``PING\\r\\n``); an empty command
    (``*0``, a blank line), which Redis answers with nothing, parses as ``[]``.
    """
    if pos >= len(buf):
        return None
    if buf[pos] != ord("*"):
        eol = buf.find(b"\n", pos)
        if eol < 0:
            return None
        return [bytes(word) for word in buf[pos:eol].split()], eol + 1
    eol = buf.find(_CRLF, pos)
    if eol < 0:
        return None
    count = _int_at(buf, pos + 1, eol)
    pos = eol + 2
    items: list[bytes] = []
    for _ in range(max(count, 0)):
        if pos >= len(buf):
            return None
        if buf[pos] != ord("$"):
            raise RespProtocolError(f"expected a bulk string, got {bytes(buf[pos : pos + 1])!r}")
        eol = buf.find(_CRLF, pos)
        if eol < 0:
            return None
        size = _int_at(buf, pos + 1, eol)
        if size < 0:
            raise RespProtocolError("null bulk string in a command")
        start, end = eol + 2, eol + 2 + size
        if len(buf) < end + 2:
            return None
        if buf[end : end + 2] != _CRLF:
            raise RespProtocolError("bulk string not followed by CRLF")
        items.append(bytes(buf[start:end]))
        pos = end + 2
    return items, pos


def reply_end(buf: bytes | bytearray, pos: int = 0) -> int | None:
    """The offset just past the reply starting at ``buf[pos]``; ``None`` if incomplete.

    RESP2, and the RESP3 that redis-py 8 asks for by default (``HELLO 3``): maps,
    sets, doubles, booleans, big numbers, verbatim strings, blob errors, nulls,
    attributes (which prefix the reply they describe) and push messages.
    """
    if pos >= len(buf):
        return None
    kind = buf[pos]
    eol = buf.find(_CRLF, pos)
    if eol < 0:
        return None
    if kind in _LINE_TYPES:
        return eol + 2
    if kind in _BLOB_TYPES:
        size = _int_at(buf, pos + 1, eol)
        if size < 0:  # the RESP2 null bulk string
            return eol + 2
        end = eol + 2 + size + 2
        return end if len(buf) >= end else None
    if kind in _AGGREGATE_TYPES:
        count = _int_at(buf, pos + 1, eol)
        if kind in b"%|":  # key-value pairs
            count *= 2
        next_pos: int | None = eol + 2
        for _ in range(max(count, 0)):  # a negative count is the RESP2 null array
            assert next_pos is not None
            next_pos = reply_end(buf, next_pos)
            if next_pos is None:
                return None
        if kind == ord("|") and next_pos is not None:
            return reply_end(buf, next_pos)  # an attribute, then the reply itself
        return next_pos
    raise RespProtocolError(f"unknown reply type {bytes(buf[pos : pos + 1])!r}")


def is_push(buf: bytes | bytearray, pos: int = 0) -> bool:
    """Whether the reply at ``buf[pos]`` is a RESP3 push message, which answers no command."""
    return pos < len(buf) and buf[pos] == ord(">")


def command_is(*names: str) -> Matcher:
    """A matcher for commands named ``names`` (any case): ``command_is("EVALSHA", "EVAL")``."""
    wanted = {name.upper().encode() for name in names}
    return lambda cmd: bool(cmd) and cmd[0].upper() in wanted


@dataclass
class _Fault:
    action: Action
    match: Matcher | None
    times: int
    seconds: float = 0.0


@dataclass
class _Pending:
    """A command forwarded to Redis (or a cut) waiting for its turn among the replies."""

    command: list[bytes]
    action: Action
    seconds: float = 0.0


class _Link:
    """One client connection and its own connection to Redis."""

    def __init__(self, proxy: FaultProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream = upstream
        self.pending: deque[_Pending] = deque()
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self._running = 2
        name = f"faultproxy:{proxy.port}:{client.getpeername()[1]}"
        self.threads = [
            threading.Thread(
                target=self._run, args=(loop,), name=f"{name}:{direction}", daemon=True
            )
            for loop, direction in (
                (self._client_to_upstream, "to-redis"),
                (self._upstream_to_client, "to-client"),
            )
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def shutdown(self) -> None:
        """Wake both threads and end the connection (idempotent; sockets closed later)."""
        self.closed.set()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.proxy._wake()

    def close_sockets(self) -> None:
        self.client.close()
        self.upstream.close()

    def _run(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except OSError:
            pass  # a peer went away, or shutdown() woke us: the link just ends
        except Exception as error:
            self.proxy._record_error(error)
        finally:
            self.shutdown()
            with self.lock:
                self._running -= 1
                last = self._running == 0
            if last:
                self.close_sockets()
                self.proxy._forget(self)

    def _client_to_upstream(self) -> None:
        buf = bytearray()
        while True:
            data = self.client.recv(65536)
            if not data or not self.proxy._wait_running(self):
                return
            buf += data
            out = bytearray()
            pos = 0
            while (parsed := parse_command(buf, pos)) is not None:
                command, end = parsed
                if not command:  # Redis answers an empty command with nothing
                    out += buf[pos:end]
                    pos = end
                    continue
                fault = self.proxy._fault_for(command)
                action: Action = fault.action if fault else "pass"
                with self.lock:
                    cut_now = action == "cut" and not self.pending
                    self.pending.append(_Pending(command, action, fault.seconds if fault else 0.0))
                if action == "cut":
                    # Forward what came before; the reply side closes the
                    # connection once their replies are delivered.
                    if out:
                        self.upstream.sendall(out)
                    if cut_now:
                        self.shutdown()
                    self.closed.wait()
                    return
                out += buf[pos:end]
                pos = end
            del buf[:pos]
            if out:
                self.upstream.sendall(out)

    def _upstream_to_client(self) -> None:
        buf = bytearray()
        while True:
            data = self.upstream.recv(65536)
            if not data or not self.proxy._wait_running(self):
                return
            buf += data
            out = bytearray()
            pos = 0
            while (end := reply_end(buf, pos)) is not None:
                if is_push(buf, pos):  # out of band (client tracking): relay as it is
                    out += buf[pos:end]
                    pos = end
                    continue
                with self.lock:
                    item = self.pending.popleft() if self.pending else None
                if item is not None and item.action == "drop":
                    self.client.sendall(out)
                    return  # _run shuts the link down: the client sees the connection close
                if item is not None and item.action == "stall":
                    self.client.sendall(out)
                    out.clear()
                    if self.closed.wait(item.seconds) or not self.proxy._wait_running(self):
                        return
                out += buf[pos:end]
                pos = end
                with self.lock:
                    cut_next = bool(self.pending) and self.pending[0].action == "cut"
                if cut_next:
                    self.client.sendall(out)
                    return
            del buf[:pos]
            if out:
                self.client.sendall(out)


class FaultProxy:
    """A loopback TCP proxy to ``127.0.0.1:upstream_port`` that injects faults on command."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        # Reentrant: a matcher, called under it, may read ``proxy.commands``.
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._faults: list[_Fault] = []
        self._commands: list[list[bytes]] = []
        self._errors: list[Exception] = []
        self._links: set[_Link] = set()
        self._threads: list[threading.Thread] = []
        self._faults_fired = 0
        self._accepted = 0
        self._paused = False
        self._stopping = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((HOST, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"faultproxy:{self.port}:accept", daemon=True
        )
        self._acceptor.start()

    # -- the API -------------------------------------------------------------------

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def drop_reply(self, match: Matcher | None = None, times: int = 1) -> None:
        """Run the next ``times`` matching commands, throw their replies away, close the client."""
        self._arm(_Fault("drop", match, times))

    def stall(self, seconds: float, match: Matcher | None = None, times: int = 1) -> None:
        """Run the next ``times`` matching commands at once; hold their replies ``seconds``."""
        self._arm(_Fault("stall", match, times, seconds))

    def cut(self, match: Matcher | None = None, times: int = 1) -> None:
        """Close the client connection on the next ``times`` matching commands, unforwarded."""
        self._arm(_Fault("cut", match, times))

    def pause(self) -> None:
        """Stop relaying in both directions until ``resume()``; connections are still accepted."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def clear(self) -> None:
        """Disarm every pending fault."""
        with self._lock:
            self._faults.clear()

    @property
    def commands(self) -> list[list[bytes]]:
        """Every command seen so far, in arrival order (a copy)."""
        with self._lock:
            return [list(command) for command in self._commands]

    @property
    def faults_fired(self) -> int:
        """How many commands a fault has been applied to so far."""
        with self._lock:
            return self._faults_fired

    @property
    def connections(self) -> int:
        """How many client connections have been accepted so far."""
        with self._lock:
            return self._accepted

    @property
    def errors(self) -> list[Exception]:
        """Unexpected errors in the relay threads (RESP it could not parse, a matcher raising)."""
        with self._lock:
            return list(self._errors)

    def close(self) -> None:
        """Stop accepting, close every connection and join every thread (idempotent)."""
        self._stopping.set()
        self._wake()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            links = list(self._links)
            threads = list(self._threads)
        for link in links:
            link.shutdown()
        for thread in threads:
            thread.join(timeout=5)
        for link in links:
            link.close_sockets()

    # -- internals -----------------------------------------------------------------

    def _arm(self, fault: _Fault) -> None:
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)

    def _fault_for(self, command: list[bytes]) -> _Fault | None:
        """Record ``command``; the first armed fault that matches it, used up once."""
        with self._lock:
            self._commands.append(command)
            for fault in self._faults:
                if fault.match is None or fault.match(command):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    self._faults_fired += 1
                    return fault
            return None

    def _wait_running(self, link: _Link) -> bool:
        """Block while paused; False once the link or the proxy is closing."""
        with self._cond:
            while self._paused and not self._stopping.is_set() and not link.closed.is_set():
                self._cond.wait(0.1)
        return not self._stopping.is_set() and not link.closed.is_set()

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _record_error(self, error: Exception) -> None:
        with self._lock:
            self._errors.append(error)

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)
            self._threads = [thread for thread in self._threads if thread.is_alive()]

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                client.settimeout(None)
                upstream = socket.create_connection((HOST, self.upstream_port), timeout=5)
            except OSError:
                client.close()  # Redis is down (or the client gone): so is this connection
                continue
            try:
                upstream.settimeout(None)
                for sock in (client, upstream):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                link = _Link(self, client, upstream)
            except OSError:
                client.close()
                upstream.close()
                continue
            with self._lock:
                if self._stopping.is_set():
                    link.close_sockets()
                    return
                self._accepted += 1
                self._links.add(link)
                self._threads.extend(link.threads)
            link.start()


def resp_command(*args: str | bytes) -> bytes:
    """``args`` as the RESP array of bulk strings redis-py would send."""
    parts = [arg.encode() if isinstance(arg, str) else arg for arg in args]
    out = bytearray(b"*%d\r\n" % len(parts))
    for part in parts:
        out += b"$%d\r\n%s\r\n" % (len(part), part)
    return bytes(out)

"""What an operation asks the runner to do, one step at a time.

Every storage operation (``ops.py``) is a generator: it yields steps, and receives
each step's reply (or has the step's failure raised at its ``yield``, already
translated into a :class:`~django_redis_sessions.exceptions.SessionStoreError`).
The generator holds the logic; ``runner.py`` holds the I/O, once for a sync and
once for an asyncio client. That is how one operation serves both worlds, and
one server and a Cluster alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from .scripts import LuaScript

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Script:
    """Run one script on keys of one hash slot; the reply is the script's, raw."""

    script: LuaScript
    keys: list[str]
    args: Any


@dataclass(frozen=True, slots=True)
class Commands:
    """Plain commands, pipelined when more than one (redis-py groups them by node
    on a Cluster); the reply is the list of their replies, in order."""

    commands: list[tuple[Any, ...]]
    action: str


@dataclass(frozen=True, slots=True)
class Scan:
    """The next batch of a ``SCAN`` walk (every primary on a Cluster); ``None``
    once the walk is over. Yield the same object again for each next batch."""

    match: str
    count: int
    action: str
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Sample:
    """Random keys of every primary: the reply is one ``(DBSIZE, [RANDOMKEY] * count)``
    pair per primary (one pipelined round trip each), for estimates that must not
    walk the store. A Cluster pipeline cannot route keyless commands, so the
    runner sends them to each primary itself."""

    count: int
    action: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this long (seconds) before the next step, talking to nobody."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Call:
    """Call back into the caller's world: ``sync()`` under the sync runner, and
    ``await asynchronous()`` under the async one (the engine sends its signals
    this way, so a receiver that writes to Redis never blocks an event loop)."""

    sync: Callable[[], Any]
    asynchronous: Callable[[], Awaitable[Any]]


Step = Script | Commands | Scan | Sample | Pause | Call
#: An operation: a generator of steps returning its result.
Steps = Generator[Step, Any, _T]

"""Load test: the load app under gunicorn, many clients at once, our engine.

Several users sign in several times each; every session is used by two "tabs"
(threads with their own keep-alive connection and the session's shared cookie)
that read and write *different* session keys at the same time. Meanwhile one
user signs out its other sessions, one revokes a session by fingerprint, one
signs a session out, and a churn thread keeps signing a fifth user in and out
(revoking its other sessions once). At the end:

* no response was a 5xx, and no live session ever saw anything but 200;
* no lost update: every key each tab wrote holds its last value in the final
  session data of every session still signed in, and every ended session reads
  as anonymous (nothing resurrected it);
* every user index is exact: for each user, the digests in ``<prefix>:u:<id>``
  are exactly the live session records whose stored user is that user (records
  decoded with ``record.decode`` straight from Redis), and those are exactly the
  sessions the test expects alive.

Bounded: about 2,000 requests on loopback, a few seconds; gunicorn is always
stopped (``tests/loadapp/server.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from django_redis_sessions.storage import keys, record

from .loadapp.client import Client, Jar
from .loadapp.prepare import PASSWORD, username
from .loadapp.server import app_env, load_server, prepare_database

pytestmark = pytest.mark.real_redis

# The server under load (the `example` extra has it; the test group needs it too).
pytest.importorskip("gunicorn")

USERS = 4  # load0..load3 with fixed roles; load4 churns
SESSIONS_PER_USER = 3
TABS = 2
OPS_PER_TAB = 80
KEYS_PER_TAB = 3
CHURN_ROUNDS = 10
#: The whole workload must finish well inside this (it takes a few seconds).
DEADLINE_SECONDS = 60
OK_STATUSES = {200}
#: What a tab of a session ended under it may see: 401 (anonymous) once the end
#: is visible, 400 when a save raced the end (Django's SessionInterrupted).
ENDED_STATUSES = {200, 400, 401}


@dataclass
class Browser:
    """One signed-in session: its user, cookie, key and fingerprint."""

    user: int
    index: int
    jar: Jar
    key: str = ""
    user_id: str = ""
    fingerprint: str = ""
    ended: bool = False
    #: tab -> {session key -> last value written}
    written: dict[int, dict[str, str]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)


def _run_threads(targets: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except BaseException as exc:
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "the load did not finish in time"
    if errors:
        raise errors[0]


def _sign_in(client: Client, user: int) -> dict[str, Any]:
    status, body = client.post("/signin/", {"username": username(user), "password": PASSWORD})
    assert status == 200, (status, body)
    answer: dict[str, Any] = json.loads(body)
    return answer


def _live_records(r: Any, prefix: str) -> dict[str, set[str]]:
    """user id -> digests of the live session records stored for that user."""
    by_user: dict[str, set[str]] = {}
    session_prefix = keys.session_key_prefix(prefix)
    for name in r.scan_iter(match=keys.escape_glob(session_prefix) + "*", count=1000):
        raw = r.get(name)
        if raw is None:  # expired or deleted since the scan
            continue
        stored = record.decode(raw)
        digest = name.decode()[len(session_prefix) :]
        by_user.setdefault(stored.user_id, set()).add(digest)
    return by_user


def _indexes(r: Any, prefix: str) -> dict[str, set[str]]:
    """user id -> digests in that user's index, for every index under ``prefix``."""
    index_prefix = keys.user_index_prefix(prefix)
    found: dict[str, set[str]] = {}
    for name in r.scan_iter(match=keys.escape_glob(index_prefix) + "*", count=1000):
        user_id = name.decode()[len(index_prefix) :]
        found[user_id] = {member.decode() for member in r.zrange(name, 0, -1)}
    return found


def test_concurrent_clients_lose_nothing_and_keep_indexes_exact(r: Any, tmp_path: Path) -> None:
    started = time.monotonic()
    prefix = settings.SESSION_REDIS_PREFIX + "-load"  # removed with the run's keys
    db_path = tmp_path / "load.sqlite3"
    prepare_database(db_path, USERS + 1)
    env = app_env(
        engine="ours", redis_url=settings.SESSION_REDIS_URL, prefix=prefix, db_path=db_path
    )
    browsers = [
        Browser(user=u, index=s, jar=Jar()) for u in range(USERS) for s in range(SESSIONS_PER_USER)
    ]
    by_place = {(b.user, b.index): b for b in browsers}
    churn_statuses: Counter[int] = Counter()
    churn_alive: list[str] = []
    with load_server(env, tmp_path / "gunicorn.log") as server:

        def client(jar: Jar | None = None) -> Client:
            return Client(server.host, server.port, jar)

        def sign_in(browser: Browser) -> Callable[[], None]:
            def run() -> None:
                c = client(browser.jar)
                answer = _sign_in(c, browser.user)
                c.close()
                browser.key = browser.jar.value
                browser.user_id = answer["user"]
                browser.fingerprint = answer["fp"]
                assert keys.fingerprint(browser.key) == browser.fingerprint

            return run

        _run_threads([sign_in(b) for b in browsers])
        start_line = threading.Barrier(len(browsers) * TABS + 1)

        def tab(browser: Browser, number: int) -> Callable[[], None]:
            written = browser.written.setdefault(number, {})

            def midway_action(c: Client) -> None:
                place = (browser.user, browser.index, number)
                if place == (0, 0, 0):
                    # load0 signs out its other devices.
                    status, body = c.post("/revoke/")
                    assert (status, body) == (200, b"2")
                    by_place[0, 1].ended = by_place[0, 2].ended = True
                elif place == (1, 0, 0):
                    # load1 ends one session by its fingerprint.
                    status, body = c.post("/revoke/", {"fingerprint": by_place[1, 2].fingerprint})
                    assert (status, body) == (200, b"1")
                    by_place[1, 2].ended = True
                elif place == (2, 2, 0):
                    status, _ = c.post("/signout/")
                    assert status == 200
                    browser.ended = True

            def run() -> None:
                c = client(browser.jar)
                start_line.wait()
                for op in range(OPS_PER_TAB):
                    if op == OPS_PER_TAB // 2:
                        midway_action(c)
                    if op % 2:
                        # Signed-in pages, with and without the user's row.
                        status, _ = c.get("/read/" if op % 4 == 1 else "/peek/")
                    else:
                        key = f"t{number}k{op // 2 % KEYS_PER_TAB}"
                        value = f"{browser.user}.{browser.index}.{number}.{op}"
                        status, _ = c.post("/write/", {"key": key, "value": value})
                        if status == 200:
                            written[key] = value
                    browser.statuses[status] += 1
                c.close()

            return run

        def churn() -> None:
            # load4 signs in and out beside everything else; revokes its others once.
            start_line.wait()
            for round_ in range(CHURN_ROUNDS):
                c = client()
                _sign_in(c, USERS)
                for path, form in (("/write/", {"key": "t9", "value": "x"}), ("/read/", None)):
                    churn_statuses[c.request("POST" if form else "GET", path, form)[0]] += 1
                if round_ == CHURN_ROUNDS // 2:
                    status, _ = c.post("/revoke/")
                    churn_statuses[status] += 1
                    churn_alive.clear()
                if round_ % 2:
                    churn_statuses[c.post("/signout/")[0]] += 1
                else:
                    churn_alive.append(c.jar.value)
                c.close()

        load_started = time.monotonic()
        _run_threads([tab(b, t) for b in browsers for t in range(TABS)] + [churn])
        load_seconds = time.monotonic() - load_started

        # Final session data, read through the server with each session's key.
        final: dict[tuple[int, int], tuple[int, bytes]] = {}
        peeks: dict[tuple[int, int], tuple[int, bytes]] = {}
        for browser in browsers:
            jar = Jar()
            jar.value = browser.key
            c = client(jar)
            final[browser.user, browser.index] = c.get("/data/")
            peeks[browser.user, browser.index] = c.get("/peek/")
            c.close()
        log = server.output()

    statuses = Counter[int]()
    for browser in browsers:
        statuses.update(browser.statuses)
    statuses.update(churn_statuses)
    requests = sum(statuses.values())
    print(
        f"\nload: {requests} requests in {load_seconds:.2f} s "
        f"({requests / load_seconds:.0f}/s), statuses {dict(statuses)}; "
        f"whole test {time.monotonic() - started:.1f} s"
    )

    # No 5xx anywhere, and nothing in the server's log about one.
    assert not [s for s in statuses if s >= 500], (statuses, log[-3000:])
    assert "Traceback" not in log, log[-3000:]
    assert set(churn_statuses) == OK_STATUSES, churn_statuses

    ended = {(b.user, b.index) for b in browsers if b.ended}
    assert ended == {(0, 1), (0, 2), (1, 2), (2, 2)}
    for browser in browsers:
        place = (browser.user, browser.index)
        status, body = final[place]
        if browser.ended:
            assert set(browser.statuses) <= ENDED_STATUSES, (place, browser.statuses)
            assert status == 401, (place, status, body)
            assert peeks[place][0] == 401, (place, peeks[place])
            continue
        assert set(browser.statuses) == OK_STATUSES, (place, browser.statuses)
        assert status == 200, (place, status, body)
        data = json.loads(body)
        assert data["_auth_user_id"] == browser.user_id
        # No lost update: every tab's every key holds the last value it wrote.
        expected = {
            k: v for tab_written in browser.written.values() for k, v in tab_written.items()
        }
        assert len(expected) == TABS * KEYS_PER_TAB
        stored = {k: v for k, v in data.items() if k.startswith("t")}
        assert stored == expected, place
        # The session-only page sees the same session (no "t0" key was written).
        assert peeks[place] == (200, b""), (place, peeks[place])

    # Every index exact, against the records themselves and against the test's books.
    records = _live_records(r, prefix)
    assert "" not in records, "a session record without a user"
    assert _indexes(r, prefix) == records
    expected_live: dict[str, set[str]] = {}
    for browser in browsers:
        if not browser.ended:
            expected_live.setdefault(browser.user_id, set()).add(keys.digest(browser.key))
    churn_user = str(int(browsers[0].user_id) + USERS)  # ids follow creation order
    expected_live[churn_user] = {keys.digest(key) for key in churn_alive}
    assert records == expected_live

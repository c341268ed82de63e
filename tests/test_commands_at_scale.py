"""Commands that walk the whole store: streamed listing, --limit, --jsonl, progress."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.management import progress
from django_redis_sessions.storage import index_ops, keys

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

#: The fields of ``--json`` and ``--jsonl`` (README, "Management commands").
FIELDS = {
    "fingerprint",
    "user_id",
    "created",
    "last_seen",
    "idle_expiry",
    "absolute_expiry",
    "expires",
    "ip",
    "user_agent",
    "current",
}


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(*args: str, **options: object) -> tuple[str, str]:
    out, err = options.pop("stdout", io.StringIO()), options.pop("stderr", io.StringIO())
    call_command(*args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()  # type: ignore[attr-defined]


def sessions(count: int, user=None) -> list[str]:
    made = []
    for number in range(count):
        session = SessionStore()
        session["n"] = number
        if user is not None:
            session["_auth_user_id"] = str(user.pk)
        session.save()
        made.append(str(session.session_key))
    return made


def gets(counter) -> int:
    """``GET`` commands sent (pipelined ones included)."""
    return sum(command.count("$3\\r\\nGET\\r\\n") for command in counter.commands)


# -- the progress line ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_line_is_throttled_and_its_last_state_is_drawn_at_close():
    stream, clock = Terminal(), Clock()
    with progress.ProgressLine(stream, interval=0.2, clock=clock) as line:
        line.show("scanned 1")  # the first state: drawn at once
        clock.now = 0.1
        line.show("scanned 22")  # too soon: held back
        clock.now = 0.15
        line.show("scanned 333")  # too soon: replaces the held one, never drawn
        clock.now = 0.4
        line.show("4")  # due: drawn, blanking the end of the longer line
        clock.now = 0.45
        line.show("scanned 5")  # held back, then drawn by close
    assert stream.getvalue() == "\rscanned 1\r4" + " " * 8 + "\rscanned 5\n"


def test_the_line_is_silent_off_a_terminal_or_when_disabled():
    for stream, enabled in ((io.StringIO(), True), (Terminal(), False)):
        with progress.ProgressLine(stream, enabled=enabled) as line:
            line.show("scanned")
            line.erase()
        assert stream.getvalue() == ""


def test_revoke_all_shows_progress_on_a_terminal_only(r, alice):
    sessions(3, alice)
    out, err = run("revoke_sessions", "--all", "--dry-run", stderr=Terminal())
    scope = f"every session under prefix '{conf.SESSION_REDIS_PREFIX}'"
    assert out == f"3 sessions would be ended ({scope}).\n"
    assert re.fullmatch(
        r"(\rScanned ~[\d,]+ of ~[\d,]+ keys \(\d+%\): [\d,]+ matched, [\d,]+ counted *)+\n", err
    ), repr(err)
    assert err.rstrip().endswith(", 3 counted")
    assert run("revoke_sessions", "--all", "--dry-run")[1] == ""  # stderr is no terminal
    assert run("revoke_sessions", "--all", "--dry-run", "--no-progress", stderr=Terminal())[1] == ""


def test_throttling_keeps_the_final_state(r, alice, monkeypatch):
    """One SCAN key per batch and redraws held back a minute: the first state and
    the last one are drawn, nothing in between."""
    monkeypatch.setattr(index_ops, "PURGE_BATCH", 1)
    monkeypatch.setattr(progress, "INTERVAL", 60.0)
    made = sessions(5, alice)
    reports: list[int] = []
    real_report = progress.ScanLine.report

    def counting(self, state):
        reports.append(state.done)
        real_report(self, state)

    monkeypatch.setattr(progress.ScanLine, "report", counting)
    out, err = run("revoke_sessions", "--all", "--yes", stderr=Terminal())
    assert out.startswith("5 sessions ended")
    assert len(reports) > 5
    assert reports[-1] == 5
    draws = err.split("\r")[1:]
    assert len(draws) == 2, err
    assert draws[-1].rstrip().endswith("5 ended")
    assert err.endswith("\n")
    assert not any(
        r.exists(keys.session_redis_key(conf.SESSION_REDIS_PREFIX, keys.digest(k))) for k in made
    )


def test_revoking_a_fingerprint_store_wide_reports_the_walk(r):
    (key,) = sessions(1)
    states: list[tuple[int, int]] = []
    assert api.revoke_session(
        keys.fingerprint(key), progress=lambda state: states.append((state.matched, state.done))
    )
    assert states
    assert states[-1] == (1, 1)


# -- list_sessions --all ----------------------------------------------------------------


def test_list_all_streams_a_table_of_every_session_without_keys(r, alice):
    signed = sessions(2, alice)
    anonymous = sessions(1)
    out, err = run("list_sessions", "--all")
    lines = out.splitlines()
    assert lines[0].split() == [
        "FINGERPRINT",
        "USER",
        "CREATED",
        "LAST",
        "SEEN",
        "EXPIRES",
        "IP",
        "USER",
        "AGENT",
    ]
    assert lines[-1] == "3 sessions listed (times in UTC)."
    rows = {line.split()[0]: line.split()[1] for line in lines[1:-1]}
    assert rows == {
        **{keys.fingerprint(k): str(alice.pk) for k in signed},
        keys.fingerprint(anonymous[0]): "-",
    }
    assert not any(k in out for k in signed + anonymous)
    assert err == ""


def test_list_all_jsonl_lines_are_json_with_the_documented_fields(r, alice):
    signed = sessions(2, alice)
    anonymous = sessions(1)
    out, _err = run("list_sessions", "--all", "--jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(set(row) == FIELDS for row in rows)
    assert {row["fingerprint"]: row["user_id"] for row in rows} == {
        **{keys.fingerprint(k): str(alice.pk) for k in signed},
        keys.fingerprint(anonymous[0]): "",
    }
    assert not any(k in out for k in signed + anonymous)
    as_array = json.loads(run("list_sessions", "--all", "--json")[0])
    assert sorted(as_array, key=str) == sorted(rows, key=str)


def test_list_all_limit_stops_reading_early(r, count_round_trips):
    made = sessions(30)
    count_round_trips.commands.clear()
    out, _err = run("list_sessions", "--all", "--jsonl", "--limit", "5")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 5
    assert {row["fingerprint"] for row in rows} <= {keys.fingerprint(k) for k in made}
    assert 5 <= gets(count_round_trips) < 30  # a full listing reads all 30
    table, _err = run("list_sessions", "--all", "--limit", "5")
    assert table.splitlines()[-1] == "5 sessions listed (times in UTC, stopped at --limit 5)."
    assert len(table.splitlines()) == 7


def test_list_all_writes_rows_as_it_reads_them(r, monkeypatch, count_round_trips):
    monkeypatch.setattr(index_ops, "LIST_BATCH", 1)
    sessions(4)
    written_at: list[int] = []

    class Recording(io.StringIO):
        def write(self, text: str) -> int:
            written_at.append(count_round_trips.round_trips)
            return super().write(text)

    count_round_trips.commands.clear()
    out, _err = run("list_sessions", "--all", "--jsonl", stdout=Recording())
    assert len(out.splitlines()) == 4
    # The first row went out while the walk still had round trips to make.
    assert written_at[0] < count_round_trips.round_trips


def test_list_all_shows_progress_on_a_terminal(r):
    sessions(2)
    out, err = run("list_sessions", "--all", "--jsonl", stderr=Terminal())
    assert len(out.splitlines()) == 2
    assert err.startswith("\rScanned ~")
    assert err.endswith("\n")
    assert err.rstrip().endswith("2 listed")


def test_a_users_listing_takes_limit_and_jsonl(r, alice):
    made = sessions(3, alice)
    out, _err = run("list_sessions", "alice", "--jsonl", "--limit", "2")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2
    assert all(set(row) == FIELDS for row in rows)
    assert [row["fingerprint"] for row in rows] == [
        info.fingerprint for info in api.list_user_sessions(alice)[:2]
    ]
    assert not any(k in out for k in made)
    table, _err = run("list_sessions", "alice", "--limit", "1")
    assert (
        table.splitlines()[0]
        == f"alice (id {alice.pk}): 3 sessions, the 1 latest shown (times in UTC)"
    )
    assert len(table.splitlines()) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name a user, or use --all to list every session."),
        (("alice", "--all"), "--all lists every session: do not name a user with it."),
        (("--all", "--limit", "0"), "--limit: a positive whole number is needed, not '0'"),
        (("alice", "--limit", "x"), "--limit: a positive whole number is needed, not 'x'"),
        (("--all", "--json", "--jsonl"), "not allowed with argument"),
    ],
)
def test_list_sessions_bad_command_lines(r, alice, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("list_sessions", *args)

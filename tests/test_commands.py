"""The management commands, through ``call_command``, with their exact output."""

from __future__ import annotations

import io
import json
import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.management.commands import revoke_sessions
from django_redis_sessions.storage import keys, record

from .helpers import index_members, login, redis_key
from .test_commands_at_scale import FIELDS

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


def run(*args: str, **options: object) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def signed_in(user) -> SessionStore:
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session.save()
    return session


class Terminal(io.StringIO):
    """A stream that says it is a terminal (for prompts and progress bars)."""

    def isatty(self) -> bool:
        return True


# -- revoke_sessions -----------------------------------------------------------------------


def test_revoke_sessions_by_username_ends_only_that_users_sessions(r, alice, bob):
    browsers = [Client(), Client()]
    for browser in browsers:
        login(browser)
    bob_browser = Client()
    login(bob_browser, "bob", "pw-bob")

    assert run("revoke_sessions", "alice") == f"alice (id {alice.pk}): 2 sessions ended\n"

    assert all(b.get("/read/").json()["user"] is None for b in browsers)
    assert bob_browser.get("/read/").json()["user"] == "bob"
    assert index_members(r, alice.pk) == set()


def test_revoke_sessions_by_email_by_id_and_several_users(r, alice, bob):
    signed_in(alice)
    signed_in(bob)
    signed_in(bob)
    assert run("revoke_sessions", "ALICE@example.com", "bob") == (
        f"alice (id {alice.pk}): 1 session ended\nbob (id {bob.pk}): 2 sessions ended\n"
    )
    signed_in(alice)
    assert run("revoke_sessions", "--id", str(alice.pk), str(bob.pk)) == (
        f"alice (id {alice.pk}): 1 session ended\nbob (id {bob.pk}): 0 sessions ended\n"
    )


def test_keep_newest_keeps_each_users_latest_session(r, alice):
    older = signed_in(alice)
    time.sleep(1.1)
    newer = signed_in(alice)
    assert run("revoke_sessions", "alice", "--keep-newest") == (
        f"alice (id {alice.pk}): 1 session ended\n"
    )
    assert r.exists(redis_key(newer.session_key)) == 1
    assert r.exists(redis_key(older.session_key)) == 0


def test_dry_run_lists_what_would_end_and_changes_nothing(r, alice):
    first = signed_in(alice)
    time.sleep(1.1)
    second = signed_in(alice)
    sessions = api.list_user_sessions(alice)
    lines = [f"alice (id {alice.pk}): 2 sessions would be ended"] + [
        f"  {s.fingerprint}  last seen {s.last_seen:%Y-%m-%d %H:%M:%S} UTC  ip -" for s in sessions
    ]
    assert run("revoke_sessions", "alice", "--dry-run") == "\n".join(lines) + "\n"
    assert [s.fingerprint for s in sessions] == [
        keys.fingerprint(second.session_key),
        keys.fingerprint(first.session_key),
    ]
    assert run("revoke_sessions", "alice", "--dry-run", "--keep-newest") == (
        "\n".join([f"alice (id {alice.pk}): 1 session would be ended", lines[2]]) + "\n"
    )
    assert r.exists(redis_key(first.session_key)) == 1
    assert r.exists(redis_key(second.session_key)) == 1


def test_an_unknown_user_is_an_error_and_nobody_is_signed_out(r, alice):
    session = signed_in(alice)
    with pytest.raises(CommandError) as excinfo:
        run("revoke_sessions", "alice", "zed", "nobody@example.com")
    assert str(excinfo.value) == (
        "Unknown users (username or email): 'zed', 'nobody@example.com'. Nothing was changed."
    )
    assert r.exists(redis_key(session.session_key)) == 1


def test_unknown_user_exits_non_zero_with_the_message_on_stderr(r, alice, capsys):
    with pytest.raises(SystemExit) as excinfo:
        revoke_sessions.Command().run_from_argv(["manage.py", "revoke_sessions", "zed"])
    assert excinfo.value.code == 1
    assert capsys.readouterr().err == (
        "CommandError: Unknown user (username or email): 'zed'. Nothing was changed.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name at least one user, or use --all to end every session."),
        (
            ("--id", "abc"),
            "'abc' is not a valid id for auth.User: “abc” value must be an "
            "integer. Nothing was changed.",
        ),
        (("--id", "999999"), "Unknown user (id): '999999'. Nothing was changed."),
        (("alice", "--all"), "--all ends every session: do not name users with it."),
        (("--all", "--keep-newest"), "--keep-newest cannot be combined with --all."),
        (("--all", "--id"), "--id cannot be combined with --all."),
    ],
)
def test_bad_command_lines_are_precise_errors(r, alice, args, message):
    session = signed_in(alice)
    with pytest.raises(CommandError) as excinfo:
        run("revoke_sessions", *args)
    assert str(excinfo.value) == message
    assert r.exists(redis_key(session.session_key)) == 1


def test_an_email_shared_by_two_users_is_ambiguous(r, alice):
    get_user_model().objects.create_user("alice2", "Alice@Example.com", "pw")
    session = signed_in(alice)
    with pytest.raises(CommandError) as excinfo:
        run("revoke_sessions", "alice@example.com")
    assert str(excinfo.value) == (
        "'alice@example.com' is the email of more than one user: name the user by "
        "username or use --id. Nothing was changed."
    )
    assert r.exists(redis_key(session.session_key)) == 1


def test_all_needs_yes_when_not_interactive(r, alice):
    session = signed_in(alice)
    with pytest.raises(CommandError) as excinfo:
        run("revoke_sessions", "--all", stdin=io.StringIO("yes\n"))
    assert str(excinfo.value) == (
        f"--all ends every session under prefix '{conf.SESSION_REDIS_PREFIX}' "
        "and signs everyone out: "
        "add --yes to confirm when not running interactively. Nothing was changed."
    )
    assert r.exists(redis_key(session.session_key)) == 1


def test_all_asks_on_a_terminal_and_a_no_changes_nothing(r, alice):
    session = signed_in(alice)
    out = run("revoke_sessions", "--all", stdin=Terminal("no\n"))
    assert out == (
        f"This ends every session under prefix '{conf.SESSION_REDIS_PREFIX}': "
        "everyone is signed out. "
        "Type 'yes' to continue: Cancelled. Nothing was changed.\n"
    )
    assert r.exists(redis_key(session.session_key)) == 1


def test_all_ends_every_session_signed_in_and_anonymous(r, alice, bob):
    sessions = [signed_in(alice), signed_in(bob)]
    anonymous = SessionStore()
    anonymous["cart"] = [1]
    anonymous.save()
    scope = f"every session under prefix '{conf.SESSION_REDIS_PREFIX}'"
    assert run("revoke_sessions", "--all", "--dry-run") == f"3 sessions would be ended ({scope}).\n"
    assert r.exists(redis_key(anonymous.session_key)) == 1
    out = run("revoke_sessions", "--all", stdin=Terminal("yes\n"))
    assert out.endswith(f"Type 'yes' to continue: 3 sessions ended ({scope}).\n")
    for session in [*sessions, anonymous]:
        assert r.exists(redis_key(session.session_key)) == 0
    assert run("revoke_sessions", "--all", "--yes") == f"0 sessions ended ({scope}).\n"


def test_redis_down_is_a_command_error(alice, settings):
    settings.SESSION_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.SESSION_REDIS_RETRIES = 0
    with pytest.raises(CommandError, match=r"Session store Redis at 127\.0\.0\.1:1 is unreachable"):
        run("revoke_sessions", "alice")


def test_commands_send_the_signal_and_log_by_fingerprint(r, alice, caplog, revocations):
    session = signed_in(alice)
    with caplog.at_level("INFO", logger="django_redis_sessions"):
        run("revoke_sessions", "alice")
    assert [kwargs["by"] for kwargs in revocations] == ["command"]
    fingerprint = keys.fingerprint(session.session_key)
    assert caplog.messages == [f"Session {fingerprint} of user {alice.pk} revoked (by command)"]


# -- list_sessions ---------------------------------------------------------------------------


def _with_metadata(user, ip: str, user_agent: str) -> str:
    """A session record carrying request metadata, as the metadata middleware writes it."""
    now = int(time.time())
    meta = record.encode_pairs(
        [(b"u", str(user.pk).encode()), (b"ip", ip.encode()), (b"ua", user_agent.encode())]
    )
    raw = record.VERSION + b"".join(record.field(v) for v in (now, now, now + 900, 600))
    raw += record.netstring(meta)
    key = SessionStore()._get_new_session_key()
    digest = keys.digest(key)
    r_key = keys.session_redis_key(conf.SESSION_REDIS_PREFIX, digest)
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(user.pk))
    return r_key + "|" + index + "|" + digest + "|" + raw.decode()


def test_list_sessions_prints_a_table_without_keys(r, alice):
    plain = signed_in(alice)
    long_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156"
    r_key, index, digest, raw = _with_metadata(alice, "198.51.100.7", long_agent).split("|")
    r.set(r_key, raw.encode(), ex=900)
    r.zadd(index, {digest: int(time.time()) + 900})

    out = run("list_sessions", "alice")

    sessions = api.list_user_sessions(alice)
    assert len(sessions) == 2
    fmt = "%Y-%m-%d %H:%M:%S"
    rows = [
        (
            s.fingerprint,
            s.created.strftime(fmt),
            s.last_seen.strftime(fmt),
            s.expires.strftime(fmt),
            s.ip or "-",
            (s.user_agent[:59] + "…") if s.user_agent else "-",
        )
        for s in sessions
    ]
    header = ("FINGERPRINT", "CREATED", "LAST SEEN", "EXPIRES", "IP", "USER AGENT")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    lines = [
        "  ".join([c.ljust(w) for c, w in zip(row[:5], widths, strict=True)] + [row[5]]).rstrip()
        for row in [header, *rows]
    ]
    assert out == f"alice (id {alice.pk}): 2 sessions (times in UTC)\n" + "\n".join(lines) + "\n"
    assert "198.51.100.7" in out
    assert long_agent not in out  # capped at 60 characters
    assert str(plain.session_key) not in out


def test_list_sessions_json(r, alice):
    session = signed_in(alice)
    data = json.loads(run("list_sessions", "--id", str(alice.pk), "--json"))
    assert data == [s.as_dict() for s in api.list_user_sessions(alice)]
    assert data[0]["fingerprint"] == keys.fingerprint(session.session_key)
    assert set(data[0]) == FIELDS
    assert str(session.session_key) not in json.dumps(data)


def test_list_sessions_of_a_user_without_sessions(r, alice):
    assert run("list_sessions", "alice") == f"alice (id {alice.pk}): no sessions\n"
    assert json.loads(run("list_sessions", "alice", "--json")) == []


def test_list_sessions_of_an_unknown_user(r):
    with pytest.raises(CommandError) as excinfo:
        run("list_sessions", "zed")
    assert str(excinfo.value) == "Unknown user (username or email): 'zed'. Nothing was changed."


# -- clearsessions -------------------------------------------------------------------------


def _stale_indexes(r, alice, bob, settings) -> None:
    """Alice's two sessions ended by idleness; bob has one that ended and a live one.

    Bob's new login already sweeps his ended session from his index, so the
    cleanup finds 3 entries in 2 indexes and prunes alice's 2.
    """
    settings.SESSION_COOKIE_AGE = 1
    signed_in(alice)
    signed_in(alice)
    signed_in(bob)
    time.sleep(1.2)
    settings.SESSION_COOKIE_AGE = 600
    signed_in(bob)


SUMMARY = re.compile(
    r"Checked 2 user indexes \(3 entries\) in \d+\.\d s \(\d+ entries/s\): pruned 2 entries "
    r"of ended sessions, removed 1 empty index\.\n"
    # alice had no session left: she leaves the users index too.
    r"Users index \(the admin overview's\): dropped 1 user with no session left\.\n"
)


@pytest.mark.single_server
def test_clearsessions_prunes_and_reports(r, alice, bob, settings, caplog):
    _stale_indexes(r, alice, bob, settings)
    with caplog.at_level("INFO", logger="django_redis_sessions"):
        out = run("clearsessions")
    assert caplog.messages == [
        "clear_expired: 2 user indexes checked, 3 entries examined, 2 stale entries pruned, "
        "1 indexes removed"
    ]
    assert SUMMARY.fullmatch(out), out
    assert index_members(r, alice.pk) == set()
    assert len(index_members(r, bob.pk)) == 1
    assert run("clearsessions", verbosity=0) == ""


@pytest.mark.single_server
def test_clearsessions_shows_batches_at_verbosity_2(r, alice, bob, settings, monkeypatch):
    from django_redis_sessions.storage import index_ops as index_store

    monkeypatch.setattr(index_store, "CLEANUP_BATCH", 1)
    _stale_indexes(r, alice, bob, settings)
    out = run("clearsessions", verbosity=2)
    batches = re.findall(r"^  batch (\d+): (\d+) indexes, (\d+) entries examined", out, re.M)
    assert len(batches) >= 2
    assert [int(b[0]) for b in batches] == list(range(1, len(batches) + 1))
    assert batches[-1][1:] == ("2", "3")
    assert SUMMARY.search(out)


@pytest.mark.single_server
def test_clearsessions_shows_progress_on_a_terminal_stderr(r, alice, bob, settings):
    _stale_indexes(r, alice, bob, settings)
    out, err = io.StringIO(), Terminal()
    call_command("clearsessions", stdout=out, stderr=err)
    text = err.getvalue()
    last = r"\rScanned ~[\d,]+ of ~[\d,]+ keys \(\d+%\): 2 indexes, 2 pruned *\n"
    assert text.startswith("\rScanned ~")
    assert re.search(last + r"\Z", text), repr(text)
    assert SUMMARY.fullmatch(out.getvalue())
    # Not a terminal, or --no-progress: the summary only.
    for stderr, options in ((io.StringIO(), {}), (Terminal(), {"no_progress": True})):
        call_command("clearsessions", stdout=io.StringIO(), stderr=stderr, **options)
        assert stderr.getvalue() == ""


def test_clearsessions_for_another_engine_behaves_like_djangos(settings):
    settings.SESSION_ENGINE = "tests.engine_without_cleanup"
    with pytest.raises(CommandError) as excinfo:
        run("clearsessions")
    assert str(excinfo.value) == (
        "Session engine 'tests.engine_without_cleanup' doesn't support clearing expired sessions."
    )
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    assert run("clearsessions") == ""


def test_clearsessions_with_redis_down_is_a_command_error(settings):
    settings.SESSION_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.SESSION_REDIS_RETRIES = 0
    with pytest.raises(CommandError, match="is unreachable"):
        run("clearsessions")

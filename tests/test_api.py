"""The revocation API against the real Redis: listing, revoking, signals, logs."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.sessions.backends.base import UpdateError
from django.test import AsyncClient, Client

from django_redis_sessions import api, identifiers
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys, record

from .helpers import index_members, login, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


def signed_in(user_id: object, **data: object) -> SessionStore:
    """A saved session of ``user_id`` (as Django's login would store it)."""
    session = SessionStore()
    session["_auth_user_id"] = str(user_id)
    session.update(data)
    session.save()
    return session


def fp(session: SessionStore | str) -> str:
    key = session if isinstance(session, str) else session.session_key
    assert key is not None
    return keys.fingerprint(key)


# -- listing ---------------------------------------------------------------------------


def test_list_shows_each_live_session_newest_activity_first_and_marks_the_current(
    r, alice, settings
):
    settings.SESSION_COOKIE_AGE = 600
    settings.SESSIONS_ABSOLUTE_AGE = 3600
    old = signed_in(alice.pk)
    time.sleep(1.1)
    new = signed_in(alice.pk)
    before = datetime.now(tz=UTC).replace(microsecond=0)

    sessions = api.list_user_sessions(alice, current=new.session_key)

    assert [s.fingerprint for s in sessions] == [fp(new), fp(old)]
    assert [s.current for s in sessions] == [True, False]
    newest = sessions[0]
    assert newest.user_id == str(alice.pk)
    assert abs((newest.created - before).total_seconds()) <= 1
    assert newest.last_seen == newest.created
    assert newest.idle_expiry is not None
    assert newest.absolute_expiry is not None
    assert (newest.idle_expiry - newest.last_seen).total_seconds() == 600
    assert (newest.absolute_expiry - newest.created).total_seconds() == 3600
    assert newest.expires == newest.idle_expiry
    assert newest.ip is None
    assert newest.user_agent is None
    # Never a session key, anywhere in the record.
    for info in sessions:
        assert str(old.session_key) not in repr(info)
        assert str(new.session_key) not in repr(info)


def test_list_accepts_a_primary_key_and_does_not_slide_anything(r, alice, settings):
    settings.SESSION_COOKIE_AGE = 600
    session = signed_in(alice.pk)
    r.pexpire(redis_key(session.session_key), 50_000)
    assert [s.fingerprint for s in api.list_user_sessions(alice.pk)] == [fp(session)]
    assert [s.fingerprint for s in api.list_user_sessions(str(alice.pk))] == [fp(session)]
    assert r.pttl(redis_key(session.session_key)) <= 50_000


def test_list_reads_ip_and_user_agent_from_the_record_metadata(r, alice):
    now = int(time.time())
    meta = record.encode_pairs(
        [(b"u", str(alice.pk).encode()), (b"ip", b"203.0.113.9"), (b"ua", b"Firefox/140")]
    )
    raw = record.VERSION + b"".join(record.field(v) for v in (now, now, now + 500, 300))
    raw += record.netstring(meta)
    key = SessionStore()._get_new_session_key()
    digest = keys.digest(key)
    r.set(keys.session_redis_key(conf.SESSION_REDIS_PREFIX, digest), raw, ex=500)
    r.zadd(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk)), {digest: now + 500})

    (info,) = api.list_user_sessions(alice)
    assert (info.ip, info.user_agent) == ("203.0.113.9", "Firefox/140")
    assert info.as_dict()["ip"] == "203.0.113.9"


def test_list_prunes_entries_of_ended_sessions_and_skips_unreadable_ones(r, alice, caplog):
    live = signed_in(alice.pk)
    gone = signed_in(alice.pk)
    broken = signed_in(alice.pk)
    r.delete(redis_key(gone.session_key))
    r.set(redis_key(broken.session_key), b"1garbage")

    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        sessions = api.list_user_sessions(alice)

    assert [s.fingerprint for s in sessions] == [fp(live)]
    assert keys.digest(gone.session_key) not in index_members(r, alice.pk)
    assert any(fp(broken) in message for message in caplog.messages)
    assert broken.session_key not in caplog.text


def test_list_applies_a_lowered_absolute_age_at_once(r, alice, settings):
    settings.SESSIONS_ABSOLUTE_AGE = 3600
    signed_in(alice.pk)
    settings.SESSIONS_ABSOLUTE_AGE = 1800
    (info,) = api.list_user_sessions(alice)
    assert info.absolute_expiry is not None
    assert (info.absolute_expiry - info.created).total_seconds() == 1800


async def test_alist_matches_list(r, alice):
    first = signed_in(alice.pk)
    second = signed_in(alice.pk)
    listed = await api.alist_user_sessions(alice, current=first)
    assert {s.fingerprint for s in listed} == {fp(first), fp(second)}
    assert [s.current for s in listed if s.fingerprint == fp(first)] == [True]
    assert listed == api.list_user_sessions(alice, current=first)


# -- revoking a user's sessions --------------------------------------------------------


def test_revoke_user_sessions_ends_them_at_once_and_spares_other_users(
    r, alice, bob, revocations, caplog
):
    browsers = [Client() for _ in range(3)]
    alice_keys = [login(browser) for browser in browsers]
    bob_browser = Client()
    bob_key = login(bob_browser, "bob", "pw-bob")
    anonymous = SessionStore()
    anonymous["cart"] = [1]
    anonymous.save()

    with caplog.at_level(logging.INFO, logger="django_redis_sessions"):
        assert api.revoke_user_sessions(alice) == 3

    for browser in browsers:  # the next request of each is anonymous
        assert browser.get("/read/").json()["user"] is None
    for key in alice_keys:
        assert r.exists(redis_key(key)) == 0
    assert index_members(r, alice.pk) == set()
    assert r.exists(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk))) == 0
    # Bob and the anonymous visitor are untouched.
    assert bob_browser.get("/read/").json()["user"] == "bob"
    assert index_members(r, bob.pk) == {keys.digest(bob_key)}
    assert SessionStore(anonymous.session_key)["cart"] == [1]

    (event,) = revocations
    assert event["sender"] is type(alice)
    assert event["user_id"] == str(alice.pk)
    assert event["count"] == 3
    assert sorted(event["fingerprints"]) == sorted(fp(k) for k in alice_keys)
    assert (event["by"], event["actor"]) == ("api", None)
    for key in alice_keys:
        assert f"Session {fp(key)} of user {alice.pk} revoked (by api)" in caplog.messages
        assert key not in caplog.text


def test_revoke_keeps_the_given_session(r, alice, revocations):
    mine = Client()
    my_key = login(mine)
    other = Client()
    login(other)
    assert api.revoke_user_sessions(alice.pk, keep=my_key, by="user", actor=alice) == 1
    assert mine.get("/read/").json()["user"] == "alice"
    assert other.get("/read/").json()["user"] is None
    assert index_members(r, alice.pk) == {keys.digest(my_key)}
    assert revocations[0]["by"] == "user"
    assert revocations[0]["actor"] == alice


@pytest.mark.single_server
def test_keep_newest_keeps_the_most_recently_active_session(r, alice, count_round_trips):
    older = signed_in(alice.pk)
    time.sleep(1.1)
    newer = signed_in(alice.pk)
    time.sleep(1.1)
    SessionStore(older.session_key).load()  # older is now the most recently seen
    count_round_trips.round_trips = 0
    assert api.revoke_user_sessions(alice, keep_newest=True) == 1
    # One script reads the index, finds the newest and ends the rest.
    assert count_round_trips.round_trips == 1
    assert r.exists(redis_key(older.session_key)) == 1
    assert r.exists(redis_key(newer.session_key)) == 0


def test_revoking_a_user_without_sessions_returns_zero_and_sends_nothing(r, alice, revocations):
    assert api.revoke_user_sessions(alice) == 0
    assert revocations == []


def test_a_stale_entry_never_ends_another_users_session(r, alice, bob):
    session = signed_in(bob.pk)
    # An entry in alice's index pointing at bob's session (as a bug or a race
    # could leave): revoking alice must drop the entry, not bob's session.
    r.zadd(
        keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk)),
        {keys.digest(session.session_key): 1},
    )
    assert api.revoke_user_sessions(alice) == 0
    assert r.exists(redis_key(session.session_key)) == 1
    assert index_members(r, alice.pk) == set()


def test_a_write_racing_a_revocation_cannot_resurrect_it(r, alice):
    client = Client()
    key = login(client)
    in_flight = SessionStore(key)
    in_flight["cart"] = [1]  # loaded before the revocation...
    api.revoke_user_sessions(alice)
    with pytest.raises(UpdateError):
        in_flight.save()  # ...saved after it
    assert r.exists(redis_key(key)) == 0
    assert index_members(r, alice.pk) == set()


def test_revoke_user_sessions_of_many_sessions_works_in_batches(r, alice, monkeypatch):
    from django_redis_sessions.storage import index_ops as index_store

    monkeypatch.setattr(index_store, "REVOKE_BATCH", 7)
    sessions = [signed_in(alice.pk) for _ in range(20)]
    assert api.revoke_user_sessions(alice) == 20
    assert all(r.exists(redis_key(s.session_key)) == 0 for s in sessions)


@pytest.mark.single_server
def test_revoking_costs_two_round_trips_whatever_the_store_holds(r, alice, bob, count_round_trips):
    for _ in range(5):
        signed_in(alice.pk)
    for _ in range(30):
        signed_in(bob.pk)
    count_round_trips.round_trips = 0
    count_round_trips.commands.clear()
    assert api.revoke_user_sessions(alice) == 5
    # One script reads alice's index and ends her sessions: nothing scans the store.
    assert count_round_trips.round_trips == 1
    assert not any("SCAN" in command or "KEYS" in command for command in count_round_trips.commands)


@pytest.mark.django_db(transaction=True)
async def test_arevoke_user_sessions_after_an_async_login(r, alice, revocations):
    client = AsyncClient()
    response = await client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    key = client.cookies["sessionid"].value
    kept = signed_in(alice.pk)
    assert index_members(r, alice.pk) == {keys.digest(key), keys.digest(kept.session_key)}
    assert await api.arevoke_user_sessions(alice, keep=kept) == 1
    assert (await client.get("/aread/")).json()["data"] == {}
    assert index_members(r, alice.pk) == {keys.digest(kept.session_key)}
    assert revocations[0]["count"] == 1


async def test_arevoke_keep_newest(r, alice):
    signed_in(alice.pk)
    await asyncio.sleep(1.1)
    newest = signed_in(alice.pk)
    assert await api.arevoke_user_sessions(alice.pk, keep_newest=True) == 1
    assert index_members(r, alice.pk) == {keys.digest(newest.session_key)}


# -- revoking one session ----------------------------------------------------------------


def test_revoke_session_by_fingerprint_for_a_user(r, alice, bob, revocations):
    target = signed_in(alice.pk)
    other = signed_in(alice.pk)
    bobs = signed_in(bob.pk)
    # A fingerprint of somebody else's session is not found for this user.
    assert api.revoke_session(fp(bobs), user=alice) is False
    assert r.exists(redis_key(bobs.session_key)) == 1
    assert api.revoke_session(fp(target), user=alice, by="admin") is True
    assert r.exists(redis_key(target.session_key)) == 0
    assert r.exists(redis_key(other.session_key)) == 1
    assert index_members(r, alice.pk) == {keys.digest(other.session_key)}
    assert [(e["fingerprints"], e["by"]) for e in revocations] == [((fp(target),), "admin")]
    assert api.revoke_session(fp(target), user=alice) is False  # already gone


def test_revoke_session_without_a_user_finds_signed_in_and_anonymous_sessions(
    r, alice, revocations
):
    target = signed_in(alice.pk)
    anonymous = SessionStore()
    anonymous["cart"] = [2]
    anonymous.save()
    assert api.revoke_session(fp(target)) is True
    assert api.revoke_session(fp(anonymous)) is True
    assert r.exists(redis_key(target.session_key)) == 0
    assert r.exists(redis_key(anonymous.session_key)) == 0
    assert index_members(r, alice.pk) == set()
    assert [e["user_id"] for e in revocations] == [str(alice.pk), None]
    assert api.revoke_session("0" * keys.FINGERPRINT_LENGTH) is False


async def test_arevoke_session(r, alice, bob):
    target = signed_in(alice.pk)
    anonymous = SessionStore()
    anonymous["n"] = 1
    anonymous.save()
    assert await api.arevoke_session(fp(target), user=bob) is False
    assert await api.arevoke_session(fp(target), user=alice) is True
    assert await api.arevoke_session(fp(anonymous)) is True
    assert r.exists(redis_key(target.session_key)) == 0
    assert r.exists(redis_key(anonymous.session_key)) == 0


@pytest.mark.parametrize(
    "bad", ["", "abc", "ABCDEF012345", "0123456789abc", "0123456789a*", None, 12, "../../x"]
)
def test_a_malformed_fingerprint_is_a_clear_error(r, bad):
    with pytest.raises(ValueError, match="is not a session fingerprint"):
        api.revoke_session(bad)


@pytest.mark.single_server
def test_an_ambiguous_fingerprint_is_refused_and_ends_nothing(r, alice):
    first = signed_in(alice.pk)
    second = signed_in(alice.pk)
    # Two sessions sharing a fingerprint (48 bits: rare, but possible in a big store).
    clash = keys.digest(first.session_key)[: keys.FINGERPRINT_LENGTH] + "f" * 20
    r.rename(
        redis_key(second.session_key), keys.session_redis_key(conf.SESSION_REDIS_PREFIX, clash)
    )
    with pytest.raises(api.AmbiguousFingerprint, match="2 sessions have the fingerprint"):
        api.revoke_session(fp(first))
    assert r.exists(redis_key(first.session_key)) == 1


# -- everything --------------------------------------------------------------------------


def test_revoke_all_sessions_ends_signed_in_and_anonymous_sessions(
    r, alice, bob, revocations, caplog
):
    sessions = [signed_in(alice.pk), signed_in(bob.pk)]
    anonymous = SessionStore()
    anonymous["n"] = 1
    anonymous.save()
    unrelated = f"{conf.SESSION_REDIS_PREFIX}-other:s:{'a' * 32}"
    r.set(unrelated, b"not ours", ex=60)
    try:
        assert api.revoke_all_sessions(dry_run=True) == 3
        assert r.exists(redis_key(anonymous.session_key)) == 1
        assert revocations == []
        with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
            assert api.revoke_all_sessions() == 3
        assert caplog.messages == [
            f"Every session under prefix '{conf.SESSION_REDIS_PREFIX}' revoked: 3 ended (by api)"
        ]
        for session in [*sessions, anonymous]:
            assert r.exists(redis_key(session.session_key)) == 0
        assert index_members(r, alice.pk) == set()
        assert index_members(r, bob.pk) == set()
        assert r.exists(unrelated) == 1  # another prefix is another store
        assert [(e["user_id"], e["count"], e["fingerprints"]) for e in revocations] == [
            (None, 3, ())
        ]
    finally:
        r.delete(unrelated)


async def test_arevoke_all_sessions(r, alice):
    signed_in(alice.pk)
    assert await api.arevoke_all_sessions(dry_run=True) == 1
    assert await api.arevoke_all_sessions() == 1
    assert await api.arevoke_all_sessions() == 0


# -- users and keys as arguments ----------------------------------------------------------


def test_user_id_of_accepts_users_and_primary_keys(alice):
    assert identifiers.user_id_of(alice) == str(alice.pk)
    assert identifiers.user_id_of(alice.pk) == str(alice.pk)
    assert identifiers.user_id_of(str(alice.pk)) == str(alice.pk)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (AnonymousUser(), "An anonymous user has no sessions"),
        ("not-a-number", "is not a valid primary key for auth.User"),
        ("12abc", "is not a valid primary key for auth.User"),
    ],
)
def test_user_id_of_refuses_a_value_that_is_no_user(db, value, message):
    with pytest.raises(ValueError, match=message):
        identifiers.user_id_of(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "is not a user or a user's primary key"),
        (True, "is not a user or a user's primary key"),
        (3.0, "is not a user or a user's primary key"),
        ([1], "is not a user or a user's primary key"),
        (Group(pk=1, name="staff"), r"is an instance of auth\.Group, not of auth\.User"),
    ],
)
def test_user_id_of_refuses_the_wrong_type_with_type_error(db, value, message):
    with pytest.raises(TypeError, match=message):
        identifiers.user_id_of(value)
    with pytest.raises(TypeError, match=message):
        api.list_user_sessions(value)


def test_an_unsaved_user_has_no_sessions(db):
    from django.contrib.auth import get_user_model

    with pytest.raises(ValueError, match="is not saved"):
        api.list_user_sessions(get_user_model()(username="nobody"))


def test_current_may_be_a_request_a_session_or_a_key(r, alice, rf):
    session = signed_in(alice.pk)
    request = rf.get("/")
    request.session = session
    digest = keys.digest(session.session_key)
    for current in (request, session, session.session_key, [session.session_key]):
        assert identifiers.digests_of(current) == {digest}
    assert identifiers.digests_of("NOT A KEY") == frozenset()
    with pytest.raises(TypeError):
        identifiers.digests_of(3.5)


def test_revoke_other_sessions_signs_out_everywhere_else(r, alice, rf):
    here = signed_in(alice.pk)
    elsewhere = signed_in(alice.pk)
    request = rf.post("/")
    request.session = here
    request.user = alice
    assert api.revoke_other_sessions(request) == 1
    assert r.exists(redis_key(here.session_key)) == 1
    assert r.exists(redis_key(elsewhere.session_key)) == 0
    request.user = AnonymousUser()
    assert api.revoke_other_sessions(request) == 0


async def test_arevoke_other_sessions(r, alice, rf):
    here = signed_in(alice.pk)
    signed_in(alice.pk)
    request = rf.post("/")
    request.session = here

    async def auser():
        return alice

    request.auser = auser
    assert await api.arevoke_other_sessions(request) == 1
    assert index_members(r, alice.pk) == {keys.digest(here.session_key)}


def test_an_unreachable_redis_is_a_store_error_naming_the_server(alice, settings):
    from django_redis_sessions.exceptions import SessionStoreUnavailable

    settings.SESSION_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.SESSION_REDIS_RETRIES = 0
    with pytest.raises(SessionStoreUnavailable, match=r"127\.0\.0\.1:1 is unreachable"):
        api.revoke_user_sessions(alice)


# -- the module's surface ------------------------------------------------------------------


def test_all_is_exactly_what_api_defines_in_public():
    """``__all__`` names every public function and class defined in api.py, and only those
    (plus the documented re-exports), each sync function with its async twin."""
    import inspect

    defined = {
        name
        for name, value in vars(api).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__ == api.__name__
    }
    assert set(api.__all__) == defined | {
        "AmbiguousFingerprint",
        "AuditEvent",
        "ScanProgress",
        "UserRef",
    }
    functions = {name for name in defined if inspect.isfunction(getattr(api, name))}
    with_twin = {name for name in functions if f"a{name}" in functions}
    assert functions == with_twin | {f"a{name}" for name in with_twin}


def test_every_function_follows_the_argument_rule():
    """The subject first and positional, every option keyword-only, a user typed as
    ``UserRef``, and each async twin with exactly its sync function's arguments."""
    import inspect

    functions = {
        name: value
        for name, value in vars(api).items()
        if name in api.__all__ and inspect.isfunction(value)
    }
    assert len(functions) > 20
    for name, function in functions.items():
        signature = inspect.signature(function)
        for parameter in signature.parameters.values():
            if parameter.default is not inspect.Parameter.empty:
                assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, (name, parameter)
            if parameter.name == "user":
                assert "UserRef" in str(parameter.annotation), (name, parameter)
        if not name.startswith("a") or name[1:] not in functions:
            continue
        twin = inspect.signature(functions[name[1:]])
        assert list(signature.parameters.values()) == list(twin.parameters.values()), name
    # The two that end named sessions: the fingerprint(s) first, the user as a keyword.
    for name in ("revoke_session", "revoke_sessions"):
        first, *rest = inspect.signature(functions[name]).parameters.values()
        assert first.name.startswith("fingerprint")
        assert next(p for p in rest if p.name == "user").kind is inspect.Parameter.KEYWORD_ONLY


def test_session_limit_for_sync_and_async_agree(r, alice, settings):
    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    assert api.session_limit_for(alice) is None
    assert async_to_sync(api.asession_limit_for)(alice) is None
    session = signed_in(alice.pk)
    assert api.session_limit_for(alice) == 1
    assert async_to_sync(api.asession_limit_for)(alice) == 1
    # The signing-in request's own session is not counted.
    assert api.session_limit_for(alice, current=session) is None
    assert async_to_sync(api.asession_limit_for)(alice, current=session) is None

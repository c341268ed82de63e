"""The audit trail (``SESSIONS_AUDIT``) against the real Redis.

Events come from real flows: sign-in through the test views (``login`` and
``alogin``), sign-out, revocations through the API, the admin and the command,
and ``api.record_audit_event``. What Redis holds is read back raw, so the
stored format (and the absence of any session key) is checked, not just the API.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any, cast

import pytest
import redis
from django.contrib.auth import alogout, get_user_model
from django.contrib.auth.models import Permission
from django.contrib.auth.signals import user_logged_in
from django.core.management import call_command
from django.test import AsyncClient, Client, RequestFactory
from redis.backoff import NoBackoff
from redis.retry import Retry

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.checks import check_settings
from django_redis_sessions.conf import conf
from django_redis_sessions.policies import audit
from django_redis_sessions.signals import session_revoked, session_rotated
from django_redis_sessions.storage import keys
from django_redis_sessions.storage.runner import SyncDriver
from django_redis_sessions.storage.scripts import CLUSTER, SINGLE

from .helpers import load_scripts, login

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

CHANGELIST = "/admin/django_redis_sessions/redissession/"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
STORED_FIELDS = {"t", "e", "fp", "by", "actor", "ip", "ua", "detail"}


@pytest.fixture(autouse=True)
def audit_on(r: redis.Redis, settings: Any) -> None:
    """The audit is on in every test here (a test turns it off to check "off")."""
    settings.SESSIONS_AUDIT = True


@pytest.fixture
def root(db: None) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")


def audit_key(user: Any) -> str:
    return keys.audit_key(conf.SESSION_REDIS_PREFIX, str(user.pk))


def stored(r: redis.Redis, user: Any) -> list[dict[str, Any]]:
    """The user's events as Redis holds them, newest first."""
    return [json.loads(raw) for raw in r.lrange(audit_key(user), 0, -1)]


def names(r: redis.Redis, user: Any) -> list[str]:
    return [event["e"] for event in stored(r, user)]


def fp(session_key: str) -> str:
    return keys.fingerprint(session_key)


def browser(ip: str = "203.0.113.9", agent: str = FIREFOX) -> Client:
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)


def signed_in(user: Any) -> str:
    """The key of a new signed-in session of ``user`` (no audit event: not a login)."""
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session.save()
    assert session.session_key is not None
    return session.session_key


def audit_keys(r: redis.Redis) -> list[bytes]:
    return list(r.scan_iter(match=keys.escape_glob(conf.SESSION_REDIS_PREFIX) + ":a:*", count=1000))


def every_stored_event(r: redis.Redis) -> bytes:
    """Every event of every user's log, as stored."""
    found: list[bytes] = []
    for key in audit_keys(r):
        found.extend(cast("list[bytes]", r.lrange(key, 0, -1)))
    return b"\n".join(found)


def send_event(user: Any, event: str = "rotated", **kwargs: Any) -> None:
    """Record ``event`` through the API (``by`` says ``"policy"`` unless given)."""
    kwargs.setdefault("by", "policy")
    api.record_audit_event(user, event, **kwargs)


# -- what each flow records ----------------------------------------------------------


def test_login_records_created_with_fingerprint_ip_and_device(r, alice):
    before = int(time.time())
    key = login(browser())

    [event] = stored(r, alice)
    assert set(event) == STORED_FIELDS
    assert before <= event["t"] <= time.time()
    assert {k: v for k, v in event.items() if k != "t"} == {
        "e": "created",
        "fp": fp(key),
        "by": "login",
        "actor": "alice",
        "ip": "203.0.113.9",
        "ua": FIREFOX,
        "detail": {},
    }


def test_login_follows_the_privacy_settings(r, alice, settings):
    settings.SESSIONS_TRUNCATE_IP = True
    settings.SESSIONS_RECORD_USER_AGENT = False
    login(browser("203.0.113.77"))
    [event] = stored(r, alice)
    assert (event["ip"], event["ua"]) == ("203.0.113.0", None)


@pytest.mark.django_db(transaction=True)
async def test_alogin_records_created(r, alice):
    client = AsyncClient()
    response = await client.post(
        "/alogin/", {"username": "alice", "password": "pw-alice"}, headers={"user-agent": FIREFOX}
    )
    assert response.status_code == 200
    key = client.cookies["sessionid"].value

    [event] = stored(r, alice)
    assert (event["e"], event["fp"], event["by"], event["actor"]) == (
        "created",
        fp(key),
        "login",
        "alice",
    )
    assert event["ua"] == FIREFOX
    assert event["ip"] == "127.0.0.1"


def test_logout_records_signed_out_for_the_same_session(r, alice):
    client = browser()
    key = login(client)
    assert client.post("/logout/").status_code == 200

    signed_out, created = stored(r, alice)
    assert (signed_out["e"], signed_out["fp"], signed_out["by"], signed_out["actor"]) == (
        "signed_out",
        fp(key),
        "logout",
        "alice",
    )
    assert signed_out["ip"] == "203.0.113.9"
    assert created["e"] == "created"


def test_logout_of_an_anonymous_visitor_records_nothing(r):
    assert Client().post("/logout/").status_code == 200
    assert audit_keys(r) == []


@pytest.mark.django_db(transaction=True)
async def test_alogout_records_signed_out(r, alice):
    key = signed_in(alice)
    request = RequestFactory().post("/logout/", REMOTE_ADDR="198.51.100.4")
    request.session = SessionStore(key)

    async def auser() -> Any:
        return alice

    request.auser = auser
    await alogout(request)

    [event] = stored(r, alice)
    assert (event["e"], event["fp"], event["actor"], event["ip"]) == (
        "signed_out",
        fp(key),
        "alice",
        "198.51.100.4",
    )
    assert not await SessionStore().aexists(key)


def test_revoking_through_the_api_records_one_event_per_session(r, alice, root):
    first, second = signed_in(alice), signed_in(alice)
    assert api.revoke_user_sessions(alice, actor=root) == 2

    events = stored(r, alice)
    assert sorted(event["fp"] for event in events) == sorted([fp(first), fp(second)])
    for event in events:
        assert (event["e"], event["by"], event["actor"], event["ip"]) == (
            "revoked",
            "api",
            "root",
            None,
        )


def test_revoking_in_the_admin_records_the_admin(r, alice, root):
    key = signed_in(alice)
    admin = Client()
    admin.force_login(root)
    response = admin.post(f"{CHANGELIST}user/{alice.pk}/", {"fingerprint": fp(key)})
    assert response.status_code == 302

    [event] = stored(r, alice)
    assert (event["e"], event["fp"], event["by"], event["actor"]) == (
        "revoked",
        fp(key),
        "admin",
        "root",
    )
    # The admin's own sign-in went to the admin's log, not alice's.
    assert names(r, root) == ["created"]


def test_revoking_with_the_command_records_it(r, alice):
    key = signed_in(alice)
    call_command("revoke_sessions", "alice", stdout=StringIO())
    [event] = stored(r, alice)
    assert (event["e"], event["fp"], event["by"], event["actor"]) == (
        "revoked",
        fp(key),
        "command",
        None,
    )


def test_signing_out_other_sessions_on_the_users_page_records_it(r, alice):
    client = browser()
    login(client)
    other = signed_in(alice)
    assert client.post("/account/sessions/revoke-others/").status_code == 302
    revoked, created = stored(r, alice)
    assert (revoked["e"], revoked["fp"], revoked["by"], revoked["actor"]) == (
        "revoked",
        fp(other),
        "user",
        "alice",
    )
    assert created["e"] == "created"


async def test_async_revocation_records_it(r, alice):
    key = signed_in(alice)
    assert await api.arevoke_session(fp(key), user=alice) is True
    [event] = stored(r, alice)
    assert (event["e"], event["fp"], event["by"]) == ("revoked", fp(key), "api")


def test_a_store_wide_revocation_records_nothing_and_keeps_the_logs(r, alice):
    signed_in(alice)
    send_event(alice, "rotated")
    assert api.revoke_all_sessions() == 1
    assert names(r, alice) == ["rotated"]
    call_command("clearsessions", stdout=StringIO())
    assert names(r, alice) == ["rotated"]


def test_revocations_by_the_session_limit_are_left_to_its_own_event(r, alice):
    # The limit policy sends "limit_ended" for each session it ends (with the new
    # session in its detail) besides session_revoked(by="limit"): one event each.
    session_revoked.send(
        sender=get_user_model(),
        user_id=str(alice.pk),
        fingerprints=("3f2a9c0d1e2b",),
        count=1,
        by="limit",
        actor=None,
    )
    assert stored(r, alice) == []


def test_an_applications_own_event_is_recorded_as_given(r, alice):
    api.record_audit_event(
        alice,
        "mfa_reset",
        fingerprint="3f2a9c0d1e2b",
        detail={"method": "totp", "count": 2},
    )
    [event] = stored(r, alice)
    assert {k: v for k, v in event.items() if k != "t"} == {
        "e": "mfa_reset",
        "fp": "3f2a9c0d1e2b",
        "by": "api",
        "actor": None,
        "ip": None,
        "ua": None,
        "detail": {"method": "totp", "count": "2"},
    }


def test_an_applications_own_event_with_by_actor_and_request(r, alice, root):
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.1", HTTP_USER_AGENT=FIREFOX)
    api.record_audit_event(alice.pk, "mfa_reset", by="support", actor=root, request=request)
    [event] = stored(r, alice)
    assert (event["e"], event["fp"], event["by"], event["actor"]) == (
        "mfa_reset",
        None,
        "support",
        "root",
    )
    assert (event["ip"], event["ua"]) == ("192.0.2.1", FIREFOX)


def test_an_applications_own_event_needs_a_name_and_a_user(r, alice):
    with pytest.raises(ValueError, match="needs a name"):
        api.record_audit_event(alice, "")
    with pytest.raises(TypeError, match="not a user"):
        api.record_audit_event(None, "mfa_reset")
    assert audit_keys(r) == []


def test_an_applications_own_event_is_not_recorded_with_the_audit_off(r, alice, settings):
    settings.SESSIONS_AUDIT = False
    api.record_audit_event(alice, "mfa_reset")
    assert audit_keys(r) == []


async def test_an_applications_own_event_recorded_from_async_code(r, alice):
    await api.arecord_audit_event(alice, "mfa_reset", fingerprint="a81c5e07f4d9")
    assert [(e["e"], e["fp"], e["by"]) for e in stored(r, alice)] == [
        ("mfa_reset", "a81c5e07f4d9", "api")
    ]


def test_policy_signals_without_a_user_record_nothing(r):
    session_rotated.send(
        sender=SessionStore, user_id=None, fingerprint="a81c5e07f4d9", old_fingerprint=None
    )
    assert audit_keys(r) == []


async def test_a_policy_signal_sent_with_asend_is_recorded(r, alice):
    await session_rotated.asend(
        sender=SessionStore,
        user_id=str(alice.pk),
        fingerprint="a81c5e07f4d9",
        old_fingerprint="3f2a9c0d1e2b",
    )
    assert [(e["e"], e["fp"], e["by"], e["detail"]) for e in stored(r, alice)] == [
        ("rotated", "a81c5e07f4d9", "policy", {"from": "3f2a9c0d1e2b"})
    ]


def test_detail_is_bounded(r, alice):
    send_event(alice, detail={f"k{i}": "x" * 1000 for i in range(40)})
    [event] = stored(r, alice)
    assert len(event["detail"]) == audit.MAX_DETAIL_ITEMS
    assert all(len(value) == audit.MAX_TEXT for value in event["detail"].values())


# -- never a session key -------------------------------------------------------------------


def test_no_session_key_is_ever_stored(r, alice, root):
    session_keys: list[str] = []
    client = browser()
    session_keys.append(login(client))
    session_keys.append(signed_in(alice))
    api.revoke_session(fp(session_keys[-1]), user=alice, actor=root)
    # A careless sender passing a key where a fingerprint goes, or in the detail.
    careless = signed_in(alice)
    session_keys.append(careless)
    send_event(alice, "rotated", fingerprint=careless, detail={"new_key": careless})
    client.post("/logout/")

    events = stored(r, alice)
    assert [e["e"] for e in events] == ["signed_out", "rotated", "revoked", "created"]
    assert events[1]["fp"] == fp(careless)
    assert events[1]["detail"] == {"new_key": fp(careless)}
    dump = every_stored_event(r)
    assert dump
    leaked = [key for key in session_keys if key.encode() in dump]
    assert not leaked
    # Nor a digest: only 12-character fingerprints.
    assert not any(keys.digest(key).encode() in dump for key in session_keys)


# -- bounds and retention --------------------------------------------------------------------


def test_the_log_keeps_the_newest_max_events(r, alice, settings):
    settings.SESSIONS_AUDIT_MAX_EVENTS = 5
    for n in range(8):
        send_event(alice, f"event_{n}")
    assert names(r, alice) == [f"event_{n}" for n in (7, 6, 5, 4, 3)]
    assert [e.event for e in api.user_audit_events(alice)] == names(r, alice)


def test_the_log_expires_retention_after_its_newest_event(r, alice, settings):
    settings.SESSIONS_AUDIT_RETENTION = 3600
    send_event(alice)
    assert 3590 <= r.ttl(audit_key(alice)) <= 3600
    settings.SESSIONS_AUDIT_RETENTION = 7200
    send_event(alice)
    assert 7190 <= r.ttl(audit_key(alice)) <= 7200


def test_events_older_than_the_retention_are_not_read(r, alice, settings):
    old = audit.encode_event(audit.make_event("created", when=time.time() - 7200))
    r.lpush(audit_key(alice), old)
    send_event(alice, "rotated")
    assert len(api.user_audit_events(alice)) == 2
    settings.SESSIONS_AUDIT_RETENTION = 3600
    assert [e.event for e in api.user_audit_events(alice)] == ["rotated"]


def test_an_unreadable_entry_is_skipped_with_a_warning(r, alice, caplog):
    send_event(alice, "first")
    r.lpush(audit_key(alice), b"{not json")
    send_event(alice, "second")
    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        assert [e.event for e in api.user_audit_events(alice)] == ["second", "first"]
    assert "Audit trail: an unreadable entry was skipped." in caplog.messages


def test_one_round_trip_per_recorded_signal(r, alice, count_round_trips):
    first, second = signed_in(alice), signed_in(alice)
    load_scripts()  # cached on every primary, as on a warm server
    count_round_trips.round_trips = 0
    count_round_trips.commands.clear()
    session_revoked.send(
        sender=get_user_model(),
        user_id=str(alice.pk),
        fingerprints=(fp(first), fp(second)),
        count=2,
        by="api",
        actor=None,
    )
    assert count_round_trips.round_trips == 1
    [command] = count_round_trips.commands
    # One call of the append script (LPUSH, LTRIM, EXPIRE under a receipt), on one
    # server and on a Cluster alike.
    assert "EVALSHA" in command
    assert SINGLE.audit.sha in command or CLUSTER.audit.sha in command
    assert len(stored(r, alice)) == 2


# -- off -------------------------------------------------------------------------------------


def test_off_writes_nothing_and_sends_no_command(r, alice, root, settings, count_round_trips):
    settings.SESSIONS_AUDIT = False
    request = RequestFactory().get("/")
    request.session = SessionStore(signed_in(alice))
    count_round_trips.round_trips = 0
    user_logged_in.send(sender=type(alice), request=request, user=alice)
    send_event(alice, "rotated", fingerprint="3f2a9c0d1e2b")
    session_revoked.send(
        sender=get_user_model(),
        user_id=str(alice.pk),
        fingerprints=("3f2a9c0d1e2b",),
        count=1,
        by="api",
        actor=None,
    )
    assert count_round_trips.round_trips == 0

    # Whole flows: sign-in, revocation, sign-out.
    client = browser()
    login(client)
    api.revoke_session(fp(signed_in(alice)), user=alice, actor=root)
    client.post("/logout/")
    assert not any(":a:" in command for command in count_round_trips.commands)
    assert audit_keys(r) == []


# -- Redis failing -----------------------------------------------------------------------------


@pytest.fixture
def audit_redis_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The audit's writes go to a Redis that refuses connections; sessions work."""
    dead = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )

    def run_on_dead(operation: Any, *args: Any) -> Any:
        driver = SyncDriver(dead)
        return driver.run(operation(driver.ops, *args))

    monkeypatch.setattr(audit, "run", run_on_dead)
    yield
    dead.close()


def audit_warnings(caplog: Any) -> list[str]:
    return [
        rec.getMessage()
        for rec in caplog.records
        if rec.name == "django_redis_sessions" and rec.levelno == logging.WARNING
    ]


def test_login_succeeds_when_the_audit_write_fails(r, alice, audit_redis_down, caplog):
    client = browser()
    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        key = login(client)
    assert client.get("/read/").json()["user"] == "alice"
    [message] = audit_warnings(caplog)
    assert message.startswith(f"Audit trail: 1 event(s) of user {alice.pk} not recorded: ")
    assert "127.0.0.1:1 is unreachable (write audit events)" in message
    assert key not in caplog.text
    assert audit_keys(r) == []


def test_logout_and_revoke_succeed_when_the_audit_write_fails(r, alice, audit_redis_down, caplog):
    client = browser()
    login(client)
    other = signed_in(alice)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        assert api.revoke_session(fp(other), user=alice) is True
        assert client.post("/logout/").status_code == 200
    assert client.get("/read/").json()["user"] is None
    assert len(audit_warnings(caplog)) == 2


@pytest.mark.django_db(transaction=True)
async def test_alogin_succeeds_when_the_audit_write_fails(r, alice, audit_redis_down, caplog):
    client = AsyncClient()
    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        response = await client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    assert (await client.get("/read/")).json()["user"] == "alice"
    assert len(audit_warnings(caplog)) == 1


def test_an_unexpected_error_is_logged_and_swallowed(r, alice, monkeypatch, caplog):
    def broken(user_id: str, events: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(audit, "record", broken)
    with caplog.at_level(logging.WARNING, logger="django_redis_sessions"):
        login(browser())
    [record] = [rec for rec in caplog.records if rec.name == "django_redis_sessions"]
    assert record.getMessage() == f"Audit trail: 1 event(s) of user {alice.pk} not recorded."
    assert record.exc_info is not None


def test_reading_an_unreachable_log_raises_the_store_error(alice, audit_redis_down, monkeypatch):
    from django_redis_sessions.exceptions import SessionStoreUnavailable

    with pytest.raises(SessionStoreUnavailable, match="read audit events"):
        api.user_audit_events(alice)


# -- the API -------------------------------------------------------------------------------


async def test_api_sync_and_async_agree(r, alice):
    key = signed_in(alice)
    await audit.arecord(
        str(alice.pk),
        [audit.make_event("created", fingerprint=key, by="login", actor=alice, ip="192.0.2.7")],
    )
    send_event(alice, "rotated", fingerprint=fp(key), detail={"reason": "interval"})

    events = api.user_audit_events(alice)
    assert events == await api.auser_audit_events(alice)
    assert events == await api.auser_audit_events(str(alice.pk))
    assert [e.event for e in events] == ["rotated", "created"]
    rotated, created = events
    assert rotated.as_dict() == {
        "time": rotated.time.isoformat(),
        "event": "rotated",
        "fingerprint": fp(key),
        "by": "policy",
        "actor": None,
        "ip": None,
        "user_agent": None,
        "detail": {"reason": "interval"},
    }
    assert created.fingerprint == fp(key)
    assert (created.actor, created.ip) == ("alice", "192.0.2.7")
    assert rotated.time.tzinfo is not None
    assert abs(rotated.time.timestamp() - time.time()) < 5

    assert [e.event for e in api.user_audit_events(alice, limit=1)] == ["rotated"]
    assert [e.event for e in await api.auser_audit_events(alice, limit=1)] == ["rotated"]


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "3"])
def test_api_refuses_a_bad_limit(alice, limit):
    with pytest.raises(ValueError, match="limit must be a positive whole number"):
        api.user_audit_events(alice, limit=limit)


def test_api_of_a_user_without_events_is_empty(r, alice):
    assert api.user_audit_events(alice) == []


def test_api_still_reads_after_the_audit_is_turned_off(r, alice, settings):
    send_event(alice)
    settings.SESSIONS_AUDIT = False
    assert [e.event for e in api.user_audit_events(alice)] == ["rotated"]


async def test_arecord_does_nothing_when_off(r, alice, settings):
    settings.SESSIONS_AUDIT = False
    await audit.arecord(str(alice.pk), [audit.make_event("created")])
    assert audit_keys(r) == []


# -- the admin page ----------------------------------------------------------------------------


def test_admin_page_shows_the_recent_events(r, alice, root):
    client = browser()
    key = login(client)
    other = signed_in(alice)
    admin = Client()
    admin.force_login(root)
    admin.post(f"{CHANGELIST}user/{alice.pk}/", {"fingerprint": fp(other)})
    send_event(alice, "ip_changed", fingerprint=fp(key), detail={"new": "198.51.100.7"})

    response = admin.get(f"{CHANGELIST}user/{alice.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<h2 id="audit">Recent session events</h2>' in page
    rows = page.split('<tr class="audit-event"')[1:]
    assert [row.split('"')[1] for row in rows] == ["ip_changed", "revoked", "created"]
    ip_changed, revoked, created = rows
    assert '<td class="event">ip changed</td>' in ip_changed
    assert "new: 198.51.100.7" in ip_changed
    assert f"<code>{fp(other)}</code>" in revoked
    assert '<td class="by">admin: root</td>' in revoked
    assert f"<code>{fp(key)}</code>" in created
    assert '<td class="by">login: alice</td>' in created
    assert '<td class="ip">203.0.113.9</td>' in created
    assert "device: " in created
    # The sessions table is still there, and no key is anywhere.
    assert f'<tr class="session" data-fingerprint="{fp(key)}">' in page
    assert key not in page
    assert other not in page


def test_admin_page_shows_events_to_a_viewer(r, alice):
    viewer = get_user_model().objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="django_redis_sessions", codename="view_sessions"
        )
    )
    send_event(alice, "rotated")
    client = Client()
    client.force_login(viewer)
    page = client.get(f"{CHANGELIST}user/{alice.pk}/").content.decode()
    assert 'data-event="rotated"' in page


def test_admin_page_escapes_what_an_event_carries(r, alice, root):
    request = RequestFactory().get("/", HTTP_USER_AGENT="<script>alert(1)</script>")
    send_event(alice, "<b>odd</b>", detail={"<i>": "<script>alert(2)</script>"}, request=request)
    admin = Client()
    admin.force_login(root)
    page = admin.get(f"{CHANGELIST}user/{alice.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;i&gt;: &lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "&lt;b&gt;odd&lt;/b&gt;" in page
    assert "<script>alert" not in page


def test_admin_page_says_when_there_is_no_event(r, alice, root):
    admin = Client()
    admin.force_login(root)
    page = admin.get(f"{CHANGELIST}user/{alice.pk}/").content.decode()
    assert "No session event recorded for alice" in page


def test_admin_page_without_the_audit_has_no_events_section(r, alice, root, settings):
    send_event(alice, "rotated")
    settings.SESSIONS_AUDIT = False
    admin = Client()
    admin.force_login(root)
    page = admin.get(f"{CHANGELIST}user/{alice.pk}/").content.decode()
    assert "Recent session events" not in page
    assert "audit-event" not in page


# -- checks ------------------------------------------------------------------------------------


def ids() -> list[str]:
    return [message.id for message in check_settings() if message.id]


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_check_e022_audit_must_be_a_bool(settings, value):
    settings.SESSIONS_AUDIT = value
    assert "django_redis_sessions.E022" in ids()


@pytest.mark.parametrize("name", ["SESSIONS_AUDIT_MAX_EVENTS", "SESSIONS_AUDIT_RETENTION"])
@pytest.mark.parametrize("value", [0, -5, 1.5, "100", True, None])
def test_check_e023_bounds_must_be_positive_ints(settings, name, value):
    setattr(settings, name, value)
    assert ids().count("django_redis_sessions.E023") == 1


def test_default_audit_settings_pass_the_checks(settings):
    found = ids()
    assert "django_redis_sessions.E022" not in found
    assert "django_redis_sessions.E023" not in found

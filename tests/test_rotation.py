"""SESSIONS_ROTATE_AFTER: keys renewed in flight, old keys alive for a grace period."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
import redis
from django.core.checks import run_checks
from django.test import AsyncClient, Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys, record
from django_redis_sessions.storage.scripts import SINGLE
from tests.helpers import index_members, login, redis_key

pytestmark = pytest.mark.real_redis


def read(client: Client) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/read/").json()
    return body


def cookie(client: Client) -> str:
    return str(client.cookies["sessionid"].value)


def as_of(key: str) -> Client:
    """A second browser tab still holding ``key`` (a request already in flight)."""
    client = Client()
    client.cookies["sessionid"] = key
    return client


def age(r: redis.Redis, key: str, seconds: int = 120) -> None:
    """Make ``key``'s session look ``seconds`` older (its created field), no sleeping."""
    raw = bytes(r.get(redis_key(key)) or b"")
    created = int(raw[1:9], 16) - seconds
    deadline = int(raw[17:25], 16) - seconds  # the absolute lifetime moves with it
    aged = raw[:1] + f"{created:08x}".encode() + raw[9:17] + f"{deadline:08x}".encode()
    r.set(redis_key(key), aged + raw[25:], keepttl=True)


@pytest.fixture
def rotating(settings: Any) -> Any:
    settings.SESSIONS_ROTATE_AFTER = 60
    settings.SESSIONS_ROTATE_GRACE = 30
    return settings


def test_off_by_default_the_key_never_changes(r: redis.Redis, alice: Any) -> None:
    client = Client()
    key = login(client)
    time.sleep(1.1)
    assert read(client)["user"] == "alice"
    assert cookie(client) == key
    assert record.META_ROTATED not in record.decode(r.get(redis_key(key)) or b"").meta


def test_an_old_enough_key_is_renewed_and_keeps_everything(
    r: redis.Redis, rotating: Any, alice: Any, policy_events: list[dict[str, Any]], caplog: Any
) -> None:
    client = Client()
    client.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    key = login(client)
    age(r, key)
    before = record.decode(r.get(redis_key(key)) or b"")

    with caplog.at_level(logging.INFO, logger="django_redis_sessions"):
        body = read(client)

    new_key = cookie(client)
    assert new_key != key
    assert body == {"data": {**body["data"], "cart": [1]}, "user": "alice"}
    after = record.decode(r.get(redis_key(new_key)) or b"")
    assert (after.created, after.deadline, after.idle, after.user_id) == (
        before.created,
        before.deadline,
        before.idle,
        before.user_id,
    )
    assert after.data == before.data
    assert after.meta[record.META_ROTATED].isdigit()
    assert index_members(r, alice.pk) == {keys.digest(new_key)}
    # The old key now holds only a stub. Until a request comes with the new key,
    # it lives as long as the session (the response may never have delivered the
    # new cookie); that request starts the grace period.
    stub = r.get(redis_key(key)) or b""
    assert record.is_stub(stub)
    assert r.pttl(redis_key(key)) > 30_000
    assert new_key.encode() not in stub
    read(client)
    assert 0 < r.pttl(redis_key(key)) <= 30_000
    assert [(e["signal"], e["fingerprint"], e["old_fingerprint"]) for e in policy_events] == [
        ("session_rotated", keys.fingerprint(new_key), keys.fingerprint(key))
    ]
    assert f"rotated to {keys.fingerprint(new_key)}" in caplog.text
    assert key not in caplog.text
    assert new_key not in caplog.text


def test_a_request_in_flight_with_the_old_key_continues_on_the_new_one(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    client = Client()
    key = login(client)
    age(r, key)
    read(client)  # rotates
    new_key = cookie(client)

    tab = as_of(key)
    response = tab.post("/write/", data=b'{"late": true}', content_type="application/json")

    assert response.status_code == 200
    assert cookie(tab) == new_key  # its response carries the new key
    assert read(client)["data"]["late"] is True  # its write landed in the new session
    assert index_members(r, alice.pk) == {keys.digest(new_key)}


def test_after_the_grace_period_the_old_key_is_dead(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    rotating.SESSIONS_ROTATE_GRACE = 0.3
    client = Client()
    key = login(client)
    age(r, key)
    read(client)  # rotates
    read(client)  # with the new key: the grace period starts
    time.sleep(0.4)
    assert r.exists(redis_key(key)) == 0
    assert read(as_of(key))["user"] is None
    assert read(client)["user"] == "alice"


@pytest.mark.single_server
def test_confirming_a_rotation_costs_one_round_trip_once(
    r: redis.Redis, rotating: Any, alice: Any, count_round_trips: Any
) -> None:
    client = Client()
    key = login(client)
    age(r, key)
    read(client)  # rotates
    r.script_load(SINGLE.confirm.text)  # cached, as on a warm server
    count_round_trips.round_trips = 0
    read(client)  # the first request with the new key: load, then confirm
    assert count_round_trips.round_trips == 2
    count_round_trips.round_trips = 0
    read(client)  # confirmed: one round trip again
    assert count_round_trips.round_trips == 1


def test_a_rotating_request_that_ends_in_a_5xx_leaves_the_old_key_working(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    """Django sends no cookie with a 5xx: the old key must outlive the grace period."""
    rotating.SESSIONS_ROTATE_GRACE = 0.3
    client = Client(raise_request_exception=False)
    key = login(client)
    age(r, key)
    response = client.post("/fail/")  # rotates, then answers 500
    assert response.status_code == 500
    assert "sessionid" not in response.cookies
    assert cookie(client) == key
    time.sleep(0.4)  # past the grace period
    body = read(client)  # still the old key: followed to the new one
    assert body["user"] == "alice"
    new_key = cookie(client)
    assert new_key != key  # this response delivered the new key
    read(client)  # a request with the new key confirms the rotation ...
    time.sleep(0.4)
    assert read(as_of(key))["user"] is None  # ... and the old key's grace ran out
    assert read(client)["user"] == "alice"
    assert index_members(r, alice.pk) == {keys.digest(new_key)}


def test_signing_out_with_the_old_key_ends_the_new_session_too(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    client = Client()
    key = login(client)
    age(r, key)
    read(client)
    new_key = cookie(client)
    SessionStore(key).delete()  # a logout from a tab that never saw the new key
    assert r.exists(redis_key(key)) == 0
    assert r.exists(redis_key(new_key)) == 0
    assert index_members(r, alice.pk) == set()
    assert read(client)["user"] is None


def test_revocation_during_the_grace_period_ends_it_for_both_keys(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    client = Client()
    key = login(client)
    age(r, key)
    read(client)
    assert api.revoke_user_sessions(alice) == 1
    assert read(client)["user"] is None
    assert read(as_of(key))["user"] is None


def test_concurrent_loads_rotate_once_and_the_loser_follows(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    client = Client()
    key = login(client)
    age(r, key)
    sessions = [SessionStore(key) for _ in range(6)]
    start = threading.Barrier(len(sessions))
    errors: list[BaseException] = []

    def work(n: int, session: SessionStore) -> None:
        start.wait()
        try:
            session[f"tab{n}"] = n
            session.save()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    new_keys = {s.session_key for s in sessions}
    assert len(new_keys) == 1  # one rotation; every other tab followed it
    [new_key] = new_keys
    assert new_key != key
    data = SessionStore(new_key).load()
    assert {f"tab{n}" for n in range(6)} <= set(data)  # no tab's write was lost
    assert index_members(r, alice.pk) == {keys.digest(new_key or "")}


def test_a_forged_stub_is_refused_and_removed(r: redis.Redis, rotating: Any, caplog: Any) -> None:
    victim = SessionStore()
    victim["secret"] = 1
    victim.save()
    key = SessionStore()._get_new_session_key()
    # Someone who can write to Redis points a key at the victim's session.
    forged = b">" + keys.digest(victim.session_key or "").encode() + b"00" * 32
    r.set(redis_key(key), forged)
    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert SessionStore(key).load() == {}
    assert "does not open" in caplog.text
    assert r.exists(redis_key(key)) == 0


@pytest.mark.single_server
def test_a_rotating_request_costs_one_more_round_trip_and_others_none(
    r: redis.Redis, rotating: Any, alice: Any, count_round_trips: Any
) -> None:
    client = Client()
    key = login(client)
    count_round_trips.round_trips = 0
    read(client)
    assert count_round_trips.round_trips == 1
    age(r, key)
    count_round_trips.round_trips = 0
    read(client)
    assert count_round_trips.round_trips == 2  # load, rotate; the save writes nothing


@pytest.mark.django_db(transaction=True)
async def test_the_async_path_rotates_and_follows_too(
    r: redis.Redis, rotating: Any, alice: Any
) -> None:
    client = AsyncClient()
    await client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    key = client.cookies["sessionid"].value
    age(r, key)
    await client.get("/aread/")
    new_key = client.cookies["sessionid"].value
    assert new_key != key
    late = AsyncClient()
    late.cookies["sessionid"] = key
    assert (await late.get("/aread/")).json()["data"]["_auth_user_id"] == str(alice.pk)
    assert late.cookies["sessionid"].value == new_key


@pytest.mark.parametrize(
    ("name", "value", "check"),
    [
        ("SESSIONS_ROTATE_AFTER", 0, "E029"),
        ("SESSIONS_ROTATE_AFTER", "900", "E029"),
        ("SESSIONS_ROTATE_GRACE", -1, "E030"),
        ("SESSIONS_ROTATE_GRACE", 7200, "E030"),
    ],
)
def test_wrong_rotation_settings_are_check_errors(
    settings: Any, name: str, value: object, check: str
) -> None:
    setattr(settings, name, value)
    found = [m.id for m in run_checks() if m.id.startswith("django_redis_sessions.")]
    assert found == [f"django_redis_sessions.{check}"]

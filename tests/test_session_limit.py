"""SESSIONS_MAX_PER_USER: end the oldest, or refuse; atomic either way."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import redis
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.checks import run_checks
from django.test import Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.exceptions import SessionLimitReached
from django_redis_sessions.storage import keys
from tests.helpers import index_members, login, redis_key

pytestmark = pytest.mark.real_redis


def who(client: Client) -> str | None:
    user: str | None = client.get("/read/").json()["user"]
    return user


def signed_in_store(user: Any) -> SessionStore:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    return session


def test_a_sign_in_beyond_the_limit_ends_the_oldest_session(
    r: redis.Redis,
    settings: Any,
    alice: Any,
    revocations: list[dict[str, Any]],
    policy_events: list[dict[str, Any]],
) -> None:
    settings.SESSIONS_MAX_PER_USER = 2
    first, second, third = Client(), Client(), Client()
    first_key = login(first)
    time.sleep(1.05)  # records keep whole seconds: make "oldest" unambiguous
    second_key = login(second)
    assert index_members(r, alice.pk) == {keys.digest(first_key), keys.digest(second_key)}

    third_key = login(third)

    assert who(first) is None  # the oldest: ended at once, server-side
    assert (who(second), who(third)) == ("alice", "alice")
    assert r.exists(redis_key(first_key)) == 0
    assert index_members(r, alice.pk) == {keys.digest(second_key), keys.digest(third_key)}
    assert [(e["by"], e["fingerprints"], e["user_id"]) for e in revocations] == [
        ("limit", (keys.fingerprint(first_key),), str(alice.pk))
    ]
    assert [(e["signal"], e["action"], e["ended"]) for e in policy_events] == [
        ("session_limit_reached", "end_oldest", (keys.fingerprint(first_key),))
    ]
    assert policy_events[0]["fingerprint"] == keys.fingerprint(third_key)


def test_signing_in_again_on_the_same_browser_does_not_count_twice(
    r: redis.Redis, settings: Any, alice: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    client = Client()
    login(client)
    key = login(client)  # cycle_key keeps the user: one session still
    assert who(client) == "alice"
    assert index_members(r, alice.pk) == {keys.digest(key)}


def test_other_users_and_anonymous_sessions_do_not_count(
    r: redis.Redis, settings: Any, alice: Any, bob: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    anonymous = Client()
    anonymous.post("/write/", data=b'{"a": 1}', content_type="application/json")
    bob_client, alice_client = Client(), Client()
    login(bob_client, "bob", "pw-bob")
    login(alice_client)
    assert (who(bob_client), who(alice_client)) == ("bob", "alice")
    assert anonymous.get("/read/").json()["data"] == {"a": 1}


@pytest.mark.single_server
def test_simultaneous_sign_ins_with_a_limit_of_one_leave_exactly_one(
    r: redis.Redis, settings: Any, alice: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    sessions = [signed_in_store(alice) for _ in range(8)]
    start = threading.Barrier(len(sessions))
    errors: list[BaseException] = []

    def sign_in(session: SessionStore) -> None:
        start.wait()
        try:
            session.save()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sign_in, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    live = [s.session_key for s in sessions if r.exists(redis_key(s.session_key or ""))]
    assert len(live) == 1
    assert index_members(r, alice.pk) == {keys.digest(live[0] or "")}


@pytest.mark.single_server
def test_simultaneous_sign_ins_under_refuse_let_exactly_one_in(
    r: redis.Redis, settings: Any, alice: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    sessions = [signed_in_store(alice) for _ in range(8)]
    start = threading.Barrier(len(sessions))
    refused: list[SessionLimitReached] = []

    def sign_in(session: SessionStore) -> None:
        start.wait()
        try:
            session.save()
        except SessionLimitReached as exc:
            refused.append(exc)

    threads = [threading.Thread(target=sign_in, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(refused) == 7
    live = [s for s in sessions if r.exists(redis_key(s.session_key or ""))]
    assert len(live) == 1
    assert index_members(r, alice.pk) == {keys.digest(live[0].session_key or "")}


def test_refuse_keeps_the_first_device_and_turns_the_second_away_with_403(
    r: redis.Redis, settings: Any, alice: Any, policy_events: list[dict[str, Any]]
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    first = Client()
    first_key = login(first)
    second = Client(raise_request_exception=False)

    response = second.post("/login/", {"username": "alice", "password": "pw-alice"})

    assert response.status_code == 403
    assert who(second) is None
    assert who(first) == "alice"
    assert index_members(r, alice.pk) == {keys.digest(first_key)}
    assert [(e["signal"], e["action"]) for e in policy_events] == [
        ("session_limit_reached", "refuse")
    ]
    assert policy_events[0]["user_id"] == str(alice.pk)


@pytest.mark.django_db(transaction=True)
async def test_refuse_applies_to_alogin_too(r: redis.Redis, settings: Any, alice: Any) -> None:
    from django.test import AsyncClient

    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    first, second = AsyncClient(), AsyncClient(raise_request_exception=False)
    credentials = {"username": "alice", "password": "pw-alice"}
    assert (await first.post("/alogin/", credentials)).status_code == 200
    assert (await second.post("/alogin/", credentials)).status_code == 403
    assert (await second.get("/read/")).json()["user"] is None
    assert (await first.get("/read/")).json()["user"] == "alice"


def test_the_login_form_shows_the_limit_as_a_form_error(
    r: redis.Redis, settings: Any, alice: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    first = Client()
    login(first)
    second = Client()
    response = second.post("/limit-login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    assert "already signed in on 1 session, the most allowed" in response.content.decode()
    assert who(second) is None
    # Once the first device signs out, the form lets the second in.
    first.post("/logout/")
    response = second.post("/limit-login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 302
    assert who(second) == "alice"


def test_a_revoked_or_expired_session_frees_its_place(
    r: redis.Redis, settings: Any, alice: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    first = Client()
    first_key = login(first)
    r.delete(redis_key(first_key))  # it expired: the index entry is stale
    second = Client()
    second_key = login(second)
    assert who(second) == "alice"
    assert index_members(r, alice.pk) == {keys.digest(second_key)}
    assert api.session_limit_for(alice) == 1


@pytest.mark.single_server
def test_with_the_limit_off_a_login_is_still_three_round_trips(
    r: redis.Redis, alice: Any, count_round_trips: Any
) -> None:
    client = Client()
    client.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    count_round_trips.round_trips = 0
    login(client)
    # load the anonymous session, cycle its key, save the user into it + index
    assert count_round_trips.round_trips == 3


@pytest.mark.single_server
@pytest.mark.parametrize("action", ["end_oldest", "refuse"])
def test_with_the_limit_on_a_login_costs_no_extra_round_trip(
    r: redis.Redis, settings: Any, alice: Any, count_round_trips: Any, action: str
) -> None:
    settings.SESSIONS_MAX_PER_USER = 3
    settings.SESSIONS_LIMIT_ACTION = action
    login(Client())
    client = Client()
    client.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    count_round_trips.round_trips = 0
    login(client)
    # load the anonymous session, cycle its key, save the user into it + index
    assert count_round_trips.round_trips == 3


@pytest.mark.parametrize(
    ("name", "value", "check"),
    [
        ("SESSIONS_MAX_PER_USER", 0, "E025"),
        ("SESSIONS_MAX_PER_USER", "1", "E025"),
        ("SESSIONS_MAX_PER_USER", True, "E025"),
        ("SESSIONS_LIMIT_ACTION", "drop", "E026"),
    ],
)
def test_wrong_limit_settings_are_check_errors(
    settings: Any, name: str, value: object, check: str
) -> None:
    setattr(settings, name, value)
    found = [m.id for m in run_checks() if m.id.startswith("django_redis_sessions.")]
    assert found == [f"django_redis_sessions.{check}"]

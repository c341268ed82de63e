"""Revocation against key changes, forced deterministically.

Each test runs a key change (``cycle_key`` at a sign-in, or a key rotation) at
the worst moment for a revocation: after the revocation has started (and, in the
old design, read the user's index) and just before its script reaches Redis; or
the other way round, a key change whose session was loaded before the revocation
and whose script reaches Redis after it. Once the revocation returns, no session
of the user that existed when it started may be readable again, under its old key
or its new one. The hook sits on the storage's script runner, so the same tests
run on one server and on a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from django.test import Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys
from django_redis_sessions.storage.runner import AsyncDriver, SyncDriver
from django_redis_sessions.storage.steps import Script

from .helpers import login
from .test_rotation import age

pytestmark = pytest.mark.real_redis

REVOKING = {"revoke", "revoke_user"}


@pytest.fixture
def before_revoking(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Callable[[], Any]]]:
    """Actions run just before the next revoking script is sent, in order."""
    pending: list[Callable[[], Any]] = []
    original = SyncDriver.perform

    def perform(self: SyncDriver, step: Any, scans: Any) -> Any:
        if isinstance(step, Script) and step.script.name in REVOKING and pending:
            pending.pop(0)()
        return original(self, step, scans)

    monkeypatch.setattr(SyncDriver, "perform", perform)
    yield pending
    assert not pending, "the revocation never sent its script"


@pytest.fixture
def before_arevoking(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[Callable[[], Awaitable[Any]]]]:
    pending: list[Callable[[], Awaitable[Any]]] = []
    original = AsyncDriver.perform

    async def perform(self: AsyncDriver, step: Any, scans: Any) -> Any:
        if isinstance(step, Script) and step.script.name in REVOKING and pending:
            await pending.pop(0)()
        return await original(self, step, scans)

    monkeypatch.setattr(AsyncDriver, "perform", perform)
    yield pending
    assert not pending, "the revocation never sent its script"


def signed_in(user: Any, **data: Any) -> SessionStore:
    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), **data})
    session.save()
    return session


def user_of(key: str | None) -> str | None:
    if key is None:
        return None
    data = SessionStore(key).load()
    return data.get("_auth_user_id")


# -- sign out everywhere against cycle_key ------------------------------------------------


def test_a_cycle_key_landing_just_before_the_revocation_is_caught(
    r: redis.Redis, alice: Any, before_revoking: list[Callable[[], Any]]
) -> None:
    session = signed_in(alice, cart=[1])
    old_key = session.session_key
    session.load()
    before_revoking.append(session.cycle_key)  # e.g. a password change in another tab
    assert api.revoke_user_sessions(alice) == 1
    assert session.session_key != old_key
    assert user_of(old_key) is None
    assert user_of(session.session_key) is None
    assert api.list_user_sessions(alice) == []


def test_a_cycle_key_that_loaded_before_the_revocation_starts_empty(
    r: redis.Redis, alice: Any
) -> None:
    session = signed_in(alice, cart=[1])
    session.load()  # this request read the session before the revocation ...
    assert api.revoke_user_sessions(alice) == 1
    session.cycle_key()  # ... and moves it after
    assert user_of(session.session_key) is None
    assert SessionStore(session.session_key).load() == {}
    assert api.list_user_sessions(alice) == []


async def test_a_cycle_key_landing_just_before_an_async_revocation(
    r: redis.Redis, alice: Any, before_arevoking: list[Callable[[], Awaitable[Any]]]
) -> None:
    session = signed_in(alice)
    await session.aload()
    before_arevoking.append(session.acycle_key)
    assert await api.arevoke_user_sessions(alice) == 1
    assert await SessionStore(session.session_key).aload() == {}


# -- sign out everywhere against a rotation -------------------------------------------------


def test_a_rotation_landing_just_before_the_revocation_is_caught(
    r: redis.Redis, alice: Any, settings: Any, before_revoking: list[Callable[[], Any]]
) -> None:
    settings.SESSIONS_ROTATE_AFTER = 60
    session = signed_in(alice)
    old_key = session.session_key
    assert old_key is not None
    age(r, old_key)
    rotating = SessionStore(old_key)
    before_revoking.append(rotating.load)  # this load rotates the key
    assert api.revoke_user_sessions(alice) == 1
    assert rotating.session_key != old_key
    assert user_of(rotating.session_key) is None
    assert user_of(old_key) is None  # the stub leads nowhere


def test_keeping_the_current_session_while_another_rotates(
    r: redis.Redis, alice: Any, settings: Any, before_revoking: list[Callable[[], Any]]
) -> None:
    """Sign out other sessions: the kept one stays, the rotating one ends."""
    settings.SESSIONS_ROTATE_AFTER = 60
    mine = signed_in(alice)
    other = signed_in(alice)
    assert other.session_key is not None
    age(r, other.session_key)
    rotating = SessionStore(other.session_key)
    before_revoking.append(rotating.load)
    assert api.revoke_user_sessions(alice, keep=mine.session_key) == 1
    assert user_of(mine.session_key) == str(alice.pk)
    assert user_of(rotating.session_key) is None


# -- ending one session by the fingerprint a page showed ------------------------------------


def test_a_fingerprint_shown_before_a_rotation_still_ends_the_session(
    r: redis.Redis, alice: Any, settings: Any, before_revoking: list[Callable[[], Any]]
) -> None:
    settings.SESSIONS_ROTATE_AFTER = 60
    session = signed_in(alice)
    assert session.session_key is not None
    [shown] = api.list_user_sessions(alice)
    age(r, session.session_key)
    rotating = SessionStore(session.session_key)
    before_revoking.append(rotating.load)
    assert api.revoke_sessions([shown.fingerprint], user=alice) == 1
    assert rotating.session_key != session.session_key
    assert user_of(rotating.session_key) is None


def test_the_fingerprint_survives_rotation_on_the_users_page(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    """Drawn, rotated, then signed out by the fingerprint drawn: ends it (no 404)."""
    settings.SESSIONS_ROTATE_AFTER = 60
    me, other = Client(), Client()
    login(me)
    other_key = login(other)
    shown = {info.fingerprint for info in api.list_user_sessions(alice)}
    assert keys.fingerprint(other_key) in shown
    age(r, other_key)
    assert other.get("/read/").json()["user"] == "alice"  # rotates its key
    assert other.cookies["sessionid"].value != other_key
    assert {info.fingerprint for info in api.list_user_sessions(alice)} == shown
    response = me.post(f"/account/sessions/{keys.fingerprint(other_key)}/revoke/")
    assert response.status_code in (200, 302)
    assert other.get("/read/").json()["user"] is None
    assert me.get("/read/").json()["user"] == "alice"


def test_revoke_session_by_fingerprint_without_a_user_follows_a_rotation(
    r: redis.Redis, alice: Any, settings: Any, before_revoking: list[Callable[[], Any]]
) -> None:
    settings.SESSIONS_ROTATE_AFTER = 60
    session = signed_in(alice)
    assert session.session_key is not None
    fingerprint = keys.fingerprint(session.session_key)
    age(r, session.session_key)
    rotating = SessionStore(session.session_key)
    before_revoking.append(rotating.load)
    assert api.revoke_session(fingerprint, user=alice) is True
    assert user_of(rotating.session_key) is None

"""The per-user session index stays exact through login, logout, cycle, delete, expiry."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import AsyncClient, Client

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import Operations, keys, record, run

from .helpers import index_members, login

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


def digest_of(session_key: str) -> str:
    return keys.digest(session_key)


def test_login_indexes_the_session_and_logout_removes_it(r, alice):
    client = Client()
    session_key = login(client)
    assert index_members(r, alice.pk) == {digest_of(session_key)}
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk))
    assert r.ttl(index) > 0  # an index can never outlive its sessions

    client.post("/logout/")
    assert index_members(r, alice.pk) == set()
    assert r.exists(index) == 0
    assert r.exists(keys.session_redis_key(conf.SESSION_REDIS_PREFIX, digest_of(session_key))) == 0
    # Replaying the old cookie is anonymous.
    replay = Client()
    replay.cookies["sessionid"] = session_key
    assert replay.get("/read/").json()["user"] is None


def test_login_rotates_the_key_and_moves_nothing_stale_into_the_index(r, alice):
    client = Client()
    client.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    anonymous_key = client.cookies["sessionid"].value
    session_key = login(client)
    assert session_key != anonymous_key
    assert (
        r.exists(keys.session_redis_key(conf.SESSION_REDIS_PREFIX, digest_of(anonymous_key))) == 0
    )
    assert index_members(r, alice.pk) == {digest_of(session_key)}
    assert client.get("/read/").json()["data"]["cart"] == [1]


@pytest.mark.django_db(transaction=True)
async def test_alogin_indexes_the_session(r, alice):
    client = AsyncClient()
    response = await client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    session_key = client.cookies["sessionid"].value
    assert index_members(r, alice.pk) == {digest_of(session_key)}


async def test_async_store_api_keeps_the_index(r, alice):
    s = SessionStore()
    await s.aset("_auth_user_id", str(alice.pk))
    await s.asave()
    assert index_members(r, alice.pk) == {digest_of(s.session_key)}
    old = s.session_key
    await s.acycle_key()
    assert index_members(r, alice.pk) == {digest_of(s.session_key)}
    assert not await SessionStore().aexists(old)
    await s.aflush()
    assert index_members(r, alice.pk) == set()


def test_several_devices_share_one_index(r, alice):
    keys_ = {login(Client()) for _ in range(3)}
    assert index_members(r, alice.pk) == {digest_of(k) for k in keys_}
    records = run(Operations.user_records, str(alice.pk))
    assert {d for d, _raw in records} == {digest_of(k) for k in keys_}


def test_cycle_key_moves_the_index_entry(r, alice):
    s = SessionStore()
    s["_auth_user_id"] = str(alice.pk)
    s.save()
    old = s.session_key
    s.cycle_key()
    assert s.session_key != old
    assert index_members(r, alice.pk) == {digest_of(s.session_key)}
    assert SessionStore(s.session_key)["_auth_user_id"] == str(alice.pk)


def test_delete_by_key_removes_the_index_entry(r, alice):
    s = SessionStore()
    s["_auth_user_id"] = str(alice.pk)
    s.save()
    SessionStore().delete(s.session_key)  # another object, which never loaded it
    assert index_members(r, alice.pk) == set()


def test_switching_user_moves_the_entry(r, alice, bob):
    s = SessionStore()
    s["_auth_user_id"] = str(alice.pk)
    s.save()
    s["_auth_user_id"] = str(bob.pk)
    s.save()
    assert index_members(r, alice.pk) == set()
    assert index_members(r, bob.pk) == {digest_of(s.session_key)}
    del s["_auth_user_id"]
    s.save()
    assert index_members(r, bob.pk) == set()


def test_save_every_request_writes_nothing_when_nothing_changed(
    r, alice, settings, count_round_trips
):
    settings.SESSION_SAVE_EVERY_REQUEST = True
    client = Client()
    login(client)
    client.get("/read/")  # warm
    count_round_trips.round_trips = 0
    response = client.get("/read/")
    assert response.json()["user"] == "alice"
    assert count_round_trips.round_trips == 1  # the load (which slides); no write
    # ...yet the browser's cookie is refreshed: sliding at the cookie, for free.
    assert int(response.cookies["sessionid"]["max-age"]) > 0


def test_modifying_signed_in_request_is_two_round_trips_at_most(r, alice, count_round_trips):
    client = Client()
    login(client)
    client.get("/read/")
    count_round_trips.round_trips = 0
    client.post("/write/", data=b'{"n": 1}', content_type="application/json")
    # One to load and slide, one to merge the change and refresh the index.
    assert count_round_trips.round_trips == 2


def test_entries_of_idle_expired_sessions_are_pruned_on_read_and_by_clear_expired(
    r, alice, settings
):
    settings.SESSION_COOKIE_AGE = 1
    settings.SESSIONS_ABSOLUTE_AGE = 3600
    stale = login(Client())
    time.sleep(1.2)
    assert index_members(r, alice.pk) == {digest_of(stale)}  # deadline not reached yet
    SessionStore.clear_expired()
    assert index_members(r, alice.pk) == set()
    assert r.exists(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk))) == 0

    stale = login(Client())
    time.sleep(1.2)
    assert run(Operations.user_records, str(alice.pk)) == []
    assert index_members(r, alice.pk) == set()


@pytest.mark.single_server
def test_a_new_login_sweeps_entries_of_sessions_that_ended_by_idleness(r, alice, settings):
    settings.SESSION_COOKIE_AGE = 1
    stale = login(Client())
    time.sleep(1.2)
    settings.SESSION_COOKIE_AGE = 600
    fresh = login(Client())
    assert digest_of(stale) not in index_members(r, alice.pk)
    assert index_members(r, alice.pk) == {digest_of(fresh)}


def test_index_ttl_follows_the_longest_deadline_and_none_means_persist(r, alice, settings):
    settings.SESSIONS_ABSOLUTE_AGE = 500
    login(Client())
    index = keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk))
    assert 490 <= r.ttl(index) <= 501
    settings.SESSIONS_ABSOLUTE_AGE = 5000
    login(Client())
    assert 4990 <= r.ttl(index) <= 5001
    settings.SESSIONS_ABSOLUTE_AGE = None
    login(Client())
    assert r.ttl(index) == -1
    scores = [score for _, score in r.zrange(index, 0, -1, withscores=True)]
    assert max(scores) == record.NO_DEADLINE_SCORE


async def test_aclear_expired_prunes(r, alice, settings):
    settings.SESSION_COOKIE_AGE = 1
    s = SessionStore()
    await s.aset("_auth_user_id", str(alice.pk))
    await s.asave()
    await asyncio.sleep(1.2)
    await SessionStore.aclear_expired()
    assert index_members(r, alice.pk) == set()


def test_non_integer_user_ids_are_indexed_verbatim(r):
    s = SessionStore()
    s["_auth_user_id"] = "7d2f6a8e-1c5b-4c1e-9a57-3f0e0c0b9b11"
    s.save()
    assert index_members(r, "7d2f6a8e-1c5b-4c1e-9a57-3f0e0c0b9b11") == {digest_of(s.session_key)}


def test_djangos_own_clearsessions_command_prunes_indexes(r, alice, settings):
    from django.contrib.sessions.management.commands.clearsessions import Command

    settings.SESSION_COOKIE_AGE = 1
    login(Client())
    time.sleep(1.2)
    Command().handle()  # Django's command, whatever INSTALLED_APPS order says
    assert r.exists(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk))) == 0


@pytest.mark.single_server
def test_login_costs_three_round_trips_at_most(r, alice, count_round_trips):
    client = Client()
    client.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    count_round_trips.round_trips = 0
    login(client)
    # load the anonymous session, cycle its key, save the user into it + index
    assert count_round_trips.round_trips == 3


async def test_async_api_never_offloads_to_a_thread(r, alice, monkeypatch):
    """Every storage operation awaits redis.asyncio itself: no sync_to_async."""
    import asgiref.sync

    def refuse(*args, **kwargs):
        raise AssertionError("offloaded to a thread")

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", refuse)
    s = SessionStore()
    await s.aset("_auth_user_id", str(alice.pk))
    await s.asave()
    assert await s.aexists(s.session_key)
    loaded = SessionStore(s.session_key)
    assert await loaded.aget("_auth_user_id") == str(alice.pk)
    await loaded.aset("n", 1)
    await loaded.asave()
    await loaded.acycle_key()
    await SessionStore.aclear_expired()
    await loaded.aflush()
    fresh = SessionStore()
    await fresh.acreate()
    await fresh.adelete()
    assert index_members(r, alice.pk) == set()

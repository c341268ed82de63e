"""No lost update, no resurrection: concurrent requests on one session."""

from __future__ import annotations

import threading

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.test import Client

from django_redis_sessions.backend import SessionStore

from .helpers import saved_key

pytestmark = pytest.mark.real_redis


def test_changes_to_different_keys_both_persist(r):
    key = saved_key(a=0, b=0, keep="yes")
    first, second = SessionStore(key), SessionStore(key)
    first.keys(), second.keys()  # both requests read the session first
    first["a"] = 1
    second["b"] = 2
    del second["keep"]
    first.save()
    second.save()
    final = SessionStore(key)
    assert dict(final.items()) == {"a": 1, "b": 2}


def test_same_key_last_write_wins(r):
    key = saved_key(a=0)
    first, second = SessionStore(key), SessionStore(key)
    first.keys(), second.keys()  # both requests read the session first
    first["a"] = 1
    second["a"] = 2
    first.save()
    second.save()
    assert SessionStore(key)["a"] == 2


async def test_async_changes_to_different_keys_both_persist(r):
    key = saved_key(a=0, b=0)
    first, second = SessionStore(key), SessionStore(key)
    await first.akeys(), await second.akeys()
    await first.aset("a", 1)
    await second.aset("b", 2)
    await first.asave()
    await second.asave()
    assert dict(await SessionStore(key).aitems()) == {"a": 1, "b": 2}


def test_save_after_delete_elsewhere_raises_and_does_not_resurrect(r):
    key = saved_key(a=0)
    holder = SessionStore(key)
    assert holder["a"] == 0
    SessionStore(key).delete()
    holder["a"] = 1
    with pytest.raises(UpdateError):
        holder.save()
    assert not SessionStore().exists(key)


def test_cycle_after_revocation_does_not_carry_the_user_into_a_new_key(r):
    key = saved_key(_auth_user_id="42", cart=[1])
    holder = SessionStore(key)
    assert holder["cart"] == [1]
    SessionStore().delete(key)  # revoked by an operator while the request ran
    holder.cycle_key()
    assert holder.session_key != key
    assert "_auth_user_id" not in holder
    assert dict(SessionStore(holder.session_key).items()) == {}


async def test_async_save_after_delete_raises(r):
    key = saved_key(a=0)
    holder = SessionStore(key)
    assert await holder.aget("a") == 0
    await SessionStore(key).adelete()
    await holder.aset("a", 1)
    with pytest.raises(UpdateError):
        await holder.asave()


def test_concurrent_http_requests_writing_different_keys(r):
    """Eight threads, each writing its own key 25 times through the middleware."""
    client = Client()
    client.post("/write/", data=b'{"seed": 1}', content_type="application/json")
    cookie = client.cookies["sessionid"].value
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            c = Client()
            c.cookies["sessionid"] = cookie
            for i in range(25):
                response = c.post(
                    "/write/", data=f'{{"k{n}": {i}}}'.encode(), content_type="application/json"
                )
                assert response.status_code == 200
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    data = SessionStore(cookie)
    assert {k: data[k] for k in list(data.keys()) if k.startswith("k")} == {
        f"k{n}": 24 for n in range(8)
    }
    assert data["seed"] == 1


def test_binary_serializer_values_survive_merges(r, settings):
    """SESSION_SERIALIZER is honoured, and the record format is binary-safe."""
    import datetime

    settings.SESSION_SERIALIZER = "tests.pickle_serializer.PickleSerializer"
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    s = SessionStore()
    s.update({"blob": bytes(range(256)), "when": when, "tags": {"a", "b"}})
    s.save()
    first, second = SessionStore(s.session_key), SessionStore(s.session_key)
    first.keys(), second.keys()
    first["blob"] = b"\x00:\xff" * 10
    second["n"] = 1
    first.save()
    second.save()
    final = SessionStore(s.session_key)
    assert dict(final.items()) == {
        "blob": b"\x00:\xff" * 10,
        "when": when,
        "tags": {"a", "b"},
        "n": 1,
    }


@pytest.mark.django_db
def test_revocation_racing_busy_requests_leaves_nothing_behind(r, alice, bob):
    """Requests keep writing alice's sessions while she is revoked: none survives.

    Each writer thread loads a session, changes it and saves it in a loop, as
    requests on several devices would. The revocation must end every one of
    them (no save may write one back), keep the index exact, and leave bob's
    sessions alone.
    """
    from django_redis_sessions import api
    from django_redis_sessions.storage import keys

    from .helpers import index_members, redis_key, unlisted_users

    def signed_in(user_id: object) -> str:
        session = SessionStore()
        session["_auth_user_id"] = str(user_id)
        session.save()
        assert session.session_key is not None
        return session.session_key

    alice_keys = [signed_in(alice.pk) for _ in range(12)]
    bob_keys = [signed_in(bob.pk) for _ in range(3)]
    revoked = threading.Event()
    stop = threading.Event()
    writes_after_revoke = []
    errors: list[BaseException] = []

    def writer(mine: list[str]) -> None:
        n = 0
        try:
            while not stop.is_set():
                for key in mine:
                    session = SessionStore(key)
                    session.keys()
                    session["n"] = n
                    n += 1
                    try:
                        session.save()
                    except UpdateError:
                        continue  # revoked under our feet: refused, as it must be
                    if revoked.is_set() and r.exists(redis_key(key)):
                        writes_after_revoke.append(key)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(alice_keys[i::3],), daemon=True) for i in range(3)
    ]
    for thread in threads:
        thread.start()
    ended = api.revoke_user_sessions(alice)
    revoked.set()
    stop.set()
    for thread in threads:
        thread.join(timeout=10)

    assert errors == []
    assert ended == 12
    assert writes_after_revoke == []
    assert all(r.exists(redis_key(key)) == 0 for key in alice_keys)
    assert index_members(r, alice.pk) == set()
    assert index_members(r, bob.pk) == {keys.digest(key) for key in bob_keys}
    # The users index lists bob, and alice no longer.
    assert unlisted_users(r) == set()
    assert [row.user_id for row in api.session_overview().users] == [str(bob.pk)]

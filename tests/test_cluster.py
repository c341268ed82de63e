"""Redis Cluster: what only a cluster shows, on 3 real primaries this module starts.

The whole suite also runs against a cluster (``pytest --redis-cluster``, a tox
command): every feature's own tests pass there. This module checks what is
specific to a cluster: sessions and indexes really spread over the nodes, the
round trips per request, and the order of the steps that cross hash slots. A
crash is injected before *every* step of sign-in, sign-out, ``cycle_key``,
rotation and revocation: afterwards no live session may be missing from its
user's index, and one ``clearsessions`` makes every index exact.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.cluster
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import AsyncClient, Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.checks import check_settings
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.policies import rotation
from django_redis_sessions.storage import Operations, connection, keys, ops, record, runner
from django_redis_sessions.storage import run as run_operation
from django_redis_sessions.storage.plans import RotatePlan, RotateResult

from .helpers import listed_without_index, load_scripts, login, redis_key, unlisted_users
from .servers import redis_cluster
from .test_import_sessions import old_engine_session, run, signed_in_data
from .test_rotation import age

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


@pytest.fixture(scope="module")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield ports


@pytest.fixture
def rc(cluster_ports: list[int], settings: Any) -> Iterator[redis.cluster.RedisCluster]:
    """The engine on the cluster, and a plain cluster client to look inside it."""
    settings.SESSION_REDIS_URL = f"redis://127.0.0.1:{cluster_ports[0]}/0"
    settings.SESSION_REDIS_CLUSTER = True
    settings.SESSION_REDIS_SENTINELS = None
    connection.reset_clients()
    client = redis.cluster.RedisCluster.from_url(settings.SESSION_REDIS_URL)
    yield client
    for key in list(client.scan_iter(match=f"{conf.SESSION_REDIS_PREFIX}:*")):
        client.delete(key)
    client.close()


def node_keys(ports: list[int]) -> dict[int, list[bytes]]:
    """Our sessions and indexes on each primary, read from the nodes themselves
    (not the short-lived receipts of receipts.py)."""
    found = {}
    for port in ports:
        node = redis.Redis(port=port)
        found[port] = list(node.scan_iter(match=f"{conf.SESSION_REDIS_PREFIX}:[su]:*"))
        node.close()
    return found


def unindexed_live_sessions(rc: redis.cluster.RedisCluster) -> list[str]:
    """Live sessions naming a user whose index lacks them: must always be empty."""
    missing = []
    for key in rc.scan_iter(
        match=keys.escape_glob(keys.session_key_prefix(conf.SESSION_REDIS_PREFIX)) + "*"
    ):
        raw = rc.get(key)
        if raw is None or raw[:1] == b">":
            continue
        user = record.decode_summary(raw).user_id
        digest = key.decode().rsplit(":", 1)[1]
        if user and rc.zscore(keys.user_index_key(conf.SESSION_REDIS_PREFIX, user), digest) is None:
            missing.append(digest)
    return missing


def stale_entries(rc: redis.cluster.RedisCluster) -> list[str]:
    """Index entries (pending marks aside) whose session is gone or names someone else."""
    stale = []
    for index in rc.scan_iter(
        match=keys.escape_glob(keys.user_index_prefix(conf.SESSION_REDIS_PREFIX)) + "*"
    ):
        user = index.decode()[len(keys.user_index_prefix(conf.SESSION_REDIS_PREFIX)) :]
        for member in rc.zrange(index, 0, -1):
            if member.startswith(b"p:"):
                stale.append(member.decode())
                continue
            raw = rc.get(keys.session_redis_key(conf.SESSION_REDIS_PREFIX, member.decode()))
            if raw is None or record.decode_summary(raw).user_id != user:
                stale.append(member.decode())
    return stale


# -- spread and cost ---------------------------------------------------------------------


def test_sessions_and_indexes_spread_over_every_primary(rc: Any, cluster_ports: list[int]) -> None:
    for user in range(12):
        for _ in range(3):
            session = SessionStore()
            session["_auth_user_id"] = str(user)
            session.save()
    per_node = node_keys(cluster_ports)
    assert sum(len(found) for found in per_node.values()) == 36 + 12
    assert all(found for found in per_node.values()), per_node
    assert not unindexed_live_sessions(rc)
    assert not stale_entries(rc)


def test_a_signed_in_request_costs_one_round_trip(
    rc: Any, alice: User, count_round_trips: Any
) -> None:
    client = Client()
    login(client)
    client.get("/read/")  # warm: the cluster client's slot map, the script cache
    count_round_trips.round_trips = 0
    assert client.get("/read/").json()["user"] == "alice"
    assert count_round_trips.round_trips == 1
    count_round_trips.round_trips = 0
    client.post("/write/", data=b'{"cart": [1, 2]}', content_type="application/json")
    assert count_round_trips.round_trips == 2  # load, merge-save: the index is not touched
    assert client.get("/read/").json()["data"]["cart"] == [1, 2]


def test_sign_in_list_revoke_and_sign_out_over_http(rc: Any, alice: User) -> None:
    phone, laptop = Client(), Client()
    phone_key, laptop_key = login(phone), login(laptop)
    listed = {s.fingerprint for s in api.list_user_sessions(alice)}
    assert listed == {keys.fingerprint(phone_key), keys.fingerprint(laptop_key)}
    assert api.revoke_session(keys.fingerprint(phone_key), user=alice)
    assert phone.get("/read/").json()["user"] is None
    assert rc.exists(redis_key(phone_key)) == 0
    laptop.post("/logout/")
    assert rc.exists(redis_key(laptop_key)) == 0
    assert api.list_user_sessions(alice) == []
    assert rc.exists(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk))) == 0


@pytest.mark.django_db(transaction=True)
async def test_the_async_engine_works_on_the_cluster(rc: Any, alice: User) -> None:
    client = AsyncClient()
    response = await client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200, response.content
    key = client.cookies["sessionid"].value
    assert (await client.get("/aread/")).json()["data"]["_auth_user_id"] == str(alice.pk)
    sessions = await api.alist_user_sessions(alice)
    assert [s.fingerprint for s in sessions] == [keys.fingerprint(key)]
    assert await api.arevoke_user_sessions(alice) == 1
    assert rc.exists(redis_key(key)) == 0
    assert "_auth_user_id" not in (await client.get("/aread/")).json()["data"]


# -- crash between steps -----------------------------------------------------------------


class Crash(Exception):
    pass


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``crash_at(n)``: the n-th step of the cluster storage fails as if the process died
    there (steps before it ran, it and later ones never do). Returns the step count."""
    state = {"limit": 10**9, "count": 0}
    real = runner.SyncDriver.perform

    def perform(self: Any, step: Any, scans: Any) -> Any:
        state["count"] += 1
        if state["count"] >= state["limit"]:
            raise redis.ConnectionError("injected crash")
        return real(self, step, scans)

    monkeypatch.setattr(runner.SyncDriver, "perform", perform)
    # No grace for pending marks here: the cleanup may prune what a crash left.
    monkeypatch.setattr(ops, "PENDING_SECONDS", -1)

    def arm(limit: int) -> None:
        state["limit"], state["count"] = limit, 0

    def steps() -> int:
        return state["count"]

    arm.steps = steps  # type: ignore[attr-defined]
    return arm


def _signed_in(user: User) -> SessionStore:
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["cart"] = [1]
    session.save()
    return session


def _sign_in(user: User) -> None:
    session = SessionStore()
    session["cart"] = [1]
    session.save()
    session.cycle_key()
    session["_auth_user_id"] = str(user.pk)
    session.save()


def _sign_out(user: User) -> None:
    _signed_in(user).flush()


def _cycle(user: User) -> None:
    _signed_in(user).cycle_key()


def _revoke(user: User) -> None:
    _signed_in(user)
    _signed_in(user)
    api.revoke_user_sessions(user)


def _limit(user: User) -> None:
    # conf keeps each value in its own __dict__: set one without setting_changed.
    conf.__dict__["SESSIONS_MAX_PER_USER"] = 1
    try:
        _signed_in(user)
        _sign_in(user)
    finally:
        conf.__dict__.pop("SESSIONS_MAX_PER_USER")


def _rotate(user: User) -> None:
    key = _signed_in(user).session_key or ""
    new_key = SessionStore()._get_new_session_key()
    plan = RotatePlan(
        old_digest=keys.digest(key),
        new_digest=keys.digest(new_key),
        expected_user_id=str(user.pk),
        sealed=rotation.seal(key, new_key),
    )
    assert run_operation(Operations.rotate, plan) == (RotateResult.ROTATED, None)


OPERATIONS = {
    "sign in": _sign_in,
    "sign out": _sign_out,
    "cycle_key": _cycle,
    "revoke all": _revoke,
    "sign in over the limit": _limit,
    "rotate": _rotate,
}


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_crash_before_any_step_leaves_no_unindexed_session(
    rc: Any, alice: User, crash_at: Any, operation: str
) -> None:
    run = OPERATIONS[operation]
    run(alice)  # count the steps the operation takes when nothing fails
    total = crash_at.steps()
    assert total >= 2, "the operation crosses slots, so it takes several steps"
    for step in range(1, total + 1):
        crash_at(step)
        with pytest.raises(SessionStoreUnavailable):
            run(alice)
        crash_at(10**9)
        assert unindexed_live_sessions(rc) == [], f"{operation}: crash at step {step}"
        assert unlisted_users(rc) == set(), f"{operation}: crash at step {step}"
    call_command("clearsessions", verbosity=0)
    assert unindexed_live_sessions(rc) == []
    assert stale_entries(rc) == []
    assert unlisted_users(rc) == set()
    assert listed_without_index(rc) == set()


# -- a sign-in in flight -------------------------------------------------------------------


def test_a_prune_during_a_sign_in_keeps_its_claimed_entry(rc: Any, alice: User) -> None:
    driver = runner.sync_driver()
    assert driver.cluster
    session = SessionStore()
    session["_auth_user_id"] = str(alice.pk)
    session._session_key = session._get_new_session_key()
    plan = session._plan({"_auth_user_id": str(alice.pk)}, must_create=True)[0]
    assert plan is not None
    steps = driver.ops.save(plan)
    reply = driver.perform(next(steps), {})  # the claim: entry in, record not yet written
    reply = driver.perform(steps.send(reply), {})  # the user listed in the users index
    digest = plan.digest
    assert (
        rc.zscore(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(alice.pk)), digest) is not None
    )
    users = keys.users_key(conf.SESSION_REDIS_PREFIX)
    assert rc.zscore(users, str(alice.pk)) is not None
    # Readers and the cleanup find no record for it, and must leave it alone: the
    # overview finds alice with no live session but a pending claim, and keeps
    # her listed.
    assert api.list_user_sessions(alice) == []
    assert api.session_overview().signed_in_users == 1
    assert rc.zscore(users, str(alice.pk)) is not None
    call_command("clearsessions", verbosity=0)
    assert api.revoke_user_sessions(alice) == 0
    while True:
        try:
            reply = driver.perform(steps.send(reply), {})
        except StopIteration:
            break
    assert unindexed_live_sessions(rc) == []
    assert [s.fingerprint for s in api.list_user_sessions(alice)] == [
        keys.fingerprint_of_digest(digest)
    ]
    assert stale_entries(rc) == []  # the pending mark went once the record was written


# -- policies, commands, failures ---------------------------------------------------------


@pytest.mark.parametrize("action", ["end_oldest", "refuse"])
def test_the_session_limit_holds_on_the_cluster(
    rc: Any, alice: User, settings: Any, action: str
) -> None:
    settings.SESSIONS_MAX_PER_USER = 2
    settings.SESSIONS_LIMIT_ACTION = action
    first, second = Client(), Client()
    first_key = login(first)
    time.sleep(1.05)  # distinct creation seconds: "oldest" is well defined
    login(second)
    third = Client()
    if action == "refuse":
        response = third.post("/login/", {"username": "alice", "password": "pw-alice"})
        assert response.status_code == 403  # SessionLimitReached is a PermissionDenied
        assert len(api.list_user_sessions(alice)) == 2
        return
    login(third)
    assert len(api.list_user_sessions(alice)) == 2
    assert first.get("/read/").json()["user"] is None
    assert rc.exists(redis_key(first_key)) == 0
    assert stale_entries(rc) == []


def test_clearsessions_and_revoke_all_reach_every_primary(
    rc: Any, cluster_ports: list[int], settings: Any
) -> None:
    settings.SESSION_COOKIE_AGE = 1
    for user in range(9):
        for _ in range(2):
            session = SessionStore()
            session["_auth_user_id"] = str(user)
            session.save()
    time.sleep(1.2)
    settings.SESSION_COOKIE_AGE = 600
    indexes_per_node = {
        port: [k for k in found if b":u:" in k] for port, found in node_keys(cluster_ports).items()
    }
    assert sum(bool(found) for found in indexes_per_node.values()) >= 2, indexes_per_node
    stats = run_operation(Operations.clear_expired)
    assert (stats.indexes, stats.entries_pruned, stats.indexes_removed) == (9, 18, 9)
    assert sum(len(found) for found in node_keys(cluster_ports).values()) == 0

    for user in range(6):
        session = SessionStore()
        session["_auth_user_id"] = str(user)
        session.save()
    assert api.revoke_all_sessions() == 6
    assert sum(len(found) for found in node_keys(cluster_ports).values()) == 0


def test_an_unreachable_cluster_is_a_clear_error(settings: Any) -> None:
    settings.SESSION_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.SESSION_REDIS_CLUSTER = True
    settings.SESSION_REDIS_RETRIES = 0
    connection.reset_clients()
    with pytest.raises(SessionStoreUnavailable, match=r"Redis at 127\.0\.0\.1:1 is unreachable"):
        SessionStore("a" * 32).load()
    settings.SESSION_REDIS_ON_OUTAGE = "degrade"
    assert SessionStore("a" * 32).load() == {}


@pytest.mark.parametrize(
    ("overrides", "check_id"),
    [
        ({"SESSION_REDIS_CLUSTER": "yes"}, "E034"),
        (
            {
                "SESSION_REDIS_CLUSTER": True,
                "SESSION_REDIS_SENTINELS": [("h", 1)],
                "SESSION_REDIS_SENTINEL_MASTER": "m",
            },
            "E035",
        ),
        ({"SESSION_REDIS_CLUSTER": True, "SESSION_REDIS_PREFIX": "s{x}"}, "E036"),
        ({"SESSION_REDIS_CLUSTER": True, "SESSION_REDIS_URL": "redis://node:7000/3"}, "E037"),
        (
            {"SESSION_REDIS_CLUSTER": True, "SESSION_REDIS_URL": "unix:///run/redis/redis.sock"},
            "E037",
        ),
    ],
)
def test_wrong_cluster_settings_are_check_errors(
    settings: Any, overrides: dict[str, Any], check_id: str
) -> None:
    settings.SESSION_REDIS_URL = "redis://node:7000/0"
    for name, value in overrides.items():
        setattr(settings, name, value)
    found = {m.id for m in check_settings() if m.id.startswith("django_redis_sessions.E03")}
    assert found == {f"django_redis_sessions.{check_id}"}


def test_a_unix_socket_cluster_url_is_called_a_socket_not_a_database(settings: Any) -> None:
    settings.SESSION_REDIS_CLUSTER = True
    settings.SESSION_REDIS_URL = "unix:///run/redis/redis.sock"
    (error,) = [m for m in check_settings() if m.id == "django_redis_sessions.E037"]
    assert error.msg.startswith("SESSION_REDIS_URL is a unix socket")
    assert "database" not in error.msg


def test_good_cluster_settings_are_clean(settings: Any) -> None:
    settings.SESSION_REDIS_CLUSTER = True
    settings.SESSION_REDIS_URL = "redis://node:7000"
    assert not [m for m in check_settings() if m.id.startswith("django_redis_sessions.E03")]


def test_import_sessions_lands_on_the_cluster_and_indexes_users(
    rc: Any, alice: User, cluster_ports: list[int]
) -> None:

    old_keys = [
        old_engine_session("django.contrib.sessions.backends.db", signed_in_data(alice))
        for _ in range(6)
    ]
    assert run("--from", "db").startswith("Imported 6 sessions (6 signed in) from db")
    for key in old_keys:
        assert SessionStore(key).load()["cart"] == [1, 2]
    assert len(api.list_user_sessions(alice)) == 6
    assert unindexed_live_sessions(rc) == []
    assert sum(bool(found) for found in node_keys(cluster_ports).values()) >= 2


def test_round_trips_of_the_steps_that_cross_slots(
    rc: Any, alice: User, count_round_trips: Any, settings: Any
) -> None:
    """The figures in README's Cluster table."""
    load_scripts()
    warm = Client()
    login(warm)
    warm.post("/logout/")
    browser = Client()
    browser.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    count_round_trips.round_trips = 0
    login(browser)
    sign_in = count_round_trips.round_trips
    count_round_trips.round_trips = 0
    browser.post("/logout/")
    sign_out = count_round_trips.round_trips
    for _ in range(3):
        login(Client())
    count_round_trips.round_trips = 0
    assert api.revoke_user_sessions(alice) == 3
    revoke_three = count_round_trips.round_trips

    settings.SESSIONS_ROTATE_AFTER = 60
    rotating = Client()
    key = login(rotating)
    age(rc, key)
    count_round_trips.round_trips = 0
    assert rotating.get("/read/").json()["user"] == "alice"
    rotate = count_round_trips.round_trips
    assert rotating.cookies["sessionid"].value != key
    # Revoking reads the records (one pipelined GET per node that holds one of the
    # three), ends each, unindexes, then makes a second pass over the index to
    # confirm nothing of the user's is left (a session moving to a new key during
    # the first pass would be). A sign-in lists its user in the users index first;
    # the sign-out of a user's last session drops them from it.
    assert (sign_in, sign_out, rotate) == (8, 4, 7)
    assert 8 <= revoke_three <= 10

"""SESSIONS_IP_CHANGE: flag or end a session whose client network changes."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis
from django.core.checks import run_checks
from django.test import AsyncClient, Client

from django_redis_sessions.signals import session_ip_changed
from django_redis_sessions.storage import keys
from tests.helpers import index_members, login, redis_key

pytestmark = pytest.mark.real_redis

SECURITY_LOGGER = "django.security.SuspiciousSession"
HOME = "203.0.113.7"


def signed_in(ip: str = HOME) -> tuple[Client, str]:
    client = Client(REMOTE_ADDR=ip)
    return client, login(client)


def user_from(client: Client, ip: str) -> str | None:
    user: str | None = client.get("/read/", REMOTE_ADDR=ip).json()["user"]
    return user


def test_off_by_default_a_new_network_changes_nothing(
    r: redis.Redis, alice: Any, caplog: Any
) -> None:
    client, _key = signed_in()
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert user_from(client, "198.51.100.9") == "alice"
    assert not [rec for rec in caplog.records if rec.name == SECURITY_LOGGER]


def test_end_signs_out_a_request_from_another_network(
    r: redis.Redis, alice: Any, settings: Any, caplog: Any, policy_events: list[dict[str, Any]]
) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    client, key = signed_in()
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        assert user_from(client, "198.51.100.9") is None
    assert r.exists(redis_key(key)) == 0
    assert index_members(r, alice.pk) == set()
    [message] = [rec.getMessage() for rec in caplog.records if rec.name == SECURITY_LOGGER]
    assert "IP network changed (203.0.113.0/24 -> 198.51.100.0/24)" in message
    assert "the session was ended" in message
    assert key not in message
    assert [(e["signal"], e["fingerprint"], e["action"]) for e in policy_events] == [
        ("session_ip_changed", keys.fingerprint(key), "end")
    ]
    # Coming back from home does not bring it back.
    assert user_from(client, HOME) is None


def test_end_keeps_a_session_that_moves_inside_its_network(
    r: redis.Redis, alice: Any, settings: Any, policy_events: list[dict[str, Any]]
) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    client, _key = signed_in()
    assert user_from(client, "203.0.113.250") == "alice"  # same /24
    assert policy_events == []


def test_flag_keeps_the_session_and_marks_it(
    r: redis.Redis, alice: Any, settings: Any, caplog: Any, policy_events: list[dict[str, Any]]
) -> None:
    settings.SESSIONS_IP_CHANGE = "flag"
    client, _key = signed_in()
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        response = client.get("/ip-changed/", REMOTE_ADDR="198.51.100.9")
    assert response.json() == {"ip_changed": True, "user": "alice"}
    assert "flagged" in caplog.text
    [event] = policy_events
    assert event["signal"] == "session_ip_changed"
    assert (event["old_network"], event["new_network"], event["action"]) == (
        "203.0.113.0/24",
        "198.51.100.0/24",
        "flag",
    )
    # The new address is now the recorded one: the next request is not flagged.
    assert client.get("/ip-changed/", REMOTE_ADDR="198.51.100.9").json()["ip_changed"] is False


def test_a_wider_prefix_lets_a_mobile_user_move_between_cells(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    settings.SESSIONS_IP_PREFIX_V4 = 16
    client, _key = signed_in("10.20.1.5")
    assert user_from(client, "10.20.200.9") == "alice"
    assert user_from(client, "10.21.0.1") is None


def test_ipv6_compares_the_configured_prefix(r: redis.Redis, alice: Any, settings: Any) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    client, _key = signed_in("2001:db8:1:2::5")
    assert user_from(client, "2001:db8:1:ffff::9") == "alice"  # same /48
    assert user_from(client, "2001:db8:2::1") is None


def test_a_switch_between_ipv4_and_ipv6_is_not_judged(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    client, _key = signed_in()
    assert user_from(client, "2001:db8::1") == "alice"
    assert user_from(client, HOME) == "alice"


def test_truncated_addresses_compare_the_same_way(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    settings.SESSIONS_TRUNCATE_IP = True
    client, _key = signed_in()
    assert user_from(client, "203.0.113.99") == "alice"
    assert user_from(client, "198.51.100.1") is None


@pytest.mark.django_db(transaction=True)
async def test_the_async_path_applies_it_too(r: redis.Redis, alice: Any, settings: Any) -> None:
    settings.SESSIONS_IP_CHANGE = "end"
    # The test AsyncClient's address is fixed; a trusted proxy header moves it.
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    client = AsyncClient()
    credentials = {"username": "alice", "password": "pw-alice"}
    home = {"x-forwarded-for": HOME}
    response = await client.post("/alogin/", credentials, headers=home)
    assert response.status_code == 200
    assert (await client.get("/aread/", headers=home)).json()["data"] != {}
    away = await client.get("/aread/", headers={"x-forwarded-for": "198.51.100.9"})
    assert away.json() == {"data": {}}


def test_flag_costs_no_extra_round_trip(
    r: redis.Redis, alice: Any, settings: Any, count_round_trips: Any
) -> None:
    settings.SESSIONS_IP_CHANGE = "flag"
    client, _key = signed_in()
    count_round_trips.round_trips = 0
    assert user_from(client, "198.51.100.9") == "alice"
    assert count_round_trips.round_trips == 1


@pytest.mark.parametrize(
    ("name", "value", "check"),
    [
        ("SESSIONS_IP_CHANGE", "block", "E027"),
        ("SESSIONS_IP_PREFIX_V4", 33, "E028"),
        ("SESSIONS_IP_PREFIX_V6", -1, "E028"),
        ("SESSIONS_IP_PREFIX_V6", "48", "E028"),
    ],
)
def test_wrong_settings_are_check_errors(
    settings: Any, name: str, value: object, check: str
) -> None:
    setattr(settings, name, value)
    found = [m.id for m in run_checks() if m.id.startswith("django_redis_sessions.")]
    assert found == [f"django_redis_sessions.{check}"]


def test_the_policy_without_recorded_ips_warns(settings: Any) -> None:
    settings.SESSIONS_IP_CHANGE = "flag"
    settings.SESSIONS_RECORD_IP = False
    found = [m.id for m in run_checks() if m.id.startswith("django_redis_sessions.")]
    assert found == ["django_redis_sessions.W011"]


@pytest.mark.django_db(transaction=True)
async def test_the_async_path_sends_events_with_asend(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    # An async receiver (an audit log on redis.asyncio, say) gets the event on the
    # request's own loop: send() from inside a loop could not run it.
    settings.SESSIONS_IP_CHANGE = "flag"
    settings.SESSIONS_IP_HEADER_NAME = "HTTP_X_FORWARDED_FOR"
    seen: list[str] = []

    async def receiver(sender: Any, action: str, **kwargs: Any) -> None:
        seen.append(action)

    session_ip_changed.connect(receiver)
    try:
        client = AsyncClient()
        credentials = {"username": "alice", "password": "pw-alice"}
        await client.post("/alogin/", credentials, headers={"x-forwarded-for": HOME})
        await client.get("/aread/", headers={"x-forwarded-for": "198.51.100.9"})
    finally:
        session_ip_changed.disconnect(receiver)
    assert seen == ["flag"]

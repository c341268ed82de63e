"""One signal per event: each sent by its real trigger against the real Redis, with
exactly the arguments ``signals.py`` and docs/api.md document, and each still
recorded by the audit trail (``SESSIONS_AUDIT``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.dispatch import Signal
from django.test import Client

from django_redis_sessions import api, signals
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys
from tests.helpers import login
from tests.test_rotation import age

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

HOME = "203.0.113.7"
AWAY = "198.51.100.9"
UA_A = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
UA_B = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


class Caught:
    """The sends of one signal during a test: ``(sender, kwargs)`` each."""

    def __init__(self, signal: Signal) -> None:
        self.signal = signal
        self.sends: list[tuple[Any, dict[str, Any]]] = []
        signal.connect(self.receive, weak=False)

    def receive(self, sender: Any, **kwargs: Any) -> None:
        kwargs.pop("signal")
        self.sends.append((sender, kwargs))

    def close(self) -> None:
        self.signal.disconnect(self.receive)


@pytest.fixture
def catch() -> Iterator[Any]:
    caught: list[Caught] = []

    def start(signal: Signal) -> Caught:
        caught.append(Caught(signal))
        return caught[-1]

    yield start
    for each in caught:
        each.close()


@pytest.fixture(autouse=True)
def audited(settings: Any) -> None:
    settings.SESSIONS_AUDIT = True


def trail(user: Any) -> list[tuple[str, str | None, str | None, dict[str, str]]]:
    return [(e.event, e.fingerprint, e.by, e.detail) for e in api.user_audit_events(user)]


def test_every_signal_is_public_and_documented() -> None:
    names = {name for name in signals.__all__ if isinstance(getattr(signals, name), Signal)}
    assert names == {
        "session_revoked",
        "session_rotated",
        "session_limit_reached",
        "session_ip_changed",
        "session_user_agent_changed",
    }
    assert not hasattr(signals, "session_event")
    for name in names:
        assert f"``{name}``" in (signals.__doc__ or "")


def test_session_rotated(r: redis.Redis, alice: Any, settings: Any, catch: Any) -> None:
    settings.SESSIONS_ROTATE_AFTER = 60
    caught = catch(signals.session_rotated)
    client = Client()
    old_key = login(client)
    age(r, old_key)
    assert client.get("/read/").json()["user"] == "alice"
    new_key = client.cookies["sessionid"].value
    assert new_key != old_key
    assert caught.sends == [
        (
            SessionStore,
            {
                "user_id": str(alice.pk),
                "fingerprint": keys.fingerprint(new_key),
                "old_fingerprint": keys.fingerprint(old_key),
            },
        )
    ]
    assert trail(alice)[0] == (
        "rotated",
        keys.fingerprint(new_key),
        "policy",
        {"from": keys.fingerprint(old_key)},
    )


def test_session_limit_reached_ending_the_oldest(
    r: redis.Redis, alice: Any, settings: Any, catch: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    caught = catch(signals.session_limit_reached)
    revoked = catch(signals.session_revoked)
    first = login(Client())
    second = login(Client())
    assert caught.sends == [
        (
            SessionStore,
            {
                "user_id": str(alice.pk),
                "action": "end_oldest",
                "fingerprint": keys.fingerprint(second),
                "ended": (keys.fingerprint(first),),
                "limit": 1,
            },
        )
    ]
    assert [kwargs["by"] for _sender, kwargs in revoked.sends] == ["limit"]
    # Recorded once per ended session, as limit_ended (not also as revoked).
    assert [event for event in trail(alice) if event[0] != "created"] == [
        (
            "limit_ended",
            keys.fingerprint(first),
            "policy",
            {"limit": "1", "new_session": keys.fingerprint(second)},
        )
    ]


def test_session_limit_reached_refusing(
    r: redis.Redis, alice: Any, settings: Any, catch: Any
) -> None:
    settings.SESSIONS_MAX_PER_USER = 1
    settings.SESSIONS_LIMIT_ACTION = "refuse"
    caught = catch(signals.session_limit_reached)
    login(Client())
    refused = Client(raise_request_exception=False)
    response = refused.post("/login/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 403
    [(sender, kwargs)] = caught.sends
    assert sender is SessionStore
    assert set(kwargs) == {"user_id", "action", "fingerprint", "ended", "limit"}
    assert (kwargs["user_id"], kwargs["action"], kwargs["ended"], kwargs["limit"]) == (
        str(alice.pk),
        "refuse",
        (),
        1,
    )
    assert len(kwargs["fingerprint"]) == keys.FINGERPRINT_LENGTH
    assert trail(alice)[0] == ("login_refused", kwargs["fingerprint"], "policy", {"limit": "1"})


@pytest.mark.parametrize("action", ["flag", "end"])
def test_session_ip_changed(
    r: redis.Redis, alice: Any, settings: Any, catch: Any, action: str
) -> None:
    settings.SESSIONS_IP_CHANGE = action
    caught = catch(signals.session_ip_changed)
    client = Client(REMOTE_ADDR=HOME)
    key = login(client)
    user = client.get("/read/", REMOTE_ADDR=AWAY).json()["user"]
    assert user == ("alice" if action == "flag" else None)
    assert caught.sends == [
        (
            SessionStore,
            {
                "user_id": str(alice.pk),
                "fingerprint": keys.fingerprint(key),
                "old_network": "203.0.113.0/24",
                "new_network": "198.51.100.0/24",
                "action": action,
            },
        )
    ]
    assert trail(alice)[0] == (
        "ip_changed",
        keys.fingerprint(key),
        "policy",
        {"from": "203.0.113.0/24", "to": "198.51.100.0/24", "action": action},
    )


@pytest.mark.parametrize("action", ["flag", "end"])
def test_session_user_agent_changed(
    r: redis.Redis, alice: Any, settings: Any, catch: Any, action: str
) -> None:
    settings.SESSIONS_USER_AGENT_CHANGE = action
    caught = catch(signals.session_user_agent_changed)
    client = Client(HTTP_USER_AGENT=UA_A)
    key = login(client)
    user = client.get("/read/", HTTP_USER_AGENT=UA_B).json()["user"]
    assert user == ("alice" if action == "flag" else None)
    assert caught.sends == [
        (
            SessionStore,
            {"user_id": str(alice.pk), "fingerprint": keys.fingerprint(key), "action": action},
        )
    ]
    assert trail(alice)[0] == (
        "user_agent_changed",
        keys.fingerprint(key),
        "policy",
        {"action": action},
    )


def test_session_revoked(r: redis.Redis, alice: Any, catch: Any) -> None:
    caught = catch(signals.session_revoked)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    first, second = login(Client()), login(Client())
    assert api.revoke_user_sessions(alice, by="admin", actor=root) == 2
    [(sender, kwargs)] = caught.sends
    assert sender is get_user_model()
    assert set(kwargs) == {"user_id", "fingerprints", "count", "by", "actor"}
    assert (kwargs["user_id"], kwargs["count"], kwargs["by"], kwargs["actor"]) == (
        str(alice.pk),
        2,
        "admin",
        root,
    )
    assert sorted(kwargs["fingerprints"]) == sorted(map(keys.fingerprint, (first, second)))
    revoked = [(fp, by) for event, fp, by, _detail in trail(alice) if event == "revoked"]
    assert sorted(revoked) == sorted((keys.fingerprint(k), "admin") for k in (first, second))

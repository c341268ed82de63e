"""The OWASP session-management checklist (GUIDE.md section 5), in one place.

Each test is one item, against the real Redis and through Django's full middleware
stack where a browser would be involved. Several are also covered, in more depth,
by the topic modules (test_bad_input, test_expiry, test_middleware, ...); here they
are restated briefly so the checklist can be read, and fail, as a whole.
"""

from __future__ import annotations

import collections
import io
import math
import operator
import string
import time
from typing import Any

import pytest
import redis
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.core import checks
from django.core.management import call_command
from django.test import Client
from django.utils.crypto import get_random_string

from django_redis_sessions import api, backend
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys, record

from ..conftest import CommandCounter
from ..helpers import index_members, login, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

COOKIE = "sessionid"
#: What README.md ("Keys") and keys.py document: 32 characters of [a-z0-9].
DOCUMENTED_ALPHABET = frozenset(string.ascii_lowercase + string.digits)
DOCUMENTED_LENGTH = 32
#: 100,000 keys take about 6 s: Django's generator reads the OS CSPRNG once per
#: character. Every bound below follows SAMPLE, so a smaller one stays valid.
SAMPLE = 100_000
#: For 35 degrees of freedom the chi-square statistic averages 35 (sd 8.4); 120 is
#: beyond p = 1e-10, so only a real bias (or a constant character) exceeds it.
CHI_SQUARE_BOUND = 120


def who(client: Client) -> str | None:
    """The username the server sees for ``client`` (``None``: anonymous)."""
    response = client.get("/read/")
    assert response.status_code == 200
    user: str | None = response.json()["user"]
    return user


def replay(session_key: str, *, doctored: bool = False) -> Client:
    """A fresh browser presenting ``session_key``, as a thief replaying a cookie would.

    ``doctored``: the cookie also claims to live for ten more years. The test
    client sends only the value, as a browser does: whatever a cookie's attributes
    say never reaches the server, which must decide on its own.
    """
    client = Client()
    client.cookies[COOKIE] = session_key
    if doctored:
        client.cookies[COOKIE]["max-age"] = 10 * 365 * 86400
        client.cookies[COOKIE]["expires"] = "Fri, 31 Dec 2100 23:59:59 GMT"
    return client


def write(client: Client, body: bytes = b'{"x": 1}') -> Any:
    response = client.post("/write/", data=body, content_type="application/json")
    assert response.status_code == 200
    return response


def issued_key(response: Any) -> str:
    value: str = response.cookies[COOKIE].value
    assert value, "the response deleted the cookie instead of issuing a key"
    return value


# -- 1. keys: a CSPRNG, >= 128 bits, no structure ------------------------------------------


def test_http_sessions_get_their_keys_from_the_generator_under_test(
    r: redis.Redis, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generator sampled below issues the cookies (create and login), and it is
    Django's CSPRNG one (``get_random_string``: ``secrets``), not a copy."""
    generated: list[str] = []
    calls: list[tuple[int, str]] = []
    real_method = SessionStore._get_new_session_key

    def recording_method(self: SessionStore) -> str:
        key = real_method(self)
        generated.append(key)
        return key

    def recording_random_string(length: int, allowed_chars: str) -> str:
        calls.append((length, allowed_chars))
        return get_random_string(length, allowed_chars)

    monkeypatch.setattr(SessionStore, "_get_new_session_key", recording_method)
    monkeypatch.setattr(backend, "get_random_string", recording_random_string)
    client = Client()
    anonymous = issued_key(write(client))
    signed_in = login(client)
    assert generated == [anonymous, signed_in]
    assert calls == [(DOCUMENTED_LENGTH, VALID_KEY_CHARS)] * 2
    assert get_random_string.__module__ == "django.utils.crypto"


def test_new_keys_have_at_least_128_bits_and_no_structure() -> None:
    generate = SessionStore()._get_new_session_key  # no Redis command involved
    sample = [generate() for _ in range(SAMPLE)]

    assert len(set(sample)) == SAMPLE, "duplicate keys"
    assert {len(key) for key in sample} == {DOCUMENTED_LENGTH}
    assert all(keys.is_valid_session_key(key) for key in sample)
    overall = collections.Counter("".join(sample))
    assert set(overall) == DOCUMENTED_ALPHABET == set(VALID_KEY_CHARS)

    # Entropy from the documented alphabet and length: 32 * log2(36) = 165.4 bits.
    bits = DOCUMENTED_LENGTH * math.log2(len(DOCUMENTED_ALPHABET))
    assert bits >= 128, bits
    # ...and as measured: the characters' Shannon entropy, summed over positions. A
    # sample falls short of the true entropy by about chi-square / (2 n ln 2) bits
    # per position; the allowance is what the chi-square bound below permits.
    columns = [collections.Counter(column) for column in zip(*sample, strict=True)]
    measured = sum(_shannon(column) for column in columns)
    allowance = DOCUMENTED_LENGTH * CHI_SQUARE_BOUND / (2 * SAMPLE * math.log(2))
    assert measured >= bits - allowance, (measured, bits)

    # No structure: characters are uniform overall and at every position.
    expected = SAMPLE / len(DOCUMENTED_ALPHABET)
    assert _chi_square(overall, expected * DOCUMENTED_LENGTH) < CHI_SQUARE_BOUND
    worst = max(_chi_square(column, expected) for column in columns)
    assert worst < CHI_SQUARE_BOUND, worst
    # Every character starts some key and ends some key: no common prefix or suffix
    # (a counter, a timestamp or a host id would show there).
    assert set(columns[0]) == set(columns[-1]) == DOCUMENTED_ALPHABET
    # Consecutive keys are unrelated: a position agrees with the previous key's
    # 1 time in 36 (the tolerance is 20 standard deviations).
    agreeing = sum(
        sum(map(operator.eq, column, column[1:])) for column in zip(*sample, strict=True)
    )
    assert abs(agreeing / ((SAMPLE - 1) * DOCUMENTED_LENGTH) - 1 / 36) < 0.002


def _chi_square(counts: collections.Counter[str], expected: float) -> float:
    return sum((counts[c] - expected) ** 2 / expected for c in DOCUMENTED_ALPHABET)


def _shannon(counts: collections.Counter[str]) -> float:
    total = sum(counts.values())
    return -sum(n / total * math.log2(n / total) for n in counts.values())


# -- 2. an unknown key is never adopted; 3. keys are validated before Redis ----------------


def test_an_unknown_well_formed_key_is_never_adopted(r: redis.Redis) -> None:
    planted = get_random_string(32, VALID_KEY_CHARS)  # well-formed, never issued
    read = replay(planted).get("/read/")
    assert read.cookies.get(COOKIE) is None or read.cookies[COOKIE].value == ""
    issued = issued_key(write(replay(planted)))
    assert issued != planted
    assert r.exists(redis_key(planted)) == 0
    assert not SessionStore().exists(planted)


@pytest.mark.parametrize("cookie", ["{a}" * 8, "A" * 32, "a" * 65, "abc\x00defghijk", "a*"])
def test_a_malformed_key_is_refused_before_any_redis_command(
    r: redis.Redis, cookie: str, count_round_trips: CommandCounter
) -> None:
    client = replay(cookie)
    assert who(client) is None
    assert count_round_trips.round_trips == 0
    assert issued_key(write(client)) != cookie


# -- 4. login renews the key and destroys the old one ---------------------------------------


def test_login_rotates_the_key_and_the_old_one_is_dead(
    r: redis.Redis, alice: Any, bob: Any
) -> None:
    client = Client()
    anonymous = issued_key(write(client))  # a key an attacker could have planted
    alice_key = login(client)
    assert alice_key != anonymous
    assert r.exists(redis_key(anonymous)) == 0
    assert who(replay(anonymous)) is None
    assert replay(anonymous).get("/read/").json()["data"] == {}
    assert who(client) == "alice"

    # Privilege change: another user signs in on the same browser.
    bob_key = login(client, "bob", "pw-bob")
    assert bob_key not in (alice_key, anonymous)
    assert r.exists(redis_key(alice_key)) == 0
    assert who(replay(alice_key)) is None
    assert index_members(r, alice.pk) == set()
    assert index_members(r, bob.pk) == {keys.digest(bob_key)}


# -- 5. idle and absolute timeouts, server-side --------------------------------------------


def test_idle_timeout_is_enforced_whatever_the_cookie_says(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    settings.SESSION_COOKIE_AGE = 1
    client = Client()
    key = login(client)
    assert who(replay(key, doctored=True)) == "alice"  # that request slid it
    time.sleep(1.15)
    thief = replay(key, doctored=True)
    assert who(thief) is None
    assert r.exists(redis_key(key)) == 0
    assert issued_key(write(thief)) != key


def test_absolute_timeout_is_enforced_whatever_the_cookie_and_ttl_say(
    r: redis.Redis, alice: Any, settings: Any
) -> None:
    settings.SESSION_COOKIE_AGE = 3600
    settings.SESSIONS_ABSOLUTE_AGE = 7200
    key = login(Client())
    name = redis_key(key)
    # The deadline passed a second ago, though the record would still live an hour.
    r.setrange(name, record.DEADLINE_OFFSET, record.field(int(time.time()) - 1))
    r.expire(name, 3600)
    assert who(replay(key, doctored=True)) is None
    assert r.exists(name) == 0

    # Created longer ago than SESSIONS_ABSOLUTE_AGE: also dead, whatever the TTL.
    key = login(Client())
    name = redis_key(key)
    r.setrange(name, record.DEADLINE_OFFSET, record.field(0))
    r.setrange(name, record.CREATED_OFFSET, record.field(int(time.time()) - 7201))
    r.expire(name, 3600)
    assert who(replay(key, doctored=True)) is None
    assert r.exists(name) == 0


# -- 6. logout destroys the session server-side ---------------------------------------------


def test_logout_destroys_the_session_and_the_replayed_cookie_is_anonymous(
    r: redis.Redis, alice: Any
) -> None:
    client = Client()
    key = login(client)
    client.post("/logout/")
    assert r.exists(redis_key(key)) == 0
    assert keys.digest(key) not in index_members(r, alice.pk)
    assert who(replay(key, doctored=True)) is None
    assert issued_key(write(replay(key))) != key


# -- revocation is immediate ----------------------------------------------------------------


@pytest.mark.parametrize("how", ["api", "command", "user_page"])
def test_revocation_is_immediate(r: redis.Redis, alice: Any, how: str) -> None:
    victim, other = Client(), Client()
    key = login(victim)
    other_key = login(other)
    assert who(victim) == "alice"
    if how == "api":
        assert api.revoke_session(keys.fingerprint(key), user=alice) is True
    elif how == "command":
        call_command("revoke_sessions", "alice", stdout=io.StringIO())
    else:
        response = other.post(f"/account/sessions/api/{keys.fingerprint(key)}/revoke/")
        assert response.json() == {"revoked": 1, "signed_out": False}
    assert r.exists(redis_key(key)) == 0
    assert who(victim) is None  # the very next request
    assert who(replay(key)) is None
    assert (who(other) is None) == (how == "command")
    assert r.exists(redis_key(other_key)) == (0 if how == "command" else 1)


# -- 7. cookie flags follow Django's settings; the deploy check warns ----------------------


@pytest.mark.parametrize(
    ("secure", "httponly", "samesite"),
    [(True, True, "Strict"), (True, True, "Lax"), (False, False, "None")],
)
def test_cookie_flags_follow_the_settings(
    r: redis.Redis, settings: Any, secure: bool, httponly: bool, samesite: str
) -> None:
    settings.SESSION_COOKIE_SECURE = secure
    settings.SESSION_COOKIE_HTTPONLY = httponly
    settings.SESSION_COOKIE_SAMESITE = samesite
    client = Client()
    created = write(client)  # set by Django's SessionMiddleware on save
    slid = client.get("/read/")  # re-sent by SessionActivityMiddleware, nothing saved
    for response in (created, slid):
        header = response.cookies[COOKIE].output(header="").strip()  # the Set-Cookie line
        attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
        assert ("secure" in attributes) is secure, header
        assert ("httponly" in attributes) is httponly, header
        assert f"SameSite={samesite}" in header, header


def test_deploy_checks_warn_when_cookie_flags_are_off(settings: Any) -> None:
    def cookie_warnings() -> set[str]:
        found = checks.run_checks(include_deployment_checks=True, tags=[checks.Tags.security])
        return {m.id for m in found if m.id in _COOKIE_CHECKS}

    settings.SESSION_COOKIE_SECURE = False
    settings.SESSION_COOKIE_HTTPONLY = False
    assert cookie_warnings() >= {"security.W012", "security.W015"}
    settings.SESSION_COOKIE_SECURE = True
    settings.SESSION_COOKIE_HTTPONLY = True
    assert cookie_warnings() == set()


#: Django's session-cookie deploy checks: Secure (W010-W012), HttpOnly (W013-W015).
_COOKIE_CHECKS = {f"security.W01{n}" for n in range(6)}

"""Encryption at rest (``SESSION_REDIS_ENCRYPTION_KEYS``) against the real Redis.

Values are encrypted one by one (Fernet), the header and metadata stay readable for
the scripts, saves still write only what changed, keys rotate, and a record no key
opens is handled like any corrupt record.
"""

from __future__ import annotations

import base64
import logging
import sys

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.contrib.sessions.serializers import JSONSerializer
from django.test import AsyncClient, Client

from django_redis_sessions import api
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.checks import check_settings
from django_redis_sessions.policies import encryption
from django_redis_sessions.storage import keys, record

from .helpers import index_members, login, redis_key, saved_key

pytestmark = pytest.mark.real_redis

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
SECRET = "hunter2-credit-card-4111111111111111"
SECURITY_LOGGER = "django.security.SuspiciousSession"


@pytest.fixture
def encrypted(settings):
    """Encryption on, with KEY_A alone."""
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    return settings


def stored_values(r, session_key: str) -> dict[str, bytes]:
    """The data values of ``session_key``'s record, as Redis holds them."""
    return record.decode(r.get(redis_key(session_key))).data


def opened_by(key: str, values: dict[str, bytes]) -> dict[str, object]:
    """``values`` decrypted with ``key`` alone, then decoded (raises if it cannot)."""
    fernet, codec = Fernet(key), JSONSerializer()
    return {name: codec.loads(fernet.decrypt(value)) for name, value in values.items()}


# -- round trips ------------------------------------------------------------------


def test_round_trip_and_redis_holds_no_plaintext_value(r, encrypted):
    key = saved_key(card=SECRET, cart=[1, 2], n=3)
    assert dict(SessionStore(key).items()) == {"card": SECRET, "cart": [1, 2], "n": 3}
    raw = r.get(redis_key(key))
    assert SECRET.encode() not in raw
    assert b"[1,2]" not in raw
    values = stored_values(r, key)
    assert all(value.startswith(encryption.TOKEN_PREFIX) for value in values.values())
    assert opened_by(KEY_A, values) == {"card": SECRET, "cart": [1, 2], "n": 3}


async def test_async_round_trip(r, encrypted):
    s = SessionStore()
    await s.aset("card", SECRET)
    await s.asave()
    key = s.session_key
    assert SECRET.encode() not in r.get(redis_key(key))
    loaded = SessionStore(key)
    assert await loaded.aget("card") == SECRET
    await loaded.aset("n", 1)
    await loaded.asave()
    assert dict(await SessionStore(key).aitems()) == {"card": SECRET, "n": 1}
    assert opened_by(KEY_A, stored_values(r, key)) == {"card": SECRET, "n": 1}


def test_header_and_metadata_stay_readable(r, encrypted):
    key = saved_key(_auth_user_id="7", card=SECRET)
    summary = record.decode_summary(r.get(redis_key(key)))
    assert summary.user_id == "7"  # the scripts keep the user index from it
    assert summary.idle > 0


def test_a_custom_binary_serializer_is_encrypted_too(r, encrypted):
    encrypted.SESSION_SERIALIZER = "tests.pickle_serializer.PickleSerializer"
    key = saved_key(card=SECRET, when={1, 2})
    assert SECRET.encode() not in r.get(redis_key(key))
    assert dict(SessionStore(key).items()) == {"card": SECRET, "when": {1, 2}}


def test_cycle_key_encrypts_the_new_record(r, encrypted):
    s = SessionStore(saved_key(card=SECRET))
    s.cycle_key()
    assert SECRET.encode() not in r.get(redis_key(s.session_key))
    assert SessionStore(s.session_key)["card"] == SECRET


def test_admin_data_view_decrypts(r, encrypted, alice):
    key = saved_key(_auth_user_id=str(alice.pk), card=SECRET)
    [data] = api.sessions_data(alice).values()
    assert data == {"_auth_user_id": str(alice.pk), "card": SECRET}
    assert keys.fingerprint(key) in api.sessions_data(alice)


# -- delta saves ------------------------------------------------------------------


def test_a_save_writes_only_the_changed_value(r, encrypted):
    key = saved_key(a=1, b=2)
    before = stored_values(r, key)
    s = SessionStore(key)
    s["b"] = 3
    s.save()
    after = stored_values(r, key)
    assert after["a"] == before["a"]  # same token: not rewritten
    assert after["b"] != before["b"]
    assert opened_by(KEY_A, after) == {"a": 1, "b": 3}


def test_an_unchanged_save_writes_nothing(r, encrypted, count_round_trips):
    key = saved_key(a=1)
    s = SessionStore(key)
    assert s["a"] == 1
    count_round_trips.round_trips = 0
    s["a"] = 1  # modified, but the same value: plaintexts compare equal
    s.save()
    assert count_round_trips.round_trips == 0


def test_concurrent_changes_to_different_keys_both_persist(r, encrypted):
    key = saved_key(a=0, b=0, keep="yes")
    first, second = SessionStore(key), SessionStore(key)
    first.keys(), second.keys()  # both requests read the session first
    first["a"] = 1
    second["b"] = 2
    del second["keep"]
    first.save()
    second.save()
    assert dict(SessionStore(key).items()) == {"a": 1, "b": 2}
    assert opened_by(KEY_A, stored_values(r, key)) == {"a": 1, "b": 2}


async def test_async_concurrent_changes_to_different_keys_both_persist(r, encrypted):
    key = saved_key(a=0, b=0)
    first, second = SessionStore(key), SessionStore(key)
    await first.akeys(), await second.akeys()
    await first.aset("a", 1)
    await second.aset("b", 2)
    await first.asave()
    await second.asave()
    assert dict(await SessionStore(key).aitems()) == {"a": 1, "b": 2}


# -- key rotation and turning encryption on -----------------------------------------


def test_rotation_old_key_reads_and_the_next_save_reencrypts_with_the_new_one(r, settings):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    key = saved_key(card=SECRET, n=1)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert dict(SessionStore(key).items()) == {"card": SECRET, "n": 1}
    # Reading wrote nothing: the record is still under KEY_A.
    with pytest.raises(InvalidToken):
        opened_by(KEY_B, stored_values(r, key))
    s = SessionStore(key)
    s["n"] = 2  # only "n" changed, yet every value is re-encrypted
    s.save()
    assert opened_by(KEY_B, stored_values(r, key)) == {"card": SECRET, "n": 2}
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_B]  # KEY_A retired
    assert dict(SessionStore(key).items()) == {"card": SECRET, "n": 2}


async def test_rotation_async_save_without_changes_reencrypts(r, settings):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    key = saved_key(card=SECRET)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    s = SessionStore(key)
    assert await s.aget("card") == SECRET
    s.modified = True  # e.g. SESSION_SAVE_EVERY_REQUEST
    await s.asave()
    assert opened_by(KEY_B, stored_values(r, key)) == {"card": SECRET}


def test_turning_encryption_on_reads_plaintext_records_and_encrypts_them_at_next_save(
    r, settings, caplog
):
    key = saved_key(card=SECRET, n=1)  # encryption off
    assert SECRET.encode() in r.get(redis_key(key))
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        s = SessionStore(key)
        assert dict(s.items()) == {"card": SECRET, "n": 1}
    assert caplog.records == []  # not treated as corrupt: nobody is signed out
    s["n"] = 2
    s.save()
    assert SECRET.encode() not in r.get(redis_key(key))
    assert opened_by(KEY_A, stored_values(r, key)) == {"card": SECRET, "n": 2}


def test_rewrite_marker_equals_nothing():
    marker = encryption.Rewrite(b'"x"')
    assert marker != b'"x"'
    assert not marker == b'"x"'  # noqa: SIM201 - the == operator itself is under test
    assert b'"x"' != marker  # noqa: SIM300 - the reflected operator is under test
    assert bytes(marker) == b'"x"'
    assert JSONSerializer().loads(marker) == "x"


# -- records no key opens -------------------------------------------------------------


def assert_treated_as_corrupt(r, key: str, loaded: SessionStore, caplog) -> None:
    assert loaded.session_key is None  # a fresh key will be issued
    assert r.exists(redis_key(key)) == 0
    messages = [rec.getMessage() for rec in caplog.records if rec.name == SECURITY_LOGGER]
    assert any(keys.fingerprint(key) in m for m in messages), messages
    for secret in (key, KEY_A, KEY_B, SECRET):
        assert not any(secret in m for m in messages)


def test_wrong_key_gives_an_empty_session_logs_and_removes_the_record(r, settings, caplog):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    key = saved_key(card=SECRET)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_B]
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        loaded = SessionStore(key)
        assert dict(loaded.items()) == {}
    assert_treated_as_corrupt(r, key, loaded, caplog)


async def test_wrong_key_async(r, settings, caplog):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    key = saved_key(card=SECRET)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_B]
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        loaded = SessionStore(key)
        assert dict(await loaded.aitems()) == {}
    assert_treated_as_corrupt(r, key, loaded, caplog)


def test_tampered_ciphertext_is_corrupt(r, encrypted, caplog):
    key = saved_key(card=SECRET, n=1)
    raw = r.get(redis_key(key))
    token = stored_values(r, key)["card"]
    flipped = token[:40] + (b"A" if token[40:41] != b"A" else b"B") + token[41:]
    r.set(redis_key(key), raw.replace(token, flipped), ex=600)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        loaded = SessionStore(key)
        assert loaded.get("n") is None  # no value of a tampered record is trusted
    assert_treated_as_corrupt(r, key, loaded, caplog)


def test_turning_encryption_off_signs_encrypted_sessions_out_once(r, settings, caplog):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    key = saved_key(card=SECRET)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = None
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        loaded = SessionStore(key)
        assert dict(loaded.items()) == {}
    assert_treated_as_corrupt(r, key, loaded, caplog)


def test_a_plaintext_value_looking_like_a_token_is_not_trusted(r, encrypted, caplog):
    key = saved_key(n=1)
    raw = r.get(redis_key(key))
    token = stored_values(r, key)["n"]
    forged = encryption.TOKEN_PREFIX + b"not-a-real-token"
    r.set(redis_key(key), raw.replace(record.netstring(token), record.netstring(forged)), ex=600)
    with caplog.at_level(logging.WARNING, logger=SECURITY_LOGGER):
        loaded = SessionStore(key)
        assert loaded.get("n") is None
    assert_treated_as_corrupt(r, key, loaded, caplog)


# -- login and the user index ----------------------------------------------------------


@pytest.mark.django_db
def test_login_and_logout_keep_the_index_exact(r, encrypted, alice):
    client = Client()
    client.post("/write/", data=b'{"cart": [1]}', content_type="application/json")
    session_key = login(client)
    assert index_members(r, alice.pk) == {keys.digest(session_key)}
    assert b'"pw-alice"' not in r.get(redis_key(session_key))
    read = client.get("/read/").json()
    assert read == {"data": read["data"], "user": "alice"}
    assert read["data"]["cart"] == [1]
    assert opened_by(KEY_A, stored_values(r, session_key))["_auth_user_id"] == str(alice.pk)
    client.post("/logout/")
    assert index_members(r, alice.pk) == set()
    assert r.exists(redis_key(session_key)) == 0


@pytest.mark.django_db(transaction=True)
async def test_alogin_indexes_the_session(r, encrypted, alice):
    client = AsyncClient()
    response = await client.post("/alogin/", {"username": "alice", "password": "pw-alice"})
    assert response.status_code == 200
    session_key = client.cookies["sessionid"].value
    assert index_members(r, alice.pk) == {keys.digest(session_key)}
    assert (await client.get("/aread/")).json()["data"]["_auth_user_id"] == str(alice.pk)


# -- cost ------------------------------------------------------------------------------


@pytest.mark.parametrize("keys_setting", [None, [KEY_A]], ids=["off", "on"])
def test_round_trips_are_the_same_on_and_off(r, settings, count_round_trips, keys_setting):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = keys_setting
    key = saved_key(_auth_user_id="1", n=0)
    SessionStore(key).load()  # warm: connection handshake, script cache
    count_round_trips.round_trips = 0
    assert SessionStore(key)["_auth_user_id"] == "1"
    assert count_round_trips.round_trips == 1  # a signed-in read
    count_round_trips.round_trips = 0
    s = SessionStore(key)
    s["n"] = 1
    s.save()
    assert count_round_trips.round_trips == 2  # load + one save script


def test_encryption_off_never_builds_a_cipher(r, settings, monkeypatch):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = None

    def refuse(*args: object) -> None:
        raise AssertionError("a cipher was built with encryption off")

    monkeypatch.setattr(encryption.Cipher, "__init__", refuse)
    key = saved_key(a=1)
    s = SessionStore(key)
    assert s._values._cipher is None
    s["a"] = 2
    s.save()
    s.cycle_key()
    assert SessionStore(s.session_key)["a"] == 2


def test_the_cipher_is_built_once_per_setting_value(settings):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    assert encryption.current() is encryption.current()
    first = encryption.current()
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    assert encryption.current() is not first


# -- system checks ---------------------------------------------------------------------


def ids(messages) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.parametrize(
    "value",
    [[KEY_A], (KEY_A,), [KEY_A.encode()], [KEY_B, KEY_A], None],
    ids=["list", "tuple", "bytes", "two", "off"],
)
def test_valid_settings_pass(settings, value):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = value
    assert check_settings() == []


@pytest.mark.parametrize(
    "value",
    [
        KEY_A,  # one key, not a list of them
        KEY_A.encode(),
        [],
        (),
        {"key": KEY_A},
        [KEY_A[:-4]],  # truncated
        [KEY_A, "not-a-key"],
        [base64.urlsafe_b64encode(bytes(64)).decode()],  # 64 bytes, not 32
        [Fernet.generate_key().decode()[:-1] + "é"],
        [42],
        [None],
    ],
    ids=[
        "str",
        "bytes",
        "empty-list",
        "empty-tuple",
        "dict",
        "truncated",
        "second-bad",
        "too-long",
        "non-ascii",
        "int",
        "none-entry",
    ],
)
def test_invalid_settings_are_e020_and_never_echo_a_key(settings, value):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = value
    messages = check_settings()
    assert ids(messages) == ["django_redis_sessions.E020"]
    text = f"{messages[0].msg} {messages[0].hint}"
    for secret in (KEY_A, KEY_A[:-4], "not-a-key"):
        assert secret not in text


def test_e020_names_the_bad_entry_by_position(settings):
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A, "not-a-key", KEY_B]
    [error] = check_settings()
    assert "position 1, counting from 0" in error.msg


def test_missing_cryptography_is_e021(settings, monkeypatch):
    monkeypatch.setitem(sys.modules, "cryptography.fernet", None)
    settings.SESSION_REDIS_ENCRYPTION_KEYS = [KEY_A]
    assert ids(check_settings()) == ["django_redis_sessions.E021"]
    settings.SESSION_REDIS_ENCRYPTION_KEYS = "bad"
    assert ids(check_settings()) == ["django_redis_sessions.E020", "django_redis_sessions.E021"]
    settings.SESSION_REDIS_ENCRYPTION_KEYS = None
    assert check_settings() == []

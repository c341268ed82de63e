"""The decoded-data cache of ``codec.py``: loads of the same stored bytes decode
no value again, and never share what a view may change."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signing import JSONSerializer

from django_redis_sessions import codec
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.codec import ValueCodec
from django_redis_sessions.storage import record

from .helpers import redis_key


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    codec._DECODED.clear()
    yield
    codec._DECODED.clear()


def stored(data: dict[str, bytes], user_id: str = "7") -> bytes:
    return record.encode(record.Record(1, 1, 0, 600, user_id, data))


def test_a_second_open_of_the_same_bytes_is_served_from_the_cache() -> None:
    raw = stored({"name": b'"ada"', "cart": b"[1,2]", "n": b"3"})
    first = ValueCodec(JSONSerializer).open(raw)
    assert len(codec._DECODED) == 1
    second = ValueCodec(JSONSerializer).open(raw)
    assert first[1:] == second[1:]
    assert second[2] == {"name": "ada", "cart": [1, 2], "n": 3}
    assert second[1] == {"name": b'"ada"', "cart": b"[1,2]", "n": b"3"}
    # Immutable values are the very objects kept (the save's "unchanged" test
    # relies on identity); a list is a new one for every reader.
    assert second[2]["name"] is first[2]["name"]
    assert second[2]["cart"] is not first[2]["cart"]


def test_what_one_reader_changes_never_reaches_the_next() -> None:
    raw = stored({"cart": b"[1,2]", "prefs": b'{"a":[1]}'})
    _head, values, data = ValueCodec(JSONSerializer).open(raw)
    data["cart"].append(3)
    data["prefs"]["a"].append(2)
    data["new"] = 1
    values["cart"] = b"junk"
    _head, values, again = ValueCodec(JSONSerializer).open(raw)
    assert again == {"cart": [1, 2], "prefs": {"a": [1]}}
    assert values == {"cart": b"[1,2]", "prefs": b'{"a":[1]}'}


def test_the_key_is_what_follows_the_header() -> None:
    # Last-seen moved (the header): the same entry, and each caller its own header.
    one = ValueCodec(JSONSerializer).open(stored({"k": b'"v"'}, "7"))
    later = ValueCodec(JSONSerializer).open(
        record.encode(record.Record(1, 99, 0, 600, "7", {"k": b'"v"'}))
    )
    assert len(codec._DECODED) == 1
    assert one[0][:5] == (1, 1, 0, 600, "7")
    assert later[0][:5] == (1, 99, 0, 600, "7")
    # Another user, or other metadata: another entry.
    other = ValueCodec(JSONSerializer).open(
        record.encode(record.Record(1, 1, 0, 600, "8", {"k": b'"v"'}, {"ip": "10.0.0.1"}))
    )
    assert len(codec._DECODED) == 2
    assert other[0][4:6] == ("8", {"ip": "10.0.0.1"})
    other[0][5]["p"] = "changed by a caller"
    again = ValueCodec(JSONSerializer).open(
        record.encode(record.Record(1, 1, 0, 600, "8", {"k": b'"v"'}, {"ip": "10.0.0.1"}))
    )
    assert again[0][5] == {"ip": "10.0.0.1"}


def test_large_sections_and_other_serializers_are_not_kept() -> None:
    big = stored({"blob": b'"' + b"x" * codec.DECODED_MAX_BYTES + b'"'})
    assert ValueCodec(JSONSerializer).open(big)[2]["blob"] == "x" * codec.DECODED_MAX_BYTES
    from tests.pickle_serializer import PickleSerializer

    ValueCodec(PickleSerializer).open(stored({"k": PickleSerializer().dumps(5)}))
    assert codec._DECODED == {}


def test_the_cache_is_bounded() -> None:
    for i in range(codec.DECODED_ENTRIES + 5):
        ValueCodec(JSONSerializer).open(stored({"i": b"%d" % i}))
    assert 0 < len(codec._DECODED) <= codec.DECODED_ENTRIES


def test_encrypted_values_are_never_kept_decrypted(settings: Any) -> None:
    from cryptography.fernet import Fernet

    settings.SESSION_REDIS_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    codec_ = ValueCodec(JSONSerializer)
    raw = stored({}) + codec_.seal({"k": b'"secret"'})
    assert codec_.open(raw)[2] == {"k": "secret"}
    assert codec._DECODED == {}


@pytest.mark.real_redis
def test_a_list_changed_in_place_after_a_cached_load_is_saved(r: Any) -> None:
    session = SessionStore()
    session.update({"_auth_user_id": "7", "cart": [1, 2], "name": "ada"})
    session.save()
    SessionStore(session.session_key).load()  # decoded once, kept
    hits = SessionStore(session.session_key)
    hits["cart"].append(3)  # Django's own advice: then mark it modified
    hits.modified = True
    hits.save()
    assert SessionStore(session.session_key).load()["cart"] == [1, 2, 3]
    # An immutable value replaced after a cached load is written too.
    again = SessionStore(session.session_key)
    again["name"] = "grace"
    again.save()
    assert SessionStore(session.session_key).load() == {
        "_auth_user_id": "7",
        "cart": [1, 2, 3],
        "name": "grace",
    }
    assert r.exists(redis_key(session.session_key or ""))

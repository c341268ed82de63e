"""The save's shortcuts, each against the full rewrite it stands in for.

A merge save copies what it leaves unchanged instead of rebuilding it: the
header's created, deadline and idle fields (only last-seen is formatted), the
metadata netstring (same user, supplied pairs equal to the stored ones), runs of
kept data pairs; and the engine encodes only the values that are not the very
immutable objects the load decoded. Each test shows the shortcut's result equals
what the rewrite would have stored, and that the rewrite still happens when
something did change.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import record

from .helpers import redis_key, saved_key

pytestmark = pytest.mark.real_redis

IP = "203.0.113.7"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"


def _raw(r: Any, key: str) -> bytes:
    raw = r.get(redis_key(key))
    assert raw is not None
    return bytes(raw)


def _meta_netstring(raw: bytes) -> bytes:
    _blob, end = record._read_netstring(raw, record.HEADER_LENGTH)
    return raw[record.HEADER_LENGTH : end]


def _age_seen(r: Any, key: str, seconds: int = 100) -> int:
    """Move the stored last-seen back, so a save must write it again."""
    old = int(time.time()) - seconds
    r.setrange(redis_key(key), record.SEEN_OFFSET, record.field(old))
    return old


def _saved_with_client() -> str:
    """The key of a new session holding ``a = 1``, saved with IP and UA recorded."""
    first = SessionStore()
    first.record_client({"ip": IP, "ua": UA})
    first["a"] = 1
    first.save()
    key = first.session_key
    assert key is not None
    return key


def test_a_merge_copies_created_deadline_and_idle_and_writes_last_seen(r, settings):
    settings.SESSIONS_ABSOLUTE_AGE = 86400
    key = saved_key(a=1, b=2)
    before = _raw(r, key)
    old_seen = _age_seen(r, key)
    session = SessionStore(key)
    session["a"] = 10
    session.save()
    after = _raw(r, key)
    assert after[: record.SEEN_OFFSET] == before[: record.SEEN_OFFSET]
    assert (
        after[record.DEADLINE_OFFSET : record.HEADER_LENGTH]
        == before[record.DEADLINE_OFFSET : record.HEADER_LENGTH]
    )
    rec = record.decode(after)
    assert rec.seen >= int(time.time()) - 1 > old_seen
    assert rec.data == {"a": b"10", "b": b"2"}
    assert 0 < r.pttl(redis_key(key)) <= settings.SESSION_COOKIE_AGE * 1000


def test_a_save_that_changes_the_idle_timeout_rewrites_the_header(r, settings):
    settings.SESSIONS_ABSOLUTE_AGE = 86400
    key = saved_key(a=1)
    before = record.decode(_raw(r, key))
    session = SessionStore(key)
    session.set_expiry(600)
    session.save()
    after = record.decode(_raw(r, key))
    assert (after.created, after.deadline) == (before.created, before.deadline)
    assert before.idle == settings.SESSION_COOKIE_AGE
    assert after.idle == 600
    assert 0 < r.pttl(redis_key(key)) <= 600_000


def test_a_save_that_changes_the_deadline_rewrites_the_header(r, settings):
    settings.SESSIONS_ABSOLUTE_AGE = 86400
    key = saved_key(a=1)
    before = record.decode(_raw(r, key))
    settings.SESSIONS_ABSOLUTE_AGE = 3600
    session = SessionStore(key)
    session["a"] = 2
    session.save()
    after = record.decode(_raw(r, key))
    assert after.created == before.created
    assert after.deadline == before.created + 3600
    assert after.idle == before.idle
    assert 0 < r.pttl(redis_key(key)) <= 3600 * 1000


def test_metadata_equal_to_the_stored_one_is_kept_byte_for_byte(r):
    key = _saved_with_client()
    meta_before = _meta_netstring(_raw(r, key))
    again = SessionStore(key)
    again.record_client({"ip": IP, "ua": UA})
    again["a"] = 2
    again.save()
    raw = _raw(r, key)
    assert _meta_netstring(raw) == meta_before
    rec = record.decode(raw)
    assert rec.meta == {"ip": IP, "ua": UA}
    assert rec.data == {"a": b"2"}


def test_metadata_that_differs_is_rebuilt_keeping_what_is_not_supplied(r):
    key = _saved_with_client()
    other = SessionStore(key)
    other.record_client({"ip": "198.51.100.9"})
    other["a"] = 2
    other.save()
    rec = record.decode(_raw(r, key))
    assert rec.meta == {"ip": "198.51.100.9", "ua": UA}
    assert rec.data == {"a": b"2"}


def test_a_save_without_metadata_keeps_the_stored_one(r):
    key = _saved_with_client()
    meta_before = _meta_netstring(_raw(r, key))
    plain = SessionStore(key)
    plain["b"] = 2
    plain.save()
    raw = _raw(r, key)
    assert _meta_netstring(raw) == meta_before
    assert record.decode(raw).data == {"a": b"1", "b": b"2"}


@pytest.mark.parametrize(
    ("dropped", "changed"),
    [
        (["k0"], {}),  # the first pair
        (["k2"], {}),  # one in the middle
        (["k4"], {}),  # the last pair
        (["k1", "k3"], {"k4": 40}),  # two runs apart, and a change
        (["k0", "k1", "k2", "k3", "k4"], {}),  # nothing kept
        ([], {"k0": 0, "k2": 20}),  # changed in place: dropped, then appended
        ([], {"new": "x"}),  # nothing dropped: every pair kept as one run
    ],
)
def test_a_merge_keeps_exactly_the_pairs_it_did_not_change(r, dropped, changed):
    initial = {f"k{i}": i for i in range(5)}
    key = saved_key(**initial)
    # Another request adds a key between this one's load and save.
    session = SessionStore(key)
    assert session["k0"] == 0
    other = SessionStore(key)
    other["theirs"] = "kept"
    other.save()
    for name in dropped:
        del session[name]
    for name, value in changed.items():
        session[name] = value
    session.save()
    expected: dict[str, object] = {k: v for k, v in initial.items() if k not in dropped}
    expected.update(changed)
    expected["theirs"] = "kept"
    assert dict(SessionStore(key).items()) == expected


def _count_encodes(session: SessionStore) -> list[Any]:
    encoded: list[Any] = []
    dumps = session._values._dumps

    def counting(value: Any) -> bytes:
        encoded.append(value)
        return dumps(value)

    session._values._dumps = counting
    return encoded


def test_only_values_that_are_not_the_objects_read_are_encoded_again(r):
    key = saved_key(name="alice", n=1, flag=True, cart=[1, 2], empty=None)
    session = SessionStore(key)
    assert session["name"] == "alice"
    encoded = _count_encodes(session)
    session["n"] = 2
    session.save()
    # The list may have changed in place: it is encoded again; the untouched
    # scalars are not.
    assert sorted(map(repr, encoded)) == sorted(map(repr, [2, [1, 2]]))
    assert dict(SessionStore(key).items()) == {
        "name": "alice", "n": 2, "flag": True, "cart": [1, 2], "empty": None,
    }  # fmt: skip


def test_a_list_changed_in_place_is_saved(r):
    key = saved_key(cart=[1, 2], n=1)
    session = SessionStore(key)
    session["cart"].append(3)
    session.modified = True
    session.save()
    assert SessionStore(key)["cart"] == [1, 2, 3]


def test_an_equal_value_set_again_writes_nothing_and_a_second_save_compares_with_the_first(r):
    key = saved_key(n=1, s="a")
    session = SessionStore(key)
    session["n"] = 1  # another object or the same: equal encoding, nothing to write
    session["s"] = "b"
    session.save()
    assert SessionStore(key)["s"] == "b"
    # The first save's values are what the second compares with.
    session["s"] = "c"
    session.save()
    other = SessionStore(key)
    assert dict(other.items()) == {"n": 1, "s": "c"}


def test_a_value_changed_elsewhere_is_not_overwritten_by_an_untouched_copy(r):
    key = saved_key(x=1, y=1)
    mine = SessionStore(key)
    assert mine["x"] == 1
    theirs = SessionStore(key)
    theirs["x"] = 2
    theirs.save()
    mine["y"] = 5  # x untouched here: the stored 2 must survive
    mine.save()
    assert dict(SessionStore(key).items()) == {"x": 2, "y": 5}

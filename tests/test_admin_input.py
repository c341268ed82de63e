"""The "Sessions" admin given hostile input: a huge search, user ids that are no key.

Through HTTP with Django's test client, as a signed-in superuser, against the real
Redis: none of these may answer 500, and none may reach the database as asked. A
search longer than ``SEARCH_MAX_LENGTH`` is refused with a message on a 200 page;
a user id that the user model's primary key cannot hold (not a number, or beyond
the database's integer) is a 404 on every page and every POST that names it.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, models, router
from django.db.models.fields import Field
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_redis_sessions import admin as sessions_admin
from django_redis_sessions import api
from django_redis_sessions.conf import conf
from django_redis_sessions.storage import keys

from .test_admin import (
    CHANGELIST,
    VIEW,
    client_of,
    html,
    overview_rows,
    revoke_all_url,
    signed_in,
    staff,
    totals,
    user_url,
)

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def empty_store(r: Any) -> None:
    """Each test starts from an empty store: the overview's totals count every session."""
    found = list(r.scan_iter(match=keys.escape_glob(conf.SESSION_REDIS_PREFIX) + ":*", count=1000))
    if found:
        r.delete(*found)


@pytest.fixture
def root(db: None) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")


@pytest.fixture
def root_client(root: Any) -> Client:
    """A superuser signed in to the admin (its session is one of the store's)."""
    return client_of(root)


def _pk_range() -> tuple[int, int]:
    """The range of the user table's primary-key column on the test database."""
    model = get_user_model()
    low, high = connection.ops.integer_field_range(model._meta.pk.get_internal_type())
    assert router.db_for_read(model) == connection.alias
    return low, high


@pytest.fixture
def alice(db: None) -> Any:
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw-alice")


# -- the search --------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [1, 100_000 - 254], ids=["one-too-many", "100KB"])
def test_a_search_longer_than_the_cap_is_refused_with_a_message(root_client, alice, extra):
    signed_in(alice)
    query = "x" * (sessions_admin.SEARCH_MAX_LENGTH + extra)
    with CaptureQueriesContext(connection) as queries:
        response = root_client.get(CHANGELIST, {"q": query})
    assert response.status_code == 200
    page = html(response)
    assert f"at most {sessions_admin.SEARCH_MAX_LENGTH} characters" in page
    # Refused, not cut short: no query carries the search, and the page neither
    # echoes it in the search box nor claims that nobody matched it.
    assert not [q["sql"] for q in queries.captured_queries if "xxxxxxxxxx" in q["sql"]]
    assert "xxxxxxxxxx" not in page
    assert "No user matching" not in page
    assert "Clear search" not in page
    # The overview itself is the unfiltered one, as with no search at all.
    assert sorted(label for label, *_ in overview_rows(response)) == ["alice", "root"]
    assert totals(response)["users"] == 2


def test_a_search_as_long_as_the_cap_still_runs(root_client):
    """The longest email Django stores (254 characters) is still found by a search."""
    email = "a" * (sessions_admin.SEARCH_MAX_LENGTH - len("@example.com")) + "@example.com"
    assert len(email) == sessions_admin.SEARCH_MAX_LENGTH
    long_mail = get_user_model().objects.create_user("long-mail", email, "pw")
    signed_in(long_mail)
    response = root_client.get(CHANGELIST, {"q": email.upper()})
    assert response.status_code == 200
    assert overview_rows(response) == [("long-mail", email, 1)]
    assert "characters" not in html(response)


# -- user ids in URLs ----------------------------------------------------------------------


def _beyond_the_integer() -> list[str]:
    low, high = _pk_range()
    return [str(high + 1), str(low - 1), "99999999999999999999999", "-" + "9" * 30]


@pytest.mark.parametrize("view", [user_url, revoke_all_url])
def test_a_user_id_beyond_the_databases_integer_is_a_404(root_client, view):
    _low, high = _pk_range()
    # The largest id the column holds is a (deleted) user's page like any other...
    response = root_client.get(view(str(high)))
    assert response.status_code == 200
    # ...one more is no user's: a 404, not the database's OverflowError as a 500.
    for user_id in _beyond_the_integer():
        assert root_client.get(view(user_id)).status_code == 404, user_id


@pytest.mark.parametrize("view", [user_url, revoke_all_url])
@pytest.mark.parametrize("user_id", ["not-a-number", "1.5", "1e5", "0x10", "NaN", "9" * 5000])
def test_a_user_id_that_is_not_an_integer_is_a_404(root_client, view, user_id):
    assert root_client.get(view(user_id)).status_code == 404


def test_revoking_selected_sessions_of_an_id_beyond_the_integer_is_a_404(root_client, alice):
    key = signed_in(alice)
    for user_id in _beyond_the_integer():
        response = root_client.post(user_url(user_id), {"fingerprint": keys.fingerprint(key)})
        assert response.status_code == 404, user_id
    # Nothing was revoked, and no "0 sessions revoked" was queued for the next page.
    assert [s.fingerprint for s in api.list_user_sessions(alice)] == [keys.fingerprint(key)]
    assert "revoked" not in html(root_client.get(user_url(alice)))


def test_revoking_all_sessions_of_an_id_beyond_the_integer_is_a_404(root_client, alice):
    key = signed_in(alice)
    for user_id in _beyond_the_integer():
        assert root_client.post(revoke_all_url(user_id)).status_code == 404, user_id
    assert [s.fingerprint for s in api.list_user_sessions(alice)] == [keys.fingerprint(key)]
    assert "revoked" not in html(root_client.get(user_url(alice)))


def test_revoking_for_an_id_that_is_not_an_integer_is_a_404(root_client, alice):
    key = signed_in(alice)
    fingerprint = keys.fingerprint(key)
    assert root_client.post(user_url("1e5"), {"fingerprint": fingerprint}).status_code == 404
    assert root_client.post(revoke_all_url("1e5")).status_code == 404
    assert [s.fingerprint for s in api.list_user_sessions(alice)] == [fingerprint]


def test_a_viewer_without_revoke_permission_gets_404_not_500_for_a_huge_id(db):
    """Staff with only the view permission reach the parsing too: the same 404."""
    viewer = client_of(staff("viewer", VIEW))
    assert viewer.get(user_url("99999999999999999999999")).status_code == 404


def test_an_index_id_beyond_the_integer_leaves_the_overview_working(r, root_client, alice):
    """A session whose stored user id no row can have (a forged or foreign session)
    is listed as a deleted user's, not a 500 for every page of the overview."""
    signed_in(alice)
    signed_in("99999999999999999999999")
    response = root_client.get(CHANGELIST)
    assert response.status_code == 200
    labels = sorted(label for label, *_ in overview_rows(response))
    assert labels == ["alice", "deleted user (id 99999999999999999999999)", "root"]


# -- the parser, with the primary keys of the custom user models ---------------------------


def test_user_pk_parses_with_the_user_models_primary_key():
    assert sessions_admin.user_pk("42") == 42
    _low, high = _pk_range()
    assert sessions_admin.user_pk(str(high)) == high
    for bad in ["", "x", "1.5", str(high + 1), "9" * 5000]:
        with pytest.raises(ValueError, match="not a primary key"):
            sessions_admin.user_pk(bad)


def test_user_pk_with_a_uuid_primary_key():
    """As with ``tests.custom_user.Member``: a malformed UUID is no key."""
    field: Field[Any, Any] = models.UUIDField(primary_key=True)
    value = uuid.uuid4()
    assert sessions_admin.user_pk(str(value), field) == value
    assert sessions_admin.user_pk(value.hex, field) == value
    for bad in ["not-a-uuid", str(value) + "0", "99999999999999999999999999999999999999999"]:
        with pytest.raises(ValueError, match="not a primary key"):
            sessions_admin.user_pk(bad, field)


def test_user_pk_with_a_string_primary_key():
    """As with ``tests.custom_user.Handle``: any string that fits the column."""
    field: Field[Any, Any] = models.CharField(max_length=64, primary_key=True)
    assert sessions_admin.user_pk("ann:*[team]", field) == "ann:*[team]"
    assert sessions_admin.user_pk("9" * 64, field) == "9" * 64
    for bad in ["", "x" * 65]:
        with pytest.raises(ValueError, match="not a primary key"):
            sessions_admin.user_pk(bad, field)


def test_the_views_turn_a_bad_id_into_a_404():
    with pytest.raises(Http404):
        sessions_admin.RedisSessionAdmin._user_id("99999999999999999999999")
    assert sessions_admin.RedisSessionAdmin._user_id("42") == "42"

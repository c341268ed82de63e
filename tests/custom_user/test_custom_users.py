"""Revocation with a custom user model whose primary key is a UUID or a string.

Runs only under ``tests.settings_uuid_user`` and ``tests.settings_string_user``
(tox runs both); under the default settings this folder is not collected.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from django_redis_sessions import api
from django_redis_sessions.storage import keys

from ..helpers import index_members, login, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]


def make_user(name: str) -> Any:
    manager: Any = get_user_model()._default_manager
    if get_user_model().USERNAME_FIELD == "email":
        return manager.create_user(password=f"pw-{name}", email=f"{name}@example.com")
    # A string key with characters that mean something to globs and key names.
    return manager.create_user(
        password=f"pw-{name}", handle=f"{name}:*[team]", email=f"{name}@example.com"
    )


def sign_in(user: Any) -> tuple[Client, str]:
    client = Client()
    key = login(client, user.get_username(), f"pw-{user.email.split('@')[0]}")
    return client, key


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sessions_are_indexed_under_the_primary_key_as_django_stores_it(r):
    ann = make_user("ann")
    _client, key = sign_in(ann)
    assert isinstance(ann.pk, str) or ann.pk.__class__.__name__ == "UUID"
    assert index_members(r, str(ann.pk)) == {keys.digest(key)}
    for user in (ann, ann.pk, str(ann.pk)):
        assert [s.fingerprint for s in api.list_user_sessions(user)] == [keys.fingerprint(key)]


def test_revoking_one_user_leaves_the_other_signed_in(r):
    ann, ben = make_user("ann"), make_user("ben")
    ann_client, _ = sign_in(ann)
    _, ann_other = sign_in(ann)
    ben_client, ben_key = sign_in(ben)
    assert api.revoke_user_sessions(ann.pk) == 2
    assert ann_client.get("/read/").json()["user"] is None
    assert r.exists(redis_key(ann_other)) == 0
    assert ben_client.get("/read/").json()["user"] == ben.get_username()
    assert index_members(r, str(ben.pk)) == {keys.digest(ben_key)}


def test_revoke_one_session_by_fingerprint_for_the_user(r):
    ann = make_user("ann")
    _, key = sign_in(ann)
    _, kept = sign_in(ann)
    assert api.revoke_session(keys.fingerprint(key), user=ann) is True
    assert index_members(r, str(ann.pk)) == {keys.digest(kept)}


def test_commands_find_the_user_by_username_field_email_and_id(r):
    ann = make_user("ann")
    sign_in(ann)
    label = f"{ann.get_username()} (id {ann.pk})"
    assert run("revoke_sessions", ann.get_username()) == f"{label}: 1 session ended\n"
    sign_in(ann)
    assert run("revoke_sessions", "ANN@example.com") == f"{label}: 1 session ended\n"
    _, key = sign_in(ann)
    listed = json.loads(run("list_sessions", "--id", str(ann.pk), "--json"))
    assert [s["fingerprint"] for s in listed] == [keys.fingerprint(key)]
    assert listed[0]["user_id"] == str(ann.pk)
    assert run("revoke_sessions", "--id", str(ann.pk)) == f"{label}: 1 session ended\n"


def test_an_unknown_id_is_a_precise_error(r):
    field = get_user_model().USERNAME_FIELD
    fields = "email" if field == "email" else "handle or email"
    with pytest.raises(CommandError) as excinfo:
        run("revoke_sessions", "nobody")
    assert str(excinfo.value) == f"Unknown user ({fields}): 'nobody'. Nothing was changed."
    if field == "email":
        with pytest.raises(CommandError) as excinfo:
            run("revoke_sessions", "--id", "not-a-uuid")
        assert str(excinfo.value) == (
            "'not-a-uuid' is not a valid id for custom_user.Member: “not-a-uuid” is not a "
            "valid UUID. Nothing was changed."
        )
        with pytest.raises(ValueError, match=r"is not a valid primary key for custom_user\.Member"):
            api.list_user_sessions("not-a-uuid")


def test_clearsessions_prunes_the_index_of_a_non_integer_key(r, settings):
    import time

    ann = make_user("ann")
    settings.SESSION_COOKIE_AGE = 1
    sign_in(ann)
    time.sleep(1.2)
    out = run("clearsessions")
    assert "pruned 1 entry of ended sessions, removed 1 empty index." in out
    assert index_members(r, str(ann.pk)) == set()


# -- the admin and the user's own page with non-integer keys -------------------------------


def test_your_sessions_page_lists_and_ends_sessions_of_a_custom_user(r):
    ann = make_user("ann")
    client, key = sign_in(ann)
    other, other_key = sign_in(ann)
    listed = client.get("/account/sessions/api/").json()["sessions"]
    assert {s["fingerprint"] for s in listed} == {
        keys.fingerprint(key),
        keys.fingerprint(other_key),
    }
    assert all(s["user_id"] == str(ann.pk) for s in listed)
    response = client.post(f"/account/sessions/{keys.fingerprint(other_key)}/revoke/")
    assert response.status_code == 302
    assert other.get("/read/").json()["user"] is None
    assert client.get("/read/").json()["user"] == ann.get_username()


def test_overview_rows_come_from_indexes_keyed_by_the_custom_primary_key(r):
    ann, ben = make_user("ann"), make_user("ben")
    sign_in(ann)
    sign_in(ann)
    sign_in(ben)
    rows = {row.user_id: row.sessions for row in api.users_activity([ann, ben])}
    assert rows == {str(ann.pk): 2, str(ben.pk): 1}
    overview = api.session_overview()
    assert {u.user_id: u.sessions for u in overview.users} == rows
    assert overview.signed_in == 3


if get_user_model().__name__ == "Handle":
    # Handle is also an admin user: the admin's pages with a key holding ":", "*" and "[".

    def _admin_client() -> Client:
        manager: Any = get_user_model()._default_manager
        boss = manager.create_user(
            password="pw-boss", handle="boss", email="boss@example.com", is_staff=True
        )
        boss.is_superuser = True
        boss.save()
        client = Client()
        client.force_login(boss)
        return client

    def test_admin_user_page_quotes_a_string_key_and_revokes(r):
        from django.contrib.admin.utils import quote

        ann = make_user("ann")
        ann_client, key = sign_in(ann)
        _, kept = sign_in(ann)
        admin = _admin_client()
        overview = admin.get("/admin/django_redis_sessions/redissession/").content.decode()
        url = f"/admin/django_redis_sessions/redissession/user/{quote(ann.pk)}/"
        assert f'href="user/{quote(ann.pk)}/"' in overview
        page = admin.get(url)
        assert page.status_code == 200
        assert keys.fingerprint(key) in page.content.decode()
        assert key not in page.content.decode()
        response = admin.post(url, {"fingerprint": [keys.fingerprint(key)]})
        assert response.status_code == 302
        assert ann_client.get("/read/").json()["user"] is None
        assert index_members(r, str(ann.pk)) == {keys.digest(kept)}

    def test_custom_user_change_page_links_to_its_sessions_with_the_mixin(r):
        from django.contrib.admin.utils import quote

        ann = make_user("ann")
        sign_in(ann)
        sign_in(ann)
        admin = _admin_client()
        page = admin.get(f"/admin/custom_user/handle/{quote(ann.pk)}/change/").content.decode()
        url = f"/admin/django_redis_sessions/redissession/user/{quote(ann.pk)}/"
        assert f'<a href="{url}" id="user-sessions-link">Sessions (2)</a>' in page
        # The project's own change form template is still the one used.
        assert 'id="handle-tool"' in page

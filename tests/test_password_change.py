"""RevokeSessionsOnPasswordChange: a password change signs out every other session."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from django_redis_sessions.policies import password_change
from django_redis_sessions.storage import keys

from .helpers import index_members, login, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

VALIDATOR = {
    "NAME": "django_redis_sessions.policies.password_change.RevokeSessionsOnPasswordChange"
}
NEW_PASSWORD = "a-new-Passw0rd"


@pytest.fixture
def revoke_on_change(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [VALIDATOR]


def change_own_password(client: Client) -> None:
    response = client.post(
        "/password_change/",
        {"old_password": "pw-alice", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(
    r, alice, revoke_on_change, revocations
):
    me, laptop, phone = Client(), Client(), Client()
    login(me)
    laptop_key, phone_key = login(laptop), login(phone)
    change_own_password(me)

    # Gone from Redis at once, not merely refused later by Django's hash check.
    assert r.exists(redis_key(laptop_key)) == 0
    assert r.exists(redis_key(phone_key)) == 0
    assert laptop.get("/read/").json()["user"] is None
    # The session that changed the password stays signed in (under a new key).
    assert me.get("/read/").json()["user"] == "alice"
    assert index_members(r, alice.pk) == {keys.digest(me.cookies["sessionid"].value)}
    assert [(e["by"], e["count"]) for e in revocations] == [("password_change", 2)]


def test_without_the_validator_other_sessions_linger_in_redis(r, alice, settings):
    settings.AUTH_PASSWORD_VALIDATORS = []
    me, laptop = Client(), Client()
    login(me)
    laptop_key = login(laptop)
    change_own_password(me)
    # Django alone only refuses the session at its next request: it is still stored.
    assert r.exists(redis_key(laptop_key)) == 1


def test_an_admin_changing_a_password_ends_every_session_of_that_user(r, alice, revoke_on_change):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    admin = Client()
    login(admin, "root", "pw-root")
    victim_keys = [login(Client()), login(Client())]
    response = admin.post(
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert all(r.exists(redis_key(key)) == 0 for key in victim_keys)
    assert index_members(r, alice.pk) == set()
    assert admin.get("/read/").json()["user"] == "root"


def test_set_password_outside_a_request_ends_every_session(r, alice, revoke_on_change):
    keys_ = [login(Client()), login(Client())]
    assert password_change.sessions_in_use() == frozenset()  # each request cleaned up after itself
    alice.set_password(NEW_PASSWORD)
    alice.save()
    assert all(r.exists(redis_key(key)) == 0 for key in keys_)


def test_redis_down_does_not_fail_the_password_change(alice, revoke_on_change, settings, caplog):
    settings.SESSION_REDIS_URL = "redis://127.0.0.1:1/0"
    settings.SESSION_REDIS_RETRIES = 0
    with caplog.at_level(logging.ERROR, logger="django_redis_sessions"):
        alice.set_password(NEW_PASSWORD)
        alice.save()
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert any(
        f"Could not revoke sessions of user {alice.pk} after a password change" in message
        for message in caplog.messages
    )


def test_the_validator_accepts_every_password_and_explains_itself():
    validator = password_change.RevokeSessionsOnPasswordChange()
    validator.validate("x")  # raises ValidationError for a refused password
    assert "signs you out" in validator.get_help_text()

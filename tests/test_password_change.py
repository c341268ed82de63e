"""A saved password change signs out every other session of the user, at once.

``SESSIONS_REVOKE_ON_PASSWORD_CHANGE`` (on by default): a ``post_save``
receiver on the user model, not a password validator, so no password form shows
anything about it. Every path Django changes a password by is exercised here
against the real Redis.
"""

from __future__ import annotations

import io
import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.tokens import default_token_generator
from django.core.management import call_command
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from django_redis_sessions.policies import password_change
from django_redis_sessions.storage import keys

from .helpers import index_members, login, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

NEW_PASSWORD = "a-new-Passw0rd"


def change_own_password(client: Client) -> None:
    response = client.post(
        "/password_change/",
        {"old_password": "pw-alice", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(r, alice, revocations):
    me, laptop, phone = Client(), Client(), Client()
    login(me)
    laptop_key, phone_key = login(laptop), login(phone)
    change_own_password(me)  # PasswordChangeForm

    # Gone from Redis at once, not merely refused later by Django's hash check.
    assert r.exists(redis_key(laptop_key)) == 0
    assert r.exists(redis_key(phone_key)) == 0
    assert laptop.get("/read/").json()["user"] is None
    # The session that changed the password stays signed in (under a new key).
    assert me.get("/read/").json()["user"] == "alice"
    assert index_members(r, alice.pk) == {keys.digest(me.cookies["sessionid"].value)}
    assert [(e["by"], e["count"], e["user_id"]) for e in revocations] == [
        ("password_change", 2, str(alice.pk))
    ]


def test_turned_off_other_sessions_linger_in_redis(r, alice, settings, revocations):
    settings.SESSIONS_REVOKE_ON_PASSWORD_CHANGE = False
    me, laptop = Client(), Client()
    login(me)
    laptop_key = login(laptop)
    change_own_password(me)
    # Django alone only refuses the session at its next request: it is still stored.
    assert r.exists(redis_key(laptop_key)) == 1
    assert revocations == []


def test_an_admin_changing_a_password_ends_every_session_of_that_user(r, alice, revocations):
    get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    admin = Client()
    login(admin, "root", "pw-root")
    victim_keys = [login(Client()), login(Client())]
    response = admin.post(  # the admin's AdminPasswordChangeForm
        f"/admin/auth/user/{alice.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert all(r.exists(redis_key(key)) == 0 for key in victim_keys)
    assert index_members(r, alice.pk) == set()
    assert admin.get("/read/").json()["user"] == "root"
    assert [(e["by"], e["count"]) for e in revocations] == [("password_change", 2)]


def test_an_admin_changing_their_own_password_in_the_admin_keeps_that_session(r, db):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")
    admin, other = Client(), Client()
    login(admin, "root", "pw-root")
    other_key = login(other, "root", "pw-root")
    response = admin.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert r.exists(redis_key(other_key)) == 0
    assert admin.get("/read/").json()["user"] == "root"
    assert index_members(r, root.pk) == {keys.digest(admin.cookies["sessionid"].value)}


def test_a_password_reset_ends_every_session(r, alice, revocations):
    victim_keys = [login(Client()), login(Client())]
    alice.refresh_from_db()  # the token covers last_login, which the sign-ins set
    token = default_token_generator.make_token(alice)
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    browser = Client()
    # The view swaps the token for a session-held one, then shows SetPasswordForm.
    form_url = browser.get(f"/reset/{uid}/{token}/")["Location"]
    response = browser.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302, response.content
    assert all(r.exists(redis_key(key)) == 0 for key in victim_keys)
    assert index_members(r, alice.pk) == set()
    assert [(e["by"], e["count"]) for e in revocations] == [("password_change", 2)]


def test_changepassword_command_ends_every_session(r, alice, monkeypatch, revocations):
    keys_ = [login(Client()), login(Client())]
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    out = io.StringIO()
    call_command("changepassword", "alice", stdout=out)
    assert "successfully" in out.getvalue()
    assert all(r.exists(redis_key(key)) == 0 for key in keys_)
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert [(e["by"], e["count"]) for e in revocations] == [("password_change", 2)]


def test_set_password_outside_a_request_ends_every_session(r, alice, revocations):
    keys_ = [login(Client()), login(Client())]
    assert password_change.sessions_in_use() == frozenset()  # each request cleaned up after itself
    alice.set_password(NEW_PASSWORD)
    alice.save()
    assert all(r.exists(redis_key(key)) == 0 for key in keys_)
    assert [(e["by"], e["count"]) for e in revocations] == [("password_change", 2)]


def test_saves_without_a_new_password_end_nothing(r, alice, revocations):
    keys_ = [login(Client()), login(Client())]  # each sign-in saves last_login
    alice.first_name = "Alice"
    alice.save()
    # set_password() without saving the password is no change either.
    alice.set_password(NEW_PASSWORD)
    alice.save(update_fields=["first_name"])
    get_user_model().objects.create_user("carol", "carol@example.com", "pw-carol")
    assert all(r.exists(redis_key(key)) == 1 for key in keys_)
    assert revocations == []


def test_a_hash_upgraded_at_sign_in_is_not_a_change(r, alice, settings, revocations):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    alice.set_password("pw-alice")
    alice.save()  # stored as MD5 (no sessions yet, nothing to end)
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    first = login(Client())
    login(Client())  # check_password() rehashes with PBKDF2 and saves
    alice.refresh_from_db()
    assert alice.password.startswith("pbkdf2_")
    assert r.exists(redis_key(first)) == 1
    assert revocations == []


def test_redis_down_does_not_fail_the_password_change(alice, settings, caplog):
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


def test_password_forms_say_nothing_about_sessions(client, settings):
    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}
    ]
    response = client.get("/signup/")  # UserCreationForm
    assert response.status_code == 200
    page = response.content.decode()
    assert "at least 8 characters" in page  # the validators' help texts are shown here...
    assert "signs you out" not in page  # ...and nothing of this package is among them
    assert "session" not in page.lower()

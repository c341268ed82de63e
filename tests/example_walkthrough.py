"""A newcomer's walk through the example project, in its own process.

Run by ``tests/test_example_project.py`` with ``example_project.settings`` and the
test Redis: ``python -c "from tests.example_walkthrough import main; main()"``.
Django's test clients drive the whole middleware stack: the sync ``Client`` (the
async views run through Django's async-to-sync adapter, as under a WSGI server)
and the ``AsyncClient`` (Django's ASGI handler). Prints ``example ok`` at the end.
"""

from __future__ import annotations

import asyncio
import re

import django

NEW_PASSWORD = "plum-Orchard-2048"


def countdowns(html: str) -> dict[str, int]:
    """``{"idle-countdown": seconds, "absolute-countdown": seconds}`` of a home page."""
    found = re.findall(r'id="([a-z]+-countdown)" data-countdown="(\d+)"', html)
    return {name: int(seconds) for name, seconds in found}


def check(condition: bool, what: str, html: str = "") -> None:
    if not condition:
        raise AssertionError(f"{what}\n{html}")


def sync_walk() -> None:
    from django.test import Client

    client = Client()
    first = client.get("/")
    html = first.content.decode()
    check(first.status_code == 200, f"home: {first.status_code}", html)
    check('visit number <strong id="visits">1<' in html, "first visit", html)
    fingerprint = re.search(r'<code id="fingerprint">([0-9a-f]{12})</code>', html)
    check(fingerprint is not None, "a fingerprint on the first visit", html)
    check("request.session.aget_expiry_age()" in html, "anonymous figures' source", html)
    times = countdowns(html)
    check(1790 <= times["idle-countdown"] <= 1800, f"idle countdown {times}", html)
    check(43190 <= times["absolute-countdown"] <= 43200, f"absolute countdown {times}", html)
    second = client.get("/").content.decode()
    check('visit number <strong id="visits">2<' in second, "second visit", second)
    check(fingerprint is not None and fingerprint.group(0) in second, "same session", second)

    anonymous = client.get("/account/sessions/")
    check(anonymous.status_code == 302, "sessions page is for the signed-in")
    check(
        anonymous["Location"] == "/accounts/login/?next=/account/sessions/", anonymous["Location"]
    )

    # Sign up (UserCreationForm): signed in at once, the session's data kept.
    signup = client.post(
        "/accounts/signup/",
        {"username": "newbie", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    check(signup.status_code == 302 and signup["Location"] == "/", "sign-up redirects home")
    home = client.get("/").content.decode()
    check("Hello, newbie" in home and "Welcome, newbie" in home, "signed up and in", home)
    check('visit number <strong id="visits">3<' in home, "data kept over the login", home)
    check("api.auser_sessions_page(user, limit=1, current=request)" in home, "listed figures", home)
    check(re.search(r'<dd id="created"><time datetime="[^"]+">', home) is not None, "created", home)
    times = countdowns(home)
    check(1790 <= times["idle-countdown"] <= 1800, f"idle countdown {times}", home)
    check(43190 <= times["absolute-countdown"] <= 43200, f"absolute countdown {times}", home)
    check("<code>_auth_user_id</code>" in home, "the session's data", home)
    check("(hidden)" in home, "the auth hash is not printed", home)

    # Sign out (POST only).
    check(client.get("/accounts/logout/").status_code == 405, "sign-out by GET")
    signout = client.post("/accounts/logout/")
    check(signout.status_code == 302 and signout["Location"] == "/", "sign-out redirects home")
    check("Hello, visitor" in client.get("/").content.decode(), "signed out")

    # Sign in (the async view): wrong password, then the right one with ?next=.
    wrong = client.post("/accounts/login/", {"username": "newbie", "password": "nope"})
    check(wrong.status_code == 200, "a wrong password shows the form again")
    check("Please enter a correct username and password" in wrong.content.decode(), "error")
    signin = client.post(
        "/accounts/login/",
        {"username": "newbie", "password": NEW_PASSWORD, "next": "/account/sessions/"},
    )
    check(signin.status_code == 302, f"sign-in: {signin.status_code}", signin.content.decode())
    check(signin["Location"] == "/account/sessions/", signin["Location"])
    sessions = client.get("/account/sessions/").content.decode()
    check("Your sessions" in sessions and "(this device)" in sessions, "sessions page", sessions)
    # SESSIONS_BASE_TEMPLATE: the page sits inside the site's layout.
    check("django_redis_sessions demo" in sessions, "the site's base template", sessions)
    elsewhere = client.post(
        "/accounts/login/",
        {"username": "newbie", "password": NEW_PASSWORD, "next": "https://evil.example/"},
    )
    check(elsewhere["Location"] == "/", f"an outside ?next= is ignored: {elsewhere['Location']}")

    # CSRF: the sign-in form refuses a POST without the token.
    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/accounts/login/", {"username": "newbie", "password": NEW_PASSWORD})
    check(refused.status_code == 403, f"sign-in without CSRF token: {refused.status_code}")


async def async_walk() -> None:
    from django.test import AsyncClient

    client = AsyncClient()
    signin = await client.post("/accounts/login/", {"username": "newbie", "password": NEW_PASSWORD})
    check(signin.status_code == 302 and signin["Location"] == "/", "async sign-in")
    home = (await client.get("/")).content.decode()
    check("Hello, newbie" in home and "api.auser_sessions_page" in home, "ASGI home", home)


def main() -> None:
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    sync_walk()
    asyncio.run(async_walk())
    print("example ok")

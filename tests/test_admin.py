"""The "Sessions" admin through HTTP, against the real Redis; and the API behind it.

Every page is driven with Django's test client through the full middleware
stack. The viewer's own admin session lives in Redis too, so every total below
counts it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from django.test import Client

from django_redis_sessions import admin as sessions_admin
from django_redis_sessions import api, devices
from django_redis_sessions.backend import SessionStore
from django_redis_sessions.conf import conf
from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.storage import keys
from django_redis_sessions.storage.record import SEEN_OFFSET

from .helpers import index_members, login, redis_key

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

CHANGELIST = "/admin/django_redis_sessions/redissession/"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def user_url(user: Any) -> str:
    pk = user if isinstance(user, str | int) else user.pk
    return f"{CHANGELIST}user/{pk}/"


def revoke_all_url(user: Any) -> str:
    return user_url(user) + "revoke-all/"


# -- fixtures ------------------------------------------------------------------------


def _purge(client: Any) -> None:
    pattern = keys.escape_glob(conf.SESSION_REDIS_PREFIX) + ":*"
    found = list(client.scan_iter(match=pattern, count=1000))
    if found:
        client.delete(*found)


@pytest.fixture(autouse=True)
def empty_store(r: Any) -> Iterator[None]:
    """Each test starts from an empty store (``r`` empties it again afterwards)."""
    _purge(r)
    devices.describe_user_agent.cache_clear()
    yield
    devices.describe_user_agent.cache_clear()


@pytest.fixture
def root(db: None) -> Any:
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-root")


@pytest.fixture
def root_client(root: Any) -> Client:
    """A superuser signed in to the admin (its session is one of the store's)."""
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def carol(db: None) -> Any:
    return get_user_model().objects.create_user("carol", "Carol.Smith@Corp.TEST", "pw-carol")
    # (create_user lower-cases the domain: "Carol.Smith@corp.test")


def staff(username: str, *codenames: str) -> Any:
    """A staff user (not a superuser) holding exactly these permissions."""
    user = get_user_model().objects.create_user(
        username, f"{username}@example.com", f"pw-{username}", is_staff=True
    )
    for codename in codenames:
        app_label, _, name = codename.partition(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    return user


def client_of(user: Any, **defaults: Any) -> Client:
    client = Client(**defaults)
    client.force_login(user)
    return client


VIEW = "django_redis_sessions.view_sessions"
REVOKE = "django_redis_sessions.revoke_sessions"


def signed_in(user: Any, **data: Any) -> str:
    """The key of a new session of ``user``, saved as Django's login would save it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk) if hasattr(user, "pk") else str(user)
    session[BACKEND_SESSION_KEY] = MODEL_BACKEND
    if hasattr(user, "get_session_auth_hash"):
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.update(data)
    session.save()
    assert session.session_key is not None
    return session.session_key


def browser(session_key: str) -> Client:
    """A client presenting ``session_key`` as its cookie."""
    client = Client()
    client.cookies["sessionid"] = session_key
    return client


def who(client: Client) -> str | None:
    response = client.get("/read/")
    assert response.status_code == 200
    user: str | None = response.json()["user"]
    return user


def anonymous_session(n: int) -> str:
    client = Client()
    response = client.post("/write/", json.dumps({"n": n}), content_type="application/json")
    assert response.status_code == 200
    key: str = client.cookies["sessionid"].value
    return key


def fp(session_key: str) -> str:
    return keys.fingerprint(session_key)


def set_seen(r: Any, session_key: str, seen: int) -> None:
    """Rewrite a session's last-seen time in place (as the load script does)."""
    r.setrange(redis_key(session_key), SEEN_OFFSET, b"%08x" % seen)


# -- reading pages -------------------------------------------------------------------


def html(response: Any) -> str:
    text: str = response.content.decode()
    return text


def totals(response: Any) -> dict[str, int]:
    page = html(response)
    found = {}
    for name in ("sessions", "signed-in", "anonymous", "users"):
        match = re.search(rf'<td id="total-{name}">(\d+)</td>', page)
        assert match, f"total-{name} missing"
        found[name] = int(match.group(1))
    return found


OVERVIEW_ROW = re.compile(
    r'<th scope="row"><a href="user/(?P<url_id>[^"/]+)/">(?P<label>[^<]*)</a></th>\s*'
    r"<td>(?P<email>[^<]*)</td>\s*"
    r'<td class="sessions">(?P<sessions>\d+)</td>'
)


def overview_rows(response: Any) -> list[tuple[str, str, int]]:
    """``(label, email, sessions)`` of each row of the overview, in page order."""
    return [
        (m["label"], m["email"], int(m["sessions"])) for m in OVERVIEW_ROW.finditer(html(response))
    ]


def session_rows(response: Any) -> list[str]:
    """Fingerprints of the rows of a per-user page, in page order."""
    return re.findall(r'<tr class="session" data-fingerprint="([0-9a-f]+)">', html(response))


def session_row(response: Any, fingerprint: str) -> str:
    """The HTML of one session's row."""
    match = re.search(
        rf'<tr class="session" data-fingerprint="{fingerprint}">(.*?)</tr>',
        html(response),
        re.DOTALL,
    )
    assert match, f"no row for {fingerprint}"
    return match.group(1)


def csrf_token(response: Any) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html(response))
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def assert_no_session_key(response: Any, session_keys: list[str]) -> None:
    page = html(response)
    leaked = [key for key in session_keys if key in page]
    assert not leaked, f"raw session keys in the page: {leaked}"


# -- the admin index ---------------------------------------------------------------


def test_admin_index_lists_sessions_for_superusers(root_client):
    response = root_client.get("/admin/")
    assert response.status_code == 200
    assert f'href="{CHANGELIST}"' in html(response)
    assert ">Sessions</a>" in html(response)


def test_admin_index_lists_sessions_for_staff_with_view_permission(r):
    viewer = client_of(staff("viewer", VIEW))
    response = viewer.get("/admin/")
    assert response.status_code == 200
    assert f'href="{CHANGELIST}"' in html(response)


@pytest.mark.parametrize("codenames", [(), ("auth.view_user",)])
def test_admin_index_hides_sessions_from_staff_without_the_apps_permissions(r, codenames):
    client = client_of(staff("clerk", *codenames))
    response = client.get("/admin/")
    assert response.status_code == 200
    assert CHANGELIST not in html(response)
    assert client.get(CHANGELIST).status_code == 403


# -- access --------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_admin_login(alice):
    signed_in(alice)
    client = Client()
    for url in (CHANGELIST, user_url(alice), revoke_all_url(alice)):
        for method in (client.get, client.post):
            response = method(url)
            assert response.status_code == 302, url
            assert response["Location"] == f"/admin/login/?next={url}"
    assert len(api.list_user_sessions(alice)) == 1


def test_staff_without_view_permission_gets_403_everywhere(alice):
    key = signed_in(alice)
    client = client_of(staff("clerk", "auth.view_user", "auth.change_user"))
    for url in (CHANGELIST, user_url(alice), revoke_all_url(alice)):
        assert client.get(url).status_code == 403, url
    assert client.post(user_url(alice), {"fingerprint": fp(key)}).status_code == 403
    assert client.post(revoke_all_url(alice)).status_code == 403
    assert who(browser(key)) == "alice"


def test_staff_with_revoke_but_not_view_permission_cannot_see_sessions(alice):
    key = signed_in(alice)
    client = client_of(staff("clerk", REVOKE))
    assert client.get(CHANGELIST).status_code == 403
    assert client.get(user_url(alice)).status_code == 403
    assert client.post(user_url(alice), {"fingerprint": fp(key)}).status_code == 403
    assert who(browser(key)) == "alice"


def test_revoke_all_page_needs_view_permission_too(alice):
    key = signed_in(alice)
    client = client_of(staff("clerk", REVOKE))
    response = client.get(revoke_all_url(alice))
    assert fp(key) not in html(response)
    assert response.status_code == 403


def test_viewer_without_revoke_permission_sees_but_cannot_revoke(alice, revocations):
    key = signed_in(alice)
    viewer = client_of(staff("viewer", VIEW))

    overview = viewer.get(CHANGELIST)
    assert overview.status_code == 200
    assert ("alice", "alice@example.com", 1) in overview_rows(overview)

    page = viewer.get(user_url(alice))
    assert page.status_code == 200
    assert session_rows(page) == [fp(key)]
    assert 'type="checkbox"' not in html(page)
    assert "Revoke selected sessions" not in html(page)
    assert revoke_all_url(alice) not in html(page)

    assert viewer.post(user_url(alice), {"fingerprint": fp(key)}).status_code == 403
    assert viewer.get(revoke_all_url(alice)).status_code == 403
    assert viewer.post(revoke_all_url(alice)).status_code == 403
    assert who(browser(key)) == "alice"
    assert revocations == []


@pytest.mark.parametrize("superuser", [False, True])
def test_revoker_sees_the_controls_and_can_revoke(alice, root, superuser):
    key, other = signed_in(alice), signed_in(alice)
    user = root if superuser else staff("revoker", VIEW, REVOKE)
    client = client_of(user)

    page = client.get(user_url(alice))
    assert page.status_code == 200
    assert f'<input type="checkbox" name="fingerprint" value="{fp(key)}"' in html(page)
    assert "Revoke selected sessions" in html(page)
    assert f'href="{revoke_all_url(alice)}"' in html(page)

    response = client.post(user_url(alice), {"fingerprint": fp(key)})
    assert response.status_code == 302
    assert response["Location"] == user_url(alice)
    assert who(browser(key)) is None
    assert who(browser(other)) == "alice"

    assert client.get(revoke_all_url(alice)).status_code == 200
    assert client.post(revoke_all_url(alice)).status_code == 302
    assert who(browser(other)) is None


# -- CSRF --------------------------------------------------------------------------


def test_revoking_without_a_csrf_token_is_refused(alice, root):
    key = signed_in(alice)
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(root)

    assert admin.post(user_url(alice), {"fingerprint": fp(key)}).status_code == 403
    assert admin.post(revoke_all_url(alice)).status_code == 403
    assert who(browser(key)) == "alice"

    token = csrf_token(admin.get(user_url(alice)))
    response = admin.post(user_url(alice), {"fingerprint": fp(key), "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert who(browser(key)) is None


def test_revoke_all_needs_the_csrf_token_from_its_confirmation_page(alice, root):
    key = signed_in(alice)
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(root)

    token = csrf_token(admin.get(revoke_all_url(alice)))
    assert admin.post(revoke_all_url(alice), {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert who(browser(key)) == "alice"
    response = admin.post(revoke_all_url(alice), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert who(browser(key)) is None


# -- the overview --------------------------------------------------------------------


def test_overview_totals_are_exact_and_follow_the_store(r, root_client, alice, bob, carol):
    anonymous = [anonymous_session(n) for n in range(4)]
    alice_keys = [login(Client()) for _ in range(3)]
    bob_keys = [login(Client(), "bob", "pw-bob") for _ in range(2)]
    carol_key = login(Client(), "carol", "pw-carol")

    response = root_client.get(CHANGELIST)
    assert response.status_code == 200
    # + the admin's own (signed-in) session, and the admin as a user.
    assert totals(response) == {"sessions": 4 + 6 + 1, "signed-in": 7, "anonymous": 4, "users": 4}
    rows = overview_rows(response)
    assert sorted(rows) == [
        ("alice", "alice@example.com", 3),
        ("bob", "bob@example.com", 2),
        ("carol", "Carol.Smith@corp.test", 1),
        ("root", "root@example.com", 1),
    ]
    assert_no_session_key(
        response,
        [*anonymous, *alice_keys, *bob_keys, carol_key, root_client.cookies["sessionid"].value],
    )

    # carol's only session expires (Redis drops its key): carol leaves the list.
    r.delete(redis_key(carol_key))
    # one of alice's ends too, and an anonymous one.
    r.delete(redis_key(alice_keys[0]))
    r.delete(redis_key(anonymous[0]))

    response = root_client.get(CHANGELIST)
    assert totals(response) == {"sessions": 3 + 4 + 1, "signed-in": 5, "anonymous": 3, "users": 3}
    rows = overview_rows(response)
    assert sorted(rows) == [
        ("alice", "alice@example.com", 2),
        ("bob", "bob@example.com", 2),
        ("root", "root@example.com", 1),
    ]
    assert "carol" not in html(response)


def test_overview_skips_a_session_past_its_absolute_deadline(r, root_client, alice, settings):
    old = signed_in(alice)
    signed_in(alice)
    # The absolute lifetime shrinks below the session's age: it is over now,
    # although Redis still holds it until its next load deletes it.
    r.setrange(redis_key(old), 1, b"%08x" % (int(time.time()) - 7200))
    settings.SESSIONS_ABSOLUTE_AGE = 3600

    response = root_client.get(CHANGELIST)
    assert ("alice", "alice@example.com", 1) in overview_rows(response)
    assert totals(response)["signed-in"] == 2


def test_overview_labels_a_deleted_user(root_client):
    signed_in("4242")
    response = root_client.get(CHANGELIST)
    assert ("deleted user (id 4242)", "", 1) in overview_rows(response)
    page = root_client.get(user_url("4242"))
    assert page.status_code == 200
    assert "Sessions of deleted user (id 4242)" in html(page)
    assert len(session_rows(page)) == 1


def test_overview_without_any_signed_in_user_says_so(r, root, root_client):
    anonymous_session(1)
    # The viewer's own session is the only signed-in one; without its index the
    # store holds no signed-in user at all (the session itself still works).
    r.delete(keys.user_index_key(conf.SESSION_REDIS_PREFIX, str(root.pk)))

    response = root_client.get(CHANGELIST)
    assert response.status_code == 200
    assert totals(response) == {"sessions": 2, "signed-in": 0, "anonymous": 2, "users": 0}
    assert "No user is signed in." in html(response)
    assert 'id="result_list"' not in html(response)


def test_overview_paginates_fifty_users_per_page_latest_sign_in_first(r, root_client):
    model = get_user_model()
    now = int(time.time())
    users = model.objects.bulk_create(
        model(username=f"user{n:02d}", email=f"user{n:02d}@example.com") for n in range(55)
    )
    users = list(model.objects.filter(username__startswith="user").order_by("username"))
    assert len(users) == 55
    for n, user in enumerate(users):
        # user00 signs in first, user54 last; activity runs the other way, and the
        # page is ordered by sign-in (the users index), not by activity.
        set_seen(r, signed_in(user), now - 100 - n)
        # Sign-ins a few ms apart: within one ms a user's repeated sign-in is
        # ordered after the others' (scores rise strictly per user).
        time.sleep(0.003)
        if n % 10 == 0:  # a second session does not change the order
            set_seen(r, signed_in(user), now - 1000 - n)

    first = root_client.get(CHANGELIST)
    assert first.status_code == 200
    assert totals(first) == {"sessions": 62, "signed-in": 62, "anonymous": 0, "users": 56}
    names = [label for label, _email, _count in overview_rows(first)]
    assert names == [f"user{n:02d}" for n in range(54, 4, -1)]
    counts = {label: count for label, _email, count in overview_rows(first)}
    assert counts["user50"] == counts["user10"] == 2
    assert counts["user54"] == 1
    page = html(first)
    assert 'href="?p=2" rel="next">Next</a>' in page
    assert 'rel="prev"' not in page
    assert "Page 1 of 2" in page

    second = root_client.get(CHANGELIST, {"p": "2"})
    names = [label for label, _email, _count in overview_rows(second)]
    assert names == ["user04", "user03", "user02", "user01", "user00", "root"]
    page = html(second)
    assert 'href="?p=1" rel="prev">Previous</a>' in page
    assert 'rel="next"' not in page
    assert "Page 2 of 2" in page
    # A page number past the end shows the last page, as Django's paginator does.
    past = root_client.get(CHANGELIST, {"p": "9"})
    assert [label for label, _e, _c in overview_rows(past)] == names


def test_search_paginates_and_keeps_the_query_in_page_links(r, root_client):
    model = get_user_model()
    model.objects.bulk_create(
        model(username=f"member{n:02d}", email=f"m{n}@example.com") for n in range(52)
    )
    for user in model.objects.filter(username__startswith="member"):
        signed_in(user)

    response = root_client.get(CHANGELIST, {"q": "MEMBER"})
    assert len(overview_rows(response)) == 50
    assert 'href="?q=MEMBER&amp;p=2" rel="next">Next</a>' in html(response)
    response = root_client.get(CHANGELIST, {"q": "MEMBER", "p": "2"})
    assert len(overview_rows(response)) == 2
    assert "root" not in [label for label, *_ in overview_rows(response)]


def test_search_by_username_or_email_case_insensitively(root_client, alice, bob, carol):
    signed_in(alice)
    signed_in(carol)
    signed_in(carol)

    by_name = root_client.get(CHANGELIST, {"q": "LIC"})
    assert overview_rows(by_name) == [("alice", "alice@example.com", 1)]
    assert 'value="LIC"' in html(by_name)
    assert "Clear search" in html(by_name)
    # The totals stay the store's, whatever the search.
    assert totals(by_name)["users"] == 3

    by_email = root_client.get(CHANGELIST, {"q": "carol.smith@corp.test"})
    assert overview_rows(by_email) == [("carol", "Carol.Smith@corp.test", 2)]
    by_domain = root_client.get(CHANGELIST, {"q": "@EXAMPLE.com"})
    assert sorted(label for label, *_ in overview_rows(by_domain)) == ["alice", "root"]

    # bob exists but has no session.
    nobody = root_client.get(CHANGELIST, {"q": "bob"})
    assert nobody.status_code == 200
    assert overview_rows(nobody) == []
    assert "No user matching “bob” has an active session." in html(nobody)
    nobody = root_client.get(CHANGELIST, {"q": "no-such-user"})
    assert "No user matching “no-such-user” has an active session." in html(nobody)


def test_search_query_is_escaped(root_client):
    response = root_client.get(CHANGELIST, {"q": '<script>alert("x")</script>'})
    assert response.status_code == 200
    assert "<script>alert" not in html(response)
    assert "&lt;script&gt;" in html(response)


def test_overview_reports_an_unreachable_store_as_503(root_client, monkeypatch):
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise SessionStoreUnavailable("Redis at 127.0.0.1:1 refused the connection", "127.0.0.1:1")

    monkeypatch.setattr(api, "session_overview", unavailable)
    response = root_client.get(CHANGELIST)
    assert response.status_code == 503
    page = html(response)
    assert "The session store cannot be read: Redis at 127.0.0.1:1 refused the connection" in page
    assert "Traceback" not in page
    assert 'File "' not in page


def test_user_page_reports_an_unreachable_store_as_503(root_client, alice, monkeypatch):
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise SessionStoreUnavailable("Redis at 127.0.0.1:1 timed out", "127.0.0.1:1")

    monkeypatch.setattr(api, "user_sessions_page", unavailable)
    for url in (user_url(alice), revoke_all_url(alice)):
        response = root_client.get(url)
        assert response.status_code == 503, url
        assert "Redis at 127.0.0.1:1 timed out" in html(response)


# -- one user's page -----------------------------------------------------------------


def test_user_page_shows_fingerprint_ip_and_device(root_client, alice):
    firefox = Client(HTTP_USER_AGENT=FIREFOX_WINDOWS, REMOTE_ADDR="203.0.113.7")
    key = login(firefox)
    assert who(firefox) == "alice"

    response = root_client.get(user_url(alice))
    assert response.status_code == 200
    assert session_rows(response) == [fp(key)]
    row = session_row(response, fp(key))
    assert f"<code>{fp(key)}</code>" in row
    assert "<td>203.0.113.7</td>" in row
    device = re.search(r'<span title="([^"]*)">([^<]*)</span>', row)
    assert device, row
    assert device.group(1) == FIREFOX_WINDOWS
    assert "Firefox" in device.group(2)
    assert "Windows" in device.group(2)
    assert device.group(2) != FIREFOX_WINDOWS
    assert "Sessions of alice (id" in html(response)
    assert_no_session_key(response, [key, root_client.cookies["sessionid"].value])


def test_user_page_shows_the_raw_user_agent_without_ua_parser(root_client, alice, monkeypatch):
    monkeypatch.setattr(devices, "_parser", lambda: None)
    devices.describe_user_agent.cache_clear()
    key = login(Client(HTTP_USER_AGENT=FIREFOX_WINDOWS))

    row = session_row(root_client.get(user_url(alice)), fp(key))
    assert f'<span title="{FIREFOX_WINDOWS}">{FIREFOX_WINDOWS}</span>' in row


def test_user_page_escapes_what_clients_and_sessions_hold(root_client, alice, settings):
    settings.SESSIONS_ADMIN_SHOW_DATA = True
    client = Client(HTTP_USER_AGENT='<script>alert("ua")</script>')
    key = login(client)
    client.post(
        "/write/",
        json.dumps({"note": "<img src=x onerror=alert(1)>"}),
        content_type="application/json",
    )

    response = root_client.get(user_url(alice))
    page = html(response)
    assert session_rows(response) == [fp(key)]
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_user_page_without_metadata_says_unknown(root_client, alice):
    key = signed_in(alice)
    row = session_row(root_client.get(user_url(alice)), fp(key))
    assert row.count(">unknown<") == 2  # IP and device


def test_user_page_marks_the_viewers_own_session(root, root_client):
    own = root_client.cookies["sessionid"].value
    other = signed_in(root)
    response = root_client.get(user_url(root))
    assert sorted(session_rows(response)) == sorted([fp(own), fp(other)])
    assert "(your session)" in session_row(response, fp(own))
    assert "(your session)" not in session_row(response, fp(other))
    assert_no_session_key(response, [own, other])


def test_user_page_for_a_user_without_sessions(root_client, alice):
    response = root_client.get(user_url(alice))
    assert response.status_code == 200
    assert session_rows(response) == []
    assert f"alice (id {alice.pk}) has no active session." in html(response)
    assert 'id="sessions-form"' not in html(response)


def test_user_page_lists_a_hundred_sessions_without_any_key(r, root_client, alice, bob):
    alice_keys = [signed_in(alice, n=n) for n in range(100)]
    bob_key = signed_in(bob)

    # Two pages of 50 (list_per_page), between them every session once.
    response = root_client.get(user_url(alice))
    second = root_client.get(user_url(alice) + "?p=2")
    assert response.status_code == second.status_code == 200
    assert len(session_rows(response)) == len(session_rows(second)) == 50
    assert sorted(session_rows(response) + session_rows(second)) == sorted(
        fp(k) for k in alice_keys
    )
    assert "Page 1 of 2" in html(response)
    assert fp(bob_key) not in html(response) + html(second)
    assert_no_session_key(response, [*alice_keys, bob_key, root_client.cookies["sessionid"].value])

    # The confirmation counts them all and lists the first page.
    confirm = root_client.get(revoke_all_url(alice))
    assert "(100 sessions)" in html(confirm)
    assert "and 50 more" in html(confirm)
    assert_no_session_key(confirm, alice_keys)

    overview = root_client.get(CHANGELIST)
    assert ("alice", "alice@example.com", 100) in overview_rows(overview)
    assert_no_session_key(overview, alice_keys)

    change = root_client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert_no_session_key(change, alice_keys)


def test_user_page_lists_the_most_recently_active_first(r, root_client, alice):
    now = int(time.time())
    older, newer, newest = signed_in(alice), signed_in(alice), signed_in(alice)
    set_seen(r, older, now - 300)
    set_seen(r, newer, now - 200)
    set_seen(r, newest, now - 100)
    response = root_client.get(user_url(alice))
    assert session_rows(response) == [fp(newest), fp(newer), fp(older)]


@pytest.mark.parametrize("view", [user_url, revoke_all_url])
def test_user_pages_for_an_id_that_is_not_a_primary_key(root_client, view):
    response = root_client.get(view("not-a-number"))
    assert response.status_code == 404


def test_revoke_all_post_for_an_id_that_is_not_a_primary_key(root_client):
    response = root_client.post(revoke_all_url("not-a-number"))
    assert response.status_code == 404


def test_revoke_selected_for_an_id_that_is_not_a_primary_key_is_a_404(root_client):
    response = root_client.post(user_url("not-a-number"), {"fingerprint": "0" * 12}, follow=False)
    assert response.status_code == 404


# -- revoking selected sessions ----------------------------------------------------


def test_revoking_selected_sessions(root, root_client, alice, revocations, caplog):
    caplog.set_level(logging.INFO, logger="django_redis_sessions")
    clients = [Client() for _ in range(4)]
    alice_keys = [login(c) for c in clients]
    target = [fp(alice_keys[0]), fp(alice_keys[2])]

    response = root_client.post(user_url(alice), {"fingerprint": target}, follow=True)
    assert response.redirect_chain == [(user_url(alice), 302)]
    assert "2 sessions revoked." in html(response)
    assert sorted(session_rows(response)) == sorted([fp(alice_keys[1]), fp(alice_keys[3])])

    assert [who(c) for c in clients] == [None, "alice", None, "alice"]
    assert who(root_client) == "root"

    assert len(revocations) == 1
    event = revocations[0]
    assert event["sender"] is get_user_model()
    assert event["user_id"] == str(alice.pk)
    assert sorted(event["fingerprints"]) == sorted(target)
    assert event["count"] == 2
    assert event["by"] == "admin"
    assert event["actor"].pk == root.pk

    lines = [rec.getMessage() for rec in caplog.records if rec.name == "django_redis_sessions"]
    for fingerprint in target:
        assert f"Session {fingerprint} of user {alice.pk} revoked (by admin: root)" in lines
    assert not any(key in rec.getMessage() for rec in caplog.records for key in alice_keys)


def test_revoking_one_session_says_so_in_the_singular(root_client, alice):
    key = signed_in(alice)
    response = root_client.post(user_url(alice), {"fingerprint": fp(key)}, follow=True)
    assert "1 session revoked." in html(response)
    assert f"alice (id {alice.pk}) has no active session." in html(response)


def test_revoking_with_nothing_selected_warns(root_client, alice, revocations):
    key = signed_in(alice)
    response = root_client.post(user_url(alice), {}, follow=True)
    assert response.status_code == 200
    assert "No session was selected." in html(response)
    assert 'class="warning"' in html(response)
    assert who(browser(key)) == "alice"
    assert revocations == []


def test_revoking_another_users_session_from_this_page_does_nothing(
    root_client, alice, bob, revocations
):
    alice_key, bob_key = signed_in(alice), signed_in(bob)
    response = root_client.post(user_url(alice), {"fingerprint": fp(bob_key)}, follow=True)
    assert response.status_code == 200
    assert "Those sessions had already ended." in html(response)
    assert who(browser(bob_key)) == "bob"
    assert who(browser(alice_key)) == "alice"
    assert revocations == []


def test_revoking_an_already_ended_session_warns(r, root_client, alice):
    key = signed_in(alice)
    r.delete(redis_key(key))
    response = root_client.post(user_url(alice), {"fingerprint": fp(key)}, follow=True)
    assert response.status_code == 200
    assert "Those sessions had already ended." in html(response)


@pytest.mark.parametrize("bad", ["zzz", "ABCDEF123456", "0" * 13, "", "../../x"])
def test_revoking_a_malformed_fingerprint_is_an_error_message(root_client, alice, bad, revocations):
    key = signed_in(alice)
    response = root_client.post(user_url(alice), {"fingerprint": [fp(key), bad]}, follow=True)
    assert response.status_code == 200
    assert "is not a session fingerprint" in html(response)
    assert 'class="error"' in html(response)
    # The whole request is refused: the valid fingerprint beside it ends nothing.
    assert who(browser(key)) == "alice"
    assert revocations == []


# -- revoking all of a user's sessions -----------------------------------------------


def test_revoke_all_confirms_then_ends_every_session_of_the_user(
    root, root_client, alice, bob, revocations
):
    alice_clients = [Client() for _ in range(3)]
    alice_keys = [login(c) for c in alice_clients]
    bob_client = Client()
    login(bob_client, "bob", "pw-bob")

    confirm = root_client.get(revoke_all_url(alice))
    assert confirm.status_code == 200
    page = html(confirm)
    assert "Are you sure you want to revoke every session of alice" in page
    assert "(3 sessions)" in page
    for key in alice_keys:
        assert f"<code>{fp(key)}</code>" in page
    assert '<form method="post">' in page
    assert 'value="Yes, revoke all"' in page
    assert f'href="{user_url(alice)}"' in page
    assert_no_session_key(confirm, alice_keys)
    # Looking is harmless.
    assert [who(c) for c in alice_clients] == ["alice"] * 3

    response = root_client.post(revoke_all_url(alice), follow=True)
    assert response.redirect_chain == [(user_url(alice), 302)]
    assert "3 sessions revoked." in html(response)
    assert [who(c) for c in alice_clients] == [None] * 3
    assert who(bob_client) == "bob"
    assert who(root_client) == "root"
    assert [(e["count"], e["by"], e["actor"].pk) for e in revocations] == [(3, "admin", root.pk)]


def test_revoke_all_of_a_user_without_sessions(root_client, alice):
    confirm = root_client.get(revoke_all_url(alice))
    assert confirm.status_code == 200
    assert "sessions)" not in html(confirm)
    response = root_client.post(revoke_all_url(alice), follow=True)
    assert "0 sessions revoked." in html(response)


# -- the user's change page ------------------------------------------------------------


def test_user_change_page_links_to_the_users_sessions(root_client, alice, bob):
    signed_in(alice)
    signed_in(alice)

    response = root_client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert response.status_code == 200
    link = re.search(r'<a href="([^"]+)" id="user-sessions-link">([^<]+)</a>', html(response))
    assert link, "no sessions link"
    assert link.group(1) == user_url(alice)
    assert link.group(2) == "Sessions (2)"

    response = root_client.get(f"/admin/auth/user/{bob.pk}/change/")
    assert ">Sessions (0)</a>" in html(response)


def test_user_change_page_link_for_staff_with_view_permission(alice):
    signed_in(alice)
    client = client_of(staff("viewer", VIEW, "auth.view_user"))
    response = client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert response.status_code == 200
    assert 'id="user-sessions-link">Sessions (1)</a>' in html(response)


def test_user_change_page_has_no_link_without_view_permission(alice):
    signed_in(alice)
    client = client_of(staff("editor", "auth.change_user", "auth.view_user"))
    response = client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert response.status_code == 200
    assert "user-sessions-link" not in html(response)
    assert CHANGELIST not in html(response)


def test_user_change_page_survives_an_unreachable_store(root_client, alice, monkeypatch):
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise SessionStoreUnavailable("Redis at 127.0.0.1:1 timed out", "127.0.0.1:1")

    monkeypatch.setattr(api, "user_sessions_page", unavailable)
    response = root_client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert response.status_code == 200
    assert ">Sessions (unavailable)</a>" in html(response)


def test_installing_the_app_overrides_no_admin_template():
    from django.contrib.admin import site
    from django.contrib.auth.admin import UserAdmin
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    from django_redis_sessions.admin import UserSessionsAdminMixin

    # Django ships no admin/auth/user/change_form.html, and neither does this app.
    with pytest.raises(TemplateDoesNotExist):
        get_template("admin/auth/user/change_form.html")
    templates = Path(sessions_admin.__file__).parent / "templates"
    assert not (templates / "admin").exists()
    # The stock UserAdmin got the link as a mixin, keeping Django's templates.
    registered = type(site.get_model_admin(get_user_model()))
    assert issubclass(registered, UserSessionsAdminMixin)
    assert issubclass(registered, UserAdmin)
    assert registered.__name__ == "UserAdmin"
    assert registered.change_form_template is None


def test_user_add_page_has_no_sessions_link(root_client):
    response = root_client.get("/admin/auth/user/add/")
    assert response.status_code == 200
    assert "user-sessions-link" not in html(response)


def test_user_change_form_still_saves_with_the_link(root_client, alice):
    signed_in(alice)
    response = root_client.post(
        f"/admin/auth/user/{alice.pk}/change/",
        {
            "username": "alice",
            "first_name": "Alicia",
            "last_name": "",
            "email": "alice@example.com",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "last_login_0": "",
            "last_login_1": "",
        },
    )
    assert response.status_code == 302, html(response)
    alice.refresh_from_db()
    assert alice.first_name == "Alicia"


@pytest.mark.urls("tests.urls_custom_admin")
def test_a_projects_own_user_admin_and_template_get_the_link(root_client, alice):
    from tests import urls_custom_admin

    assert urls_custom_admin.LINKED is True
    signed_in(alice)
    signed_in(alice)
    response = root_client.get(f"/admin/auth/user/{alice.pk}/change/")
    assert response.status_code == 200
    page = html(response)
    # The project's change form template is the one rendered...
    assert response.templates[0].name == "project_user_change_form.html"
    assert 'id="project-tool"' in page
    # ...and the link is there, to the sessions page of the same admin site.
    link = re.search(r'<a href="([^"]+)" id="user-sessions-link">([^<]+)</a>', page)
    assert link, "no sessions link"
    assert link.groups() == (user_url(alice), "Sessions (2)")
    assert root_client.get(link.group(1)).status_code == 200
    # Linking twice changes nothing.
    assert sessions_admin.link_user_admin(urls_custom_admin.site) is False


# -- decoded session data ------------------------------------------------------------


def test_session_data_is_hidden_by_default_even_from_superusers(root_client, alice):
    key = signed_in(alice, secret_note="launch-code-1234")
    response = root_client.get(user_url(alice))
    assert session_rows(response) == [fp(key)]
    assert "launch-code-1234" not in html(response)
    assert "Session data" not in html(response)


def test_session_data_is_shown_to_superusers_when_enabled(root_client, alice, settings):
    settings.SESSIONS_ADMIN_SHOW_DATA = True
    client = Client()
    login(client)
    client.post(
        "/write/", json.dumps({"secret_note": "launch-code-1234"}), content_type="application/json"
    )

    response = root_client.get(user_url(alice))
    page = html(response)
    assert "Session data" in page
    assert "launch-code-1234" in page
    assert "&quot;secret_note&quot;: &quot;launch-code-1234&quot;" in page
    assert_no_session_key(response, [client.cookies["sessionid"].value])


def test_session_data_stays_hidden_from_other_staff_when_enabled(alice, settings):
    settings.SESSIONS_ADMIN_SHOW_DATA = True
    key = signed_in(alice, secret_note="launch-code-1234")
    client = client_of(staff("revoker", VIEW, REVOKE))
    response = client.get(user_url(alice))
    assert session_rows(response) == [fp(key)]
    assert "launch-code-1234" not in html(response)
    assert "Session data" not in html(response)


# -- the API behind the pages: sync and async agree ----------------------------------


@pytest.fixture
def populated(r, alice, bob, carol) -> dict[str, Any]:
    """Sessions of three users and two anonymous ones."""
    now = int(time.time())
    alice_keys = [signed_in(alice, n=n) for n in range(3)]
    bob_keys = [signed_in(bob, colour="blue")]
    carol_keys = [signed_in(carol)]
    for n, key in enumerate(alice_keys):
        set_seen(r, key, now - 10 * n)
    set_seen(r, bob_keys[0], now - 50)
    anonymous = []
    for n in range(2):
        session = SessionStore()
        session["n"] = n
        session.save()
        anonymous.append(session.session_key)
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "alice_keys": alice_keys,
        "bob_keys": bob_keys,
        "carol_keys": carol_keys,
        "anonymous": anonymous,
        "now": now,
    }


async def test_session_overview_sync_and_async_agree(populated):
    alice, bob, carol = populated["alice"], populated["bob"], populated["carol"]
    sync = api.session_overview()
    async_ = await api.asession_overview()

    assert (sync.sessions, sync.signed_in, sync.anonymous) == (7, 5, 2)
    assert (async_.sessions, async_.signed_in, async_.anonymous) == (7, 5, 2)
    by_user = {a.user_id: (a.sessions, a.last_seen) for a in sync.users}
    assert by_user == {a.user_id: (a.sessions, a.last_seen) for a in async_.users}
    now = populated["now"]
    assert by_user[str(alice.pk)] == (3, now)
    assert by_user[str(bob.pk)] == (1, now - 50)
    assert by_user[str(carol.pk)][0] == 1


async def test_users_activity_sync_and_async_agree(r, populated):
    alice, bob, carol = populated["alice"], populated["bob"], populated["carol"]
    r.delete(redis_key(populated["carol_keys"][0]))
    # A user object, a primary key, a string id; carol has no live session left,
    # and 999 never had one.
    asked = [alice, bob.pk, str(carol.pk), 999]
    sync = api.users_activity(asked)
    async_ = await api.ausers_activity(asked)
    assert sync == async_
    assert sorted((a.user_id, a.sessions) for a in sync) == sorted(
        [(str(alice.pk), 3), (str(bob.pk), 1)]
    )
    assert api.users_activity([]) == [] == await api.ausers_activity([])


async def test_users_activity_refuses_an_anonymous_user():
    with pytest.raises(ValueError, match="anonymous"):
        api.users_activity([AnonymousUser()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="anonymous"):
        await api.ausers_activity([AnonymousUser()])  # type: ignore[list-item]


async def test_sessions_data_sync_and_async_agree(r, populated):
    alice, bob = populated["alice"], populated["bob"]
    bob_key = populated["bob_keys"][0]
    sync = api.sessions_data(bob)
    async_ = await api.asessions_data(bob)
    assert sync == async_
    assert list(sync) == [fp(bob_key)]
    data = sync[fp(bob_key)]
    assert data is not None
    assert data["colour"] == "blue"
    assert data[SESSION_KEY] == str(bob.pk)

    # Reading does not touch the session's last-seen time.
    assert r.getrange(redis_key(bob_key), SEEN_OFFSET, SEEN_OFFSET + 7) == b"%08x" % (
        populated["now"] - 50
    )
    # Only the user's own sessions, each by fingerprint.
    assert set(api.sessions_data(alice)) == {fp(k) for k in populated["alice_keys"]}
    assert fp(bob_key) not in await api.asessions_data(alice)


async def test_sessions_data_marks_an_undecodable_record(r, populated):
    bob = populated["bob"]
    bob_key = populated["bob_keys"][0]
    raw = r.get(redis_key(bob_key))
    r.set(redis_key(bob_key), raw + b"5:colour3:}}}", keepttl=True)  # a value JSON cannot read
    assert api.sessions_data(bob) == {fp(bob_key): None} == await api.asessions_data(bob)


async def test_revoke_sessions_sync_and_async_agree(r, populated, revocations, caplog):
    caplog.set_level(logging.INFO, logger="django_redis_sessions")
    alice, bob = populated["alice"], populated["bob"]
    first, second, third = populated["alice_keys"]
    bob_key = populated["bob_keys"][0]

    # Another user's fingerprint ends nothing, sync or async.
    assert api.revoke_sessions([fp(bob_key)], user=alice) == 0
    assert await api.arevoke_sessions([fp(bob_key)], user=alice) == 0
    assert r.exists(redis_key(bob_key)) == 1
    # A malformed fingerprint is refused before anything ends.
    with pytest.raises(ValueError, match="not a session fingerprint"):
        api.revoke_sessions([fp(first), "nope"], user=alice)
    with pytest.raises(ValueError, match="not a session fingerprint"):
        await api.arevoke_sessions([fp(first), "nope"], user=alice)
    assert revocations == []

    assert api.revoke_sessions([fp(first)], user=alice, by="admin", actor=bob) == 1
    assert await api.arevoke_sessions([fp(second)], user=alice, by="admin", actor=bob) == 1
    # Already ended: nothing more.
    assert api.revoke_sessions([fp(first)], user=alice) == 0
    assert await api.arevoke_sessions([fp(second)], user=alice) == 0

    assert r.exists(redis_key(first)) == 0
    assert r.exists(redis_key(second)) == 0
    assert r.exists(redis_key(third)) == 1
    assert index_members(r, alice.pk) == {keys.digest(third)}
    assert [
        (e["user_id"], e["fingerprints"], e["count"], e["by"], e["actor"]) for e in revocations
    ] == [
        (str(alice.pk), (fp(first),), 1, "admin", bob),
        (str(alice.pk), (fp(second),), 1, "admin", bob),
    ]
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "django_redis_sessions"]
    assert f"Session {fp(first)} of user {alice.pk} revoked (by admin: bob)" in lines
    assert f"Session {fp(second)} of user {alice.pk} revoked (by admin: bob)" in lines
    assert [a.sessions for a in api.users_activity([alice])] == [1]

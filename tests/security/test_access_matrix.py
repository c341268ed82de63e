"""Access control matrix: every sessions URL x every kind of actor x GET / POST.

Each case builds a small world in the real Redis (the victim "alice" with two
sessions, a bystander "bob" with one, and the actor with its current session and
two spare ones), sends one request through the full middleware stack from a
client that enforces CSRF, and asserts

* the exact status (and where a redirect goes, the JSON body, the ``Allow``
  header of a 405);
* the exact change in Redis: the raw records and index members of every session
  the request must not touch are byte-for-byte what they were, and the ones it
  must end are gone (they no longer load);
* that nobody sees the victim's sessions unless allowed to.

The table ``MATRIX`` is the specification: one row per request, one column per
actor. Every POST row is run twice: with a valid CSRF token (the table's answer)
and without one (always 403, nothing changes: the CSRF check runs before the
login, permission and method checks).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import pytest
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.utils.crypto import get_random_string

from django_redis_sessions.backend import SessionStore
from django_redis_sessions.storage import keys

from ..helpers import index_members, redis_key

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = [pytest.mark.real_redis, pytest.mark.django_db]

ADMIN: Final = "/admin/django_redis_sessions/redissession/"
PAGE: Final = "/account/sessions/"
ADMIN_LOGIN_URL: Final = "/admin/login/"
MODEL_BACKEND: Final = "django.contrib.auth.backends.ModelBackend"
BAD_USER_ID: Final = "not-a-pk"
APP: Final = "django_redis_sessions"


# -- actors ----------------------------------------------------------------------------


class Actor(enum.Enum):
    ANON = "anonymous"
    USER = "user"  # signed in, not staff
    USER_PERMS = "user+perms"  # not staff, but holds both sessions permissions
    STAFF = "staff"  # staff, no sessions permission
    VIEWER = "viewer"  # staff, view_sessions only
    REVOKER = "revoker"  # staff, revoke_sessions only
    BOTH = "both"  # staff, view_sessions and revoke_sessions
    ROOT = "superuser"


#: (is_staff, is_superuser, codenames) of each signed-in actor.
PROFILES: Final[dict[Actor, tuple[bool, bool, tuple[str, ...]]]] = {
    Actor.USER: (False, False, ()),
    Actor.USER_PERMS: (False, False, ("view_sessions", "revoke_sessions")),
    Actor.STAFF: (True, False, ()),
    Actor.VIEWER: (True, False, ("view_sessions",)),
    Actor.REVOKER: (True, False, ("revoke_sessions",)),
    Actor.BOTH: (True, False, ("view_sessions", "revoke_sessions")),
    Actor.ROOT: (True, True, ()),
}

#: The matrix's column order.
ACTORS: Final = tuple(Actor)


# -- what a request is -------------------------------------------------------------------


class Endpoint(enum.Enum):
    # admin
    OVERVIEW = "admin/overview"
    USER = "admin/user"
    REVOKE_ALL = "admin/revoke-all"
    # the user's own pages
    LIST = "list"
    REVOKE = "revoke"
    REVOKE_OTHERS = "revoke-others"
    API = "api"
    API_REVOKE = "api/revoke"
    API_REVOKE_OTHERS = "api/revoke-others"


JSON_ENDPOINTS: Final = {Endpoint.API, Endpoint.API_REVOKE, Endpoint.API_REVOKE_OTHERS}


class Target(enum.Enum):
    NONE = ""
    VICTIM = "victim"  # alice: her user id (admin) / her session's fingerprint
    FOREIGN = "foreign"  # admin: alice's page, but bob's session's fingerprint
    OWN = "own"  # the actor's own spare session
    BAD_ID = "bad-id"  # admin: an id that is no primary key


@dataclass(frozen=True)
class Req:
    endpoint: Endpoint
    method: str
    target: Target = Target.NONE

    @property
    def label(self) -> str:
        target = f"[{self.target.value}]" if self.target is not Target.NONE else ""
        return f"{self.endpoint.value}{target} {self.method}"


# -- what must happen --------------------------------------------------------------------


class Effect(enum.Enum):
    NONE = "nothing changes"
    VICTIM_ONE = "alice's first session ends"
    VICTIM_ALL = "all alice's sessions end"
    OWN_ONE = "the actor's first spare session ends"
    OWN_OTHERS = "the actor's spare sessions end, its current one stays"


class Go(enum.Enum):
    """Where a 302 must point."""

    ADMIN_LOGIN = "admin login, next=<url>"
    LOGIN = "LOGIN_URL, next=<url>"
    ADMIN_USER = "the admin page of alice"
    PAGE = "the sessions page"


@dataclass(frozen=True)
class Expect:
    status: int
    effect: Effect = Effect.NONE
    go: Go | None = None
    json: dict[str, Any] | None = None
    allow: str | None = None
    #: The body lists alice's sessions (by fingerprint).
    reveals: bool = False
    code: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.code or str(self.status)


OK: Final = Expect(200, code="200")
SHOWS: Final = Expect(200, reveals=True, code="200+")
DENIED: Final = Expect(403, code="403")
MISSING: Final = Expect(404, code="404")
API_MISSING: Final = Expect(404, json={"error": "No such session."}, code="404j")
TO_ADMIN_LOGIN: Final = Expect(302, go=Go.ADMIN_LOGIN, code="302a")
TO_LOGIN: Final = Expect(302, go=Go.LOGIN, code="302l")
NOT_AUTHENTICATED: Final = Expect(401, json={"error": "Authentication required."}, code="401")
GET_ONLY: Final = Expect(405, allow="GET, HEAD", code="405")
POST_ONLY: Final = Expect(405, allow="POST", code="405")
ADMIN_REVOKED_ONE: Final = Expect(302, Effect.VICTIM_ONE, Go.ADMIN_USER, code="302*")
ADMIN_REVOKED_NONE: Final = Expect(302, Effect.NONE, Go.ADMIN_USER, code="302")
ADMIN_REVOKED_ALL: Final = Expect(302, Effect.VICTIM_ALL, Go.ADMIN_USER, code="302*")
OWN_REVOKED: Final = Expect(302, Effect.OWN_ONE, Go.PAGE, code="302*")
OTHERS_REVOKED: Final = Expect(302, Effect.OWN_OTHERS, Go.PAGE, code="302*")
API_OWN_REVOKED: Final = Expect(
    200, Effect.OWN_ONE, json={"revoked": 1, "signed_out": False}, code="200*"
)
API_OTHERS_REVOKED: Final = Expect(200, Effect.OWN_OTHERS, json={"revoked": 2}, code="200*")
#: An actor without sessions of its own has no "own" fingerprint: no case.
NA: Final = None

#: A POST without a CSRF token, whoever sends it and wherever.
CSRF_REFUSED: Final = Expect(403, code="403")

E = Endpoint
T = Target
Row = tuple[Req, tuple[Expect | None, ...]]

# fmt: off
#: Columns: anonymous, user, user+perms, staff, viewer, revoker, both, superuser.
MATRIX: Final[list[Row]] = [
    # -- the admin ---------------------------------------------------------------------
    (Req(E.OVERVIEW, "GET"),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, OK, DENIED, OK, OK)),
    # A POST to the overview changes nothing: it renders the page, as a GET does.
    (Req(E.OVERVIEW, "POST"),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, OK, DENIED, OK, OK)),
    (Req(E.USER, "GET", T.VICTIM),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, SHOWS, DENIED, SHOWS, SHOWS)),
    (Req(E.USER, "POST", T.VICTIM),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, DENIED, DENIED,
      ADMIN_REVOKED_ONE, ADMIN_REVOKED_ONE)),
    # bob's fingerprint posted to alice's page: only alice's index is searched.
    (Req(E.USER, "POST", T.FOREIGN),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, DENIED, DENIED,
      ADMIN_REVOKED_NONE, ADMIN_REVOKED_NONE)),
    # Permissions are checked before the id: no probing ids without view_sessions.
    (Req(E.USER, "GET", T.BAD_ID),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, MISSING, DENIED, MISSING, MISSING)),
    (Req(E.USER, "POST", T.BAD_ID),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, MISSING, DENIED, MISSING, MISSING)),
    # The confirmation page lists the sessions: it needs both permissions.
    (Req(E.REVOKE_ALL, "GET", T.VICTIM),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, DENIED, DENIED, SHOWS, SHOWS)),
    (Req(E.REVOKE_ALL, "POST", T.VICTIM),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, DENIED, DENIED,
      ADMIN_REVOKED_ALL, ADMIN_REVOKED_ALL)),
    (Req(E.REVOKE_ALL, "GET", T.BAD_ID),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, DENIED, DENIED, MISSING, MISSING)),
    (Req(E.REVOKE_ALL, "POST", T.BAD_ID),
     (TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, TO_ADMIN_LOGIN, DENIED, DENIED, DENIED, MISSING, MISSING)),
    # -- the user's own pages: the same for every signed-in actor, superuser included --
    (Req(E.LIST, "GET"), (TO_LOGIN, *[OK] * 7)),
    (Req(E.LIST, "POST"), (GET_ONLY, *[GET_ONLY] * 7)),
    (Req(E.REVOKE, "GET", T.OWN), (NA, *[POST_ONLY] * 7)),
    (Req(E.REVOKE, "POST", T.OWN), (NA, *[OWN_REVOKED] * 7)),
    (Req(E.REVOKE, "GET", T.VICTIM), (POST_ONLY, *[POST_ONLY] * 7)),
    (Req(E.REVOKE, "POST", T.VICTIM), (TO_LOGIN, *[MISSING] * 7)),
    (Req(E.REVOKE_OTHERS, "GET"), (POST_ONLY, *[POST_ONLY] * 7)),
    (Req(E.REVOKE_OTHERS, "POST"), (TO_LOGIN, *[OTHERS_REVOKED] * 7)),
    (Req(E.API, "GET"), (NOT_AUTHENTICATED, *[OK] * 7)),
    (Req(E.API, "POST"), (GET_ONLY, *[GET_ONLY] * 7)),
    (Req(E.API_REVOKE, "GET", T.OWN), (NA, *[POST_ONLY] * 7)),
    (Req(E.API_REVOKE, "POST", T.OWN), (NA, *[API_OWN_REVOKED] * 7)),
    (Req(E.API_REVOKE, "GET", T.VICTIM), (POST_ONLY, *[POST_ONLY] * 7)),
    (Req(E.API_REVOKE, "POST", T.VICTIM), (NOT_AUTHENTICATED, *[API_MISSING] * 7)),
    (Req(E.API_REVOKE_OTHERS, "GET"), (POST_ONLY, *[POST_ONLY] * 7)),
    (Req(E.API_REVOKE_OTHERS, "POST"), (NOT_AUTHENTICATED, *[API_OTHERS_REVOKED] * 7)),
]
# fmt: on


@dataclass(frozen=True)
class Case:
    req: Req
    actor: Actor
    csrf: bool
    expect: Expect

    @property
    def id(self) -> str:
        csrf = "" if self.req.method == "GET" else (" csrf" if self.csrf else " no-csrf")
        return f"{self.req.label}{csrf} {self.actor.value}"


def _cases() -> list[Case]:
    cases = []
    for req, row in MATRIX:
        assert len(row) == len(ACTORS), req
        for actor, expect in zip(ACTORS, row, strict=True):
            if expect is None:
                continue
            cases.append(Case(req, actor, csrf=True, expect=expect))
            if req.method == "POST":
                cases.append(Case(req, actor, csrf=False, expect=CSRF_REFUSED))
    return cases


CASES: Final = _cases()


# -- the world a case runs in ------------------------------------------------------------


@dataclass
class World:
    actor: Actor
    client: Client
    token: str
    victim: Any
    victim_keys: list[str]
    bob: Any
    bob_key: str
    user: Any = None
    current: str | None = None
    spares: list[str] = field(default_factory=list)

    def user_ids(self) -> list[str]:
        ids = [str(self.victim.pk), str(self.bob.pk)]
        return ids if self.user is None else [*ids, str(self.user.pk)]

    def watched(self) -> list[str]:
        """The sessions whose records no request may alter except by ending them."""
        return [*self.victim_keys, self.bob_key, *self.spares]


def _user(username: str, staff: bool = False, superuser: bool = False) -> Any:
    return get_user_model().objects.create_user(
        username,
        f"{username}@example.com",
        f"pw-{username}",
        is_staff=staff,
        is_superuser=superuser,
    )


def _session_of(user: Any) -> str:
    """The key of a new session of ``user``, saved as Django's login saves it."""
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = MODEL_BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    assert session.session_key is not None
    return session.session_key


def _world(actor: Actor) -> World:
    victim, bob = _user("alice"), _user("bob")
    token = get_random_string(32)  # a valid CSRF secret: cookie and token alike
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.CSRF_COOKIE_NAME] = token
    world = World(
        actor=actor,
        client=client,
        token=token,
        victim=victim,
        victim_keys=[_session_of(victim), _session_of(victim)],
        bob=bob,
        bob_key=_session_of(bob),
    )
    if actor is Actor.ANON:
        return world
    staff, superuser, codenames = PROFILES[actor]
    world.user = _user(f"actor-{actor.name.lower()}", staff, superuser)
    if codenames:
        world.user.user_permissions.add(
            *Permission.objects.filter(content_type__app_label=APP, codename__in=codenames)
        )
    world.current = _session_of(world.user)
    world.spares = [_session_of(world.user), _session_of(world.user)]
    client.cookies[settings.SESSION_COOKIE_NAME] = world.current
    return world


# -- sending the request -----------------------------------------------------------------


def fp(session_key: str) -> str:
    return keys.fingerprint(session_key)


def url_of(req: Req, world: World) -> str:
    endpoint, target = req.endpoint, req.target
    if endpoint is E.OVERVIEW:
        return ADMIN
    if endpoint in (E.USER, E.REVOKE_ALL):
        user_id = BAD_USER_ID if target is T.BAD_ID else str(world.victim.pk)
        suffix = "revoke-all/" if endpoint is E.REVOKE_ALL else ""
        return f"{ADMIN}user/{user_id}/{suffix}"
    if endpoint in (E.REVOKE, E.API_REVOKE):
        key = world.spares[0] if target is T.OWN else world.victim_keys[0]
        api = "api/" if endpoint is E.API_REVOKE else ""
        return f"{PAGE}{api}{fp(key)}/revoke/"
    return {
        E.LIST: PAGE,
        E.REVOKE_OTHERS: f"{PAGE}revoke-others/",
        E.API: f"{PAGE}api/",
        E.API_REVOKE_OTHERS: f"{PAGE}api/revoke-others/",
    }[endpoint]


def send(case: Case, world: World, url: str) -> Response:
    client = world.client
    if case.req.method == "GET":
        return client.get(url)
    data: dict[str, str] = {}
    if case.req.endpoint is E.USER:
        chosen = world.bob_key if case.req.target is T.FOREIGN else world.victim_keys[0]
        data["fingerprint"] = fp(chosen)
    headers: dict[str, str] = {}
    if case.csrf:
        if case.req.endpoint in JSON_ENDPOINTS:
            headers["X-CSRFToken"] = world.token
        else:
            data["csrfmiddlewaretoken"] = world.token
    return client.post(url, data, headers=headers)


def location_of(go: Go, url: str, world: World) -> str:
    return {
        Go.ADMIN_LOGIN: f"{ADMIN_LOGIN_URL}?next={url}",
        Go.LOGIN: f"{settings.LOGIN_URL}?next={url}",
        Go.ADMIN_USER: f"{ADMIN}user/{world.victim.pk}/",
        Go.PAGE: PAGE,
    }[go]


# -- what Redis holds --------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    #: Raw record of each watched session (``None``: gone).
    records: dict[str, bytes | None]
    #: Index members (digests) of alice, bob and the actor.
    indexes: dict[str, frozenset[str]]


def raw_record(r: redis.Redis, session_key: str) -> bytes | None:
    value = r.get(redis_key(session_key))
    assert value is None or isinstance(value, bytes)
    return value


def snapshot(r: redis.Redis, world: World) -> Snapshot:
    records = {key: raw_record(r, key) for key in world.watched()}
    indexes = {uid: frozenset(index_members(r, uid)) for uid in world.user_ids()}
    return Snapshot(records, indexes)


def ended_by(effect: Effect, world: World) -> list[str]:
    return {
        Effect.NONE: [],
        Effect.VICTIM_ONE: world.victim_keys[:1],
        Effect.VICTIM_ALL: world.victim_keys,
        Effect.OWN_ONE: world.spares[:1],
        Effect.OWN_OTHERS: world.spares,
    }[effect]


def expected_after(before: Snapshot, world: World, ended: list[str]) -> Snapshot:
    records = {key: (None if key in ended else raw) for key, raw in before.records.items()}
    gone = {keys.digest(key) for key in ended}
    indexes = {uid: members - gone for uid, members in before.indexes.items()}
    return Snapshot(records, indexes)


def loads_as(session_key: str) -> str | None:
    """The user id a session of this key loads with (``None``: it does not load)."""
    store = SessionStore(session_key)
    value = store.load().get(SESSION_KEY)
    return None if value is None else str(value)


# -- the matrix ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_access(case: Case, r: redis.Redis) -> None:
    world = _world(case.actor)
    before = snapshot(r, world)
    assert all(raw is not None for raw in before.records.values())
    url = url_of(case.req, world)
    expect = case.expect

    response = send(case, world, url)

    assert response.status_code == expect.status, response.content[:300]
    if expect.go is not None:
        assert response["Location"] == location_of(expect.go, url, world)
    if expect.allow is not None:
        assert response["Allow"] == expect.allow
    if expect.json is not None:
        assert response["Content-Type"] == "application/json"
        assert response.json() == expect.json
    body = response.content.decode(errors="replace")
    assert all(key not in body for key in world.watched()), "a session key in the body"
    for key in world.victim_keys:
        assert (fp(key) in body) is expect.reveals, "alice's sessions shown (or hidden)"
    if expect.status == 200 and case.req.endpoint in (E.LIST, E.API):
        # A user's own list: their own sessions, never anybody else's.
        assert all(fp(key) in body for key in world.spares)
        assert fp(world.bob_key) not in body

    # Exactly the sessions that had to end are gone; the rest are byte-for-byte intact.
    ended = ended_by(expect.effect, world)
    assert snapshot(r, world) == expected_after(before, world, ended)
    for key in ended:
        assert loads_as(key) is None
    owners = dict.fromkeys(world.victim_keys, world.victim) | {world.bob_key: world.bob}
    owners |= dict.fromkeys(world.spares, world.user)
    if world.current is not None:
        owners[world.current] = world.user
    for key, owner in owners.items():
        if key not in ended:
            assert loads_as(key) == str(owner.pk), "a session that had to stay has ended"


def test_the_matrix_covers_every_url_actor_and_method() -> None:
    seen = {(case.req.endpoint, case.req.method, case.actor) for case in CASES}
    for endpoint in Endpoint:
        for method in ("GET", "POST"):
            for actor in Actor:
                assert (endpoint, method, actor) in seen, (endpoint, method, actor)


# -- without Django's CSRF middleware ------------------------------------------------------

#: Every request that ends sessions, with the actor allowed to make it.
CHANGES: Final = [
    (Req(E.USER, "POST", T.VICTIM), Actor.BOTH),
    (Req(E.REVOKE_ALL, "POST", T.VICTIM), Actor.BOTH),
    (Req(E.REVOKE, "POST", T.OWN), Actor.USER),
    (Req(E.REVOKE_OTHERS, "POST"), Actor.USER),
    (Req(E.API_REVOKE, "POST", T.OWN), Actor.USER),
    (Req(E.API_REVOKE_OTHERS, "POST"), Actor.USER),
]


@pytest.mark.parametrize(
    ("req", "actor"), CHANGES, ids=[f"{req.label} {actor.value}" for req, actor in CHANGES]
)
def test_changes_need_a_csrf_token_even_without_the_csrf_middleware(
    req: Req, actor: Actor, r: redis.Redis
) -> None:
    """Like Django's admin and auth views, the app's views protect themselves.

    A project that leaves ``CsrfViewMiddleware`` out (or replaces it) must not get
    session-ending views that accept a forged cross-site POST.
    """
    middleware = [m for m in settings.MIDDLEWARE if "CsrfViewMiddleware" not in m]
    world = _world(actor)
    before = snapshot(r, world)
    url = url_of(req, world)

    with override_settings(MIDDLEWARE=middleware):
        response = send(Case(req, actor, csrf=False, expect=CSRF_REFUSED), world, url)
        assert response.status_code == 403
        assert snapshot(r, world) == before

        # With the token the same request goes through: the guard is no wall.
        response = send(Case(req, actor, csrf=True, expect=CSRF_REFUSED), world, url)
    assert response.status_code in (200, 302)
    assert snapshot(r, world) != before


def test_the_page_sets_the_cookie_its_forms_need_without_the_csrf_middleware(
    r: redis.Redis,
) -> None:
    middleware = [m for m in settings.MIDDLEWARE if "CsrfViewMiddleware" not in m]
    world = _world(Actor.USER)
    assert world.current is not None
    client = Client(enforce_csrf_checks=True)
    client.cookies[settings.SESSION_COOKIE_NAME] = world.current
    with override_settings(MIDDLEWARE=middleware):
        page = client.get(PAGE)
        assert page.status_code == 200
        assert settings.CSRF_COOKIE_NAME in page.cookies
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
        assert found is not None
        response = client.post(f"{PAGE}revoke-others/", {"csrfmiddlewaretoken": found[1]})
    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert all(loads_as(key) is None for key in world.spares)
    assert loads_as(world.current) == str(world.user.pk)

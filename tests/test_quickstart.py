"""README.md's Quick start, as a newcomer follows it, on a fresh ``startproject``.

The snippets come from README.md itself, so they cannot drift: each fenced block
after a ``<!-- snippet: NAME -->`` marker. They are applied as README says to read
them:

* In a list assignment (``INSTALLED_APPS = [...]``, ``MIDDLEWARE = [...]``), ``...``
  stands for the entries the generated settings already have. Entries already there
  are anchors; each new one goes right after the entry the snippet shows above it,
  or, when that is ``...``, right before the entry it shows below it.
* Every other statement of a settings snippet is appended to ``settings.py`` as
  written; a ``urls.py`` snippet is appended to ``urls.py`` as written.
* A template snippet starts with ``{# PATH #}``, the file it goes in.

The test then points ``SESSION_REDIS_URL`` at the test Redis (a prefix of its own),
and with that project, in subprocesses: ``manage.py check`` (no issues), ``migrate``,
a user and a superuser, and ``runserver`` on a free loopback port, through which it
signs in, opens "your sessions" and the admin's Sessions page; then the commands
``list_sessions``, ``revoke_sessions`` (after which the user is signed out) and
``clearsessions``. A second test moves the app below ``django.contrib.sessions``
(and to the top): ``check`` then says what to move (``W012``), or nothing.
"""

from __future__ import annotations

import ast
import http.cookiejar
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

import django_redis_sessions

from .servers import free_port, stop_process

README = Path(__file__).resolve().parent.parent / "README.md"
SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```([\w+-]+)\n(.*?)\n```", re.DOTALL)
APP = "django_redis_sessions"
PASSWORD = "quick-start-pw-1"  # a throwaway user of a throwaway project


def readme_snippets() -> dict[str, str]:
    """Every README snippet by name: the code of the fenced block after its marker."""
    found = SNIPPET.findall(README.read_text())
    snippets = {name: code for name, _lang, code in found}
    assert len(snippets) == len(found), "two README snippets share a name"
    return snippets


# -- applying a snippet ------------------------------------------------------------------


def merge_list(existing: list[str], snippet: list[object]) -> list[str]:
    """The generated list with the snippet's new entries, placed as README says."""
    merged = list(existing)
    for index, entry in enumerate(snippet):
        if entry is Ellipsis or entry in existing:
            continue
        assert isinstance(entry, str), entry
        above = snippet[index - 1] if index else Ellipsis
        below = snippet[index + 1] if index + 1 < len(snippet) else Ellipsis
        if above is not Ellipsis:
            merged.insert(merged.index(str(above)) + 1, entry)
        elif below is not Ellipsis and below in merged:
            merged.insert(merged.index(str(below)), entry)
        else:
            raise AssertionError(f"README's snippet does not say where {entry!r} goes")
    return merged


def _is_list_with_ellipsis(node: ast.stmt) -> bool:
    """``NAME = [..., "entry", ...]``: a list README merges into the generated one."""
    return (
        isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.List)
        and any(isinstance(e, ast.Constant) and e.value is Ellipsis for e in node.value.elts)
    )


def apply_settings_snippet(source: str, snippet: str) -> str:
    """``settings.py``'s text with a README settings snippet applied."""
    generated = {
        node.targets[0].id: node
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    appended = []
    for node in ast.parse(snippet).body:
        if _is_list_with_ellipsis(node):
            assert isinstance(node, ast.Assign)
            assert isinstance(node.targets[0], ast.Name)
            name = node.targets[0].id
            old = generated[name]
            merged = merge_list(ast.literal_eval(old.value), ast.literal_eval(node.value))
            old_text = ast.get_source_segment(source, old)
            assert old_text is not None
            entries = "".join(f"    {entry!r},\n" for entry in merged)
            source = source.replace(old_text, f"{name} = [\n{entries}]")
        else:
            # The statement as README writes it, comments on its lines included.
            lines = snippet.splitlines()[node.lineno - 1 : node.end_lineno]
            appended.append("\n".join(lines))
    return source.rstrip("\n") + "\n\n# README.md, Quick start:\n" + "\n".join(appended) + "\n"


def apply_template_snippet(base_dir: Path, snippet: str) -> Path:
    """Write a README template snippet to the file its first line names."""
    first = snippet.splitlines()[0]
    match = re.fullmatch(r"\{# (\S+) #\}", first.strip())
    assert match, f"a template snippet starts with {{# PATH #}}, not {first!r}"
    path = base_dir / match.group(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snippet + "\n")
    return path


def test_merge_list_places_entries_as_readme_says() -> None:
    generated = ["admin", "auth", "sessions", "messages"]
    assert merge_list(generated, [..., "ours", "sessions", ...]) == [
        "admin", "auth", "ours", "sessions", "messages",
    ]  # fmt: skip
    assert merge_list(generated, [..., "sessions", "ours", ...]) == [
        "admin", "auth", "sessions", "ours", "messages",
    ]  # fmt: skip
    with pytest.raises(AssertionError, match="where 'ours' goes"):
        merge_list(generated, [..., "ours", ...])


# -- the project --------------------------------------------------------------------------


def run(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` in ``project``, importing this run's package."""
    env = {
        **os.environ,
        # The django_redis_sessions this test imports (the wheel under tox), first.
        "PYTHONPATH": str(Path(django_redis_sessions.__file__).resolve().parent.parent),
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh ``startproject`` with README's snippets applied, migrated, with users."""
    base = tmp_path_factory.mktemp("quickstart")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(base)],
        check=True,
        capture_output=True,
    )
    snippets = readme_snippets()
    settings_py = base / "mysite" / "settings.py"
    source = settings_py.read_text()
    for name in ("settings", "middleware", "login-settings"):
        source = apply_settings_snippet(source, snippets[name])
    prefix = f"drs-quickstart-{secrets.token_hex(4)}"
    source += (
        "\n# The test's own: the test Redis, under a prefix of its own.\n"
        f"SESSION_REDIS_URL = {settings.SESSION_REDIS_URL!r}\n"
        f"SESSION_REDIS_PREFIX = {prefix!r}\n"
    )
    settings_py.write_text(source)
    urls_py = base / "mysite" / "urls.py"
    urls_py.write_text(
        urls_py.read_text() + "\n" + snippets["urls"] + "\n" + snippets["login-urls"] + "\n"
    )
    apply_template_snippet(base, snippets["login-template"])

    run(base, "migrate", "--verbosity", "0")
    run(base, "createsuperuser", "--noinput", "--username", "root", "--email", "root@x.test")
    run(
        base,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; "
        f"User.objects.create_user('alice', 'alice@x.test', {PASSWORD!r})",
    )
    yield base
    client = redis.Redis.from_url(settings.SESSION_REDIS_URL)
    doomed = list(client.scan_iter(match=prefix + "*", count=1000))
    if doomed:
        client.delete(*doomed)
    client.close()


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    """``manage.py runserver`` of the project on a free loopback port: its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(django_redis_sessions.__file__).resolve().parent.parent),
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
    }
    env.pop("PYTHONDEVMODE", None)  # development mode slows every request
    log = project / "runserver.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/accounts/login/", timeout=2).close()  # noqa: S310
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"runserver did not answer:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield base
    finally:
        stop_process(process)


class Browser:
    """A visitor with a cookie jar, over real HTTP."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[str, str]:
        """The page at ``path`` (redirects followed): its final path and its HTML."""
        with self.opener.open(self.base + path, timeout=10) as response:
            assert response.status == 200
            return urllib.parse.urlsplit(response.url).path, response.read().decode()

    def sign_in(self, login_path: str, username: str, next_path: str) -> tuple[str, str]:
        """Fill in the login form at ``login_path`` and post it."""
        _, page = self.get(login_path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no CSRF token on {login_path}"
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": token.group(1),
                "username": username,
                "password": PASSWORD,
                "next": next_path,
            }
        ).encode()
        with self.opener.open(self.base + login_path, data=form, timeout=10) as response:
            return urllib.parse.urlsplit(response.url).path, response.read().decode()


@pytest.mark.real_redis
def test_the_quick_start_as_written(r: redis.Redis, project: Path, server: str) -> None:
    check = run(project, "check")
    assert check.stdout.strip() == "System check identified no issues (0 silenced)."
    assert APP not in check.stderr

    alice = Browser(server)
    # Not signed in: "your sessions" sends her to the login view README adds.
    where, page = alice.get("/account/sessions/")
    assert where == "/accounts/login/"
    assert 'name="password"' in page
    where, page = alice.sign_in("/accounts/login/", "alice", "/account/sessions/")
    assert where == "/account/sessions/"
    assert "1 signed-in session." in page
    assert "(this device)" in page

    root = Browser(server)
    where, _ = root.sign_in("/admin/login/", "root", "/admin/")
    assert where == "/admin/"
    _, index = root.get("/admin/")
    assert f"/admin/{APP}/redissession/" in index
    _, overview = root.get(f"/admin/{APP}/redissession/")
    assert "alice" in overview

    listed = run(project, "list_sessions", "alice").stdout
    assert re.match(r"alice \(id \d+\): 1 session \(times in UTC\)\n", listed), listed
    revoked = run(project, "revoke_sessions", "alice").stdout
    assert re.fullmatch(r"alice \(id \d+\): 1 session ended\n", revoked), revoked
    # Signed out: the page sends her to the login view again.
    where, _ = alice.get("/account/sessions/")
    assert where == "/accounts/login/"
    assert re.fullmatch(
        r"alice \(id \d+\): no sessions\n", run(project, "list_sessions", "alice").stdout
    )

    # The app's clearsessions (Django's prints nothing).
    cleared = run(project, "clearsessions").stdout
    assert cleared.startswith("Checked "), cleared


ORDER_MODULE = """\
from .settings import *  # noqa

INSTALLED_APPS = [a for a in INSTALLED_APPS if a != "django_redis_sessions"]
{placement}
"""


#: Prints whether the admin registered for the user model has the sessions link.
LINKED = (
    "from django.contrib import admin; from django.contrib.auth import get_user_model; "
    "from django_redis_sessions.admin import UserSessionsAdminMixin; "
    "found = admin.site.get_model_admin(get_user_model()); "
    "print('linked' if isinstance(found, UserSessionsAdminMixin) else 'not linked', "
    "type(found).__name__)"
)


@pytest.mark.real_redis
@pytest.mark.parametrize(
    ("placement", "warned"),
    [
        # Below django.contrib.sessions: Django's clearsessions would run, silently.
        ('INSTALLED_APPS.append("django_redis_sessions")', True),
        # Above everything, even django.contrib.admin and auth: all works (the app
        # runs the admin's autodiscover itself before linking the user admin).
        ('INSTALLED_APPS.insert(0, "django_redis_sessions")', False),
    ],
    ids=["last", "first"],
)
def test_the_app_elsewhere_in_installed_apps(
    r: redis.Redis, project: Path, placement: str, warned: bool
) -> None:
    module = f"order_{secrets.token_hex(3)}"
    (project / "mysite" / f"{module}.py").write_text(ORDER_MODULE.format(placement=placement))
    check = run(project, "check", "--settings", f"mysite.{module}")
    # Wherever the app sits, the user admin gets its "Sessions (n)" link.
    linked = run(project, "shell", "--settings", f"mysite.{module}", "-c", LINKED).stdout
    assert linked.strip().splitlines()[-1] == "linked UserAdmin"
    if warned:
        assert f"?: ({APP}.W012)" in check.stderr
        assert f'HINT: Move "{APP}" above "django.contrib.sessions".' in check.stderr
        assert "System check identified 1 issue (0 silenced)." in check.stderr
        # Django's own command ran: it prints nothing.
        assert run(project, "clearsessions", "--settings", f"mysite.{module}").stdout == ""
    else:
        assert check.stdout.strip() == "System check identified no issues (0 silenced)."
        assert check.stderr == ""
        cleared = run(project, "clearsessions", "--settings", f"mysite.{module}").stdout
        assert cleared.startswith("Checked ")
        listed = run(project, "list_sessions", "alice", "--settings", f"mysite.{module}").stdout
        assert listed.startswith("alice (id ")

"""Run the example project (``manage.py``, ``example_project/``) in subprocesses.

:func:`example_env` builds the environment of a run: the embedded mode (no
``REDIS_URL``: an in-process fakeredis) or the test Redis under the run's key
prefix, and always a SQLite file of the test's own. :func:`example_server` starts
the project as a real server on a free loopback port, waits until it answers,
and stops it however the block ends. :class:`Visitor` is a cookie-keeping HTTP
client that does not follow redirects.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from .servers import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent

#: What the project prints once per process when it runs on its in-process store.
NOTICE = "No REDIS_URL: sessions live in an in-process fakeredis"

#: How long a server may take to start (checks, seeding the demo data).
START_TIMEOUT = 60.0


def example_env(tmp_path: Path, *, embedded: bool) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DJANGO_DB": str(tmp_path / "example.sqlite3"),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    # The browser tests set it for themselves; the example must work without it.
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    if embedded:
        env.pop("REDIS_URL", None)
        env.pop("SESSION_REDIS_PREFIX", None)
    else:
        env["REDIS_URL"] = settings.SESSION_REDIS_URL
        # Under the run's prefix, so the run's cleanup removes these keys too.
        env["SESSION_REDIS_PREFIX"] = settings.SESSION_REDIS_PREFIX + "-example"
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python <args>`` from the repository root."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def migrate(env: dict[str, str], template: Path | None = None) -> None:
    """Give the run's SQLite file (``DJANGO_DB``) its tables.

    With ``template`` (a database migrated earlier), copy it: quicker than migrating.
    """
    if template is not None:
        shutil.copyfile(template, env["DJANGO_DB"])
        return
    result = run(["manage.py", "migrate", "--verbosity", "0"], env)
    assert result.returncode == 0, result.stderr


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")


class Visitor:
    """One browser's worth of cookies against a server; redirects are not followed."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Response:
        headers = {"User-Agent": "example-tests/1.0"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=15)
        try:
            connection.request(method, path, body, headers)
            raw = connection.getresponse()
            response = Response(raw.status, raw.headers, raw.read().decode())
        finally:
            connection.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict[str, str]) -> Response:
        return self.request(
            "POST", path, {"csrfmiddlewaretoken": self.cookies["csrftoken"], **form}
        )

    def sign_in(self, username: str, password: str) -> Response:
        page = self.get("/accounts/login/")
        assert page.status == 200, page.status
        return self.post("/accounts/login/", {"username": username, "password": password})


@dataclass
class ExampleServer:
    url: str
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_until_serving(process: subprocess.Popen[bytes], server: ExampleServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    visitor = Visitor(server.url)
    while True:
        if process.poll() is not None:
            raise AssertionError(
                f"the example server exited with {process.returncode}:\n{server.output()}"
            )
        try:
            if visitor.get("/").status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the example server did not answer in {START_TIMEOUT:.0f} s:\n{server.output()}"
            )
        time.sleep(0.1)


@contextmanager
def example_server(kind: str, env: dict[str, str], tmp_path: Path) -> Iterator[ExampleServer]:
    """Serve the example with ``runserver`` (WSGI) or ``uvicorn`` (ASGI) on loopback."""
    port = free_port()
    if kind == "runserver":
        args = ["manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    elif kind == "uvicorn":
        args = ["-m", "uvicorn", "example_project.asgi:application", "--host", "127.0.0.1"]
        args += ["--port", str(port), "--workers", "1"]
    else:
        raise ValueError(kind)
    server = ExampleServer(f"http://127.0.0.1:{port}", tmp_path / f"{kind}.log")
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_until_serving(process, server)
        yield server
    finally:
        stop_process(process)

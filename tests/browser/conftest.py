"""Fixtures for the real-browser tests: Debian's chromium driven by Playwright.

The browser is always ``/usr/bin/chromium`` (no browser is ever downloaded); a
missing binary fails the run instead of skipping it. The Django site runs under
pytest-django's ``live_server`` against the real Redis; each test starts and ends
with none of the run's session keys in Redis. (``test_demo.py`` runs the example
project as a server of its own instead, with ``browser_contexts``.) Screenshots of
the key steps (and of every open page when a test fails) go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api")

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses
# to run where an event loop is, unless told that the (synchronous) calls are safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

import redis
from django.conf import settings
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture(autouse=True)
def _close_async_clients(_fresh_clients: None) -> None:
    """Overrides ``tests/conftest.py``'s async fixture of the same name.

    Once Playwright's sync API has started, its event loop counts as running in
    this thread, so pytest-asyncio could not run an async fixture around these
    tests. They need none: the live server answers synchronously, in its own thread.
    """


# Package scope, not session: while Playwright's sync API is started, its event loop
# counts as running in this thread, and every async test run after the browser tests
# in the same pytest session (``pytest`` from the repo root collects tests/browser
# first) would fail with "Runner.run() cannot be called from a running event loop".
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package "
            "(the browser tests never download a browser).",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _delete_run_keys() -> None:
    client = redis.Redis.from_url(settings.SESSION_REDIS_URL, socket_timeout=5)
    try:
        pattern = settings.SESSION_REDIS_PREFIX.replace("*", "\\*") + "*"
        batch = list(client.scan_iter(match=pattern, count=1000))
        if batch:
            client.delete(*batch)
    except redis.ConnectionError as exc:
        pytest.fail(
            f"the browser tests need Redis at {settings.SESSION_REDIS_URL}: {exc}", pytrace=False
        )
    finally:
        client.close()


@pytest.fixture
def site(live_server: Any, transactional_db: None) -> Iterator[str]:
    """The live server's base URL, with no session of this run left in Redis.

    User ids can be reused from one test to the next (the database is flushed), so
    sessions of an earlier test must not linger in a reused id's index.
    """
    _delete_run_keys()
    yield live_server.url
    _delete_run_keys()


class Screenshots:
    """Numbered screenshots for one test: ``<test>-01-<step>.png``."""

    def __init__(self, directory: Path, test_name: str) -> None:
        self.directory = directory
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        self.count = 0

    def __call__(self, page: Page, step: str) -> Path:
        self.count += 1
        path = self.directory / f"{self.prefix}-{self.count:02d}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path


@pytest.fixture
def shot(artifacts_dir: Path, request: pytest.FixtureRequest) -> Screenshots:
    screenshots = Screenshots(artifacts_dir, request.node.name)
    for old in artifacts_dir.glob(f"{screenshots.prefix}-*.png"):
        old.unlink()  # from an earlier run
    return screenshots


@pytest.fixture
def browser_contexts(
    browser: Browser, shot: Screenshots, request: pytest.FixtureRequest
) -> Iterator[Callable[..., BrowserContext]]:
    """Open isolated browser contexts (separate cookie jars): ``make(base_url=...)``.

    All are closed at the end; when the test failed, every open page is saved first.
    """
    contexts: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        context = browser.new_context(**kwargs)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    failed = request.node.stash.get(_CALL_FAILED, False)
    for number, context in enumerate(contexts):
        if failed:
            for page in context.pages:
                try:
                    shot(page, f"FAILED-context{number}")
                except Exception as exc:  # a crashed page must not hide the failure
                    warnings.warn(f"no failure screenshot of {page.url}: {exc}", stacklevel=1)
        context.close()


@pytest.fixture
def new_context(
    browser_contexts: Callable[..., BrowserContext], site: str
) -> Callable[..., BrowserContext]:
    """Browser contexts on the live server (see ``browser_contexts``)."""

    def make(**kwargs: Any) -> BrowserContext:
        return browser_contexts(base_url=site, **kwargs)

    return make

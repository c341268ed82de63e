"""The example project starts and serves pages with sessions in the real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.real_redis

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import django, re
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
c = Client()
first = c.get("/").content.decode()
second = c.get("/").content.decode()
assert "Visit number 1" in first, first
assert "Visit number 2" in second, second
assert re.search(r"Session fingerprint: [0-9a-f]{12}<", second), second
from django.contrib.auth.models import User
User.objects.create_user("demo", password="demo-pw")
assert c.get("/account/sessions/").status_code == 302
signed_in = c.post("/accounts/login/", {"username": "demo", "password": "demo-pw"}, follow=True)
page = signed_in.content.decode()
assert "Your sessions" in page and "(this device)" in page, page
print("example ok")
"""


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "REDIS_URL": settings.SESSION_REDIS_URL,
        # Under the run's prefix, so the run's cleanup removes these keys too.
        "SESSION_REDIS_PREFIX": settings.SESSION_REDIS_PREFIX + "-example",
        "DJANGO_DB": str(tmp_path / "example.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_manage_py_check_passes(r, tmp_path):
    result = run(["manage.py", "check"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_example_home_page_counts_visits_in_the_session(r, tmp_path):
    result = run(["-c", SCRIPT], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "example ok" in result.stdout

"""Smoke test of benchmarks/bench_scale.py: a tiny run on its own redis-server.

The benchmark configures Django itself, so it runs in a subprocess. Its goals
(the heavy user's page under 100 KB...) may fail at any size; the test checks
that it runs, stops its server and writes a complete JSON result.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "bench_scale.py"

pytestmark = [
    pytest.mark.single_server,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not on PATH"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_bench_scale_tiny_run(tmp_path: Path) -> None:
    port = _free_port()
    out = tmp_path / "scale.json"
    args = [sys.executable, str(SCRIPT), "--sizes", "300,1000", "--port", str(port)]
    args += ["--reps", "2", "--heavy-reps", "2", "--heavy-sessions", "30", "--json", str(out)]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plotted = False
    else:
        args += ["--plot", str(tmp_path)]
        plotted = True
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr  # 1: a goal failed
    assert f"redis-server on port {port} shut down" in done.stderr
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the benchmark left its server running"
    results = json.loads(out.read_text())
    assert [step["size"] for step in results["build"]] == [300, 1000]
    assert results["config"]["engine"] == str(REPO / "django_redis_sessions" / "__init__.py")
    for step in results["build"]:
        assert step["filler_sessions"] == step["size"]
        assert step["signed_in"] + step["anonymous"] == step["size"]
        assert step["used_memory"] > 0
    pages = results["pages"]
    assert set(pages) == {
        "overview_p1",
        "overview_p5",
        "overview_last",
        "heavy_own_page",
        "heavy_own_api",
        "heavy_admin_page",
    }
    for page in pages.values():
        assert [row["size"] for row in page["by_size"]] == [300, 1000]
        for row in page["by_size"]:
            assert row["bytes"] > 0
            assert row["round_trips"] >= 1
    # The heavy user's own listing holds its sessions plus the one the run signed in.
    assert pages["heavy_own_api"]["by_size"][-1]["sessions_listed"] == 31
    assert {goal["primary"] for goal in results["goals"]} == {True, False}
    if plotted:
        assert (tmp_path / "scale_pages_vs_store_size.png").stat().st_size > 0

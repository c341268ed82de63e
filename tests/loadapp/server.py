"""Run the load app under gunicorn on a free loopback port, always stopped.

:func:`prepare_database` makes the SQLite file with the users;
:func:`load_server` starts ``python -m gunicorn`` (gthread workers, keep-alive)
with the app's environment, waits until it answers and stops it (SIGTERM, then
SIGKILL) however the block ends.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..servers import free_port, stop_process
from .client import Client

ROOT = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT = 30.0
#: Two workers (one per core of a small machine), four threads each; keep-alive
#: long enough that the clients' connections are never dropped mid-run.
DEFAULT_GUNICORN_ARGS = ("--worker-class", "gthread", "--workers", "2", "--threads", "4")
KEEP_ALIVE_SECONDS = 60


def app_env(*, engine: str, redis_url: str, prefix: str, db_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.loadapp.settings",
        "LOADAPP_ENGINE": engine,
        "LOADAPP_REDIS_URL": redis_url,
        "LOADAPP_PREFIX": prefix,
        "LOADAPP_DB": str(db_path),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    # Development mode (tox sets it) slows every request; a server runs without it.
    env.pop("PYTHONDEVMODE", None)
    return env


def prepare_database(db_path: Path, users: int) -> None:
    """Migrate ``db_path`` and create ``users`` users (``prepare.py``)."""
    env = app_env(engine="ours", redis_url="redis://127.0.0.1:6379/15", prefix="x", db_path=db_path)
    result = subprocess.run(
        [sys.executable, "-m", "tests.loadapp.prepare", str(users)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"preparing the load app's database failed:\n{result.stderr}")


@dataclass
class LoadServer:
    host: str
    port: int
    pid: int
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children of the master), from /proc (Linux)."""
        pids: list[int] = []
        task_dir = Path(f"/proc/{self.pid}/task")
        for task in task_dir.iterdir() if task_dir.is_dir() else ():
            children = task / "children"
            if children.exists():
                pids += [int(pid) for pid in children.read_text().split()]
        return pids


def _no_control_socket() -> list[str]:
    """Recent gunicorn opens a control socket at a fixed path in the home directory:
    turned off where the option exists, so two servers (the benchmark runs two at
    once) never share it."""
    config = importlib.import_module("gunicorn.config")  # untyped: no stubs
    known = {cli for setting in config.KNOWN_SETTINGS for cli in setting.cli or ()}
    return ["--no-control-socket"] if "--no-control-socket" in known else []


def _wait_until_serving(process: subprocess.Popen[bytes], server: LoadServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    client = Client(server.host, server.port, timeout=2)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{server.output()}")
            try:
                # Anonymous: 401 means Django answered.
                if client.get("/read/")[0] == 401:
                    return
            except OSError:
                client.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer in {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
    finally:
        client.close()


@contextmanager
def load_server(
    env: dict[str, str],
    log_path: Path,
    gunicorn_args: Sequence[str] = DEFAULT_GUNICORN_ARGS,
) -> Iterator[LoadServer]:
    port = free_port()
    args = [sys.executable, "-m", "gunicorn", "tests.loadapp.wsgi:application"]
    args += ["--bind", f"127.0.0.1:{port}", "--keep-alive", str(KEEP_ALIVE_SECONDS)]
    args += ["--graceful-timeout", "5", *_no_control_socket()]
    args += list(gunicorn_args)
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LoadServer("127.0.0.1", port, process.pid, log_path)
    try:
        _wait_until_serving(process, server)
        yield server
    finally:
        stop_process(process, timeout=15)

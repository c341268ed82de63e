"""Copy the test tree, without the package, to the directory tox runs pytest in.

tox installs the wheel it built, but pytest run from the checkout imports the
checkout's ``django_redis_sessions/`` instead: ``python -m pytest`` puts the current
directory first on ``sys.path``, pytest-django adds the directory of ``manage.py``,
and the tests' subprocesses (the example project, the load app) run from the tree's
root with ``PYTHONPATH`` set to it. In a copy of ``tests/``, ``example_project/``,
``manage.py`` and ``pyproject.toml`` (pytest's settings), with no
``django_redis_sessions/``, the installed wheel is the only one there is to import.

``test-artifacts/`` (the browser screenshots) and ``.hypothesis/`` (Hypothesis's
example database) are links to the checkout's, so they land where they always did.

Usage: ``python .ci/stage_test_tree.py DEST`` (tox: ``{env_tmp_dir}/tree``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("tests", "example_project", "manage.py", "pyproject.toml", "README.md", "docs")
LINKED = ("test-artifacts", ".hypothesis")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3", ".pytest_cache")


def stage(dest: Path) -> None:
    dest = dest.resolve()
    # Emptying the checkout (or a folder holding it), or copying a folder into itself:
    if dest == ROOT or dest in ROOT.parents or any(ROOT / n in dest.parents for n in COPIED):
        raise SystemExit(f"stage_test_tree: refusing to stage into {dest}")
    dest.mkdir(parents=True, exist_ok=True)
    # Emptied, not removed: tox may already run in it (change_dir).
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=IGNORED)
        else:
            shutil.copy2(source, dest / name)
    for name in LINKED:
        target = ROOT / name
        target.mkdir(exist_ok=True)
        (dest / name).symlink_to(target, target_is_directory=True)
    if (dest / "django_redis_sessions").exists():
        raise SystemExit("stage_test_tree: the staged tree holds django_redis_sessions/")
    print(f"stage_test_tree: {', '.join(COPIED)} from {ROOT} staged in {dest}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    stage(Path(sys.argv[1]))

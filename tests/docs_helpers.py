"""The documentation as the tests read it: docs/ and README.md beside tests/.

tox stages docs/ and README.md with tests/ (``.ci/stage_test_tree.py``), so these
paths hold in the staged tree as in a checkout.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def load_docs_tables() -> ModuleType:
    """``docs/_ext/drs_tables.py``: the rows the generated references render."""
    if "drs_tables" in sys.modules:
        return sys.modules["drs_tables"]
    path = DOCS / "_ext" / "drs_tables.py"
    spec = importlib.util.spec_from_file_location("drs_tables", path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: its dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module

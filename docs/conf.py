"""Sphinx configuration: the manual in docs/*.md (MyST Markdown), furo theme.

Build it as CI does (warnings are errors, no network):
``tox -e docs``, or ``sphinx-build -W --keep-going -n -b html docs /tmp/html``.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The checkout's package first (the generated references describe this tree),
# then the local extensions.
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

project = "django_redis_sessions"
author = "django_redis_sessions maintainers"
copyright = "django_redis_sessions maintainers"

extensions = ["myst_parser", "drs_reference"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "images/*.json"]

# Links like [Cluster](operations.md#cluster) resolve to the heading's anchor, the
# same one GitHub renders, so the pages read the same in both places.
myst_heading_anchors = 4
nitpicky = True

# Files outside docs/ that a page includes, by their path from docs/ without ".md":
# the pages link to the files themselves (right on GitHub), the site to these pages.
drs_outside_docs = {
    "../README": "index",
    "../CHANGELOG": "changelog",
    "../SECURITY": "security-policy",
    "../benchmarks/README": "benchmark-details",
}

html_theme = "furo"
html_title = "django_redis_sessions"

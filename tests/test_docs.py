"""The documentation: its snippets compile, its references cover the code.

README.md and docs/*.md are staged beside tests/ by tox, so these run against the
files CI builds the documentation from (``tox -e docs`` builds the site itself).
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
from pathlib import Path

import pytest

from django_redis_sessions import conf as conf_module

from .docs_helpers import DOCS, ROOT, load_docs_tables

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """Each fenced ```python block of a Markdown file: (first line number, source)."""
    blocks: list[tuple[int, str]] = []
    lines = path.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        language = opening["info"].strip().split(" ")[0] if opening["info"].strip() else ""
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = FENCE.match(lines[index])
            if closing and closing["fence"].startswith(fence) and not closing["info"].strip():
                break
            body.append(lines[index].removeprefix(indent))
            index += 1
        if language in ("python", "py", "python3"):
            blocks.append((index - len(body) + 1, "\n".join(body) + "\n"))
        index += 1
    return blocks


MARKDOWN = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
BLOCKS = [
    pytest.param(path, line, source, id=f"{path.name}:{line}")
    for path in MARKDOWN
    for line, source in python_blocks(path)
]


def test_the_snippets_are_found():
    # README's Quick start and the settings page alone hold more than a dozen.
    assert len(BLOCKS) > 30
    assert {param.values[0].name for param in BLOCKS} >= {"README.md", "settings.md", "api.md"}


@pytest.mark.parametrize(("path", "line", "source"), BLOCKS)
def test_every_python_snippet_compiles(path, line, source):
    # ``...`` (as in ``INSTALLED_APPS = [..., "django_redis_sessions"]``) is Python's
    # Ellipsis, so the placeholder idiom compiles as it is. The async examples
    # ``await`` at the top level, as they would in the body of an async view.
    compile(source, f"{path.name}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def test_a_syntax_error_in_a_snippet_is_caught(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Text.\n\n```python\nSETTING = [1, 2\n```\n\n  ```python\n  x = 1\n  ```\n")
    (first_line, broken), (_, indented) = python_blocks(page)
    assert first_line == 4
    with pytest.raises(SyntaxError):
        compile(broken, "page.md", "exec")
    compile(indented, "page.md", "exec")


def test_the_settings_reference_lists_exactly_the_settings():
    rows = load_docs_tables().settings_rows()
    assert [row.name for row in rows] == list(conf_module.SETTINGS)
    by_name = {row.name: row for row in rows}
    assert by_name["SESSION_REDIS_URL"].default == '"redis://localhost:6379/0"'
    assert by_name["SESSIONS_ABSOLUTE_AGE"].type == "int | None"
    assert by_name["SESSION_COOKIE_AGE"].default == "1209600 (14 days) (Django's)"
    assert all(row.description == conf_module.SETTINGS[row.name].doc for row in rows)
    settings_md = (DOCS / "settings.md").read_text()
    assert "```{drs-settings}\n```" in settings_md
    # No hand-kept copy of the table beside the generated one.
    assert not re.search(r"^\| \[?`SESSION_REDIS_URL`", settings_md, re.MULTILINE)


def test_the_renamed_settings_table_follows_conf(monkeypatch):
    tables = load_docs_tables()
    monkeypatch.delattr(conf_module, "RENAMED", raising=False)
    assert tables.renamed_rows() == []
    monkeypatch.setattr(
        conf_module,
        "RENAMED",
        {"SESSION_REDIS_OLD": ("SESSION_REDIS_NEW", "same meaning")},
        raising=False,
    )
    (row,) = tables.renamed_rows()
    assert (row.old, row.new, row.note) == (
        "SESSION_REDIS_OLD",
        "SESSION_REDIS_NEW",
        "same meaning",
    )
    assert "```{drs-renamed-settings}\n```" in (DOCS / "settings.md").read_text()


def test_the_installed_distribution_carries_the_license():
    # Under tox this is the wheel CI built and installed (package = wheel).
    dist = importlib.metadata.distribution("django-redis-sessionstore")
    assert dist.metadata.get_all("License-File") == ["LICENSE"]
    assert dist.metadata["License-Expression"] == "BSD-3-Clause"
    text = dist.read_text("licenses/LICENSE")
    assert text is not None
    assert text.startswith("BSD 3-Clause License")
    assert "Redistribution and use in source and binary forms" in text


# -- settings snippets: applied, then checked -------------------------------------------


def _is_settings_block(source: str) -> bool:
    """A snippet a user pastes into settings.py as it is: only assignments to
    UPPERCASE names (``X = ...``, ``X += ...``), no ``...`` placeholder (README's
    placeholder snippets are applied by tests/test_quickstart.py)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body or any(
        isinstance(node, ast.Constant) and node.value is Ellipsis for node in ast.walk(tree)
    ):
        return False
    for statement in tree.body:
        targets: list[ast.expr]
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AugAssign | ast.AnnAssign):
            targets = [statement.target]
        else:
            return False
        if not all(isinstance(t, ast.Name) and t.id.isupper() for t in targets):
            return False
    return True


SETTINGS_BLOCKS = [param for param in BLOCKS if _is_settings_block(param.values[2])]


class _Environ(dict[str, str]):
    """``os.environ`` for the snippets: any variable they read holds a Fernet key
    (the encryption snippets read their keys from the environment)."""

    def __missing__(self, name: str) -> str:
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()


def test_the_settings_snippets_are_found():
    # Every policy's page shows how to turn it on.
    assert len(SETTINGS_BLOCKS) >= 15
    assert {p.values[0].name for p in SETTINGS_BLOCKS} >= {"settings.md", "policies.md"}


@pytest.mark.parametrize(("path", "line", "source"), SETTINGS_BLOCKS)
def test_each_settings_snippet_passes_the_checks(settings, path, line, source):
    """Pasted into a project's settings (this suite's), a documented settings
    snippet raises no error of this app's checks and names no unknown setting
    (``W013`` would catch a documented name that no longer exists)."""
    import copy
    import types

    from django.core.checks import ERROR, run_checks

    from django_redis_sessions.checks import ids

    # The snippets describe a plain deployment; the --redis-cluster run's own
    # setting would make the Sentinel and unix-socket snippets ambiguous (E035,
    # E037). The checks read settings only: nothing connects.
    settings.SESSION_REDIS_CLUSTER = False
    namespace: dict[str, object] = {
        name: copy.deepcopy(getattr(settings, name)) for name in dir(settings) if name.isupper()
    }
    before = dict(namespace)
    namespace["os"] = types.SimpleNamespace(environ=_Environ())
    exec(compile(source, f"{path.name}:{line}", "exec"), namespace)  # noqa: S102 - our docs
    changed = [
        name for name in namespace if name.isupper() and namespace[name] is not before.get(name)
    ]
    assert changed, "the snippet sets nothing"
    for name in changed:
        setattr(settings, name, namespace[name])
    ours = [m for m in run_checks() if m.id and m.id.startswith("django_redis_sessions.")]
    assert [m for m in ours if m.level >= ERROR or m.id == ids.UNKNOWN_SETTING] == []

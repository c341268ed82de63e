"""Sphinx directives that render the references generated from the code.

- ``{drs-settings}``: every setting of ``django_redis_sessions.conf.Conf``;
- ``{drs-renamed-settings}``: ``conf.RENAMED``, old names and their replacements;
- ``{drs-checks}``: the system check ids of ``checks/ids.py``; option
  ``:deploy:`` lists the ``check --deploy`` ones, without it the others.

It also lets a page link to a Markdown file outside ``docs/`` that a page of the
site includes (``[changelog](../CHANGELOG.md)``): the link stays right on GitHub,
and the build points it at the including page (``drs_outside_docs`` in conf.py).

The rows come from ``drs_tables.py`` (plain Python, also used by the tests), so
these tables cannot drift from the code. Inline ```code``` in a description is
rendered as code; everything else is plain text.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import drs_tables
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.docutils import SphinxDirective


def _inline(text: str) -> list[nodes.Node]:
    """``text`` with its `backticked` parts as literals."""
    parts: list[nodes.Node] = []
    for index, chunk in enumerate(text.split("`")):
        if chunk:
            parts.append(nodes.literal(chunk, chunk) if index % 2 else nodes.Text(chunk))
    return parts


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[list[nodes.Node]]], widths: Sequence[int]
) -> nodes.table:
    table = nodes.table(classes=["drs-reference"])
    group = nodes.tgroup(cols=len(headers))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head_row = nodes.row()
    head += head_row
    for header in headers:
        head_row += nodes.entry("", nodes.paragraph(header, header))
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        body += row
        for cell in cells:
            row += nodes.entry("", nodes.paragraph("", "", *cell))
    return table


def _note_sources(directive: SphinxDirective, *paths: str) -> None:
    """Rebuild the page when the code it is generated from, or this code, changes."""
    for path in (__file__, drs_tables.__file__, *paths):
        directive.env.note_dependency(path)


def _code(text: str) -> list[nodes.Node]:
    return [nodes.literal(text, text)]


class SettingsDirective(SphinxDirective):
    """The table of settings, in ``Conf``'s order."""

    def run(self) -> list[nodes.Node]:
        _note_sources(self, drs_tables.conf_module.__file__)
        rows = [
            [
                [nodes.target("", "", ids=[_anchor(row.name)]), *_code(row.name)],
                [
                    nodes.Text("type "),
                    *_code(row.type),
                    nodes.Text(", default "),
                    *_code(row.default),
                    nodes.Text(". "),
                    *_inline(row.description),
                ],
            ]
            for row in drs_tables.settings_rows()
        ]
        return [_table(("setting", "type, default, description"), rows, (35, 65))]


class RenamedSettingsDirective(SphinxDirective):
    """The renamed settings; a sentence when there are none."""

    def run(self) -> list[nodes.Node]:
        _note_sources(self, drs_tables.conf_module.__file__)
        renamed = drs_tables.renamed_rows()
        if not renamed:
            text = "No setting has been renamed."
            return [nodes.paragraph(text, text)]
        rows = [[_code(row.old), _code(row.new), _inline(row.note)] for row in renamed]
        return [_table(("old name", "new name", "note"), rows, (30, 30, 40))]


class ChecksDirective(SphinxDirective):
    """The check ids, errors then warnings."""

    option_spec: ClassVar[dict[str, Any]] = {"deploy": directives.flag}

    def run(self) -> list[nodes.Node]:
        _note_sources(self, drs_tables.ids.__file__)
        deploy = "deploy" in self.options
        rows = [
            [
                [nodes.target("", "", ids=[_anchor(row.id)]), *_code(row.id)],
                [nodes.Text(row.level)],
                _inline(row.problem),
            ]
            for row in drs_tables.check_rows()
            if row.deploy == deploy
        ]
        return [_table(("id", "level", "problem"), rows, (30, 10, 60))]


def _anchor(name: str) -> str:
    """The HTML id of a row: ``setting-session-redis-url``, ``check-e001``."""
    if name.startswith("django_redis_sessions."):
        return "check-" + name.rsplit(".", 1)[1].lower()
    return "setting-" + name.lower().replace("_", "-")


class OutsideDocsLinks(SphinxPostTransform):
    """Point links to included files outside docs/ at the pages that include them.

    MyST turns ``[x](../CHANGELOG.md#y)`` into a reference to the document
    ``<srcdir>/../CHANGELOG``, which is not part of the site; this runs before
    MyST's resolver (priority 9) and replaces that document with the page
    ``drs_outside_docs`` names for it, keeping the anchor.
    """

    default_priority = 5

    def run(self, **kwargs: Any) -> None:
        mapping: dict[str, str] = self.config.drs_outside_docs
        srcdir = Path(self.env.srcdir)
        for node in self.document.findall(addnodes.pending_xref):
            if node.get("reftype") != "myst" or node.get("refdomain") != "doc":
                continue
            target = str(node["reftarget"])
            if not Path(target).is_absolute():
                continue
            relative = os.path.relpath(target, srcdir).replace(os.sep, "/")
            if relative in mapping:
                node["reftarget"] = mapping[relative]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("drs_outside_docs", {}, "env", types=[dict])
    app.add_post_transform(OutsideDocsLinks)
    app.add_directive("drs-settings", SettingsDirective)
    app.add_directive("drs-renamed-settings", RenamedSettingsDirective)
    app.add_directive("drs-checks", ChecksDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""The rows of the documentation's generated references, read from the code.

Pure Python (no Sphinx): ``drs_reference.py`` renders these rows when the docs
are built, and ``tests/test_docs.py`` checks them without Sphinx installed.

- the settings: every :class:`~django_redis_sessions.conf.Setting` of
  ``conf.Conf``, with its type, default and one line of description;
- the renamed settings: ``conf.RENAMED`` (old name -> (new name, note)), when
  the package has one;
- the system checks: every id of ``checks.ids`` with its level and meaning.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Any

from django.conf import global_settings

from django_redis_sessions import conf as conf_module
from django_redis_sessions.checks import ids


@dataclass(frozen=True)
class SettingRow:
    name: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class RenamedRow:
    old: str
    new: str
    note: str


@dataclass(frozen=True)
class CheckRow:
    id: str
    level: str
    problem: str
    deploy: bool


def format_type(value_type: Any) -> str:
    """A type as the table shows it: ``int | None``, ``Sequence[tuple[str, int]]``."""
    if value_type is Any:
        return "Any"
    if isinstance(value_type, type) and not typing.get_args(value_type):
        return "None" if value_type is type(None) else value_type.__name__
    if isinstance(value_type, types.UnionType) or typing.get_origin(value_type) is typing.Union:
        return " | ".join(format_type(arg) for arg in typing.get_args(value_type))
    origin = typing.get_origin(value_type)
    if origin is not None:
        name = getattr(origin, "__name__", repr(origin))
        return f"{name}[{', '.join(format_type(arg) for arg in typing.get_args(value_type))}]"
    return repr(value_type).replace("typing.", "")


def _source(value: Any) -> str:
    """``value`` as Python source, strings in double quotes as the docs write them."""
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _unit(value: Any, doc: str) -> str:
    """A reading aid for a large number: ``" (30 days)"``, ``" (1 MiB)"``."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return ""
    if "seconds" in doc.lower() and value % 86400 == 0:
        days = value // 86400
        return f" ({days} day{'s' if days > 1 else ''})"
    if "bytes" in doc and value % 1024 == 0:
        return f" ({value // 1024 // 1024} MiB)" if value % (1024 * 1024) == 0 else ""
    return ""


def format_default(setting: conf_module.Setting[Any]) -> str:
    """The default as Python source; Django's own settings show Django's default."""
    if setting.django:
        value = getattr(global_settings, setting.name)
        return f"{_source(value)}{_unit(value, setting.doc)} (Django's)"
    return _source(setting.default) + _unit(setting.default, setting.doc)


def settings_rows() -> list[SettingRow]:
    """Every setting, in the order ``Conf`` declares them."""
    return [
        SettingRow(name, format_type(setting.value_type), format_default(setting), setting.doc)
        for name, setting in vars(conf_module.Conf).items()
        if isinstance(setting, conf_module.Setting)
    ]


def renamed_rows() -> list[RenamedRow]:
    """``conf.RENAMED`` (old -> (new, note)) sorted by old name; empty without one."""
    renamed: dict[str, tuple[str, str]] = getattr(conf_module, "RENAMED", {})
    return [RenamedRow(old, new, note) for old, (new, note) in sorted(renamed.items())]


def check_rows() -> list[CheckRow]:
    """Every check id, sorted: errors by number, then warnings by number."""
    return [
        CheckRow(doc.id, doc.level, doc.problem, doc.deploy)
        for doc in sorted(ids.DOCS.values(), key=lambda doc: doc.id)
    ]

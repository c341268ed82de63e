"""The Python-Lua contract and the step drivers (``storage/scripts.py``, ``runner.py``).

Each script names its arguments on its first line; each has a dataclass whose
fields must say the same, in the same order; the record layout reaches the
scripts only as injected constants; a step's failure is raised inside the
operation at that step, under both drivers.
"""

from __future__ import annotations

import re
from dataclasses import fields
from importlib.resources import files
from typing import Any

import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from django_redis_sessions.exceptions import SessionStoreUnavailable
from django_redis_sessions.storage import record, runner, scripts
from django_redis_sessions.storage.steps import Call, Commands, Steps

SCRIPT_FILES = sorted(
    path.name[: -len(".lua")]
    for path in files("django_redis_sessions.storage").joinpath("scripts").iterdir()
    if path.name.endswith(".lua") and path.name not in {"prelude.lua", "receipt.lua"}
)


def _source(name: str) -> str:
    return files("django_redis_sessions.storage").joinpath("scripts", f"{name}.lua").read_text()


def test_every_script_file_is_registered_once_per_deployment_kind() -> None:
    for kind in (scripts.SINGLE, scripts.CLUSTER):
        assert sorted(script.name for script in kind.all()) == SCRIPT_FILES


@pytest.mark.parametrize("name", SCRIPT_FILES)
def test_each_scripts_argv_header_matches_its_dataclass(name: str) -> None:
    script = getattr(scripts.SINGLE, name)
    assert scripts.argv_header(_source(name)) == scripts.dataclass_header(script.args)


@pytest.mark.parametrize("name", SCRIPT_FILES)
def test_each_script_reads_its_arguments_by_name_only(name: str) -> None:
    source = _source(name)
    body = "\n".join(line for line in source.splitlines() if not line.startswith("--"))
    assert not re.search(r"ARGV\[\d+\]", body), "a positional ARGV in the body"
    declared = {f.name for f in fields(getattr(scripts.SINGLE, name).args)}
    assert set(re.findall(r"\bargv\.(\w+)", body)) <= declared


def test_a_script_whose_header_differs_from_its_dataclass_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"save\.lua declares ARGV"):
        scripts.build("save", scripts.LoadArgs)


def test_variadic_arguments_are_flattened_after_the_fixed_ones() -> None:
    args = scripts.UnindexArgs(1, ("a", "b"))
    assert scripts.SINGLE.unindex.argv(args) == [1, "a", "b"]
    assert "local REST = 2" in scripts.SINGLE.unindex.text


def test_the_record_layout_reaches_the_scripts_only_as_constants() -> None:
    prelude = files("django_redis_sessions.storage").joinpath("scripts", "prelude.lua").read_text()
    every = prelude + "".join(_source(name) for name in SCRIPT_FILES)
    code = "\n".join(line for line in every.splitlines() if not line.lstrip().startswith("--"))
    # No header length, field offset, version byte or stub byte typed out again.
    assert not re.search(r"\b(33|49|62)\b", code)
    assert not re.search(r"string\.sub\(\w+, \d+, \d+\)", code)
    constants = record.lua_constants()
    assert f"local HEADER_LENGTH = {record.HEADER_LENGTH}\n" in constants
    assert f"local SEEN_OFFSET = {record.SEEN_OFFSET}\n" in constants
    assert f"local META_USER = '{record.META_USER.decode()}'\n" in constants


def _code(text: str) -> str:
    """Lua without its comments."""
    return re.sub(r"--[^\n]*", "", text)


def test_no_script_has_a_comment_marker_inside_a_string() -> None:
    # scripts.prelude_for strips "--" to the end of the line before it looks for
    # the helpers a script uses; a "--" inside a string literal would hide code.
    for name in [*SCRIPT_FILES, "prelude", "receipt"]:
        for line in _source(name).splitlines():
            before = line.split("--", 1)[0]
            assert before.count("'") % 2 == 0, (name, line)
            assert before.count('"') % 2 == 0, (name, line)


@pytest.mark.parametrize("kind", ["SINGLE", "CLUSTER"])
def test_each_script_defines_every_prelude_helper_it_uses_and_only_those(kind: str) -> None:
    prelude = _source("prelude")
    helpers = set(re.findall(r"^local (?:function )?(\w+)", prelude, re.MULTILINE))
    assert {"ns_read", "expiry_ms", "enforce_limit", "USER_META"} <= helpers
    for script in getattr(scripts, kind).all():
        defined = set(re.findall(r"^local (?:function )?(\w+)", script.text, re.MULTILINE))
        code = _code(script.text)
        for helper in helpers - defined:
            # A helper left out must not be used: Lua would look it up as a global.
            assert not re.search(rf"\b{helper}\b", code), (script.name, helper)
        for helper in helpers & defined:
            uses = re.findall(rf"\b{helper}\b", code)
            assert len(uses) >= 2, (script.name, helper)  # its definition and a use
    # The hot path's script carries what it calls, not the index helpers.
    load = getattr(scripts, kind).load.text
    assert "local function expiry_ms(" in load
    assert "local function enforce_limit(" not in load
    assert "local function index_add(" not in load


def test_prelude_blocks_keep_each_helper_with_its_comment() -> None:
    blocks = scripts.prelude_blocks(
        "-- file comment\n\n-- says a\nlocal function a()\n  return 1\nend\n\n"
        "local B = {}\n-- says c\nlocal function c()\n  return a() + B\nend\n"
    )
    assert blocks == [
        ("a", "-- says a\nlocal function a()\n  return 1\nend\n\n"),
        ("B", "local B = {}\n"),
        ("c", "-- says c\nlocal function c()\n  return a() + B\nend\n"),
    ]
    # c needs a and B; a comment naming a helper does not pull it in.
    assert scripts.prelude_for("-- not c()\nreturn c()", blocks) == "".join(
        text for _, text in blocks
    )
    assert scripts.prelude_for("-- c() here is a comment\nreturn a()", blocks) == blocks[0][1]


@pytest.mark.real_redis
def test_the_scripts_read_a_header_as_record_py_writes_it(r: redis.Redis) -> None:
    raw = record.encode(record.Record(0x1234, 0x5678, 0x9ABC, 600, "42", {}, {"ip": "10.0.0.1"}))
    probe = (
        "local CLUSTER = false\n"
        + record.lua_constants()
        + files("django_redis_sessions.storage").joinpath("scripts", "prelude.lua").read_text()
        + "local created, deadline, idle = header(ARGV[1])\n"
        + "local user = meta_user(ARGV[1])\n"
        + "local seen = tonumber(string.sub(ARGV[1], SEEN_AT, SEEN_AT + FIELD_WIDTH - 1), 16)\n"
        + "return {created, seen, deadline, idle, user}"
    )
    assert r.eval(probe, 0, raw) == [0x1234, 0x5678, 0x9ABC, 600, b"42"]


def test_one_parser_reads_every_tagged_reply() -> None:
    assert scripts.parse_reply(1) == scripts.Reply(code=1)
    assert scripts.parse_reply(None) == scripts.Reply(code=0)
    assert scripts.parse_reply([b"uid", b"7"]).stored_user == "7"
    assert scripts.parse_reply([b"size", 4096]).items == (4096,)
    moved = scripts.parse_reply([b"moved", b">abc"])
    assert (moved.tag, moved.items, moved.stored_user) == ("moved", (b">abc",), None)


# -- the drivers ------------------------------------------------------------------------


def _probe(ops: Any, seen: list[Any]) -> Steps[str]:
    """An operation that records what each step answered or raised."""
    try:
        yield Commands([("PING",)], "probe")
    except SessionStoreUnavailable as exc:
        seen.append(("raised", exc.server))
    called = yield Call(lambda: "sync", _async_answer)
    seen.append(("call", called))
    return "done"


async def _async_answer() -> str:
    return "async"


def _dead() -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0)
    )


def test_the_sync_driver_raises_a_failed_step_inside_the_operation() -> None:
    seen: list[Any] = []
    driver = runner.SyncDriver(_dead())
    assert driver.run(_probe(driver.ops, seen)) == "done"
    assert seen == [("raised", "127.0.0.1:1"), ("call", "sync")]


async def test_the_async_driver_raises_a_failed_step_inside_the_operation() -> None:
    seen: list[Any] = []
    client = redis.asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    driver = runner.AsyncDriver(client)
    assert await driver.run(_probe(driver.ops, seen)) == "done"
    assert seen == [("raised", "127.0.0.1:1"), ("call", "async")]
    await client.aclose()

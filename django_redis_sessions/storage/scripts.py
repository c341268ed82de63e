"""The Lua scripts: how each is built, what it takes, and what it answers.

Every script in ``scripts/`` starts with a line naming its arguments in order::

    -- ARGV: mode, created, deadline, ...

and each has a dataclass here whose fields are exactly those names (a trailing
``name...`` is a variadic tail, the dataclass's last field, a tuple). The script
reads its arguments by name (``argv.mode``): the loader turns each name into
its position (``ARGV[1]``) from the dataclass, and refuses to load a script whose
header and dataclass differ, so the Python and Lua sides of the contract cannot
drift apart. The record layout's constants are injected the same way
(``record.lua_constants``).

A script is built as: the Cluster flag, the layout constants, the helpers of
``prelude.lua`` it uses (``prelude_for``), ``REST`` (where a variadic tail
starts), then its body with names bound to positions; a write's body becomes the
function ``operation``, which ``receipt.lua`` runs at most once per operation id
(see ``receipts.py``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, fields
from importlib.resources import files
from operator import attrgetter
from typing import Any

from . import record

#: A script's arguments: a dataclass whose fields are its ``ARGV`` in order.
Args = Any


# -- one dataclass per script's ARGV ------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadArgs:
    absolute_age: int
    meta: bytes


@dataclass(frozen=True, slots=True)
class SaveArgs:
    """Every argument already encoded (numbers as decimal digits): redis-py's
    per-argument encoder costs about 0.3 us an argument, and this is the
    script of every modifying request (``ops._save_script``)."""

    mode: bytes
    created: bytes
    deadline: bytes
    idle: bytes
    meta: bytes
    user_id: bytes
    expected_user_id: bytes
    member: bytes
    data: bytes
    deleted: bytes
    key_prefix: bytes
    sweep_limit: bytes
    absolute_age: bytes
    max_sessions: bytes
    limit_action: bytes
    max_size: bytes
    claimed: bytes


@dataclass(frozen=True, slots=True)
class CycleArgs:
    expected_user_id: str
    old_member: str
    new_member: str
    created: int
    deadline: int
    idle: int
    meta: bytes
    user_id: str
    data: bytes
    old_in_store: str
    key_prefix: str
    sweep_limit: int
    empty_meta: bytes


@dataclass(frozen=True, slots=True)
class DeleteArgs:
    expected_user_id: str
    member: str
    key_prefix: str
    stub_only: str = ""


@dataclass(frozen=True, slots=True)
class DiscardArgs:
    read: bytes


@dataclass(frozen=True, slots=True)
class NoArgs:
    pass


@dataclass(frozen=True, slots=True)
class RevokeArgs:
    user_id: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RevokeUserArgs:
    user_id: str
    key_prefix: str
    keep: bytes
    keep_newest: str
    only: bytes


@dataclass(frozen=True, slots=True)
class ConfirmArgs:
    digest: str
    grace_ms: int


@dataclass(frozen=True, slots=True)
class RotateArgs:
    expected_user_id: str
    old_member: str
    new_member: str
    sealed: bytes


@dataclass(frozen=True, slots=True)
class AuditArgs:
    max_events: int
    retention: int
    events: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class ActivityArgs:
    key_prefix: str
    absolute_age: int
    cap: int


@dataclass(frozen=True, slots=True)
class UserPageArgs:
    user_id: str
    key_prefix: str
    absolute_age: int
    offset: int
    limit: int
    #: Digests listed first (netstrings): the caller's own session.
    first: bytes


@dataclass(frozen=True, slots=True)
class ClaimArgs:
    member: str
    score: int
    pending_seconds: int


@dataclass(frozen=True, slots=True)
class SigninArgs:
    user_id: str
    score: int
    signin: str


@dataclass(frozen=True, slots=True)
class UsersPruneArgs:
    pending_ms: int
    #: User id and the score the reader saw, in pairs.
    entries: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class UsersListArgs:
    max_score: int
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnindexArgs:
    certain: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StubArgs:
    read: bytes
    stub: bytes
    life_ms: int


# -- building and registering scripts -----------------------------------------------


def argv_header(text: str) -> list[str]:
    """The argument names a script's first line declares (``-- ARGV: a, b, c...``)."""
    first = text.split("\n", 1)[0]
    if not first.startswith("-- ARGV:"):
        raise ValueError("a script must start with its '-- ARGV:' line")
    names = first[len("-- ARGV:") :].strip()
    return [] if names == "(none)" else [name.strip() for name in names.split(",")]


def dataclass_header(args: type[Any]) -> list[str]:
    """What a script's ``-- ARGV:`` line must say for this dataclass."""
    names = [f.name for f in fields(args)]
    if names and _is_variadic(args):
        names[-1] += "..."
    return names


def _is_variadic(args: type[Any]) -> bool:
    last = fields(args)[-1] if fields(args) else None
    return last is not None and str(last.type).startswith("tuple[")


def _bindings(args: type[Any]) -> str:
    """``REST``: where a variadic tail starts (the fixed arguments are bound by
    :func:`_bind_names`)."""
    names = [f.name for f in fields(args)]
    fixed = names[:-1] if _is_variadic(args) else names
    return f"local REST = {len(fixed) + 1}\n"


#: A script reads its fixed arguments by name: ``argv.mode``.
_ARGV_NAME = re.compile(r"\bargv\.(\w+)\b")


def _bind_names(body: str, args: type[Any]) -> str:
    """``argv.name`` replaced by ``ARGV[position]`` when the script is built: the
    scripts read names, and Redis runs positions without building a table of
    them on every call (a save has 17; the table cost about 1 us a call)."""
    names = [f.name for f in fields(args)]
    fixed = names[:-1] if _is_variadic(args) else names
    position = {name: index for index, name in enumerate(fixed, 1)}

    def bind(found: re.Match[str]) -> str:
        name = found.group(1)
        if name not in position:
            raise RuntimeError(f"a script reads argv.{name}, which {args.__name__} lacks")
        return f"ARGV[{position[name]}]"

    return _ARGV_NAME.sub(bind, body)


#: A top-level definition of ``prelude.lua`` starts a line: ``local function name(``
#: or ``local NAME =``; the comment lines above it belong to it.
_DEFINITION = re.compile(r"^local (?:function )?(\w+)", re.MULTILINE)
#: A Lua comment, to the end of its line (no script has ``--`` inside a string
#: literal; ``tests/test_scripts.py`` checks it).
_COMMENT = re.compile(r"--[^\n]*")


def prelude_blocks(prelude: str) -> list[tuple[str, str]]:
    """``prelude.lua`` as ``(name, text)`` blocks, one per top-level definition
    (with the comment lines just above it), in the file's order; the file's own
    opening comment is left out."""
    lines = prelude.splitlines(keepends=True)
    starts: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        found = _DEFINITION.match(line)
        if found is not None:
            begin = number
            while begin > 0 and lines[begin - 1].startswith("--"):
                begin -= 1
            starts.append((begin, found.group(1)))
    ends = [begin for begin, _ in starts[1:]] + [len(lines)]
    return [
        (name, "".join(lines[begin:end])) for (begin, name), end in zip(starts, ends, strict=True)
    ]


def prelude_for(code: str, blocks: list[tuple[str, str]]) -> str:
    """The prelude's definitions that ``code`` uses, directly or through each other,
    in the prelude's order. Lua builds every ``local function`` of a script each
    time it runs, so a script carrying the whole prelude pays for ~25 closures it
    never calls (measured: ~4 us of the load script's ~12 us above a bare GET)."""
    used: set[str] = set()
    text = _COMMENT.sub("", code)
    while True:
        new = {
            name
            for name, _ in blocks
            if name and name not in used and re.search(rf"\b{name}\b", text)
        }
        if not new:
            break
        used |= new
        text = _COMMENT.sub("", "".join(block for name, block in blocks if name in new))
    return "".join(block for name, block in blocks if name in used)


@dataclass(frozen=True, slots=True)
class LuaScript:
    name: str
    text: str
    sha: str
    args: type[Any]
    #: A write runs under the receipt protocol (``receipts.py``): the runner adds
    #: a receipt key to KEYS and its lifetime to ARGV.
    writes: bool
    #: What a failure says the engine was doing ("unreachable (save)").
    action: str
    #: ARGV in order from an instance of ``args`` (a variadic tail expanded).
    flatten: Any

    @property
    def sha_bytes(self) -> bytes:
        return self.sha.encode("ascii")

    def argv(self, args: Any) -> list[Any]:
        return self.flatten(args)  # type: ignore[no-any-return]


def _flattener(args: type[Any]) -> Any:
    names = [f.name for f in fields(args)]
    if not names:
        return lambda _args: []
    getter = attrgetter(*names)
    if len(names) == 1:
        if _is_variadic(args):
            return lambda a: list(getter(a))
        return lambda a: [getter(a)]
    if _is_variadic(args):
        return lambda a: [*(values := getter(a))[:-1], *values[-1]]
    return lambda a: list(getter(a))


def build(
    name: str, args: type[Any], *, cluster: bool = False, writes: bool = True, action: str = ""
) -> LuaScript:
    """A script with the layout constants, the prelude and its argument bindings, for
    one server or (``cluster``) a Redis Cluster.

    The Cluster variant sees ``CLUSTER = true`` and leaves out every step on a key
    of another hash slot (``ops.py`` runs those steps itself, in a safe order).
    """
    folder = files(__package__).joinpath("scripts")
    body = folder.joinpath(f"{name}.lua").read_text()
    declared, expected = argv_header(body), dataclass_header(args)
    if declared != expected:
        raise RuntimeError(
            f"scripts/{name}.lua declares ARGV {declared}, but {args.__name__} has {expected}"
        )
    body = _bind_names(body, args)
    if writes:
        body = (
            "local function operation()\n"
            + body
            + "\nend\n"
            + folder.joinpath("receipt.lua").read_text()
        )
    blocks = prelude_blocks(folder.joinpath("prelude.lua").read_text())
    text = (
        f"local CLUSTER = {'true' if cluster else 'false'}\n"
        + record.lua_constants()
        + prelude_for(body, blocks)
        + _bindings(args)
        + body
    )
    sha = hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
    return LuaScript(name, text, sha, args, writes, action or name, _flattener(args))


class Scripts:
    """The scripts of one deployment kind: a single server (or Sentinel) or a Cluster."""

    def __init__(self, cluster: bool) -> None:
        c = cluster
        # Reads: loading (its touch of last-seen and the expiry is the same however
        # often it runs) and the overview's activity fold.
        self.load = build("load", LoadArgs, cluster=c, writes=False)
        self.activity = build("activity", ActivityArgs, cluster=c, writes=False,
                              action="read user indexes")  # fmt: skip
        # One page of a user's sessions (it also drops entries of ended sessions,
        # which is safe to run twice).
        self.user_page = build("user_page", UserPageArgs, cluster=c, writes=False,
                               action="read user index")  # fmt: skip
        self.save = build("save", SaveArgs, cluster=c)
        self.delete = build("delete", DeleteArgs, cluster=c)
        self.cycle = build("cycle", CycleArgs, cluster=c, action="cycle_key")
        self.discard = build("discard", DiscardArgs, cluster=c)
        self.revoke = build("revoke", RevokeArgs, cluster=c)
        self.revoke_user = build("revoke_user", RevokeUserArgs, cluster=c, action="revoke")
        self.confirm = build("confirm", ConfirmArgs, cluster=c, action="confirm rotation")
        self.rotate = build("rotate", RotateArgs, cluster=c)
        self.audit = build("audit", AuditArgs, cluster=c, action="write audit events")
        self.foreign = build("foreign", NoArgs, cluster=c, action="remove a foreign key")
        # Cluster-only steps (a session and its user's index in different slots).
        self.claim = build("claim", ClaimArgs, cluster=c, action="save")
        self.unindex = build("unindex", UnindexArgs, cluster=c, action="update user index")
        self.stub = build("stub", StubArgs, cluster=c, action="rotate")
        self.stub_grace = build("stub_grace", ConfirmArgs, cluster=c, action="confirm rotation")
        self.signin = build("signin", SigninArgs, cluster=c, action="save")
        # The users index, pruned by readers (the overview, clearsessions).
        self.users_prune = build("users_prune", UsersPruneArgs, cluster=c,
                                 action="update users index")  # fmt: skip
        self.users_list = build("users_list", UsersListArgs, cluster=c,
                                action="update users index")  # fmt: skip

    def all(self) -> list[LuaScript]:
        return [value for value in vars(self).values() if isinstance(value, LuaScript)]


#: Built once per process: one set for single servers, one for Clusters.
SINGLE = Scripts(cluster=False)
CLUSTER = Scripts(cluster=True)


# -- replies ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A write script's reply, parsed once: a bare integer (``code``), or a tagged
    list (``tag`` and its ``items``): ``uid`` (the stored user differs), ``moved``
    (a rotation stub), ``ended`` (sessions the limit ended), ``size`` (too large),
    ``index`` (Cluster: claim an index entry first)."""

    code: int = 0
    tag: str = ""
    #: As Redis sent them: bytes, or integers (``size``, ``index``).
    items: tuple[Any, ...] = ()

    @property
    def stored_user(self) -> str | None:
        """The stored user id when the script refused because it differs from ours."""
        return bytes(self.items[0]).decode("utf-8") if self.tag == "uid" else None


_TAGS = frozenset({b"uid", b"moved", b"ended", b"size", b"index"})


def parse_reply(raw: Any) -> Reply:
    """The one parser of the write scripts' replies (lists of members, as the
    revocation scripts return, are read by ``ops.members``)."""
    if isinstance(raw, list) and raw and raw[0] in _TAGS:
        return Reply(tag=raw[0].decode(), items=tuple(raw[1:]))
    return Reply(code=int(raw or 0))

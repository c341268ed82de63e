"""The byte layout of one stored session: the single definition, which the Lua
scripts receive as constants (:func:`lua_constants`).

A session is one Redis string::

    "1" created seen deadline idle  <meta>  <data pairs>
     |  \\__ 4 x 8 lowercase hex digits _/

* ``created``, ``seen``: Unix seconds (hex: 8 digits last until 2106, and save
  8 bytes a session over decimal, which is a jemalloc size class for a typical
  signed-in session). ``seen`` sits at a fixed offset so the load
  script can refresh it in place with ``SETRANGE`` instead of rewriting the data.
* ``deadline``: Unix seconds after which the session is dead whatever the activity
  (``created + SESSIONS_ABSOLUTE_AGE``, or an earlier ``set_expiry(datetime)``);
  0 means none.
* ``idle``: seconds of inactivity that end the session (sliding); 0 means the
  session does not slide and lives until ``deadline``.
* ``<meta>``: one netstring (``<len>:<bytes>``) holding netstring pairs of
  metadata: ``u`` = the indexed user id, and, when the request-metadata
  middleware is installed, ``ip``, ``ua`` and ``dv`` (client IP, user agent and
  the device name parsed from it). It is
  not part of ``request.session``; the scripts keep stored pairs a write does
  not supply, so a save never drops the IP recorded by an earlier request.
* ``<data pairs>``: netstring pairs ``key, value`` where each value is encoded on
  its own with ``SESSION_SERIALIZER`` (and, with ``SESSION_REDIS_ENCRYPTION_KEYS``,
  encrypted on its own as one Fernet token, see ``encryption.py``; keys stay in
  clear). Keeping values encoded one by one is what lets the save script merge
  only the keys a request changed (no lost update when two requests change
  different keys) without ever decoding a value in Lua, where JSON round trips
  change types.

Netstrings are binary-safe, so a custom serializer that emits arbitrary bytes works.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from ..exceptions import CorruptRecord
from .keys import DIGEST_SIZE, FINGERPRINT_LENGTH

VERSION = b"1"
FIELD_WIDTH = 8
FIELD_MAX = 0xFFFFFFFF
HEADER_LENGTH = 1 + 4 * FIELD_WIDTH
#: 0-based offsets of the header fields (given to the scripts by :func:`lua_constants`);
#: ``seen`` is where the load script writes with ``SETRANGE``.
CREATED_OFFSET = 1
SEEN_OFFSET = CREATED_OFFSET + FIELD_WIDTH
DEADLINE_OFFSET = SEEN_OFFSET + FIELD_WIDTH
IDLE_OFFSET = DEADLINE_OFFSET + FIELD_WIDTH
#: Index score for a session without any deadline: no index entry may be pruned by
#: score unless its session is certainly dead, so such entries sort last (year 2106).
NO_DEADLINE_SCORE = FIELD_MAX
_HEX_DIGITS = frozenset(b"0123456789abcdef")
#: A header as field() writes it: the version, then four fields of lowercase hex
#: (one group each).
_HEADER = re.compile(re.escape(VERSION) + (rb"([0-9a-f]{%d})" % FIELD_WIDTH) * 4)

META_USER = b"u"
_META_USER_KEY = META_USER.decode()
#: Request metadata kept beside the user id (written by the request-metadata
#: middleware when it is installed): client IP and user agent.
META_IP = "ip"
META_USER_AGENT = "ua"
#: The readable device name parsed from the user agent when it was recorded
#: (``devices.device_name``), so a page listing thousands of sessions never parses
#: them again; "" when the parser could not say better than the user agent itself.
#: Absent from records written before it existed (pages then parse the rows shown).
META_DEVICE = "dv"
#: The most characters of a device name stored.
DEVICE_MAX_LENGTH = 64
#: When the session's key was last rotated (SESSIONS_ROTATE_AFTER), in Unix
#: seconds; absent until the first rotation (the creation time counts then).
META_ROTATED = "r"
#: The fingerprint a session was first shown under, kept when its key rotates, so
#: a fingerprint on a page drawn before the rotation still names the session.
META_ORIGIN = "f"
#: A rotation not yet confirmed: the old digest, whose stub keeps the old cookie
#: working until a request arrives with the new key (rotate.lua).
META_PENDING = "p"

#: The first byte of a rotation stub (``policies/rotation.py``): ``>``, then the
#: digest of the session it moved to, then the new key sealed with the old one.
#: A record starts with its version instead.
STUB_MARKER = b">"
_DIGEST_HEX = 2 * DIGEST_SIZE
#: On a Redis Cluster a user's index also holds short-lived pending marks: this
#: prefix and a digest (``claim.lua``); never a digest itself (hex).
PENDING_MARK = "p:"


def is_stub(raw: bytes) -> bool:
    return raw[:1] == STUB_MARKER


def stub_target(raw: bytes) -> str:
    """The digest of the session a stub moved to (readable without the old key)."""
    return raw[1 : 1 + _DIGEST_HEX].decode("ascii", "replace")


def lua_constants() -> str:
    """This layout as Lua locals, prepended to every script (``scripts.py``), so the
    scripts never restate an offset. Lua strings are 1-based: ``*_AT`` is where a
    field's first byte is for ``string.sub``; ``SEEN_OFFSET`` is 0-based, for
    ``SETRANGE``."""
    constants: dict[str, int | str] = {
        "VERSION_BYTE": VERSION[0],
        "STUB_BYTE": STUB_MARKER[0],
        "FIELD_WIDTH": FIELD_WIDTH,
        "HEADER_LENGTH": HEADER_LENGTH,
        "CREATED_AT": CREATED_OFFSET + 1,
        "SEEN_AT": SEEN_OFFSET + 1,
        "DEADLINE_AT": DEADLINE_OFFSET + 1,
        "IDLE_AT": IDLE_OFFSET + 1,
        "SEEN_OFFSET": SEEN_OFFSET,
        "NO_DEADLINE": NO_DEADLINE_SCORE,
        "DIGEST_HEX": _DIGEST_HEX,
        "FINGERPRINT_LENGTH": FINGERPRINT_LENGTH,
        "META_USER": META_USER.decode(),
        "META_ROTATED": META_ROTATED,
        "META_ORIGIN": META_ORIGIN,
        "META_PENDING": META_PENDING,
        "PENDING_MARK": PENDING_MARK,
    }
    return "".join(
        f"local {name} = {value!r}\n" if isinstance(value, str) else f"local {name} = {value}\n"
        for name, value in constants.items()
    )


@dataclass(frozen=True, slots=True)
class Record:
    created: int
    seen: int
    deadline: int
    idle: int
    user_id: str
    #: Data pairs as stored: key (str) -> encoded value (bytes).
    data: dict[str, bytes]
    #: Metadata other than the user id (``ip``, ``ua``).
    meta: dict[str, str] = dataclass_field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Summary:
    """A record's header and metadata, without its data: what listings show."""

    created: int
    seen: int
    deadline: int
    idle: int
    user_id: str
    meta: dict[str, str]


def netstring(item: bytes) -> bytes:
    return b"%d:%s" % (len(item), item)


def encode_pairs(pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
    return b"".join(netstring(k) + netstring(v) for k, v in pairs)


def encode_keys(keys: Iterable[str]) -> bytes:
    return b"".join(netstring(k.encode("utf-8")) for k in keys)


def encode_meta_pairs(meta: Mapping[str, str]) -> bytes:
    """Metadata pairs other than the user id, unframed (as the scripts merge them)."""
    return encode_pairs((k.encode("utf-8"), v.encode("utf-8")) for k, v in meta.items())


def encode_meta(user_id: str, meta: Mapping[str, str] | None = None) -> bytes:
    """The whole metadata netstring: the user id first, then the other pairs."""
    head = encode_pairs([(META_USER, user_id.encode("utf-8"))]) if user_id else b""
    return netstring(head + (encode_meta_pairs(meta) if meta else b""))


def encode_data(data: dict[str, bytes]) -> bytes:
    return encode_pairs((k.encode("utf-8"), v) for k, v in data.items())


def field(value: int) -> bytes:
    """One header field as stored: 8 lowercase hex digits."""
    if not 0 <= value <= FIELD_MAX:
        raise ValueError(f"header field out of range: {value}")
    return b"%08x" % value


def read_field(raw: bytes, offset: int) -> int:
    field = raw[offset : offset + FIELD_WIDTH]
    if not _HEX_DIGITS.issuperset(field):
        raise CorruptRecord("header field is not hex")
    return int(field, 16)


def encode(record: Record) -> bytes:
    return b"".join(
        (
            VERSION,
            field(record.created),
            field(record.seen),
            field(record.deadline),
            field(record.idle),
            encode_meta(record.user_id, record.meta),
            encode_data(record.data),
        )
    )


def _read_netstring(raw: bytes, pos: int) -> tuple[bytes, int]:
    colon = raw.find(b":", pos, pos + 12)
    if colon <= pos or not raw[pos:colon].isdigit():
        raise CorruptRecord("netstring length missing or not a number")
    end = colon + 1 + int(raw[pos:colon])
    if end > len(raw):
        raise CorruptRecord("netstring runs past the end of the record")
    return raw[colon + 1 : end], end


def decode_data(raw: bytes, pos: int) -> dict[str, bytes]:
    """The data pairs from ``pos`` on, as ``{key: encoded value}``.

    The hot path of every request: one flat loop rather than generators, and
    ``int()`` on the length digits (``isdigit`` keeps out signs and spaces).
    """
    data: dict[str, bytes] = {}
    find = raw.find
    end = len(raw)
    while pos < end:
        colon = find(b":", pos, pos + 12)
        digits = raw[pos:colon]
        if colon < 0 or not digits.isdigit():
            raise CorruptRecord("netstring length missing or not a number")
        start = colon + 1
        pos = start + int(digits)
        key = raw[start:pos]
        colon = find(b":", pos, pos + 12)
        digits = raw[pos:colon]
        if colon < 0 or not digits.isdigit():
            raise CorruptRecord("pair without a value")
        start = colon + 1
        pos = start + int(digits)
        if pos > end:
            raise CorruptRecord("netstring runs past the end of the record")
        try:
            data[key.decode("utf-8")] = raw[start:pos]
        except UnicodeDecodeError as exc:
            raise CorruptRecord("key is not UTF-8") from exc
    return data


#: A record's header and metadata (created, seen, deadline, idle, user id, other
#: metadata), and where its data pairs start.
Head = tuple[int, int, int, int, str, dict[str, str], int]


def decode_header(raw: bytes) -> tuple[int, int, int, int]:
    """A record's header: created, seen, deadline, idle."""
    # Exactly what field() writes. int(..., 16) alone would also take "+", "-",
    # "_", "0x", upper case and spaces, some of which the Lua scripts read
    # differently or not at all: a record adopted here would then be refused by
    # every save (UpdateError) or, with a sign, silently deleted by it.
    header = _HEADER.match(raw)
    if header is None:
        raise CorruptRecord("bad header")
    created, seen, deadline, idle = header.groups()
    return int(created, 16), int(seen, 16), int(deadline, 16), int(idle, 16)


def decode_meta(raw: bytes) -> tuple[str, dict[str, str], int]:
    """The user id and other metadata after a record's header, and where its data
    pairs start."""
    meta_blob, pos = _read_netstring(raw, HEADER_LENGTH)
    meta: dict[str, str] = {}
    user_id = ""
    if meta_blob:
        try:
            meta = {k: v.decode("utf-8") for k, v in decode_data(meta_blob, 0).items()}
        except UnicodeDecodeError as exc:
            raise CorruptRecord("metadata is not UTF-8") from exc
        user_id = meta.pop(_META_USER_KEY, "")
    return user_id, meta, pos


def _decode_head(raw: bytes) -> Head:
    """Header fields, user id and other metadata of a record, and where its data
    pairs start (a tuple: every request parses one, so no intermediate object)."""
    return (*decode_header(raw), *decode_meta(raw))


def names_a_user(meta_start: bytes) -> bool:
    """Whether a record names a user, from the first bytes of its metadata (what
    follows the header): ``encode_meta`` writes the user id first. For estimates
    from a sample of records, which need not read whole records."""
    _length, colon, rest = meta_start.partition(b":")
    return bool(colon) and rest.startswith(netstring(META_USER))


def decode_summary(raw: bytes) -> Summary:
    """Header and metadata of a stored record (its data is not decoded)."""
    return Summary(*_decode_head(raw)[:6])


def split_record(raw: bytes) -> tuple[Summary, bytes]:
    """Header and metadata of a record, and its data pairs as stored (not decoded)."""
    created, seen, deadline, idle, user_id, meta, pos = _decode_head(raw)
    return Summary(created, seen, deadline, idle, user_id, meta), raw[pos:]


#: A parsed record as a plain tuple: created, seen, deadline, idle, user id, other
#: metadata, data pairs (key -> encoded value).
Fields = tuple[int, int, int, int, str, dict[str, str], dict[str, bytes]]


def decode_fields(raw: bytes) -> Fields:
    """:func:`decode` without building a :class:`Record` (a frozen dataclass costs
    about 1 us to build): what every load parses."""
    created, seen, deadline, idle, user_id, meta, pos = _decode_head(raw)
    return created, seen, deadline, idle, user_id, meta, decode_data(raw, pos)


def decode(raw: bytes) -> Record:
    """Parse a stored record; raise :class:`CorruptRecord` for anything else."""
    created, seen, deadline, idle, user_id, meta, data = decode_fields(raw)
    return Record(created, seen, deadline, idle, user_id, data, meta)

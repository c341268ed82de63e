"""A session's values as they are stored: each value encoded on its own with
``SESSION_SERIALIZER`` (so a save can merge only the keys that changed), encrypted
on its own with ``SESSION_REDIS_ENCRYPTION_KEYS`` when set, and capped by
``SESSION_REDIS_MAX_SIZE`` before any Redis command is sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.signing import JSONSerializer

from .conf import conf
from .exceptions import SessionTooLarge
from .policies import encryption
from .storage import record

#: Django's JSONSerializer.dumps builds a new encoder on every call (its compact
#: separators are not json's defaults). Every save encodes every value to find
#: what changed, so for that exact serializer we reuse one encoder: same bytes.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
#: Its loads is ``json.loads(data.decode("latin-1"))``, and json.loads of a str
#: with no options is this decoder's ``decode`` (after refusing a leading BOM,
#: which a latin-1 string cannot hold): every load decodes every value,
#: so for that exact serializer we call it directly (same values, same errors,
#: two Python calls fewer per value).
_JSON_DECODE = json.JSONDecoder().decode
#: Types whose values cannot change in place: one still the object a load decoded
#: still encodes to what was stored (``ValueCodec.encode``).
_IMMUTABLE = frozenset({str, int, float, bool, type(None), bytes})
_MISSING = object()
_serializers: dict[type[Any], tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {}


#: json's C scanner, which ``decode`` calls after skipping leading whitespace and
#: before refusing trailing data: what this engine stores has neither.
_JSON_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_loads(value: bytes) -> Any:
    text = value.decode("latin-1")
    try:
        decoded, end = _JSON_SCAN(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        # Whitespace, trailing data or not JSON at all: json's own full path, for
        # its exact values and errors.
        return _JSON_DECODE(text)
    return decoded


#: Types a JSON value decodes to that cannot change in place.
_JSON_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
#: What follows a record's header (its metadata and data), decoded for
#: JSONSerializer without encryption, by those stored bytes: the user id, the
#: other metadata, where the data starts, the values as encoded, the values
#: decoded, and the keys whose value is a list or a dict (decoded again for every
#: reader: a view may change one in place). A signed-in user's requests mostly
#: read the same bytes there (last-seen, which a load writes, is in the header),
#: so most loads decode no value again. Bounded by entries and by size; emptied
#: when full, and when the settings change. Encrypted values are never kept
#: decrypted here.
_Decoded = tuple[str, dict[str, str], int, dict[str, bytes], dict[str, Any], tuple[str, ...]]
_DECODED: dict[bytes, _Decoded] = {}
DECODED_ENTRIES = 1024
DECODED_MAX_BYTES = 4096
conf.on_reset(_DECODED.clear)


def _serializer_for(serializer: type[Any]) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    """One serializer's encoding and decoding functions per serializer class."""
    try:
        return _serializers[serializer]
    except KeyError:
        if serializer is JSONSerializer:
            found: tuple[Callable[[Any], bytes], Callable[[bytes], Any]] = (
                lambda value: _COMPACT_JSON.encode(value).encode("latin-1"),
                _json_loads,
            )
        else:
            codec = serializer()
            found = codec.dumps, codec.loads
        _serializers[serializer] = found
        return found


class ValueCodec:
    """Encodes, seals and opens one session's values."""

    def __init__(self, serializer: type[Any]) -> None:
        self._dumps, self._loads = _serializer_for(serializer)
        # SESSION_REDIS_ENCRYPTION_KEYS: None (off) leaves values as encoded.
        self._cipher = encryption.current()

    def encode(
        self,
        data: dict[str, Any],
        fingerprint: Callable[[], str],
        stored: dict[str, bytes] | None = None,
        decoded: dict[str, Any] | None = None,
    ) -> dict[str, bytes]:
        """Each value encoded (in plaintext: compared with what was read, to find
        what changed); raises :class:`SessionTooLarge` past the size cap.

        ``stored`` and ``decoded``: the values as encoded and as decoded when they
        were read (or last saved). A value that is still the very object read, of
        an immutable type, keeps its stored encoding instead of being encoded
        again: most saves change one key of several, and encoding every value
        only to find the unchanged ones was most of a save's Python.
        """
        dumps = self._dumps
        if stored is None or decoded is None:
            encoded = {key: dumps(value) for key, value in data.items()}
        else:
            encoded = {}
            missing = _MISSING
            for key, value in data.items():
                if decoded.get(key, missing) is value and type(value) in _IMMUTABLE:
                    encoded[key] = stored[key]
                else:
                    encoded[key] = dumps(value)
        limit = conf.SESSION_REDIS_MAX_SIZE
        if limit is not None:
            size = sum(len(key.encode()) + len(value) for key, value in encoded.items())
            if size > limit:
                raise SessionTooLarge(size, limit, fingerprint())
        return encoded

    def seal(self, values: dict[str, bytes]) -> bytes:
        """Encoded values as the record stores them (encrypted here: tokens are
        randomized, so changes are found in plaintext first)."""
        return record.encode_data(values if self._cipher is None else self._cipher.seal(values))

    def open(self, raw: bytes) -> tuple[record.Head, dict[str, bytes], dict[str, Any]]:
        """A stored record's header and metadata (see ``record.Head``), its values
        as encoded (decrypted; a new dict, the caller's to keep), and the session
        data (a new dict of new lists and dicts); raises whatever the record layout,
        the cipher or the serializer raise."""
        header = record.decode_header(raw)
        loads = self._loads
        cipher = self._cipher
        if cipher is not None or loads is not _json_loads:
            user_id, meta, pos = record.decode_meta(raw)
            values = record.decode_data(raw, pos)
            if cipher is not None:
                values = cipher.open(values)
            data = {key: loads(value) for key, value in values.items()}
            return (*header, user_id, meta, pos), values, data
        section = raw[record.HEADER_LENGTH :]
        known = _DECODED.get(section)
        if known is not None:
            user_id, meta, pos, values, decoded, mutable = known
            data = dict(decoded)
            for key in mutable:
                data[key] = loads(values[key])
            return (*header, user_id, dict(meta), pos), dict(values), data
        user_id, meta, pos = record.decode_meta(raw)
        values = record.decode_data(raw, pos)
        data = {key: loads(value) for key, value in values.items()}
        if len(section) <= DECODED_MAX_BYTES:
            if len(_DECODED) >= DECODED_ENTRIES:
                _DECODED.clear()
            mutable = tuple(k for k, v in data.items() if type(v) not in _JSON_IMMUTABLE)
            _DECODED[section] = (user_id, dict(meta), pos, values, data.copy(), mutable)
            values = dict(values)  # the caller's own, never the kept one
        return (*header, user_id, meta, pos), values, data

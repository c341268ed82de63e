"""Encryption at rest of session data (``SESSION_REDIS_ENCRYPTION_KEYS``), opt-in.

What is encrypted is each session value as ``SESSION_SERIALIZER`` encoded it, one
Fernet token per value. The rest of the record stays readable, because the Lua
scripts work on it: the header (created, last seen, deadlines), the metadata (user
id, IP address, user agent) and the names of the session's keys. Values stay
separate, so a save still writes only the keys a request changed (the backend
compares *plaintext* encodings, Fernet output being randomized, and encrypts only
what it writes) and two requests changing different keys both persist.

Keys are Fernet keys, newest first: new values are encrypted with the first one
(as ``MultiFernet.encrypt`` does), stored values are read with any of them. A
value read with an older key, or one stored in clear before encryption was turned
on, is read as usual and comes back as :class:`Rewrite`: it compares unequal to
everything, so the next save of that session writes it again, encrypted with the
newest key. A value no key opens (wrong key, tampered with) raises
``InvalidToken``, and the backend treats the record as corrupt: empty session,
security log by fingerprint, record removed.

With the setting ``None`` (the default), nothing here runs: the backend reads the
setting once per ``SessionStore`` (``current()``), checks ``_cipher is None`` once
per load and once per save, and ``cryptography`` is never imported.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from django.views.decorators.debug import sensitive_variables

from ..conf import conf

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

#: How every Fernet token starts: the version byte 0x80 and the high bytes of its
#: 64-bit timestamp (zero until 2106), base64url-encoded. A value that does not
#: start so cannot be a token: it was stored before encryption was turned on. (No
#: JSON text starts with "g"; a custom serializer's output is read the same way.)
TOKEN_PREFIX = b"gAAAAA"
KEY_BYTES = 32


def is_valid_key(key: object) -> bool:
    """Whether ``key`` is a Fernet key (what ``Fernet(key)`` accepts), without importing it."""
    if not isinstance(key, str | bytes):
        return False
    try:
        # Exactly Fernet's own test. A str with non-ASCII characters raises a
        # plain ValueError, a bad base64 string binascii.Error (a ValueError).
        return len(base64.urlsafe_b64decode(key)) == KEY_BYTES
    except ValueError:
        return False


class Rewrite(bytes):
    """A plaintext value that must be stored again: it equals nothing.

    The backend keeps what Redis holds as plaintext encodings and writes a key
    when its new encoding differs from the stored one. A value read with an
    older key (or stored in clear) is kept as a ``Rewrite``, so the next save of
    the session re-encrypts it with the newest key, with no extra bookkeeping on
    the backend's path (which stays the same whether encryption is on or off).
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return False

    def __ne__(self, other: object) -> bool:
        return True

    __hash__ = bytes.__hash__


class Cipher:
    """Encrypts values with the newest key; decrypts with any configured key."""

    @sensitive_variables()
    def __init__(self, keys: Sequence[str | bytes]) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        fernets = [Fernet(key) for key in keys]
        self._newest: Fernet = fernets[0]
        self._older = MultiFernet(fernets[1:]) if len(fernets) > 1 else None

    def seal(self, values: Mapping[str, bytes]) -> dict[str, bytes]:
        """``values`` encrypted with the newest key, one token each."""
        encrypt = self._newest.encrypt
        return {key: encrypt(value) for key, value in values.items()}

    def open(self, values: Mapping[str, bytes]) -> dict[str, bytes]:
        """Stored ``values`` decrypted (raises ``InvalidToken`` if a key opens none).

        Values not encrypted with the newest key come back as :class:`Rewrite`.
        """
        from cryptography.fernet import InvalidToken

        decrypt = self._newest.decrypt
        opened: dict[str, bytes] = {}
        for key, value in values.items():
            try:
                opened[key] = decrypt(value)
            except InvalidToken:
                opened[key] = self._open_stale(value)
        return opened

    def _open_stale(self, value: bytes) -> Rewrite:
        from cryptography.fernet import InvalidToken

        if not value.startswith(TOKEN_PREFIX):
            return Rewrite(value)  # stored before encryption was turned on
        if self._older is None:
            raise InvalidToken
        return Rewrite(self._older.decrypt(value))


_cipher: Cipher | None = None


@conf.on_reset
def _forget_cipher() -> None:
    global _cipher
    _cipher = None


def current() -> Cipher | None:
    """The cipher for the configured keys, or ``None`` when encryption is off."""
    if conf.SESSION_REDIS_ENCRYPTION_KEYS is None:
        return None
    return _configured()


@sensitive_variables()
def _configured() -> Cipher:
    # Built once per value of the setting: conf's reset (Django's setting_changed)
    # forgets it with the value.
    global _cipher
    if _cipher is None:
        keys = conf.SESSION_REDIS_ENCRYPTION_KEYS
        assert keys is not None
        _cipher = Cipher(keys)
    return _cipher

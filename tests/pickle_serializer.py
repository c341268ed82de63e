"""A pickle serializer, as some projects still configure: binary output, to prove
the record format is binary-safe (and to trigger the W001 check)."""

from __future__ import annotations

import pickle
from typing import Any


class PickleSerializer:
    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # noqa: S301 - test-only, never on untrusted data

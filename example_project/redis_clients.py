"""The embedded mode's Redis: an in-process fakeredis (``REDIS_URL`` unset).

``settings.py`` names :func:`make_client` in ``SESSION_REDIS_CLIENT_FACTORY``;
the engine calls it once per process for its sync client and once per event
loop for an asyncio one. Both talk to :data:`SERVER`, one in-memory store per
process: the sessions vanish when the process stops, and two processes (two
gunicorn workers, a ``manage.py`` command beside the server) never see each
other's sessions.
"""

from __future__ import annotations

import importlib.util
from typing import Any

_INSTALL = (
    "The example project without REDIS_URL keeps its sessions in an in-process "
    "fakeredis: pip install -e '.[example]' (or set REDIS_URL=redis://... to use a "
    "real Redis server)."
)

try:
    import fakeredis
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(_INSTALL) from exc
if importlib.util.find_spec("lupa") is None:  # pragma: no cover - the same
    # The engine runs Lua scripts: fakeredis needs its "lua" extra (lupa) for them.
    raise ImportError(_INSTALL)

#: The one store of this process.
SERVER = fakeredis.FakeServer()


def make_client(*, asynchronous: bool) -> Any:
    """A client on :data:`SERVER`: ``redis.Redis``-like, or asyncio when asked."""
    if asynchronous:
        return fakeredis.FakeAsyncRedis(server=SERVER)
    return fakeredis.FakeRedis(server=SERVER)

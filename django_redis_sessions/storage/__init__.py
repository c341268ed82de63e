"""Everything that talks to Redis, and nothing that knows of requests or users.

* ``connection.py`` builds the clients (URL, TLS, Sentinel, Cluster, a django-redis
  alias, a factory); ``sentinel.py`` keeps Sentinel connections on the primary;
* ``keys.py`` and ``record.py``: key digests and names; the record layout, defined
  once (the Lua scripts receive its constants);
* ``scripts.py`` and ``scripts/*.lua``: the scripts, each with its arguments as a
  dataclass, and the one parser of their replies; ``receipts.py``: the protocol
  that makes every write safe to run twice;
* ``ops.py`` and ``index_ops.py``: every operation, for one server and for a
  Cluster, written once as a generator of steps (``steps.py``);
* ``runner.py``: the sync and the async driver that run those steps
  (:func:`run`, :func:`arun`).
"""

from .ops import Operations
from .runner import arun, run

__all__ = ["Operations", "arun", "run"]

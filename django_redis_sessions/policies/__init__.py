"""Session policies: what the engine decides, and the events it reports.

Each module holds one policy's decisions and events; the engine (``backend.py``)
asks them, and the Redis work they lead to is done by the storage layer:

* ``limit``: ``SESSION_REDIS_MAX_SESSIONS_PER_USER`` at sign-in;
* ``binding``: ``SESSION_REDIS_IP_CHANGE`` / ``SESSION_REDIS_USER_AGENT_CHANGE``,
  judging whether the client of a session changed;
* ``encryption``: ``SESSION_REDIS_ENCRYPTION_KEYS``, encryption at rest;
* ``audit``: ``SESSION_REDIS_AUDIT``, the per-user trail of session events;
* ``password_change``: the password "validator" that signs the other sessions
  out on a password change.

Key rotation (``SESSION_REDIS_ROTATE_AFTER``, ``rotation.py``) is to join them. No module here sends
Redis commands of its own, except the audit log's reads and writes, kept in one
marked section of ``audit.py`` until the storage layer takes them.
"""

"""Session policies: what the engine decides, and the events it reports.

Each module holds one policy's decisions and events; the engine (``backend.py``)
asks them, and the Redis work they lead to is done by the storage layer
(``storage/``); none sends a Redis command of its own:

* ``expiry``: sliding (idle) expiry and ``SESSIONS_ABSOLUTE_AGE``;
* ``rotation``: ``SESSIONS_ROTATE_AFTER``, when a key is due and its sealed stub;
* ``binding``: ``SESSIONS_IP_CHANGE`` / ``SESSIONS_USER_AGENT_CHANGE``,
  judging whether the client of a session changed;
* ``limit``: ``SESSIONS_MAX_PER_USER`` at sign-in;
* ``outage``: ``SESSION_REDIS_ON_OUTAGE``, what a session does without Redis;
* ``encryption``: ``SESSION_REDIS_ENCRYPTION_KEYS``, encryption at rest;
* ``audit``: ``SESSIONS_AUDIT``, the per-user trail of session events;
* ``password_change``: ``SESSIONS_REVOKE_ON_PASSWORD_CHANGE``, the user
  model's ``post_save`` receiver that signs the other sessions out on a
  password change;
* ``events``: the events these decide during a load or save, sent when it ends.
"""

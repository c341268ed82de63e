"""Session policies: what the engine decides, and the events it reports.

Each module holds one policy's decisions and events; the engine (``backend.py``)
asks them, and the Redis work they lead to is done by the storage layer
(``storage/``); none sends a Redis command of its own:

* ``expiry``: sliding (idle) expiry and ``SESSION_REDIS_ABSOLUTE_AGE``;
* ``rotation``: ``SESSION_REDIS_ROTATE_AFTER``, when a key is due and its sealed stub;
* ``binding``: ``SESSION_REDIS_IP_CHANGE`` / ``SESSION_REDIS_USER_AGENT_CHANGE``,
  judging whether the client of a session changed;
* ``limit``: ``SESSION_REDIS_MAX_SESSIONS_PER_USER`` at sign-in;
* ``outage``: ``SESSION_REDIS_ON_OUTAGE``, what a session does without Redis;
* ``encryption``: ``SESSION_REDIS_ENCRYPTION_KEYS``, encryption at rest;
* ``audit``: ``SESSION_REDIS_AUDIT``, the per-user trail of session events;
* ``password_change``: ``SESSION_REDIS_REVOKE_ON_PASSWORD_CHANGE``, the user
  model's ``post_save`` receiver that signs the other sessions out on a
  password change;
* ``events``: the events these decide during a load or save, sent when it ends.
"""

"""Signals for audit logs.

``session_revoked`` is sent once per revocation call that ended at least one
session, after Redis has forgotten them. Its sender is the user model class (as
with Django's ``user_logged_out``), and it carries:

* ``user_id``: the primary key (a string) whose sessions ended; ``None`` when
  every session of the store was ended, or for a session without a user;
* ``fingerprints``: the ended sessions' fingerprints (never their keys); empty
  for a store-wide revocation, which does not read each session;
* ``count``: how many sessions ended;
* ``by``: what ended them: ``"api"``, ``"command"``, ``"admin"``, ``"user"``
  (the user's own "your sessions" page) or ``"password_change"``;
* ``actor``: the user who asked for it, when known (an admin, the user), else
  ``None``.
"""

from __future__ import annotations

from django.dispatch import Signal

session_revoked = Signal()

#: Sent for each session-policy event, for audit trails (``policies/audit.py`` listens):
#: ``event`` (``"rotated"``, ``"limit_ended"``, ``"login_refused"``,
#: ``"ip_changed"``, ``"user_agent_changed"``, ...), ``user_id`` (a string, or
#: ``None``), ``fingerprint`` (never the key) and ``detail`` (a small dict of
#: strings: what the policy saw and did). The sender is the session store class.
session_event = Signal()

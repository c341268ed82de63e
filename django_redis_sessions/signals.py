"""The package's signals, and the words they carry (``by`` and ``event`` values).

``session_revoked`` is sent once per revocation call that ended at least one
session, after Redis has forgotten them. Its sender is the user model class (as
with Django's ``user_logged_out``), and it carries:

* ``user_id``: the primary key (a string) whose sessions ended; ``None`` when
  every session of the store was ended, or for a session without a user;
* ``fingerprints``: the ended sessions' fingerprints (never their keys); empty
  for a store-wide revocation, which does not read each session;
* ``count``: how many sessions ended;
* ``by``: what ended them, one of :class:`By`'s revocation values: ``"api"``,
  ``"command"``, ``"admin"``, ``"user"`` (the user's own "your sessions" page),
  ``"password_change"`` or ``"limit"`` (the session limit, at a new sign-in);
* ``actor``: the user who asked for it, when known (an admin, the user), else
  ``None``.

``session_event`` is sent for each session-policy event, for audit trails
(``policies/audit.py`` listens): ``event`` (one of :class:`Event`'s values, or an
application's own), ``user_id`` (a string, or ``None``), ``fingerprint`` (never
the key) and ``detail`` (a small dict of strings: what the policy saw and did).
The sender is the session store class.

The values are plain strings (``By.API == "api"``), so receivers compare them with
either.
"""

from __future__ import annotations

from typing import Final

from django.dispatch import Signal

__all__ = ["By", "Event", "session_event", "session_revoked"]

session_revoked = Signal()

session_event = Signal()


class By:
    """What caused a revocation or an event: the ``by`` of signals and audit events."""

    # Revocations (``session_revoked``'s ``by``; the API's ``by=`` argument).
    API: Final = "api"
    COMMAND: Final = "command"
    ADMIN: Final = "admin"
    USER: Final = "user"
    PASSWORD_CHANGE: Final = "password_change"  # noqa: S105 - a label, not a password
    #: ``SESSIONS_MAX_PER_USER`` ended it at a new sign-in.
    LIMIT: Final = "limit"

    # Events the audit trail records itself.
    LOGIN: Final = "login"
    LOGOUT: Final = "logout"
    #: A ``session_event`` sent without a ``by`` of its own.
    POLICY: Final = "policy"


class Event:
    """What happened: ``session_event``'s ``event``, and an audit event's ``event``."""

    # Sent with ``session_event`` by the engine's policies.
    ROTATED: Final = "rotated"
    LIMIT_ENDED: Final = "limit_ended"
    LOGIN_REFUSED: Final = "login_refused"
    IP_CHANGED: Final = "ip_changed"
    USER_AGENT_CHANGED: Final = "user_agent_changed"

    # Recorded by the audit trail from Django's and this package's signals.
    CREATED: Final = "created"
    SIGNED_OUT: Final = "signed_out"
    REVOKED: Final = "revoked"

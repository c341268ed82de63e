"""The package's signals, one per event as Django's ``user_logged_in`` and
``user_logged_out`` are, and the words they carry (``by`` and ``action`` values).

Every signal names sessions by *fingerprint* (never their key) and users by
``user_id``, the primary key as a string (``None`` for a session without a user).
Receivers take ``**kwargs``: later versions may add arguments.

``session_revoked``
    Sent once per revocation call that ended at least one session, after Redis has
    forgotten them. Sender: the user model class (as with ``user_logged_out``).
    Arguments:

    * ``user_id``: whose sessions ended; ``None`` when every session of the store
      was ended, or for a session without a user;
    * ``fingerprints``: a tuple of the ended sessions' fingerprints; empty for a
      store-wide revocation, which does not read each session;
    * ``count``: how many sessions ended;
    * ``by``: what ended them, one of :class:`By`'s revocation values: ``"api"``,
      ``"command"``, ``"admin"``, ``"user"`` (the user's own "your sessions"
      page), ``"password_change"`` or ``"limit"`` (the session limit, at a new
      sign-in);
    * ``actor``: the user who asked for it, when known (an admin, the user), else
      ``None``.

``session_rotated``
    A session's key was renewed (``SESSIONS_ROTATE_AFTER``). Sender: the
    session store class. Arguments: ``user_id``, ``fingerprint`` (the new key's),
    ``old_fingerprint`` (the old key's).

``session_limit_reached``
    A sign-in found the user at ``SESSIONS_MAX_PER_USER``. Sender:
    the session store class. Arguments: ``user_id``; ``action``, what the limit did
    (``"end_oldest"``: it ended ``ended``; ``"refuse"``: it refused the sign-in,
    which raises ``SessionLimitReached``); ``fingerprint``, the signing-in session
    (the refused one for ``"refuse"``); ``ended``, a tuple of the fingerprints the
    limit ended (empty for ``"refuse"``); ``limit``, the limit (an ``int``). With
    ``"end_oldest"``, ``session_revoked`` (``by="limit"``) is sent as well.

``session_ip_changed``
    ``SESSIONS_IP_CHANGE`` saw a session's client come from another network.
    Sender: the session store class. Arguments: ``user_id``, ``fingerprint``,
    ``old_network`` and ``new_network`` (as ``"203.0.113.0/24"``), ``action``
    (``"flag"``: the request goes on with ``request.session.ip_changed``;
    ``"end"``: the session was ended).

``session_user_agent_changed``
    ``SESSIONS_USER_AGENT_CHANGE`` saw a session's user agent change.
    Sender: the session store class. Arguments: ``user_id``, ``fingerprint``,
    ``action`` (``"flag"`` or ``"end"``, as above).

The engine's signals are sent when the load or save that decided them ends, with
``send()`` under the sync driver and ``asend()`` under the async one.

The values are plain strings (``By.API == "api"``), so receivers compare them with
either. :class:`Event` names the audit trail's events (``policies/audit.py``
records each of these signals, and Django's sign-in and sign-out, as one).
"""

from __future__ import annotations

from typing import Final

from django.dispatch import Signal

__all__ = [
    "By",
    "Event",
    "session_ip_changed",
    "session_limit_reached",
    "session_revoked",
    "session_rotated",
    "session_user_agent_changed",
]

session_revoked = Signal()
session_rotated = Signal()
session_limit_reached = Signal()
session_ip_changed = Signal()
session_user_agent_changed = Signal()


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
    #: A session policy's event (rotation, the limit, the binding policies).
    POLICY: Final = "policy"


class Event:
    """The audit trail's event names (an :class:`~.policies.audit.AuditEvent`'s ``event``)."""

    # From the engine's policies' signals.
    ROTATED: Final = "rotated"  # session_rotated
    LIMIT_ENDED: Final = "limit_ended"  # session_limit_reached, action "end_oldest"
    LOGIN_REFUSED: Final = "login_refused"  # session_limit_reached, action "refuse"
    IP_CHANGED: Final = "ip_changed"  # session_ip_changed
    USER_AGENT_CHANGED: Final = "user_agent_changed"  # session_user_agent_changed

    # From Django's and this package's other signals.
    CREATED: Final = "created"  # user_logged_in
    SIGNED_OUT: Final = "signed_out"  # user_logged_out
    REVOKED: Final = "revoked"  # session_revoked

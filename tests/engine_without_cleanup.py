"""A session engine that cannot clear expired sessions (for clearsessions' fallback)."""

from __future__ import annotations

from django.contrib.sessions.backends.base import SessionBase


class SessionStore(SessionBase):
    pass

"""Exceptions the engine raises beyond Django's ``CreateError``/``UpdateError``."""

from __future__ import annotations


class SessionStoreError(Exception):
    """Redis failed to serve a session operation.

    Raised instead of treating the session as missing: a Redis outage must show up
    as an error, never as every user silently signed out. The message names the
    server (``host:port`` or socket path) and never its password.
    """

    def __init__(self, message: str, server: str) -> None:
        super().__init__(message)
        self.server = server


class SessionStoreUnavailable(SessionStoreError):
    """Redis could not be reached, or did not answer within the timeout."""

"""A login form that refuses a sign-in beyond ``SESSIONS_MAX_PER_USER``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from . import api
from .exceptions import SessionLimitReached


class SessionLimitAuthenticationForm(AuthenticationForm):
    """``AuthenticationForm`` that shows the session limit as a form error.

    With ``SESSIONS_LIMIT_ACTION = "refuse"`` it counts the user's
    other live sessions before signing in and refuses with a normal form error
    (code ``"session_limit"``). The save script still enforces the limit
    atomically; this check only turns the common case into a friendly message.
    Use it as ``LoginView.as_view(authentication_form=SessionLimitAuthenticationForm)``.
    """

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        limit = api.session_limit_for(user, current=self.request)
        if limit is not None:
            raise forms.ValidationError(str(SessionLimitReached(limit)), code="session_limit")

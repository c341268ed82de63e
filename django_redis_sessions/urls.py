"""The user's own sessions page.

Mount it with ``path("account/sessions/", include("django_redis_sessions.urls"))``.

HTML pages work without JavaScript; the ``api/`` views give the same list and
actions as JSON for single-page apps (they need the CSRF token too: send it in
the ``X-CSRFToken`` header).
"""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "django_redis_sessions"

urlpatterns = [
    path("", views.session_list, name="sessions"),
    path("<str:fingerprint>/revoke/", views.revoke_session, name="revoke"),
    path("revoke-others/", views.revoke_others, name="revoke_others"),
    path("api/", views.api_session_list, name="api_sessions"),
    path("api/<str:fingerprint>/revoke/", views.api_revoke_session, name="api_revoke"),
    path("api/revoke-others/", views.api_revoke_others, name="api_revoke_others"),
]

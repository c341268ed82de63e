from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape

from django_redis_sessions.keys import fingerprint


def home(request: HttpRequest) -> HttpResponse:
    """Count this browser's visits in its session, and show what the session knows."""
    visits = request.session.get("visits", 0) + 1
    request.session["visits"] = visits
    key = request.session.session_key
    who = request.user.get_username() if request.user.is_authenticated else "anonymous"
    return HttpResponse(
        "<!doctype html><title>django_redis_sessions example</title>"
        f"<h1>Visit number {visits}</h1>"
        f"<p>Signed in as: {escape(who)}</p>"
        f"<p>Session fingerprint: {fingerprint(key) if key else '(new session)'}</p>"
        f"<p>Expires in {request.session.get_expiry_age()} s unless you come back.</p>"
    )

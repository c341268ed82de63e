from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.sign_in, name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),  # POST only
    path("accounts/signup/", views.sign_up, name="signup"),
    # The signed-in user's own "your sessions" page (django_redis_sessions.urls).
    path("account/sessions/", include("django_redis_sessions.urls")),
    path("admin/", admin.site.urls),
]

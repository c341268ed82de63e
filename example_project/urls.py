from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LoginView, LogoutView
from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    # Until the example has its own templates, sign-in borrows the admin's page.
    path("accounts/login/", LoginView.as_view(template_name="admin/login.html"), name="login"),
    path("accounts/logout/", LogoutView.as_view(), name="logout"),
    path("account/sessions/", include("django_redis_sessions.urls")),
]

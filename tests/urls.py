from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from django_redis_sessions.forms import SessionLimitAuthenticationForm

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("account/sessions/", include("django_redis_sessions.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("read/", views.read_session),
    path("notice/", views.notice_page),
    path("messages/", views.messages_page),
    path("amessages/", views.amessages_page),
    path("ip-changed/", views.ip_changed),
    path("write/", views.write_session),
    path("login/", views.login_view),
    path("alogin/", views.alogin_view),
    path("logout/", views.logout_view),
    path("awrite/", views.awrite_session),
    path("aread/", views.aread_session),
    path("flush/", views.flush_session),
    path("cycle/", views.cycle_session),
    path("interrupted/", views.interrupted_write),
    path("ainterrupted/", views.ainterrupted_write),
    path("fail/", views.write_then_fail),
    path("untouched/", views.untouched),
    path(
        "limit-login/",
        auth_views.LoginView.as_view(
            template_name="limit/login.html",
            authentication_form=SessionLimitAuthenticationForm,
            success_url_allowed_hosts=set(),
            next_page="/read/",
        ),
    ),
    path("signup/", views.SignUpView.as_view()),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(success_url="/read/"),
    ),
    path(
        "password_change/",
        auth_views.PasswordChangeView.as_view(success_url="/read/"),
        name="password_change",
    ),
]

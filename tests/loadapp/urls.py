from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("signin/", views.sign_in),
    path("read/", views.read),
    path("peek/", views.peek),
    path("data/", views.data),
    path("write/", views.write),
    path("revoke/", views.revoke),
    path("signout/", views.sign_out),
]

from __future__ import annotations

from django.apps import AppConfig


class ExampleConfig(AppConfig):
    """The example site: its templates, views and the ``demo_data`` command."""

    name = "example_project"
    verbose_name = "django_redis_sessions example"

    def ready(self) -> None:
        from .demo import announce_mode

        announce_mode()

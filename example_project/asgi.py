"""ASGI entry point: ``uvicorn example_project.asgi:application``.

Without ``REDIS_URL`` the sessions live in this process's memory: run one worker
process (uvicorn's default), and the demo data is seeded here at start-up.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
application = get_asgi_application()

from example_project.demo import seed_at_server_start  # noqa: E402 - needs Django set up

seed_at_server_start()

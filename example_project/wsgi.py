"""WSGI entry point: ``gunicorn example_project.wsgi`` (``runserver`` loads it too).

Without ``REDIS_URL`` the sessions live in this process's memory: run one worker
process (gunicorn's default), and the demo data is seeded here at start-up.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
application = get_wsgi_application()

from example_project.demo import seed_at_server_start  # noqa: E402 - needs Django set up

seed_at_server_start()

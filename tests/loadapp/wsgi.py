"""``python -m gunicorn tests.loadapp.wsgi`` (with ``DJANGO_SETTINGS_MODULE`` set)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.loadapp.settings")

application = get_wsgi_application()

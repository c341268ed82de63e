"""A small Django site for the load test and the throughput benchmark.

``settings.py`` reads its environment (``LOADAPP_*``), so one code base serves
either engine: ours by default, or Django's cache backend on django-redis with
``LOADAPP_ENGINE=cache``. ``views.py`` holds the endpoints, ``prepare.py`` builds
the SQLite database with the users, ``server.py`` runs it under gunicorn on a
free loopback port and ``client.py`` is the cheap keep-alive HTTP client that
drives it.
"""

"""Build the load app's SQLite database: ``python -m tests.loadapp.prepare N``.

Migrates ``LOADAPP_DB`` and creates users ``load0`` .. ``load<N-1>``, each with
the password :data:`PASSWORD`. Run it with ``DJANGO_SETTINGS_MODULE`` set to
``tests.loadapp.settings``, from the repository root.
"""

from __future__ import annotations

import sys

PASSWORD = "load-pw"


def username(index: int) -> str:
    return f"load{index}"


def main(argv: list[str]) -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    model = get_user_model()
    for index in range(int(argv[0])):
        model.objects.create_user(username(index), password=PASSWORD)


if __name__ == "__main__":
    main(sys.argv[1:])

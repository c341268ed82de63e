"""``manage.py demo_data``: demo users, and sessions of theirs on several devices."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from example_project import demo


class Command(BaseCommand):
    help = (
        "Create the demo users (ann, bob, cho and the superuser admin; existing ones are "
        "kept) and sign them in from several devices and IP addresses, in the Redis "
        "named by REDIS_URL. Seeding again replaces the earlier demo sessions. Without "
        "REDIS_URL the sessions would die with this command: the server seeds them "
        "itself when it starts."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for user, created in demo.ensure_users():
            state = "created" if created else "already there, left as it is"
            role = " (superuser)" if user.superuser else ""
            self.stdout.write(f"User {user.username}{role}: {state}")
        if demo.is_embedded():
            self.stdout.write(
                self.style.WARNING(
                    "No sessions seeded: without REDIS_URL, sessions live in the memory of "
                    "the process that makes them, so this command's would vanish when it "
                    "exits. The server (runserver, uvicorn, gunicorn) seeds the demo "
                    "sessions into its own store when it starts. To seed a real Redis: "
                    "REDIS_URL=redis://127.0.0.1:6379/0 python manage.py demo_data"
                )
            )
        else:
            seeded, replaced = demo.seed_sessions()
            earlier = f", replacing {replaced} earlier demo sessions" if replaced else ""
            self.stdout.write(
                self.style.SUCCESS(f"Seeded {seeded} sessions in {demo.describe_store()}{earlier}.")
            )
        self.stdout.write(f"Sign in as: {demo.CREDENTIALS}.")

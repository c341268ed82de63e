# The admin's unmanaged "Sessions" model: no table is created; the migration exists
# so Django creates its content type and permissions.
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="RedisSession",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "permissions": [
                    ("view_sessions", "Can view sessions"),
                    ("revoke_sessions", "Can revoke sessions"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
    ]

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("plugins_app", "0014_ux_updates_grants"),
    ]

    operations = [
        migrations.CreateModel(
            name="PluginRegistration",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("plugin_id", models.CharField(max_length=64, unique=True)),
                ("code_key", models.CharField(max_length=64)),
                ("description", models.JSONField(default=dict)),
                ("topics", models.JSONField(default=list)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]

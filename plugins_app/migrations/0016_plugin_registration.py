from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("plugins_app", "0011_metric_samples"),
    ]

    operations = [
        migrations.AddField(
            model_name="installedplugin",
            name="registration",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]

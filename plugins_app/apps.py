from django.apps import AppConfig


class PluginsAppConfig(AppConfig):
    name = "plugins_app"
    verbose_name = "Jupiter plugins"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the runtime to enable/disable signals; no plugin is loaded here (booting
        # needs the database, which is only safe once the server or command starts).
        from . import runtime  # noqa: F401

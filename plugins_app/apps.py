from django.apps import AppConfig


class PluginsAppConfig(AppConfig):
    name = "plugins_app"
    verbose_name = "Jupiter plugins"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The admin lives with the rest of the web layer; the runtime connects itself to the
        # enable/disable signals. No plugin is loaded here: booting needs the database, which
        # is only safe once the server or command starts.
        from plugins_app.kernel import feed, runtime  # noqa: F401
        from plugins_app.observability import notifications, processes  # noqa: F401
        from plugins_app.projects import roles  # noqa: F401 - registers the role permissions
        from plugins_app.web import admin  # noqa: F401

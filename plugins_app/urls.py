"""Console routes; ``/`` is the plugin list, the page a freshly logged-in user lands on.

Where two paths share a name, ``reverse`` returns the later one (``/plugins/``,
``/plugins.json``); the other stays as an alias.
"""

from django.urls import path

from .autoui_urls import urlpatterns as autoui_urlpatterns
from .views import api, plugins, projects

app_name = "plugins_app"

urlpatterns = [
    path("", plugins.plugin_list, name="plugin-list"),
    path("plugins/", plugins.plugin_list, name="plugin-list"),
    path("api/plugins", api.plugins_json, name="plugins-json"),
    path("plugins.json", api.plugins_json, name="plugins-json"),
    path("plugins/<str:plugin_id>/", plugins.plugin_detail, name="plugin-detail"),
    path(
        "plugins/<str:plugin_id>/projects/<slug:name>/",
        plugins.plugin_project_toggle,
        name="plugin-project-toggle",
    ),
    path("projects/", projects.project_list, name="project-list"),
    path("projects/<slug:name>/", projects.project_detail, name="project-detail"),
    path(
        "projects/<slug:name>/plugins/<str:plugin_id>/",
        projects.project_plugin_toggle,
        name="project-plugin-toggle",
    ),
    path(
        "projects/<slug:name>/resolve/",
        projects.project_resolve_conflict,
        name="project-resolve-conflict",
    ),
    *autoui_urlpatterns,
]

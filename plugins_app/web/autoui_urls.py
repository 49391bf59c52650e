"""Routes of the auto-UI (settings, metrics, logs, contributions), included by ``urls.py``.

Kept apart so the console's own route table stays short. Everything a plugin adds lives
under ``/plugins/<id>/`` or ``/api/plugins/<id>/`` (SPEC U5); what it wrote itself only
under ``/plugins/<id>/frame/`` and ``/plugins/<id>/frame-assets/`` (sandboxed frames).
"""

from django.urls import path

from plugins_app.web.views import contributions, frames, observability, settings

urlpatterns = [
    path("metrics", observability.prometheus_metrics, name="metrics"),
    path(
        "api/plugins/<str:plugin_id>/metrics",
        observability.plugin_metrics_json,
        name="plugin-metrics-json",
    ),
    path(
        "plugins/<str:plugin_id>/metrics/",
        observability.plugin_metrics_card,
        name="plugin-metrics-card",
    ),
    path("plugins/<str:plugin_id>/logs/", observability.plugin_log_panel, name="plugin-logs"),
    path(
        "plugins/<str:plugin_id>/logs/download/",
        observability.plugin_log_download,
        name="plugin-logs-download",
    ),
    path("plugins/<str:plugin_id>/settings/", settings.plugin_settings, name="plugin-settings"),
    path(
        "plugins/<str:plugin_id>/settings/reset/",
        settings.plugin_settings_reset,
        name="plugin-settings-reset",
    ),
    path(
        "plugins/<str:plugin_id>/settings/export/",
        settings.plugin_settings_export,
        name="plugin-settings-export",
    ),
    path(
        "plugins/<str:plugin_id>/settings/import/",
        settings.plugin_settings_import,
        name="plugin-settings-import",
    ),
    path(
        "plugins/<str:plugin_id>/control/",
        contributions.plugin_control_panel,
        name="plugin-control",
    ),
    path(
        "plugins/<str:plugin_id>/ui/",
        contributions.plugin_contributions,
        name="plugin-contributions",
    ),
    # Plugin UI in sandboxed frames (views/frames.py): the document, its assets (under a
    # token: the frame sends no cookie), its settings for jupiterBridge, the plugin's tab.
    path(
        "plugins/<str:plugin_id>/frame/<str:kind>/<str:item>/",
        frames.plugin_frame,
        name="plugin-frame",
    ),
    path(
        "plugins/<str:plugin_id>/frame-assets/<str:token>/<path:path>",
        frames.plugin_frame_asset,
        name="plugin-frame-asset",
    ),
    path(
        "plugins/<str:plugin_id>/bridge/settings/",
        frames.plugin_bridge_settings,
        name="plugin-bridge-settings",
    ),
    path("plugins/<str:plugin_id>/tab/", frames.plugin_tab, name="view"),
    path("views/", frames.plugin_views, name="views"),
    path(
        "projects/<slug:name>/plugins/<str:plugin_id>/settings/",
        settings.project_plugin_settings,
        name="project-plugin-settings",
    ),
    path(
        "projects/<slug:name>/plugins/<str:plugin_id>/settings/reset/",
        settings.project_plugin_settings_reset,
        name="project-plugin-settings-reset",
    ),
    path(
        "api/plugins/<str:plugin_id>/<path:route>",
        contributions.plugin_api_route,
        name="plugin-api-route",
    ),
]

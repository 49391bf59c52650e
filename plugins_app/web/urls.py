"""Console routes; ``/`` is the plugin list, the page a freshly logged-in user lands on.

Where two paths share a name, ``reverse`` returns the later one (``/plugins/``,
``/plugins.json``); the other stays as an alias.
"""

from django.urls import path

from plugins_app.web.autoui_urls import urlpatterns as autoui_urlpatterns
from plugins_app.web.views import (
    api,
    audit,
    catalogue,
    extras,
    insights,
    jobs,
    meeting,
    members,
    plugins,
    projects,
    recovery,
    status,
    tokens,
    updates,
)

app_name = "plugins_app"

urlpatterns = [
    path("", plugins.plugin_list, name="plugin-list"),
    path("plugins/", plugins.plugin_list, name="plugin-list"),
    path("api/plugins", api.plugins_json, name="plugins-json"),
    path("plugins.json", api.plugins_json, name="plugins-json"),
    path("plugins/<str:plugin_id>/", plugins.plugin_detail, name="plugin-detail"),
    path(
        "plugins/<str:plugin_id>/processes/",
        recovery.plugin_processes,
        name="plugin-processes",
    ),
    path("safe-mode/", recovery.safe_mode_switch, name="safe-mode"),
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
    path("projects/<slug:name>/import/", projects.project_import, name="project-import"),
    path("projects/<slug:name>/members/", members.project_members, name="project-members"),
    # API tokens for scripts and scrapers (SPEC X4): each user's own.
    path("tokens/", tokens.token_list, name="token-list"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token-revoke"),
    # Trust, catalogue, Meeting and audit (SPEC X2, X5, MK1-MK3, MT1): staff only.
    path("catalogue/", catalogue.catalogue, name="catalogue"),
    path("catalogue/stage/", catalogue.stage, name="catalogue-stage"),
    path("catalogue/review/<str:token>/", catalogue.review, name="catalogue-review"),
    path("catalogue/review/<str:token>/confirm/", catalogue.confirm, name="catalogue-confirm"),
    path(
        "plugins/<str:plugin_id>/uninstall/",
        catalogue.uninstall_plugin,
        name="plugin-uninstall",
    ),
    path(
        "plugins/<str:plugin_id>/check-update/",
        catalogue.check_update,
        name="plugin-check-update",
    ),
    path("plugins/<str:plugin_id>/pin/", updates.pin, name="plugin-pin"),
    path("catalogue/check/", updates.check_now, name="catalogue-check"),
    path("catalogue/update-all/", updates.update_everything, name="catalogue-update-all"),
    path(
        "projects/<slug:name>/plugins/<str:plugin_id>/accept-permissions/",
        updates.accept_permissions,
        name="project-plugin-accept",
    ),
    path("meeting/", meeting.meeting_list, name="meeting"),
    path("meeting/plans", meeting.receive, name="meeting-receive"),
    path("meeting/<int:pk>/", meeting.meeting_detail, name="meeting-detail"),
    path("meeting/<int:pk>/decide/", meeting.meeting_decide, name="meeting-decide"),
    path("audit/", audit.audit_list, name="audit"),
    path("status/storage/", status.storage_status, name="storage-status"),
    # Jobs, scan and analysis, hot reload (issue 4).
    path("jobs/", jobs.job_list, name="job-list"),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/panel/", jobs.job_panel, name="job-panel"),
    path("jobs/<uuid:job_id>.json", jobs.job_json, name="job-json"),
    path("jobs/<uuid:job_id>/cancel/", jobs.job_cancel, name="job-cancel"),
    path("projects/<slug:name>/run/<str:job_name>/", jobs.project_job_run, name="project-job-run"),
    path("projects/<slug:name>/results/", jobs.project_results, name="project-results"),
    # Charts, the import graph and findings at scale (issue 15).
    path("projects/<slug:name>/findings/", insights.project_findings, name="project-findings"),
    path("projects/<slug:name>/charts/", insights.project_charts, name="project-charts"),
    path("projects/<slug:name>/graph/", insights.project_graph, name="project-graph"),
    path("plugins/<str:plugin_id>/jobs/chart/", insights.plugin_job_chart, name="plugin-job-chart"),
    path(
        "plugins/<str:plugin_id>/metrics/chart/",
        insights.plugin_metrics_chart,
        name="plugin-metrics-chart",
    ),
    path(
        "plugins/<str:plugin_id>/jobs/<str:job_name>/run/",
        jobs.plugin_job_run,
        name="plugin-job-run",
    ),
    path("plugins/<str:plugin_id>/reload/", jobs.plugin_reload, name="plugin-reload"),
    *autoui_urlpatterns,
    # Notifications, debug mode, problem reports (issue 5, SPEC U8).
    path("notifications/", extras.notification_list, name="notification-list"),
    path("notifications/bell/", extras.notification_bell, name="notification-bell"),
    path("notifications/read/", extras.notification_read, name="notification-read"),
    path("plugins/<str:plugin_id>/debug/", extras.plugin_debug_toggle, name="plugin-debug"),
    path(
        "plugins/<str:plugin_id>/problem-report/",
        extras.plugin_problem_report,
        name="plugin-problem-report",
    ),
]

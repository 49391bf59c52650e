"""Dependencies between plugins within one project (SPEC L3, issue 15).

The runtime loads a plugin when its dependencies are enabled somewhere; a project needs
more: a plugin that calls ``code_analyzer`` for a project gets nothing from it unless
``code_analyzer`` is enabled in that same project. So enabling a plugin offers to enable
what it needs there, disabling one names the plugins that need it there, and a plugin
whose dependency is missing in a project says which, instead of failing with a raw error.
Optional dependencies are never required.
"""

from __future__ import annotations

from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, Project, ProjectPlugin

__all__ = ["enabled_dependents", "missing_dependencies", "unmet_in"]


def _required(manifest: Manifest | None) -> list[str]:
    return [d.id for d in manifest.dependencies if not d.optional] if manifest else []


def _enabled_ids(project: Project) -> set[str]:
    return set(
        ProjectPlugin.objects.filter(project=project, enabled=True).values_list(
            "plugin__plugin_id", flat=True
        )
    )


def missing_dependencies(project: Project, plugin: InstalledPlugin) -> list[InstalledPlugin]:
    """The installed plugins ``plugin`` requires that are not enabled in ``project``, in the
    order to enable them (each one's own missing dependencies first)."""
    enabled = _enabled_ids(project)
    found: list[InstalledPlugin] = []

    def visit(current: InstalledPlugin, seen: set[str]) -> None:
        for dep_id in _required(current.typed_manifest):
            if dep_id in enabled or dep_id in seen:
                continue
            seen.add(dep_id)
            dependency = InstalledPlugin.objects.filter(plugin_id=dep_id).first()
            if dependency is not None:
                visit(dependency, seen)
                found.append(dependency)

    visit(plugin, {plugin.plugin_id})
    return found


def enabled_dependents(project: Project, plugin_id: str) -> list[InstalledPlugin]:
    """The plugins enabled in ``project`` that require ``plugin_id``."""
    rows = ProjectPlugin.objects.filter(project=project, enabled=True).select_related("plugin")
    return [
        row.plugin
        for row in rows.order_by("plugin__plugin_id")
        if plugin_id in _required(row.plugin.typed_manifest)
    ]


def unmet_in(project: Project) -> dict[str, str]:
    """For each plugin enabled in ``project`` that lacks a required dependency there, why."""
    enabled = _enabled_ids(project)
    installed = set(InstalledPlugin.objects.values_list("plugin_id", flat=True))
    reasons: dict[str, str] = {}
    rows = ProjectPlugin.objects.filter(project=project, enabled=True).select_related("plugin")
    for row in rows:
        for dep_id in _required(row.plugin.typed_manifest):
            if dep_id not in enabled:
                where = "disabled in this project" if dep_id in installed else "not installed"
                reasons[row.plugin.plugin_id] = f"needs {dep_id}, which is {where}"
                break
    return reasons

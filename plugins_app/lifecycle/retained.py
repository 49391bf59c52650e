"""Settings that outlive an uninstall (SPEC MK2): kept for a reinstall, or purged.

"Keep" stores the global settings in ``RetainedPluginConfig`` and leaves the project files
alone (they keep the plugin's entries; sync ignores entries of plugins not installed, and a
reinstall imports them again). "Purge" forgets the settings and removes the plugin's entry
from every project file.
"""

from __future__ import annotations

import logging

from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, PluginConfig, Project, RetainedPluginConfig
from plugins_app.projects.projectfile import (
    ProjectFileData,
    ProjectFileError,
    read_project_file,
    write_project_file,
)
from plugins_app.projects.service import project_file_path, sync_from_file

log = logging.getLogger("jupiter.installer")


def retain(plugin: InstalledPlugin, config: PluginConfig | None) -> None:
    """Remember ``config`` for a later reinstall of ``plugin``; ``None`` forgets it."""
    RetainedPluginConfig.objects.filter(plugin_id=plugin.plugin_id).delete()
    if config is not None:
        RetainedPluginConfig.objects.create(
            plugin_id=plugin.plugin_id,
            values=config.values,
            schema_version=config.schema_version,
            version=plugin.version,
        )


def restore_retained(plugin: InstalledPlugin, manifest: Manifest) -> str:
    retained = RetainedPluginConfig.objects.filter(plugin_id=plugin.plugin_id).first()
    if retained is None:
        return ""
    schema_version = manifest.config_schema.version if manifest.config_schema else 1
    if retained.schema_version != schema_version:
        return f"kept settings are for schema version {retained.schema_version}; not restored"
    PluginConfig.objects.filter(plugin=plugin).update(values=retained.values)
    retained.delete()
    return "kept settings restored"


def reimport_project_files() -> None:
    """Project files may still mention the plugin (kept config): bring those entries back."""
    for project in Project.objects.all():
        outcome = sync_from_file(project, force=True)
        if outcome.error is not None:
            log.warning("project %s: %s", project.name, outcome.error)


def drop_from_project_files(plugin_id: str) -> None:
    """Purge: remove the plugin's entry from every project file (best effort, logged)."""
    for project in Project.objects.all():
        path = project_file_path(project)
        try:
            data = read_project_file(path)
            if plugin_id not in data.plugins:
                continue
            entries = {k: v for k, v in data.plugins.items() if k != plugin_id}
            new = ProjectFileData(project=data.project, plugins=entries, extra=data.extra)
            file_hash = write_project_file(path, new)
        except (ProjectFileError, OSError) as exc:
            log.warning("purge of %s: %s not updated: %s", plugin_id, path, exc)
            continue
        if data.sha256 == project.file_hash:  # a pending hand edit stays detectable
            Project.objects.filter(pk=project.pk).update(file_hash=file_hash)

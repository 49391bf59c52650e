"""Projects and the per-project state of each plugin (SPEC D1, S2, S3)."""

from __future__ import annotations

from django.db import models

from plugins_app.models.plugins import InstalledPlugin


class Project(models.Model):
    """A directory on disk registered in Jupiter (SPEC D1)."""

    name = models.SlugField(max_length=64, unique=True)
    root_path = models.CharField(max_length=1024, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    file_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="SHA-256 of the project file as last read or written; a different hash on "
        "disk means it was edited by hand since.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProjectPlugin(models.Model):
    """Per-project state of one plugin: enabled flag and config overrides (SPEC S2, S3)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="plugin_states")
    plugin = models.ForeignKey(
        InstalledPlugin, on_delete=models.CASCADE, related_name="project_states"
    )
    enabled = models.BooleanField(default=False)
    overrides = models.JSONField(default=dict, blank=True)
    # What this project accepted (issue 15). Null: every permission the installed version
    # declares, accepted on enabling. An update freezes the old set here first, so permissions
    # a new version adds stay refused in this project until a maintainer accepts them.
    granted_permissions = models.JSONField(null=True, blank=True, default=None)
    # Bumped by every change (console or file import): the staleness token of the project's
    # settings form, checked by a conditional UPDATE so no save overwrites a newer one.
    revision = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "plugin"], name="unique_project_plugin")
        ]
        ordering = ["project__name", "plugin__plugin_id"]

    def __str__(self) -> str:
        state = "enabled" if self.enabled else "disabled"
        return f"{self.plugin.plugin_id} {state} in {self.project.name}"

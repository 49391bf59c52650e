"""A project's timeline and import graph (SPEC D2, D3)."""

from __future__ import annotations

from django.db import models

from plugins_app.models.jobs import Job
from plugins_app.models.projects import Project


class HistoryKind(models.TextChoices):
    SCAN = "scan", "Scan"
    ANALYSIS = "analysis", "Analysis"
    NOTE = "note", "Plugin note"


class HistoryEntry(models.Model):
    """One entry of a project's timeline (SPEC D2, D3): scans, analyses, plugin notes.

    Jobs and config changes have their own tables; ``history.timeline`` merges them in.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=16, choices=HistoryKind.choices)
    plugin_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "history entries"

    def __str__(self) -> str:
        return f"{self.project.name} {self.kind}: {self.summary}"


class ProjectGraph(models.Model):
    """The project's files and Python imports, as built by its latest scan (SPEC D3)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="graph")
    nodes = models.JSONField(default=list, blank=True)
    edges = models.JSONField(default=list, blank=True)
    cycles = models.JSONField(
        null=True,
        blank=True,
        help_text="The import cycles among the files (sorted lists of paths), found by the "
        "scan; null for a graph stored before they were.",
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL)
    built_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"graph of {self.project.name}"


class Finding(models.Model):
    """One finding of a project's latest analysis, as rows so the findings page filters,
    counts and pages in the database (72,000 findings are never decoded for one page).

    Written beside the analysis's ``HistoryEntry`` (which keeps the full JSON); the rows of
    older analyses of the project are replaced. ``severity`` is normalised
    (``jobs.findings.severity_of``), ``position`` keeps the plugin's order.
    """

    entry = models.ForeignKey(HistoryEntry, on_delete=models.CASCADE, related_name="finding_rows")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="findings")
    plugin_id = models.CharField(max_length=64)
    position = models.PositiveIntegerField()
    severity = models.CharField(max_length=8)
    rule = models.CharField(max_length=64, blank=True)
    path = models.CharField(max_length=1024, blank=True)
    line = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    files = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["plugin_id", "position"]
        indexes = [
            models.Index(fields=["project", "plugin_id", "position"]),
            models.Index(fields=["project", "severity"]),
            models.Index(fields=["project", "path"]),
        ]

    def __str__(self) -> str:
        return f"{self.plugin_id} {self.severity}: {self.message[:60]}"

"""The last metrics sample of each plugin, collected once for the whole deployment."""

from __future__ import annotations

from django.db import models


class MetricSample(models.Model):
    """One plugin's latest collection (SPEC O1), written by the scheduler's leader only.

    Every page, the JSON API and ``/metrics`` read this row, so every process answers the
    same and no request ever runs a plugin hook. ``values`` stay those of the last success;
    ``error`` says why the latest attempt failed ("" when it succeeded).
    """

    plugin_id = models.CharField(max_length=64, unique=True)
    interval = models.FloatField()
    values = models.JSONField(default=dict)
    collected_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField()
    error = models.TextField(blank=True)
    note = models.TextField(blank=True)
    collector = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["plugin_id"]

    def __str__(self) -> str:
        return f"metrics of {self.plugin_id}"


class MetricPoint(models.Model):
    """One successful collection kept for the charts (SPEC O1): the card's sparklines and the
    plugin page's chart read these; ``observability.metrics`` prunes them past the retention
    (``JUPITER_METRICS_RETENTION_HOURS``) and past ``MAX_POINTS`` per plugin."""

    plugin_id = models.CharField(max_length=64)
    values = models.JSONField(default=dict)
    collected_at = models.DateTimeField()

    class Meta:
        ordering = ["plugin_id", "collected_at"]
        indexes = [models.Index(fields=["plugin_id", "collected_at"])]

    def __str__(self) -> str:
        return f"metrics of {self.plugin_id} at {self.collected_at:%Y-%m-%d %H:%M:%S}"

"""Charts of what happened over time: job durations and outcomes, plugin metrics history."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.safestring import SafeString

from plugins_app.models import FINAL_JOB_STATES, Job
from plugins_app.observability.metrics import history
from plugins_app.web.charts import Column, Series, column_chart, line_chart, sparkline

JOBS_SHOWN = 60
SPARK_POINTS = 60
CHART_POINTS = 240


def job_chart(jobs: QuerySet[Job], title: str) -> dict[str, Any]:
    """The last ``JOBS_SHOWN`` finished jobs, oldest left: a column per job, its height the
    duration, its colour the outcome; a click opens the job. Plus the outcome counts."""
    finished = list(
        jobs.filter(state__in=FINAL_JOB_STATES, finished_at__isnull=False)
        .order_by("-finished_at", "-created_at")  # ties: in the order they were asked
        .only("id", "name", "title", "state", "created_at", "started_at", "finished_at")[
            :JOBS_SHOWN
        ]
    )
    finished.reverse()
    columns = []
    for job in finished:
        assert job.finished_at is not None  # filtered above
        seconds = max(0.0, (job.finished_at - (job.started_at or job.created_at)).total_seconds())
        columns.append(
            Column(
                seconds,
                f"outcome-{job.state}",
                f"{job.title or job.name} {job.state} in {seconds:.1f} s, "
                f"{job.finished_at:%Y-%m-%d %H:%M:%S}",
                reverse("plugins_app:job-detail", args=[job.pk]),
            )
        )
    return {
        "chart": column_chart(columns, title, unit=" s") if columns else None,
        "count": len(columns),
        "outcomes": sorted(Counter(job.state for job in finished).items()),
    }


def _times(points: list[tuple[datetime, dict[str, float]]]) -> tuple[str, str]:
    if not points:
        return "", ""
    return f"{points[0][0]:%Y-%m-%d %H:%M}", f"{points[-1][0]:%Y-%m-%d %H:%M}"


def metric_sparklines(plugin_id: str) -> dict[str, SafeString]:
    """Each metric's newest ``SPARK_POINTS`` values as a sparkline, by metric name."""
    points = history(plugin_id, SPARK_POINTS)
    names = sorted({name for _, values in points for name in values})
    return {
        name: sparkline(
            [values[name] for _, values in points if name in values], f"{name}, recent values"
        )
        for name in names
    }


def metric_charts(plugin_id: str) -> list[tuple[str, SafeString, int]]:
    """(metric name, its chart over time, how many points) for each metric kept."""
    points = history(plugin_id, CHART_POINTS)
    names = sorted({name for _, values in points for name in values})
    charts = []
    for name in names:
        kept = [(at, values[name]) for at, values in points if name in values]
        series = Series(
            name,
            tuple((at.timestamp(), value) for at, value in kept),
            tuple(f"{value:g} at {at:%Y-%m-%d %H:%M:%S}" for at, value in kept),
        )
        charts.append(
            (name, line_chart([series], f"{name} over time", x_labels=_times(points)), len(kept))
        )
    return charts

"""Entrypoints of code_analyzer: the job, the analysis hook, health, the public API.

The measuring itself is in ``measure.py``; ``api.py`` is what dependent plugins call.
"""

from __future__ import annotations

from typing import Any

from .api import CodeAnalyzerApi
from .measure import analyse_project, analyse_source

__all__ = ["analyse_project", "analyse_source", "health", "register"]


def health() -> dict[str, Any]:
    """Healthy when the interpreter can parse source, which is all this plugin needs."""
    analyse_source("def ok():\n    return 1\n")
    return {"ok": True}


def register(bridge: Any) -> None:
    api = CodeAnalyzerApi(bridge)

    def analyse(job: Any) -> dict[str, Any]:
        """The job: ``job.project`` measured with its config, progress per file."""
        return api.report(job.project.name, job.progress)

    def on_analyze(scan: dict[str, Any]) -> dict[str, Any]:
        """The host's analysis: the scanned project, with that project's config; the
        host's bar moves per file through ``bridge.report_progress``."""

        def per_file(percent: float, message: str) -> None:
            bridge.report_progress(round(percent * 10), 1000, message)

        return api.report(scan["project"], per_file)

    bridge.register_job(
        "analyse",
        analyse,
        title="Analyse Python code",
        description="Functions, classes, complexity and imports of every file.",
    )
    bridge.register_hook("on_analyze", on_analyze)
    bridge.expose(api)
    bridge.services.get_logger().info("code_analyzer registered")

"""Entrypoints of ai_helper (SPEC K3: a tool; its failures never reach the host).

It consumes code_analyzer through the declared dependency: ``bridge.plugins.get(
"code_analyzer").report(project)`` returns the same report the analysis shows (same
settings, computed once per change), and the import edges come from the host's project
graph. So its ``on_analyze`` needs no ordering between plugins.
"""

from __future__ import annotations

import json
from typing import Any

from .bundle import build_bundle, to_markdown
from .suggestions import suggest

BUNDLE_DIR = ".jupiter"


def health() -> dict[str, Any]:
    """Suggestions are pure computation: healthy when a tiny report yields one."""
    probe = {"threshold": 1, "findings": [{"rule": "syntax", "file": "x.py", "message": "x"}]}
    return {"ok": len(suggest(probe)) == 1}


def register(bridge: Any) -> None:
    services = bridge.services
    log = services.get_logger()

    def cycles(project: str) -> list[list[str]]:
        graph = services.get_graph().for_project(project)
        return graph.import_cycles() if graph is not None else []

    def suggestions(project: str) -> tuple[dict[str, Any], list[Any]]:
        report = bridge.plugins.get("code_analyzer").report(project)
        found = suggest(report, cycles(project), services.get_config(project))
        log.debug(
            "%s: %d suggestions from %d findings", project, len(found), len(report["findings"])
        )
        return report, found

    def on_analyze(scan: dict[str, Any]) -> dict[str, Any]:
        """Suggestions appear beside the findings in the project's analysis."""
        _, found = suggestions(scan["project"])
        counts = {p: sum(1 for s in found if s.priority == p) for p in ("high", "medium", "low")}
        return {"findings": [s.as_finding() for s in found], "by_priority": counts}

    def bundle_of(project: str) -> dict[str, Any]:
        report, found = suggestions(project)
        files = services.get_project_manager().files(project, bridge.manifest)
        config = services.get_config(project)
        return build_bundle(
            project,
            report,
            found,
            read_lines=lambda path: files.read_text(path).splitlines(),
            snippet_lines=int(config.get("snippet_lines", 30)),
        )

    def export_bundle(job: Any) -> dict[str, Any]:
        """Write .jupiter/ai-bundle.md and .json in the project (ignored by git and scans)."""
        job.progress(10, "Collecting the analysis")
        bundle = bundle_of(job.project.name)
        job.raise_if_cancelled()
        job.progress(80, "Writing the bundle")
        job.files.write_text(f"{BUNDLE_DIR}/.gitignore", "*\n")
        markdown = job.files.write_text(f"{BUNDLE_DIR}/ai-bundle.md", to_markdown(bundle))
        data = job.files.write_text(
            f"{BUNDLE_DIR}/ai-bundle.json", json.dumps(bundle, indent=2, sort_keys=True) + "\n"
        )
        return {
            "suggestions": len(bundle["suggestions"]),
            "markdown": str(markdown),
            "json": str(data),
        }

    def bundle_command(args: list[str]) -> str:
        """``jupiter_plugins cli ai_helper bundle PROJECT [--json]``: print it to paste."""
        if not args or len(args) > 2 or (len(args) == 2 and args[1] != "--json"):
            raise ValueError("usage: bundle PROJECT [--json]")
        bundle = bundle_of(args[0])
        return (
            json.dumps(bundle, indent=2, sort_keys=True) if len(args) == 2 else to_markdown(bundle)
        )

    bridge.register_hook("on_analyze", on_analyze)
    bridge.register_job(
        "export_bundle",
        export_bundle,
        title="Export for AI",
        description="Writes a Markdown and a JSON bundle of the suggestions into .jupiter/.",
    )
    bridge.register_cli_command("bundle", bundle_command, help="Print the for-AI bundle.")
    log.info("ai_helper registered")

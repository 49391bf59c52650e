"""The "report a problem" bundle of one plugin (SPEC U8): a zip to attach to a bug report.

It holds what a maintainer asks for first: versions, status and reason, manifest, health,
breaker, recent jobs and audit entries, settings, and the plugin's recent log lines from the
log files under ``JUPITER_LOG_DIR`` (when logs are written to files there). Secrets never
leave: a setting whose schema says ``writeOnly`` or ``format: password``, or whose name looks
like a secret (password, token, secret, key), is replaced by ``[redacted]`` everywhere,
including in log lines.
"""

from __future__ import annotations

import io
import json
import platform
import re
import sys
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import django
from django.utils import timezone

from plugins_app.base.version import JUPITER_VERSION
from plugins_app.config.store import plugin_config_schema
from plugins_app.jobs import breaker
from plugins_app.kernel.runtime import get_runtime
from plugins_app.logs import debug
from plugins_app.logs.hub import get_hub
from plugins_app.models import AuditEvent, InstalledPlugin, Job, PluginConfig, ProjectPlugin
from plugins_app.observability import health

REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"password|passwd|token|secret|key", re.IGNORECASE)
LOG_LINES = 500


def _is_secret(name: str, schema: Mapping[str, Any]) -> bool:
    return bool(
        SECRET_NAME.search(name) or schema.get("writeOnly") or schema.get("format") == "password"
    )


def redact(values: Any, schema: Mapping[str, Any] | None, found: set[str]) -> Any:
    """A copy of ``values`` with secret settings replaced; their values are added to ``found``."""
    if not isinstance(values, Mapping):
        return values
    properties = (schema or {}).get("properties") or {}
    clean: dict[str, Any] = {}
    for name, value in values.items():
        declared = properties.get(name)
        sub = declared if isinstance(declared, Mapping) else {}
        if _is_secret(str(name), sub):
            if isinstance(value, str | int | float) and str(value):
                found.add(str(value))
            clean[name] = REDACTED
        else:
            clean[name] = redact(value, sub, found) if isinstance(value, Mapping) else value
    return clean


def _log_lines(plugin_id: str, secrets: Iterable[str]) -> list[str]:
    """The tail of the plugin's own log file (``autoui.logs``), secrets masked."""
    lines, _ = get_hub().snapshot(plugin_id, LOG_LINES)
    pattern = "|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True) if len(s) > 2)
    return [re.sub(pattern, REDACTED, line) if pattern else line for line in lines]


def _settings(plugin: InstalledPlugin, found: set[str]) -> dict[str, Any]:
    schema = plugin_config_schema(plugin)
    config = PluginConfig.objects.filter(plugin=plugin).first()
    overrides = ProjectPlugin.objects.filter(plugin=plugin).select_related("project")
    return {
        "global": redact(config.values if config else {}, schema, found),
        "revision": config.revision if config else 0,
        "projects": {
            row.project.name: {
                "enabled": row.enabled,
                "overrides": redact(row.overrides, schema, found),
            }
            for row in overrides
        },
    }


def report_data(plugin: InstalledPlugin) -> tuple[dict[str, Any], list[str]]:
    """The report as JSON data, and the plugin's recent log lines (both redacted)."""
    found: set[str] = set()
    settings = _settings(plugin, found)
    monitor = get_runtime().existing(health.HealthMonitor)
    checked = monitor.results.get(plugin.plugin_id) if monitor is not None else None
    jobs = Job.objects.filter(plugin_id=plugin.plugin_id).order_by("-created_at")[:10]
    audit = AuditEvent.objects.filter(plugin_id=plugin.plugin_id)[:20]
    data = {
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "plugin": {
            "id": plugin.plugin_id,
            "name": plugin.name,
            "version": plugin.version,
            "kind": plugin.kind,
            "status": plugin.status,
            "status_reason": plugin.status_reason,
            "trust_level": plugin.trust_level,
            "legacy": plugin.legacy,
            "debug_mode": debug.is_enabled(plugin),
            "warnings": plugin.warnings,
        },
        "versions": {
            "jupiter": JUPITER_VERSION,
            "python": sys.version.split()[0],
            "django": django.get_version(),
            "platform": platform.platform(),
        },
        "health": {"ok": checked[0].ok, "reason": checked[0].reason} if checked else None,
        "breaker": str(breaker.state_of(plugin.plugin_id).status),
        "settings": settings,
        "recent_jobs": [
            {
                "name": job.name,
                "state": job.state,
                "created_at": job.created_at.isoformat(timespec="seconds"),
                "error": job.error,
            }
            for job in jobs
        ],
        "audit": [
            {
                "at": event.created_at.isoformat(timespec="seconds"),
                "action": event.action,
                "project": event.project_name,
                "detail": event.detail,
            }
            for event in audit
        ],
    }
    return data, _log_lines(plugin.plugin_id, found)


def build_zip(plugin: InstalledPlugin) -> bytes:
    data, lines = report_data(plugin)
    manifest = redact(plugin.manifest, None, set())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.json", json.dumps(data, indent=2, default=str) + "\n")
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
        archive.writestr("logs.txt", "\n".join(lines) + ("\n" if lines else ""))
        archive.writestr("README.txt", README.format(plugin=plugin.plugin_id, lines=len(lines)))
    return buffer.getvalue()


README = """Problem report for the Jupiter plugin {plugin}.

report.json    versions, status, health, breaker, settings, recent jobs, audit entries
manifest.json  the plugin.yaml as Jupiter read it
logs.txt       {lines} recent log lines of the plugin (from the log files, if any)

Secrets (settings named like password/token/secret/key, or marked writeOnly or
format: password in the settings schema) are replaced by [redacted].
"""

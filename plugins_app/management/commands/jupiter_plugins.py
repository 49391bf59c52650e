"""``manage.py jupiter_plugins``: the operator's command line for plugins (SPEC T2).

Exit codes: 0 ok, 1 user error (one line on stderr), 2 usage error (argparse).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plugins_app.kernel import safe_mode
from plugins_app.kernel.reload import ReloadRefused, reload_via_servers
from plugins_app.kernel.runtime import boot
from plugins_app.lifecycle.recovery import set_safe_mode
from plugins_app.management import author_commands, trust_commands
from plugins_app.models import InstalledPlugin, Project
from plugins_app.observability.processes import troubled_plugins
from plugins_app.projects.errors import ProjectFileConflict, ProjectPluginError
from plugins_app.projects.service import (
    set_plugin_enabled,
    sync_all_from_files,
    sync_from_file,
)
from plugins_app.registry.core import core_plugin_infos


class Command(BaseCommand):
    help = (
        "List, sync, enable and disable plugins; sign, install, update and uninstall them; "
        "validate manifests and manage settings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="Installed plugins with their status.")
        listing.add_argument("--json", action="store_true", help="Machine-readable output.")
        sub.add_parser(
            "sync",
            help="Re-discover plugin folders, import hand edits of project files, "
            "and reconcile what is loaded.",
        )
        reload = sub.add_parser("reload", help="Hot-reload a plugin (developer mode only).")
        reload.add_argument("plugin_id")
        reload.add_argument(
            "--wait", type=float, default=10.0, help="Seconds to wait for a server to do it."
        )
        for action in ("enable", "disable"):
            cmd = sub.add_parser(action, help=f"{action.title()} a plugin for one project.")
            cmd.add_argument("plugin_id")
            cmd.add_argument("--project", required=True)
        safe = sub.add_parser(
            "safe-mode",
            help="Start every process with no plugin loaded (on), load them again (off), "
            "or show the switch and the plugins that crashed lately (status).",
        )
        safe.add_argument("switch", choices=("on", "off", "status"))
        safe.add_argument("--note", default="", help="Why (kept in the audit trail).")
        trust_commands.add_subcommands(sub)
        author_commands.add_subcommands(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action in trust_commands.ACTIONS:
            trust_commands.TrustCommands(self).run(action, options)
        elif action in author_commands.ACTIONS:
            author_commands.AuthorCommands(self).run(action, options)
        elif action == "list":
            self._list(as_json=options["json"])
        elif action == "sync":
            runtime = boot()
            self.stdout.write(f"{len(runtime.manifests)} loadable plugins synced.")
            self.stdout.write(f"Project files with hand edits imported: {sync_all_from_files()}.")
        elif action == "reload":
            self._reload(options["plugin_id"], options["wait"])
        elif action == "safe-mode":
            self._safe_mode(options["switch"], options["note"])
        else:
            self._toggle(options["plugin_id"], options["project"], action == "enable")

    def _reload(self, plugin_id: str, wait: float) -> None:
        """Every step is printed; exit code 1 when refused or when the plugin fails to load."""
        try:
            report, served = reload_via_servers(plugin_id, wait)
        except ReloadRefused as exc:
            raise CommandError(str(exc), returncode=1) from exc
        where = (
            "by the running server"
            if served
            else (f"in this process (no server in developer mode answered within {wait:g} s)")
        )
        self.stdout.write(f"Reload of {plugin_id} {where}:")
        for step in report.steps:
            self.stdout.write(f"  - {step}")
        if not report.ok:
            raise CommandError(f"{plugin_id} failed to reload", returncode=1)

    def _safe_mode(self, switch: str, note: str) -> None:
        """The persistent switch: every running process follows within a second."""
        if switch == "on":
            changed = set_safe_mode(True, note=note)
            boot()  # loads nothing now: the statuses say "safe mode"
            self.stdout.write(
                "Safe mode is on: no plugin process runs in any Jupiter process."
                if changed
                else "Safe mode was already on."
            )
        elif switch == "off":
            changed = set_safe_mode(False)
            self.stdout.write(
                "Safe mode is off: the running servers and workers load the enabled plugins "
                "again within a second (or at their next start)."
                if changed
                else "Safe mode was already off."
            )
            if safe_mode.state().from_environment:
                self.stdout.write("JUPITER_SAFE_MODE=1 is still set in this environment.")
        current = safe_mode.state()
        if switch == "status":
            where = (
                ", ".join(
                    name
                    for name, on in (
                        ("JUPITER_SAFE_MODE=1", current.from_environment),
                        ("jupiter_plugins safe-mode on", current.from_database),
                    )
                    if on
                )
                or "off"
            )
            self.stdout.write(f"Safe mode: {'on' if current.on else 'off'} ({where})")
        for trouble in troubled_plugins():
            self.stdout.write(
                f"  {trouble.plugin_id}: {trouble.crashes} crashes, {trouble.kills} kills "
                "in the last 24 h"
            )

    def _list(self, *, as_json: bool) -> None:
        rows = [
            {
                "id": c.id,
                "name": c.name,
                "version": c.version,
                "kind": "core",
                "status": "ready",
                "reason": "",
            }
            for c in core_plugin_infos()
        ] + [
            {
                "id": p.plugin_id,
                "name": p.name,
                "version": p.version,
                "kind": p.kind,
                "status": p.status,
                "reason": p.status_reason,
            }
            for p in InstalledPlugin.objects.all()
        ]
        if as_json:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        self.stdout.write(f"{'ID':<24} {'VERSION':<10} {'KIND':<7} STATUS")
        for row in rows:
            reason = f"  ({row['reason']})" if row["reason"] else ""
            self.stdout.write(
                f"{row['id']:<24} {row['version']:<10} {row['kind']:<7} {row['status']:<9}{reason}"
            )

    def _toggle(self, plugin_id: str, project_name: str, enabled: bool) -> None:
        project = Project.objects.filter(name=project_name).first()
        if project is None:
            raise CommandError(f"no project named '{project_name}'", returncode=1)
        boot()
        sync_from_file(project)
        try:
            set_plugin_enabled(project, plugin_id, enabled)
        except (ProjectPluginError, ProjectFileConflict) as exc:
            raise CommandError(str(exc), returncode=1) from exc
        plugin = InstalledPlugin.objects.get(plugin_id=plugin_id)
        reason = f" ({plugin.status_reason})" if plugin.status_reason else ""
        state = "enabled" if enabled else "disabled"
        self.stdout.write(f"{plugin_id} {state} for {project_name}: {plugin.status}{reason}")

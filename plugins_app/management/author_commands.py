"""The authoring subcommands of ``manage.py jupiter_plugins`` (SPEC T2, S4).

``validate PATH`` checks a manifest the way discovery does and prints every problem with its
field path and line (for authors' CI); ``config get|set|export|import`` reads and changes a
plugin's global settings through ``config.transfer``; ``cli ID NAME [ARGS...]`` runs a command a
plugin registered with ``bridge.register_cli_command``. User errors end with exit code 1.
"""

from __future__ import annotations

import argparse
import json
from argparse import _SubParsersAction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.core.management.base import BaseCommand, CommandError

from plugins_app.config.transfer import (
    SettingsIOError,
    export_settings,
    get_settings,
    import_settings,
    parse_value,
    set_setting,
)
from plugins_app.kernel.runtime import boot
from plugins_app.manifest.load import load_manifest
from plugins_app.manifest.model import MANIFEST_FILENAME

if TYPE_CHECKING:
    from plugins_app.manifest.model import Manifest

ACTIONS = ("validate", "config", "cli")


def add_subcommands(sub: _SubParsersAction) -> None:
    validate = sub.add_parser("validate", help="Check a plugin.yaml (or its folder); for CI.")
    validate.add_argument("path", type=Path)
    validate.add_argument("--strict", action="store_true", help="Warnings fail too.")
    config = sub.add_parser("config", help="Read, change, export or import global settings.")
    verbs = config.add_subparsers(dest="verb", required=True)
    get = verbs.add_parser("get", help="Effective settings (or one dotted KEY) as JSON.")
    get.add_argument("plugin_id")
    get.add_argument("key", nargs="?", default="")
    get.add_argument("--project", default="", help="Include this project's overrides.")
    put = verbs.add_parser("set", help="Set a global value; VALUE is JSON or plain text.")
    put.add_argument("plugin_id")
    put.add_argument("key")
    put.add_argument("value")
    export = verbs.add_parser("export", help="Write the global settings as a JSON export.")
    export.add_argument("plugin_id")
    export.add_argument("--out", type=Path, help="File to write (default: standard output).")
    load = verbs.add_parser("import", help="Replace the global settings with an export.")
    load.add_argument("plugin_id")
    load.add_argument("file", type=Path)
    cli = sub.add_parser("cli", help="Run a command a plugin registered (register_cli_command).")
    cli.add_argument("plugin_id")
    cli.add_argument("command_name", nargs="?", default="", help="Omit to list its commands.")
    cli.add_argument("plugin_args", nargs=argparse.REMAINDER, metavar="ARGS")


class AuthorCommands:
    """Runs one authoring action for ``command``; user errors become exit code 1."""

    def __init__(self, command: BaseCommand) -> None:
        self.out = command.stdout

    def run(self, action: str, options: dict[str, Any]) -> None:
        try:
            getattr(self, action)(options)
        except SettingsIOError as exc:
            raise CommandError(str(exc), returncode=1) from exc

    def validate(self, options: dict[str, Any]) -> None:
        path: Path = options["path"]
        folder = path.parent if path.name == MANIFEST_FILENAME else path
        if not (folder / MANIFEST_FILENAME).is_file():
            raise CommandError(f"{folder / MANIFEST_FILENAME}: no such file", returncode=1)
        result = load_manifest(folder)
        source = folder / MANIFEST_FILENAME
        for kind, issues in (("error", result.errors), ("warning", result.warnings)):
            for issue in issues:
                line = f":{issue.line}" if issue.line is not None else ""
                where = issue.field or "(manifest)"
                self.out.write(f"{source}{line}: {kind}: {where}: {issue.message}")
        failures = len(result.errors) + (len(result.warnings) if options["strict"] else 0)
        if failures:
            raise CommandError(f"{source}: {failures} problem(s), not valid", returncode=1)
        manifest = cast("Manifest", result.manifest)  # set exactly when there are no errors
        self.out.write(f"{source}: valid ({manifest.id} {manifest.version}, {manifest.kind})")

    def config(self, options: dict[str, Any]) -> None:
        verb, plugin_id = options["verb"], options["plugin_id"]
        if verb == "get":
            value = get_settings(plugin_id, options["key"], project=options["project"])
            self.out.write(json.dumps(value, indent=2, sort_keys=True))
        elif verb == "set":
            set_setting(plugin_id, options["key"], parse_value(options["value"]))
            self.out.write(f"{plugin_id}: {options['key']} saved")
        elif verb == "export":
            text = json.dumps(export_settings(plugin_id), indent=2, sort_keys=True)
            if options["out"] is None:
                self.out.write(text)
            else:
                options["out"].write_text(text + "\n", encoding="utf-8")
                self.out.write(f"{plugin_id}: settings exported to {options['out']}")
        else:
            self._import(plugin_id, options["file"])

    def _import(self, plugin_id: str, file: Path) -> None:
        try:
            document = json.loads(file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}", returncode=1) from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{file}: not JSON ({exc.msg}, line {exc.lineno})", 1) from exc

        import_settings(plugin_id, document, code_of=boot().code_of)
        self.out.write(f"{plugin_id}: settings imported from {file}")

    def cli(self, options: dict[str, Any]) -> None:

        plugin_id, name = options["plugin_id"], options["command_name"]
        registration = boot().bridge.registration(plugin_id)
        if registration is None:
            raise CommandError(f"plugin '{plugin_id}' is not loaded (enable it first)", 1)
        if not name:
            for listed in registration.cli_commands.values():
                self.out.write(f"{listed.name:<20} {listed.help}")
            return
        spec = registration.cli_commands.get(name)
        if spec is None:
            raise CommandError(f"plugin '{plugin_id}' has no command '{name}'", returncode=1)
        try:
            value = spec.func(list(options["plugin_args"]))
        except Exception as exc:
            raise CommandError(f"{plugin_id} {name}: {type(exc).__name__}: {exc}", 1) from exc
        if value is not None:
            text = value if isinstance(value, str) else json.dumps(value, indent=2, default=str)
            self.out.write(text)

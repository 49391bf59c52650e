"""``manage.py jupiter_scaffold my_cool_plugin``: a new plugin that loads at once (SPEC T1).

Exit codes: 0 ok, 1 user error (bad or taken id, existing folder), 2 usage error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from plugins_app.authoring.scaffold import KINDS, ScaffoldError, ScaffoldOptions, scaffold
from plugins_app.base import conf
from plugins_app.models import InstalledPlugin
from plugins_app.registry.discovery import discover


def default_dest() -> Path:
    """The first extra plugin folder (``JUPITER_PLUGIN_DIRS``), else the bundled ``plugins/``."""
    bundled = conf.trust().bundled_dir
    extra = [path for path in conf.get().plugin_dirs[:-1] if path != bundled]
    return extra[0] if extra else bundled


def installed_ids() -> set[str]:
    """Ids installed here, so a new plugin does not take one; none before ``migrate``.

    Writing a plugin needs no database: an author may scaffold before setting Jupiter up,
    and the plugin folders (read above) still catch every id a sync would register.
    """
    try:
        return set(InstalledPlugin.objects.values_list("plugin_id", flat=True))
    except DatabaseError:
        return set()


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # writes files only: no database, no app checks

    help = "Write a new plugin (manifest, code, settings schema, job, tests) ready to load."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("plugin_id", help="A lowercase Python identifier, e.g. my_plugin.")
        parser.add_argument("--type", dest="kind", choices=KINDS, default="tool")
        parser.add_argument("--with-ui", action="store_true", help="Add a UI panel.")
        parser.add_argument("--with-cli", action="store_true", help="Add a CLI command.")
        parser.add_argument("--author", default="Your name")
        parser.add_argument(
            "--dest",
            type=Path,
            help="Folder to create the plugin in: DIR/ID, or DIR itself when it is named ID "
            "(default: a plugin folder).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dest = options["dest"] or default_dest()
        taken = {p.id for p in discover(conf.get().plugin_dirs)} | installed_ids()
        plugin_options = ScaffoldOptions(
            plugin_id=options["plugin_id"],
            kind=options["kind"],
            with_ui=options["with_ui"],
            with_cli=options["with_cli"],
            author=options["author"],
        )
        try:
            folder = scaffold(plugin_options, dest, frozenset(taken))
        except ScaffoldError as exc:
            raise CommandError(str(exc), returncode=1) from exc
        self.stdout.write(f"Plugin {plugin_options.plugin_id} written to {folder}")
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            self.stdout.write(f"  {path.relative_to(folder)}")
        self.stdout.write(
            f"Next: manage.py jupiter_plugins validate {folder}; enable it in a project; "
            f"run its tests with JUPITER_HOME={conf.trust().bundled_dir.parent} "
            f"python -m pytest {folder / 'tests'}"
        )

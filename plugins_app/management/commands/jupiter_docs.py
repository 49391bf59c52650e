"""``manage.py jupiter_docs [--check]``: regenerate docs/manifest-reference.md from the schema.

``--check`` writes nothing and exits 1 when the committed reference is stale (for CI).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plugins_app.manifest.reference import REFERENCE_PATH, current


class Command(BaseCommand):
    help = "Generate the manifest reference (docs/manifest-reference.md) from the JSON Schema."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Fail if the file is stale.")

    def handle(self, *args: Any, **options: Any) -> None:
        text = current()
        on_disk = REFERENCE_PATH.read_text(encoding="utf-8") if REFERENCE_PATH.exists() else ""
        if options["check"]:
            if on_disk != text:
                raise CommandError(
                    f"{REFERENCE_PATH} is stale: run manage.py jupiter_docs", returncode=1
                )
            self.stdout.write(f"{REFERENCE_PATH} is up to date")
            return
        REFERENCE_PATH.parent.mkdir(parents=True, exist_ok=True)
        REFERENCE_PATH.write_text(text, encoding="utf-8")
        self.stdout.write(f"wrote {REFERENCE_PATH}")

"""The trust and catalogue subcommands of ``manage.py jupiter_plugins`` (SPEC X2, MK1-MK3, T2).

``keygen``, ``sign``, ``verify``, ``pack``, ``install``, ``uninstall``, ``check-updates``,
``update``. Kept apart from the command module so each stays short; ``jupiter_plugins`` adds
these subparsers and hands the matching actions over. Installing and updating show what is
about to be accepted (permissions, trust, dependencies) and ask for confirmation unless
``--yes`` is given; a non-interactive run without ``--yes`` is refused.
"""

from __future__ import annotations

import hashlib
import sys
from argparse import _SubParsersAction
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.core.management.base import BaseCommand, CommandError

from plugins_app.base import conf
from plugins_app.base.keys import (
    KeyFileError,
    generate_keypair,
    load_private_key,
    public_key_text,
    sign_bytes,
)
from plugins_app.kernel.runtime import boot
from plugins_app.lifecycle.changes import changes_of
from plugins_app.lifecycle.installer import (
    REFUSALS,
    Replacing,
    StagedPlugin,
    discard,
    install,
    stage_archive,
    stage_catalogue,
    stage_directory,
    uninstall,
)
from plugins_app.lifecycle.updates import check_updates, update
from plugins_app.manifest.load import load_manifest
from plugins_app.manifest.permissions import describe
from plugins_app.models import InstalledPlugin
from plugins_app.trust.catalogue import add_to_index, find_entry, pack, read_index
from plugins_app.trust.policy import assess
from plugins_app.trust.signing import SignatureError, sign_plugin

if TYPE_CHECKING:
    from plugins_app.manifest.model import Manifest

ACTIONS = ("keygen", "sign", "verify", "pack", "install", "uninstall", "check-updates", "update")


def add_subcommands(sub: _SubParsersAction) -> None:
    keygen = sub.add_parser("keygen", help="Create an Ed25519 key pair (PREFIX.key, PREFIX.pub).")
    keygen.add_argument("prefix", type=Path)
    sign = sub.add_parser("sign", help="Sign a plugin folder (writes plugin.signature.json).")
    sign.add_argument("directory", type=Path)
    sign.add_argument("--key", type=Path, required=True, help="The private key (PREFIX.key).")
    verify = sub.add_parser("verify", help="Verify a plugin folder and show its trust level.")
    verify.add_argument("directory", type=Path)
    packer = sub.add_parser("pack", help="Sign a folder, archive it, add it to an index.")
    packer.add_argument("directory", type=Path)
    packer.add_argument("--key", type=Path, required=True)
    packer.add_argument("--out", type=Path, required=True, help="Folder for the archive.")
    packer.add_argument("--index", type=Path, help="Catalogue index to add the version to.")
    inst = sub.add_parser("install", help="Install from an archive, a folder or a catalogue.")
    inst.add_argument("source", help="Archive, folder, or plugin id with --catalogue.")
    inst.add_argument("--catalogue", help="Index (path or URL) to take the plugin id from.")
    inst.add_argument("--version", default="", help="Catalogue version (default: newest).")
    inst.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")
    rm = sub.add_parser("uninstall", help="Uninstall a plugin installed through Jupiter.")
    rm.add_argument("plugin_id")
    rm.add_argument("--purge", action="store_true", help="Also forget its settings.")
    rm.add_argument("--yes", action="store_true")
    checks = sub.add_parser("check-updates", help="Newer versions in the catalogues.")
    checks.add_argument("--catalogue", action="append", help="Index (default: configured ones).")
    upd = sub.add_parser("update", help="Update a plugin; rolled back if the new one fails.")
    upd.add_argument("plugin_id")
    upd.add_argument("--from", dest="source", help="Archive or folder (default: catalogue).")
    upd.add_argument("--catalogue", action="append")
    upd.add_argument("--version", default="", help="Catalogue version (default: newest).")
    upd.add_argument(
        "--allow-downgrade", action="store_true", help="Accept an older version than installed."
    )
    upd.add_argument("--yes", action="store_true")


class TrustCommands:
    """Runs one action for ``command``; user errors become ``CommandError`` (exit 1)."""

    def __init__(self, command: BaseCommand) -> None:
        self.out = command.stdout

    def run(self, action: str, options: dict[str, Any]) -> None:
        handler = getattr(self, action.replace("-", "_"))
        try:
            handler(options)
        except (*REFUSALS, KeyFileError, SignatureError) as exc:
            raise CommandError(str(exc), returncode=1) from exc

    def keygen(self, options: dict[str, Any]) -> None:
        private, public = generate_keypair(options["prefix"])
        key = public.read_text().strip()
        self.out.write(f"private key: {private} (keep it secret, never commit it)")
        self.out.write(f"public key:  {public}\n{key}")

    def _sign(self, directory: Path, key_path: Path) -> tuple[str, str, str]:
        result = load_manifest(directory)
        if result.manifest is None:
            errors = "; ".join(map(str, result.errors))
            raise CommandError(f"invalid plugin.yaml: {errors}", returncode=1)
        key = load_private_key(key_path)
        sign_plugin(directory, key, result.manifest.id, result.manifest.version)
        return result.manifest.id, result.manifest.version, public_key_text(key.public_key())

    def sign(self, options: dict[str, Any]) -> None:
        plugin_id, version, _ = self._sign(options["directory"], options["key"])
        self.out.write(f"signed {plugin_id} {version}: {options['directory']}")

    def verify(self, options: dict[str, Any]) -> None:
        directory = options["directory"]
        result = load_manifest(directory)
        if result.manifest is None:
            raise CommandError("invalid plugin.yaml", returncode=1)
        trust = assess(directory, result.manifest.id, result.manifest.version)
        if trust.refusal:
            raise CommandError(trust.refusal, returncode=1)
        signer = f" by {trust.signer}" if trust.signer else ""
        self.out.write(f"{result.manifest.id} {result.manifest.version}: {trust.level}{signer}")

    def pack(self, options: dict[str, Any]) -> None:
        directory = options["directory"].resolve()
        plugin_id, version, _ = self._sign(directory, options["key"])
        options["out"].mkdir(parents=True, exist_ok=True)
        archive = pack(directory, options["out"] / f"{plugin_id}-{version}.tar.gz")
        self.out.write(f"archive: {archive}")
        if options["index"]:
            digest = hashlib.sha256(archive.read_bytes()).hexdigest()
            signature = sign_bytes(load_private_key(options["key"]), digest.encode("ascii"))
            manifest = cast("Manifest", load_manifest(directory).manifest)  # _sign checked it
            add_to_index(
                options["index"],
                archive,
                plugin_id,
                version,
                name=manifest.name,
                description=manifest.description,
                signature=signature,
            )
            self.out.write(f"index:   {options['index']} ({plugin_id} {version})")

    def _confirm(self, question: str, options: dict[str, Any]) -> bool:
        if options.get("yes"):
            return True
        if not sys.stdin.isatty():
            raise CommandError("confirmation needed: re-run with --yes", returncode=1)
        return input(f"{question} [y/N] ").strip().lower() in {"y", "yes"}

    def _show(self, staged: StagedPlugin) -> None:
        manifest, trust = staged.manifest, staged.trust
        signer = f" (signed by {trust.signer})" if trust.signer else ""
        self.out.write(f"{manifest.name} [{manifest.id}] {manifest.version} from {staged.source}")
        self.out.write(f"  trust: {trust.level.label}{signer}")
        for permission in manifest.permissions or ("none",):
            text = "" if permission == "none" else f": {describe(permission)}"
            self.out.write(f"  permission {permission}{text}")
        for dep in manifest.dependencies:
            self.out.write(f"  depends on {dep.id} {dep.specifier}".rstrip())
        for warning in staged.warnings:
            self.out.write(f"  warning: {warning}")

    def _stage(
        self,
        source: str | None,
        options: dict[str, Any],
        replacing: Replacing | None = None,
    ) -> StagedPlugin:
        """A path on disk is an archive or a folder; anything else is a catalogue id."""
        if source and Path(source).exists():
            path = Path(source)
            if path.is_dir():
                return stage_directory(path, replacing=replacing)
            return stage_archive(path, replacing=replacing)
        catalogues = options.get("catalogue") or []
        if isinstance(catalogues, str):
            catalogues = [catalogues]
        if not catalogues:
            raise CommandError(f"{source}: no such file or folder, and no --catalogue", 1)
        entries = [entry for location in catalogues for entry in read_index(location)]
        plugin_id = replacing.plugin.plugin_id if replacing and replacing.plugin else str(source)
        entry = find_entry(entries, plugin_id, options.get("version", ""))
        return stage_catalogue(entry, replacing=replacing)

    def install(self, options: dict[str, Any]) -> None:
        boot()
        staged = self._stage(options["source"], options)
        self._show(staged)
        if not self._confirm("Install this plugin?", options):
            discard(staged.token)
            self.out.write("Not installed.")
            return
        plugin = install(staged.token)
        self.out.write(f"installed {plugin.plugin_id} {plugin.version}: {plugin.status}")

    def uninstall(self, options: dict[str, Any]) -> None:
        plugin_id, purge = options["plugin_id"], options["purge"]
        keep = "and forget its settings" if purge else "(settings kept for a reinstall)"
        if self._confirm(f"Uninstall {plugin_id} {keep}?", options):
            uninstall(plugin_id, purge=purge)
            self.out.write(f"uninstalled {plugin_id} {keep}")

    def check_updates(self, options: dict[str, Any]) -> None:
        catalogues = tuple(options["catalogue"] or conf.trust().catalogues)
        if not catalogues:
            raise CommandError("no catalogue: pass --catalogue or set JUPITER_CATALOGUES", 1)
        found = check_updates(catalogues)
        for item in found:
            self.out.write(f"{item.plugin_id}: {item.installed} -> {item.entry.version}")
        if not found:
            self.out.write("Every installed plugin is up to date.")

    def update(self, options: dict[str, Any]) -> None:
        boot()
        plugin = InstalledPlugin.objects.filter(plugin_id=options["plugin_id"]).first()
        if plugin is None:
            raise CommandError(f"plugin '{options['plugin_id']}' is not installed", returncode=1)
        if not options["source"]:
            options["catalogue"] = options["catalogue"] or list(conf.trust().catalogues)
        replacing = Replacing(plugin, downgrade=options["allow_downgrade"])
        staged = self._stage(options["source"], options, replacing=replacing)
        self._show(staged)
        changes = changes_of(plugin, staged.manifest)
        for permission in changes.added:
            self.out.write(f"  NEW permission {permission}: {describe(permission)}")
        for permission in changes.removed:
            self.out.write(f"  dropped permission {permission}")
        for entry in changes.changelog:
            self.out.write(f"  changes {entry.version}: " + "; ".join(entry.notes))
        if changes.added:
            self.out.write("  projects keep their old permissions until a maintainer accepts")
        verb = "Downgrade" if changes.downgrade else "Update"
        if not self._confirm(f"{verb} {plugin.plugin_id} {plugin.version}?", options):
            discard(staged.token)
            return
        updated = update(staged.token, plugin.plugin_id)
        self.out.write(f"updated {updated.plugin_id} to {updated.version}: {updated.status}")

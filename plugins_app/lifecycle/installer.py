"""Installing and uninstalling plugins from outside (SPEC MK1, MK2, X7).

Two steps, so the person sees what they accept before anything is installed:

1. ``stage_*`` copies or extracts the plugin into ``<install dir>/.staging/<token>/`` and
   checks it (manifest, signature and trust policy, Jupiter version, duplicate id,
   dependencies). The result, a ``StagedPlugin``, is what the preview shows. Archives
   carrying compiled Python (``__pycache__``, ``.pyc``) are refused: the signed sources are
   what runs; a folder is copied without them.
2. ``install(token)`` checks the staged copy again (it sat on disk meanwhile), renames it into
   ``<install dir>/<id>`` (one atomic rename on one filesystem) and syncs the database,
   recording that it was signed (``InstalledPlugin.signed``: it can never load without its
   signature again). If anything fails the folder and the row are removed: nothing stays
   half-installed.

Only plugins living in the install directory are managed here; bundled plugins are part of
Jupiter and plugins from ``JUPITER_PLUGIN_DIRS`` belong to whoever put them there. One file
lock serialises installs, updates and uninstalls across processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from packaging.version import Version

from plugins_app.base import conf
from plugins_app.base.errors import JupiterError
from plugins_app.base.keys import verify_bytes
from plugins_app.base.version import JUPITER_VERSION
from plugins_app.kernel.feed import PLUGINS, announce
from plugins_app.kernel.runtime import boot
from plugins_app.lifecycle.retained import (
    drop_from_project_files,
    reimport_project_files,
    restore_retained,
    retain,
)
from plugins_app.manifest.load import compatibility_issue, load_manifest
from plugins_app.manifest.model import Manifest
from plugins_app.models import (
    AuditAction,
    InstalledPlugin,
    PluginConfig,
    PluginRegistration,
    PluginStatus,
    TrustLevel,
    audit,
)
from plugins_app.models.audit import Actor
from plugins_app.registry.core import CORE_PLUGINS
from plugins_app.registry.dependencies import dependency_problem
from plugins_app.trust.archives import ArchiveError, ArchiveLimits, extract_archive, plugin_root_in
from plugins_app.trust.catalogue import CatalogueEntry, CatalogueError, download
from plugins_app.trust.policy import TrustAssessment, assess, is_bundled
from plugins_app.trust.signing import verify_plugin

log = logging.getLogger("jupiter.installer")
STAGING, TRASH = ".staging", ".trash"
STALE_AFTER = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


class InstallError(JupiterError):
    """The plugin cannot be installed, updated or uninstalled; nothing was changed."""


# Every way a plugin from outside can be refused; each message is meant for the operator.
REFUSALS = (ArchiveError, CatalogueError, InstallError)


@dataclass(frozen=True)
class StagedPlugin:
    """A checked plugin waiting for confirmation in the staging area."""

    token: str
    root: Path
    manifest: Manifest
    trust: TrustAssessment
    source: str
    warnings: tuple[str, ...] = ()


def area(name: str) -> Path:
    folder = conf.trust().install_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """Hold the install lock: one install, update or uninstall at a time, in any process."""
    install_dir = conf.trust().install_dir
    install_dir.mkdir(parents=True, exist_ok=True)
    with open(install_dir / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _version_check(manifest: Manifest, replacing: InstalledPlugin, downgrade: bool) -> None:
    """A replacement must be newer, or older when a downgrade was asked for, never the same.

    A downgrade is refused when the stored settings are at a newer schema version than the
    older code reads: settings are migrated forwards only, and the old code would misread them.
    """
    offered, installed = Version(manifest.version), Version(replacing.version or "0")
    if offered == installed:
        raise InstallError(f"version {manifest.version} is already installed")
    if offered < installed and not downgrade:
        raise InstallError(
            f"version {manifest.version} is older than the installed {replacing.version} "
            "(a downgrade must be asked for)"
        )
    if offered < installed:
        config = PluginConfig.objects.filter(plugin=replacing).first()
        readable = manifest.config_schema.version if manifest.config_schema else 1
        if config is not None and config.schema_version > readable:
            raise InstallError(
                f"cannot downgrade to {manifest.version}: the settings are at schema version "
                f"{config.schema_version} and that version reads up to {readable}"
            )


def check(
    token: str,
    root: Path,
    source: str,
    *,
    replacing: InstalledPlugin | None,
    downgrade: bool = False,
) -> StagedPlugin:
    """Every check made before installing; ``InstallError`` names the first that fails."""
    result = load_manifest(root, max_bytes=conf.get().manifest_max_bytes)
    if result.manifest is None:
        raise InstallError("invalid plugin.yaml: " + "; ".join(str(e) for e in result.errors))
    manifest = result.manifest
    if manifest.id in CORE_PLUGINS:
        raise InstallError(f"'{manifest.id}' is a core plugin id: part of Jupiter, never replaced")
    if replacing is None:
        if existing := InstalledPlugin.objects.filter(plugin_id=manifest.id).first():
            raise InstallError(
                f"plugin '{manifest.id}' is already installed (version {existing.version}, "
                f"from {existing.source_path}); use update instead"
            )
    elif manifest.id != replacing.plugin_id:
        raise InstallError(f"this archive holds '{manifest.id}', not '{replacing.plugin_id}'")
    else:
        _version_check(manifest, replacing, downgrade)
    if problem := compatibility_issue(manifest, JUPITER_VERSION):
        raise InstallError(f"incompatible: {problem}")
    trust = assess(root, manifest.id, manifest.version)
    if trust.refusal:
        raise InstallError(trust.refusal)
    if trust.level == TrustLevel.UNSIGNED and not conf.get().allow_unsigned_archives:
        raise InstallError(
            "unsigned plugin refused: everything installed from outside needs a signature "
            "(an operator may allow unsigned ones with JUPITER_ALLOW_UNSIGNED_ARCHIVES)"
        )
    installed = dict(InstalledPlugin.objects.values_list("plugin_id", "version"))
    if problem := dependency_problem(manifest, installed, absent="not installed"):
        raise InstallError(problem)
    warnings = tuple(str(w) for w in result.warnings)
    return StagedPlugin(token, root, manifest, trust, source, warnings)


def _sweep_stale(staging: Path) -> None:
    """Forget reviews nobody confirmed or cancelled within ``STALE_AFTER`` seconds."""
    cutoff = time.time() - STALE_AFTER
    for entry in os.scandir(staging):
        if entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
            shutil.rmtree(entry.path, ignore_errors=True)


@dataclass(frozen=True)
class Replacing:
    """What a staged plugin replaces: a plugin, a downgrade allowed or not, or whichever
    installed plugin the archive turns out to hold (``installed``: an uploaded file whose id
    is only known once it is extracted)."""

    plugin: InstalledPlugin | None = None
    downgrade: bool = False
    installed: bool = False


def _write_meta(
    folder: Path, source: str, replacing: InstalledPlugin | None, downgrade: bool
) -> None:
    meta = {
        "source": source,
        "replacing": replacing.plugin_id if replacing else "",
        "downgrade": downgrade,
    }
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _new_stage() -> tuple[str, Path]:
    _sweep_stale(area(STAGING))
    token = secrets.token_hex(16)
    folder = area(STAGING) / token
    (folder / "content").mkdir(parents=True)
    return token, folder


def _installed_copy_of(root: Path) -> InstalledPlugin | None:
    """The installed plugin whose id the staged manifest declares, if any."""
    manifest = load_manifest(root, max_bytes=conf.get().manifest_max_bytes).manifest
    if manifest is None:
        return None
    return InstalledPlugin.objects.filter(plugin_id=manifest.id).first()


def _staged(
    source: str, fill: Callable[[Path], None], replacing: Replacing | None = None
) -> StagedPlugin:
    """Create a staging folder, let ``fill(folder)`` put the plugin in, check it; clean on error."""
    plan = replacing or Replacing()
    token, folder = _new_stage()
    try:
        fill(folder)
        root = plugin_root_in(folder / "content")
        target = plan.plugin
        if target is None and plan.installed:
            target = _installed_copy_of(root)
        _write_meta(folder, source, target, plan.downgrade)
        return check(token, root, source, replacing=target, downgrade=plan.downgrade)
    except BaseException:
        remove_tree(folder)
        raise


def _plan(replacing: InstalledPlugin | Replacing | None) -> Replacing:
    return replacing if isinstance(replacing, Replacing) else Replacing(replacing)


def stage_archive(
    archive: Path,
    *,
    source: str = "",
    replacing: InstalledPlugin | Replacing | None = None,
    limits: ArchiveLimits | None = None,
) -> StagedPlugin:
    """Extract and check a ``.zip``/``.tar.gz``; a refusal raises one of ``REFUSALS``."""
    return _staged(
        source or Path(archive).name,
        lambda folder: extract_archive(Path(archive), folder / "content", limits),
        _plan(replacing),
    )


def _copy_directory(path: Path, folder: Path) -> None:
    if not (path / "plugin.yaml").is_file():
        raise InstallError(f"{path} has no plugin.yaml")
    for directory, subdirs, files in os.walk(path):
        for name in subdirs + files:
            if (Path(directory) / name).is_symlink():
                raise InstallError(f"{Path(directory) / name} is a link; plugins contain files")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(path, folder / "content" / path.name, symlinks=True, ignore=ignore)


def stage_directory(
    path: Path, *, replacing: InstalledPlugin | Replacing | None = None
) -> StagedPlugin:
    """Copy and check a plugin folder (links refused, bytecode left out)."""
    path = Path(path).resolve()
    return _staged(str(path), lambda folder: _copy_directory(path, folder), _plan(replacing))


def _check_entry_signature(entry: CatalogueEntry, staged: StagedPlugin) -> None:
    if not entry.signature:
        return
    signer = verify_plugin(staged.root).public_key if staged.trust.signer else ""
    if not signer or not verify_bytes(signer, entry.signature, entry.sha256.encode("ascii")):
        raise InstallError(
            f"the catalogue signature of {entry.plugin_id} {entry.version} does not match "
            "the key that signed the plugin"
        )


def stage_catalogue(
    entry: CatalogueEntry, *, replacing: InstalledPlugin | Replacing | None = None
) -> StagedPlugin:
    """Download (SHA-256 checked), extract and check one catalogue entry."""

    def fill(folder: Path) -> None:
        archive = download(entry, folder / "archive")
        extract_archive(archive, folder / "content")
        archive.unlink()

    source = f"{entry.catalogue} ({entry.plugin_id} {entry.version})"
    staged = _staged(source, fill, _plan(replacing))
    try:
        _check_entry_signature(entry, staged)
        if (staged.manifest.id, staged.manifest.version) != (entry.plugin_id, entry.version):
            raise InstallError(
                f"the catalogue lists {entry.plugin_id} {entry.version} but the archive holds "
                f"{staged.manifest.id} {staged.manifest.version}"
            )
    except BaseException:
        discard(staged.token)
        raise
    return staged


def _stage_folder(token: str) -> Path:
    if not _TOKEN.fullmatch(token or ""):
        raise InstallError("unknown or expired installation request")
    folder = conf.trust().install_dir / STAGING / token
    if not folder.is_dir():
        raise InstallError("unknown or expired installation request")
    return folder


def staged_for(token: str) -> str:
    """The id of the plugin a staged update replaces, or "" for a new install."""
    meta = json.loads((_stage_folder(token) / "meta.json").read_text(encoding="utf-8"))
    return str(meta.get("replacing", ""))


def load_staged(token: str, *, replacing: InstalledPlugin | None = None) -> StagedPlugin:
    """The staged plugin, checked again: files on disk may have changed since the preview.

    A staged update is checked against the installed plugin it replaces.
    """
    folder = _stage_folder(token)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    if replacing is None and meta.get("replacing"):
        replacing = InstalledPlugin.objects.filter(plugin_id=meta["replacing"]).first()
        if replacing is None:
            raise InstallError(f"plugin '{meta['replacing']}' is no longer installed")
    root = plugin_root_in(folder / "content")
    downgrade = bool(meta.get("downgrade"))
    return check(token, root, meta["source"], replacing=replacing, downgrade=downgrade)


def discard(token: str) -> None:
    with contextlib.suppress(InstallError):
        remove_tree(_stage_folder(token))


def install(token: str, *, actor: Actor = None) -> InstalledPlugin:
    """Move a staged plugin into place and record it; ``InstallError`` leaves nothing behind."""
    with exclusive():
        try:
            staged = load_staged(token)
        except BaseException:
            discard(token)
            raise
        manifest = staged.manifest
        target = conf.trust().install_dir / manifest.id
        if os.path.lexists(target):
            discard(token)
            raise InstallError(f"{target} already exists; remove it or uninstall first")
        os.rename(staged.root, target)
        try:
            boot()
            plugin = InstalledPlugin.objects.get(plugin_id=manifest.id)
            if plugin.status == PluginStatus.ERROR:
                raise InstallError(plugin.status_reason)
            if staged.trust.signed:  # from now on it may never load without its signature
                InstalledPlugin.objects.filter(pk=plugin.pk).update(signed=True)
            with transaction.atomic():
                restored = restore_retained(plugin, manifest)
                audit.record(
                    AuditAction.INSTALL,
                    actor=actor,
                    plugin_id=manifest.id,
                    after=_facts(plugin),
                    detail=f"installed from {staged.source}"
                    + (f"; {restored}" if restored else ""),
                )
            reimport_project_files()
            announce(PLUGINS, manifest.id)
        except BaseException:
            remove_tree(target)
            InstalledPlugin.objects.filter(plugin_id=manifest.id).delete()
            boot()
            raise
        finally:
            discard(token)
    plugin.refresh_from_db()
    return plugin


def _facts(plugin: InstalledPlugin) -> dict[str, object]:
    return {
        "version": plugin.version,
        "trust_level": plugin.trust_level,
        "signed": plugin.signed,
        "permissions": plugin.permissions,
    }


def managed_folder(plugin: InstalledPlugin) -> Path:
    """The plugin's folder if Jupiter installed it, else ``InstallError`` saying who owns it."""
    target = conf.trust().install_dir / plugin.plugin_id
    source = Path(plugin.source_path)
    if source.resolve() == target.resolve() and target.is_dir():
        return target
    if is_bundled(source):
        raise InstallError(f"{plugin.plugin_id} is bundled with Jupiter; it is updated with it")
    raise InstallError(
        f"{plugin.plugin_id} was not installed through Jupiter (it lives in {source}); "
        "remove or replace that folder instead"
    )


def uninstall(plugin_id: str, *, purge: bool, actor: Actor = None) -> None:
    """Remove an installed plugin; its settings are kept for a reinstall unless ``purge``."""
    with exclusive():
        plugin = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
        if plugin is None:
            raise InstallError(f"plugin '{plugin_id}' is not installed")
        target = managed_folder(plugin)
        config = PluginConfig.objects.filter(plugin=plugin).first()
        trash = area(TRASH) / f"{plugin_id}-{secrets.token_hex(8)}"
        os.rename(target, trash)
        try:
            with transaction.atomic():
                retain(plugin, None if purge else config)
                audit.record(
                    AuditAction.UNINSTALL,
                    actor=actor,
                    plugin_id=plugin_id,
                    before={**_facts(plugin), "config": config.values if config else None},
                    detail="settings purged" if purge else "settings kept for a reinstall",
                )
                plugin.delete()
                PluginRegistration.objects.filter(plugin_id=plugin_id).delete()
        except BaseException:
            os.rename(trash, target)
            raise
        if purge:
            drop_from_project_files(plugin_id)
        boot()
        announce(PLUGINS, plugin_id)
        remove_tree(trash)

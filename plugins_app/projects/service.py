"""Projects and plugin settings: the service layer over the database and the project file.

SPEC S2: the database holds each project's plugin state, and ``<project>.jupiter.yaml`` at the
project root mirrors it. ``Project.file_hash`` is the SHA-256 of the file as Jupiter last read
or wrote it, so a different hash on disk means a hand edit:

- ``sync_from_file`` imports a hand edit (or reports why it cannot); a running server does
  it for every project every few seconds, a person by clicking, never a page being shown:
  an import may load plugin code. ``check_file`` describes the file without writing;
- a console change first checks the file; if it was edited by hand and not yet imported, the
  change is refused with ``ProjectFileConflict`` and nothing is written: one side must not
  silently overwrite the other, ``resolve_conflict`` lets the person pick;
- otherwise the row changes (a conditional UPDATE on its ``revision``, so a save made from a
  stale form never overwrites a newer one) and the file is rewritten atomically inside the
  same transaction, so a failed write rolls the database back. If the commit then fails
  (disk full, database locked), the file's previous bytes are put back before the error is
  reported: a change the person was told failed never comes back on the next import.

Order of the two writes, and what a crash does: the file is written before the commit, so
the only window where they disagree is a process killed between the rename and the commit.
The file is then ahead of the database, its hash differs from ``Project.file_hash``, and the
next sync (at start and every few seconds) imports it like a hand edit: **the file wins**,
every time. The other order (file after commit) would leave the database ahead of an old file
that looks unedited, so a crash there needs a second marker to tell "not written yet" from
"edited back by hand"; the file is also what people edit and commit to version control, so
the order that can only leave it ahead keeps one rule for both.

Per-project overrides are stored as given: validating them against the plugin's settings
schema is the config layer's job (``config.store.set_plugin_overrides``), so this module
never imports ``config``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from plugins_app.base.fsutil import atomic_write_bytes, sha256_of, sweep_temp_files
from plugins_app.models import (
    AuditAction,
    InstalledPlugin,
    PluginKind,
    Project,
    ProjectPlugin,
    audit,
)
from plugins_app.models.access import ProjectRole
from plugins_app.models.audit import Actor
from plugins_app.projects.errors import (
    NeedsConfirmation,
    ProjectError,
    ProjectFileConflict,
    ProjectPluginError,
    StaleProjectPluginState,
)
from plugins_app.projects.projectfile import (
    PluginEntry,
    ProjectFileData,
    ProjectFileError,
    read_project_file,
    write_project_file,
)
from plugins_app.projects.roles import grant
from plugins_app.projects.roots import check_root
from plugins_app.projects.signals import notify_project_plugins_changed

_NAME_MAX = cast(int, Project._meta.get_field("name").max_length)  # a SlugField: always set
log = logging.getLogger("jupiter.projects")


@dataclass(frozen=True)
class SyncOutcome:
    """What importing the project file did; ``error`` set means nothing in the DB changed.

    ``ignored_plugins`` are entries for plugins not installed here (or core plugins, which
    cannot be toggled per project): they stay in the file untouched.
    """

    imported: bool = False
    enabled_changed: frozenset[str] = frozenset()
    overrides_changed: frozenset[str] = frozenset()
    ignored_plugins: tuple[str, ...] = ()
    error: ProjectFileError | None = None


@dataclass(frozen=True)
class FileCheck:
    """The project file against what Jupiter last read or wrote, found without writing.

    ``hand_edited`` means the bytes on disk differ, so ``sync_from_file`` would import them;
    ``error`` says why it could not (the file is missing or malformed).
    """

    hand_edited: bool = False
    error: ProjectFileError | None = None


def project_file_path(project: Project) -> Path:
    """``<root>/<name>.jupiter.yaml``: the name is a slug, so it is a safe file name."""
    return Path(project.root_path) / f"{project.name}.jupiter.yaml"


def _enabled_by(data: ProjectFileData) -> tuple[str, ...]:
    """The installed, toggleable plugins a project file enables."""
    wanted = [pid for pid, entry in data.plugins.items() if entry.enabled]
    installed = InstalledPlugin.objects.exclude(kind=PluginKind.CORE).filter(plugin_id__in=wanted)
    return tuple(sorted(installed.values_list("plugin_id", flat=True)))


def register_project(
    name: str,
    root_path: str | Path,
    *,
    actor: Actor = None,
    accepted_plugins: Collection[str] | None = None,
) -> Project:
    """Register a directory as a project; import its project file, or create one.

    Raises ``ProjectError(field, message)`` for the form field at fault. The root is stored
    resolved (symlinks followed) so one directory cannot be registered twice under two paths,
    and must be allowed by ``roots.check_root``. The actor, when a user, owns the project.

    Enabling a plugin loads its code, so a person registering a folder whose file enables
    plugins must see them first: the console passes the ids the person accepted, and
    ``NeedsConfirmation`` names the ones still to accept. ``None`` (``jupiter_bootstrap``'s
    demo project, code that registers on purpose) accepts what the file says.
    """
    try:
        validate_slug(name)
    except ValidationError:
        raise ProjectError("name", "use only letters, digits, hyphens and underscores") from None
    if len(name) > _NAME_MAX:
        raise ProjectError("name", f"use at most {_NAME_MAX} characters")
    given = Path(root_path).expanduser()
    if not given.is_absolute():
        raise ProjectError("root_path", "must be an absolute path")
    root = given.resolve()
    if not root.is_dir():
        problem = "is not a directory" if root.exists() else "does not exist"
        raise ProjectError("root_path", f"{root} {problem}")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ProjectError("root_path", f"{root} is not readable by Jupiter")
    check_root(root)
    if Project.objects.filter(name=name).exists():
        raise ProjectError("name", f"a project named {name!r} is already registered")
    if other := Project.objects.filter(root_path=str(root)).first():
        raise ProjectError("root_path", f"{root} is already registered as project {other.name!r}")

    path = root / f"{name}.jupiter.yaml"
    existing: ProjectFileData | None = None
    if path.exists():
        try:
            existing = read_project_file(path)
        except ProjectFileError as exc:
            raise ProjectError("root_path", f"{path.name}: {exc.detail}") from exc
        enabling = _enabled_by(existing)
        if accepted_plugins is not None and not set(enabling) <= set(accepted_plugins):
            raise NeedsConfirmation(enabling)
    try:
        project = Project(name=name, root_path=str(root))
        with _undone_on_failure(project) as file_write, transaction.atomic():
            project.save(force_insert=True)
            if actor is not None and actor.is_authenticated:
                grant(project, actor, ProjectRole.OWNER, actor=actor)
            if existing is None:
                _store_hash(project, file_write.write(project, None))
                detail = f"project registered; {path.name} created"
                enabled: Iterable[str] = ()
            else:
                outcome = _import(project, existing)
                _store_hash(project, existing.sha256)
                detail = f"project registered; {path.name} imported"
                enabled = outcome.enabled_changed
            audit.record(
                AuditAction.PROJECT_FILE,
                actor=actor,
                project=project,
                after=_view(_console_entries(project)),
                detail=detail,
            )
            notify_project_plugins_changed(project, enabled)
    except ProjectFileError as exc:
        raise ProjectError("root_path", f"{path.name} {exc.message}") from exc
    except IntegrityError:
        raise ProjectError("name", f"a project named {name!r} was registered meanwhile") from None
    return project


def check_file(project: Project) -> FileCheck:
    """Whether the file holds hand edits not imported yet, and whether they can be: read-only.

    For pages shown by GET: the database, the file and the loaded plugins stay as they are.
    An unchanged file costs one hash of a small file.
    """
    path = project_file_path(project)
    if sha256_of(path) == project.file_hash:
        return FileCheck()
    try:
        read_project_file(path)
    except ProjectFileError as exc:
        return FileCheck(hand_edited=True, error=exc)
    return FileCheck(hand_edited=True)


def sync_from_file(project: Project, *, force: bool = False, actor: Actor = None) -> SyncOutcome:
    """Import the project file if it changed on disk since Jupiter last read or wrote it.

    An unchanged file costs one hash of a small file. ``force`` re-imports anyway, for entries
    of plugins that were installed after the file was last imported. A malformed or missing
    file is reported in the outcome and changes nothing. ``actor`` is who asked for the import
    (None when Jupiter picked the edit up by itself), for the audit trail.
    """
    path = project_file_path(project)
    if not force and sha256_of(path) == project.file_hash:
        return SyncOutcome()
    try:
        data = read_project_file(path)
    except ProjectFileError as exc:
        return SyncOutcome(error=exc)
    with transaction.atomic():
        locked = _locked(project)
        if not force and locked.file_hash == data.sha256:
            return SyncOutcome()  # another request imported this very version meanwhile
        return _import_audited(project, locked, data, actor=actor, detail="hand edit imported")


def sync_all_from_files() -> int:
    """Import the hand edits of every project's file; returns how many projects imported one.

    The server's periodic task (and ``jupiter_plugins sync``): hand edits arrive without a
    click, outside any request. Cheap when nothing changed: one hash per file.
    """
    return sum(sync_from_file(project).imported for project in Project.objects.all())


def set_plugin_enabled(
    project: Project,
    plugin_id: str,
    enabled: bool,
    *,
    actor: Actor = None,
    expected_revision: int | None = None,
) -> ProjectPlugin:
    """Enable or disable a plugin in a project, in the database and in the project file.

    Raises ``ProjectFileConflict`` (nothing changed) if the file has an unimported hand edit,
    ``ProjectPluginError`` for an unknown or core plugin, ``ProjectFileError`` if the file
    cannot be written (the database change is rolled back), ``StaleProjectPluginState`` if
    ``expected_revision`` is given and the row's revision moved on since it was read.
    """
    action = AuditAction.ENABLE if enabled else AuditAction.DISABLE
    plugin = toggleable_plugin(plugin_id)
    return _update_state(project, plugin, "enabled", enabled, action, actor, expected_revision)


def write_plugin_overrides(
    project: Project,
    plugin: InstalledPlugin,
    overrides: Mapping[str, Any],
    *,
    actor: Actor = None,
    expected_revision: int | None = None,
) -> ProjectPlugin:
    """Replace a plugin's per-project config overrides (the whole mapping) as given.

    Not validated here: projects know nothing of settings schemas. Callers validate first
    (``config.store.set_plugin_overrides``) or write values already checked (the settings
    migration, ``config.migrations``). Conflicts and write failures behave as in
    ``set_plugin_enabled``; ``plugin`` comes from ``toggleable_plugin``.
    """
    action = AuditAction.CONFIG_CHANGE
    return _update_state(
        project, plugin, "overrides", dict(overrides), action, actor, expected_revision
    )


def resolve_conflict(
    project: Project, keep: Literal["file", "console"], *, actor: Actor = None
) -> SyncOutcome:
    """Settle a hand edit against the console: import the file, or rewrite it from the DB.

    Keeping the file raises ``ProjectFileError`` if it cannot be read (there is nothing to
    keep). Keeping the console preserves what the file holds for plugins not installed here
    and its unknown keys, when it can be read.
    """
    path = project_file_path(project)
    if keep == "file":
        data = read_project_file(path)
        with transaction.atomic():
            locked = _locked(project)
            detail = "conflict resolved: the file was kept"
            return _import_audited(project, locked, data, actor=actor, detail=detail)
    if keep != "console":
        raise ValueError(f"keep must be 'file' or 'console', not {keep!r}")
    try:
        on_disk: ProjectFileData | None = read_project_file(path)
    except ProjectFileError:
        on_disk = None
    with _undone_on_failure(project) as file_write, transaction.atomic():
        locked = _locked(project)
        _store_hash(project, file_write.write(locked, on_disk, console_wins=True), locked)
        audit.record(
            AuditAction.PROJECT_FILE,
            actor=actor,
            project=locked,
            before=_view(on_disk.plugins) if on_disk else None,
            after=_view(_console_entries(locked)),
            detail="conflict resolved: the console was kept",
        )
    return SyncOutcome()


def toggleable_plugin(plugin_id: str) -> InstalledPlugin:
    """The installed, non-core plugin ``plugin_id`` (else ``ProjectPluginError``).

    Only such plugins have per-project state; core plugins run everywhere.
    """
    plugin = InstalledPlugin.objects.filter(plugin_id=plugin_id).first()
    if plugin is None:
        raise ProjectPluginError(plugin_id, "is not installed")
    if plugin.kind == PluginKind.CORE:
        raise ProjectPluginError(plugin_id, "is part of Jupiter and cannot be set per project")
    return plugin


def _locked(project: Project) -> Project:
    """The project row, re-read inside the transaction (locked where the database can).

    The caller's instance may predate another request's write; trusting its ``file_hash``
    would report that request's write as a hand edit.
    """
    return Project.objects.select_for_update().get(pk=project.pk)


def _store_hash(project: Project, file_hash: str, locked: Project | None = None) -> None:
    Project.objects.filter(pk=project.pk).update(file_hash=file_hash)
    for instance in (project, locked):
        if instance is not None:
            instance.file_hash = file_hash


def _update_state(
    project: Project,
    plugin: InstalledPlugin,
    field: Literal["enabled", "overrides"],
    value: Any,
    action: AuditAction,
    actor: Actor,
    expected_revision: int | None,
) -> ProjectPlugin:
    """Set one field of the plugin's row and rewrite the file, in one transaction.

    The row changes only if its revision is still the one read (``expected_revision`` when
    the caller showed a form, else the one read here): one conditional UPDATE, so of two
    saves made from the same form exactly one applies, on every database.
    """
    with _undone_on_failure(project) as file_write, transaction.atomic():
        locked = _locked(project)
        state, _ = ProjectPlugin.objects.get_or_create(project=locked, plugin=plugin)
        expected = state.revision if expected_revision is None else expected_revision
        if state.revision != expected:
            raise StaleProjectPluginState(project.name, plugin.plugin_id, expected, state.revision)
        before = getattr(state, field)
        if before == value:
            return state
        on_disk = _file_if_unchanged(locked, plugin.plugin_id, state)
        changes: dict[str, Any] = {field: value, "revision": F("revision") + 1}
        if field == "enabled" and value:  # enabling is consent to every declared permission
            changes["granted_permissions"] = None
        changed = ProjectPlugin.objects.filter(pk=state.pk, revision=expected).update(
            **changes, updated_at=timezone.now()
        )
        if not changed:
            state.refresh_from_db(fields=["revision"])
            raise StaleProjectPluginState(project.name, plugin.plugin_id, expected, state.revision)
        state.refresh_from_db()
        _store_hash(project, file_write.write(locked, on_disk), locked)
        audit.record(
            action,
            actor=actor,
            plugin_id=plugin.plugin_id,
            project=locked,
            before={field: before},
            after={field: value},
        )
        if field == "enabled":
            notify_project_plugins_changed(locked, {plugin.plugin_id})
    return state


class _FileWrite:
    """One save's write of the project file, undone if the save's commit then fails.

    The file is written before the commit; a commit that fails afterwards (disk full,
    database locked) must not leave the file holding a change the person was told failed,
    or the next sync would import it. The previous bytes are read under the transaction's
    lock, and put back only while the file still holds what this save wrote, so a later
    save by someone else is never undone. If even that fails, the file stays ahead and the
    next sync imports it, as after a crash (the module docstring's "file wins").
    """

    def __init__(self, project: Project) -> None:
        self.path = project_file_path(project)
        self._previous: bytes | None = None
        self._written = ""

    def write(
        self, project: Project, on_disk: ProjectFileData | None, *, console_wins: bool = False
    ) -> str:
        try:
            self._previous = self.path.read_bytes()
        except FileNotFoundError:
            self._previous = None
        self._written = _write_file(project, on_disk, console_wins=console_wins)
        return self._written

    def undo(self) -> None:
        if not self._written or sha256_of(self.path) != self._written:
            return
        try:
            if self._previous is None:
                self.path.unlink()
            else:
                atomic_write_bytes(self.path, self._previous)
        except OSError as exc:
            log.error(
                "%s not restored after a failed save (%s): it wins at next sync", self.path, exc
            )


@contextlib.contextmanager
def _undone_on_failure(project: Project) -> Iterator[_FileWrite]:
    """A ``_FileWrite`` for the block, undone if the block (its commit included) fails."""
    file_write = _FileWrite(project)
    try:
        yield file_write
    except BaseException:
        file_write.undo()
        raise


def sweep_project_temp_files() -> list[Path]:
    """Temporary files of project-file writes interrupted by a crash, removed from every
    registered project's root (at server start); returns what was removed."""
    roots = {Path(root) for root in Project.objects.values_list("root_path", flat=True)}
    return sweep_temp_files(sorted(roots))


def _file_if_unchanged(
    project: Project, plugin_id: str, state: ProjectPlugin
) -> ProjectFileData | None:
    """The file on disk, to preserve what it holds beyond the DB; conflict if hand-edited.

    A missing file is no conflict: there is nothing on disk to overwrite.
    """
    path = project_file_path(project)
    if not path.exists():
        return None
    console = _entry_of(state)
    try:
        on_disk = read_project_file(path)
    except ProjectFileError as exc:
        raise ProjectFileConflict(
            project.name, plugin_id, file_entry=None, console_entry=console, file_error=str(exc)
        ) from exc
    if on_disk.sha256 != project.file_hash:
        raise ProjectFileConflict(
            project.name,
            plugin_id,
            file_entry=on_disk.plugins.get(plugin_id),
            console_entry=console,
        )
    return on_disk


def _write_file(
    project: Project, on_disk: ProjectFileData | None, *, console_wins: bool = False
) -> str:
    """Write the DB state, keeping the file's unknown keys and entries of plugins without rows.

    Entries without rows are plugins not installed here, or installed since the file was
    imported: the file is still the truth for them. When the console wins a conflict, the
    hand-edited entries of installed plugins are dropped instead.
    """
    entries = dict(on_disk.plugins) if on_disk else {}
    if console_wins:
        installed = InstalledPlugin.objects.exclude(kind=PluginKind.CORE)
        for plugin_id in installed.values_list("plugin_id", flat=True):
            entries.pop(plugin_id, None)
    for plugin_id, entry in _console_entries(project).items():
        kept = entries.get(plugin_id)
        entries[plugin_id] = PluginEntry(entry.enabled, entry.overrides, kept.extra if kept else {})
    extra = on_disk.extra if on_disk else {}
    data = ProjectFileData(project=project.name, plugins=entries, extra=extra)
    return write_project_file(project_file_path(project), data)


def _import_audited(
    project: Project, locked: Project, data: ProjectFileData, *, actor: Actor, detail: str
) -> SyncOutcome:
    before = _view(_console_entries(locked))
    outcome = _import(locked, data)
    _store_hash(project, data.sha256, locked)
    audit.record(
        AuditAction.PROJECT_FILE,
        actor=actor,
        project=locked,
        before=before,
        after=_view(_console_entries(locked)),
        detail=f"{detail}; ignored: {', '.join(outcome.ignored_plugins) or 'none'}",
    )
    notify_project_plugins_changed(locked, outcome.enabled_changed)
    return outcome


def _import(project: Project, data: ProjectFileData) -> SyncOutcome:
    """Make the rows of installed plugins match the file; absent from the file = no row."""
    installed = {p.plugin_id: p for p in InstalledPlugin.objects.exclude(kind=PluginKind.CORE)}
    rows = {r.plugin.plugin_id: r for r in project.plugin_states.select_related("plugin")}
    enabled_changed: set[str] = set()
    overrides_changed: set[str] = set()
    for plugin_id, plugin in installed.items():
        entry, row = data.plugins.get(plugin_id), rows.get(plugin_id)
        old = _entry_of(row) or PluginEntry()
        new = PluginEntry(entry.enabled, dict(entry.overrides)) if entry else PluginEntry()
        if old.enabled != new.enabled:
            enabled_changed.add(plugin_id)
        if old.overrides != new.overrides:
            overrides_changed.add(plugin_id)
        if entry is None:
            if row is not None:
                row.delete()
        elif row is None or old != new:
            row = row or ProjectPlugin(project=project, plugin=plugin)
            row.enabled, row.overrides = new.enabled, dict(new.overrides)
            row.revision += 1  # a form opened before the import is stale now
            row.save()
    return SyncOutcome(
        imported=True,
        enabled_changed=frozenset(enabled_changed),
        overrides_changed=frozenset(overrides_changed),
        ignored_plugins=tuple(sorted(set(data.plugins) - set(installed))),
    )


def _entry_of(row: ProjectPlugin | None) -> PluginEntry | None:
    return PluginEntry(row.enabled, dict(row.overrides)) if row is not None else None


def _console_entries(project: Project) -> dict[str, PluginEntry]:
    rows = project.plugin_states.select_related("plugin")
    return {row.plugin.plugin_id: PluginEntry(row.enabled, dict(row.overrides)) for row in rows}


def _view(entries: Mapping[str, PluginEntry]) -> dict[str, Any]:
    """JSON form of plugin entries for the audit trail."""
    return {
        pid: {"enabled": e.enabled, "config": dict(e.overrides)}
        for pid, e in sorted(entries.items())
    }

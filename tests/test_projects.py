"""Projects service layer (SPEC S2, S3, X5, X7): DB and project file kept in step."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models.signals import post_save

from plugins_app.config import store as plugin_config
from plugins_app.config.errors import ConfigValidationError, StaleConfigError
from plugins_app.config.layering import remove_override
from plugins_app.kernel.runtime import get_runtime
from plugins_app.management.worker import WorkerServices
from plugins_app.manifest.model import ConfigSchema, Manifest
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    InstalledPlugin,
    PluginConfig,
    PluginKind,
    Project,
    ProjectPlugin,
)
from plugins_app.projects import service as projects
from plugins_app.projects.errors import ProjectError, ProjectFileConflict, ProjectPluginError
from plugins_app.projects.projectfile import PluginEntry, ProjectFileError, read_project_file
from plugins_app.projects.signals import project_plugins_changed

SCHEMA = {
    "type": "object",
    "properties": {
        "max_complexity": {"type": "integer", "minimum": 1, "default": 10},
        "exclude": {"type": "array", "items": {"type": "string"}, "default": []},
    },
}


def make_plugin(plugin_id: str = "code_analyzer", **kwargs) -> InstalledPlugin:
    manifest = Manifest(
        id=plugin_id,
        name=plugin_id,
        version="1.0.0",
        kind="tool",
        entrypoints={"register": "main:register"},
        root=Path("/nonexistent") / plugin_id,
        config_schema=ConfigSchema(version=1, schema=SCHEMA),
    ).to_snapshot()
    return InstalledPlugin.objects.create(
        plugin_id=plugin_id, name=plugin_id, manifest=manifest, **kwargs
    )


@pytest.fixture
def plugin(db) -> InstalledPlugin:
    return make_plugin()


@pytest.fixture
def project(db, tmp_path: Path) -> Project:
    return projects.register_project("demo", tmp_path)


@pytest.fixture
def signals():
    received: list[tuple[str, frozenset[str]]] = []

    def receiver(sender, project, plugin_ids, **kwargs):
        received.append((project.name, plugin_ids))

    project_plugins_changed.connect(receiver, dispatch_uid="test_projects")
    yield received
    project_plugins_changed.disconnect(dispatch_uid="test_projects")


def hand_edit(project: Project, text: str) -> Path:
    path = projects.project_file_path(project)
    path.write_text(text)
    return path


# --- registration ------------------------------------------------------------------------


@pytest.mark.django_db
def test_register_creates_the_file(tmp_path: Path) -> None:
    project = projects.register_project("demo", tmp_path)
    path = tmp_path / "demo.jupiter.yaml"
    assert projects.project_file_path(project) == path
    data = read_project_file(path)
    assert (data.project, data.plugins) == ("demo", {})
    assert project.file_hash == data.sha256
    assert Project.objects.get().file_hash == data.sha256
    assert AuditEvent.objects.get().action == AuditAction.PROJECT_FILE


@pytest.mark.django_db
def test_register_imports_an_existing_file(
    tmp_path: Path, plugin, signals, django_capture_on_commit_callbacks
) -> None:
    (tmp_path / "demo.jupiter.yaml").write_text(
        "project: demo\nplugins:\n  code_analyzer:\n    enabled: true\n"
        "    config: {max_complexity: 12}\n  elsewhere: {enabled: true}\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        project = projects.register_project("demo", tmp_path)
    state = ProjectPlugin.objects.get(project=project, plugin=plugin)
    assert (state.enabled, state.overrides) == (True, {"max_complexity": 12})
    assert signals == [("demo", frozenset({"code_analyzer"}))]


@pytest.mark.django_db
def test_register_stores_the_resolved_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    project = projects.register_project("demo", tmp_path / "link")
    assert project.root_path == str(real)
    with pytest.raises(ProjectError) as caught:
        projects.register_project("other", real)
    assert caught.value.field == "root_path"
    assert "already registered as project 'demo'" in caught.value.message


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "root", "field", "message"),
    [
        ("bad name", "{tmp}", "name", "letters, digits"),
        ("x" * 65, "{tmp}", "name", "at most 64"),
        ("demo", "relative/dir", "root_path", "absolute"),
        ("demo", "{tmp}/missing", "root_path", "does not exist"),
        ("demo", "{tmp}/file.txt", "root_path", "not a directory"),
    ],
)
def test_register_validation(tmp_path: Path, name, root, field, message) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ProjectError) as caught:
        projects.register_project(name, root.format(tmp=tmp_path))
    assert caught.value.field == field
    assert message in caught.value.message
    assert not Project.objects.exists()


@pytest.mark.django_db
def test_register_refuses_duplicates_and_bad_files(tmp_path: Path) -> None:
    projects.register_project("demo", tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ProjectError, match="already registered") as caught:
        projects.register_project("demo", other)
    assert caught.value.field == "name"
    (other / "bad.jupiter.yaml").write_text("plugins:\n  x:\n    enabled: maybe\n")
    with pytest.raises(ProjectError, match=r"enabled must be true or false \(line 3\)"):
        projects.register_project("bad", other)
    assert list(Project.objects.values_list("name", flat=True)) == ["demo"]


@pytest.mark.django_db
def test_register_rolls_back_when_the_file_cannot_be_created(tmp_path: Path, monkeypatch):
    def fail(path, data):
        raise ProjectFileError(path, "cannot be written: Read-only file system")

    monkeypatch.setattr(projects, "write_project_file", fail)
    with pytest.raises(ProjectError, match="Read-only"):
        projects.register_project("demo", tmp_path)
    assert not Project.objects.exists()


# --- console edits -----------------------------------------------------------------------


@pytest.mark.django_db
def test_enabling_writes_the_file_audits_and_signals(
    project, plugin, signals, django_capture_on_commit_callbacks
) -> None:
    user = get_user_model().objects.create_user("ada")
    with django_capture_on_commit_callbacks(execute=True):
        state = projects.set_plugin_enabled(project, "code_analyzer", True, actor=user)
    assert state.enabled
    data = read_project_file(projects.project_file_path(project))
    assert data.plugins == {"code_analyzer": PluginEntry(enabled=True)}
    assert project.file_hash == data.sha256 == Project.objects.get().file_hash
    event = AuditEvent.objects.filter(action=AuditAction.ENABLE).get()
    assert (event.actor, event.plugin_id, event.project_name) == (user, "code_analyzer", "demo")
    assert (event.before, event.after) == ({"enabled": False}, {"enabled": True})
    assert signals == [("demo", frozenset({"code_analyzer"}))]

    with django_capture_on_commit_callbacks(execute=True):
        projects.set_plugin_enabled(project, "code_analyzer", False)
    assert (
        not read_project_file(projects.project_file_path(project)).plugins["code_analyzer"].enabled
    )
    assert AuditEvent.objects.filter(action=AuditAction.DISABLE).count() == 1


@pytest.mark.django_db
def test_unknown_and_core_plugins_are_refused(project) -> None:
    make_plugin("bridge", kind=PluginKind.CORE)
    with pytest.raises(ProjectPluginError, match="not installed"):
        projects.set_plugin_enabled(project, "nope", True)
    with pytest.raises(ProjectPluginError, match="part of Jupiter"):
        projects.set_plugin_enabled(project, "bridge", False)


@pytest.mark.django_db
def test_console_write_keeps_unknown_content(project, plugin) -> None:
    hand_edit(
        project,
        "project: demo\nowner: team-a\nplugins:\n  elsewhere:\n    enabled: true\n"
        "    config: {depth: 2}\n",
    )
    assert projects.sync_from_file(project).ignored_plugins == ("elsewhere",)
    projects.set_plugin_enabled(project, "code_analyzer", True)
    data = read_project_file(projects.project_file_path(project))
    assert data.extra == {"owner": "team-a"}
    assert data.plugins["elsewhere"] == PluginEntry(True, {"depth": 2})
    assert data.plugins["code_analyzer"].enabled


@pytest.mark.django_db
def test_overrides_are_validated_written_and_reset(project, plugin) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        plugin_config.set_plugin_overrides(project, "code_analyzer", {"max_complexity": 0})
    assert caught.value.by_field() == {"max_complexity": [caught.value.errors[0].message]}
    assert read_project_file(projects.project_file_path(project)).plugins == {}

    plugin_config.set_plugin_overrides(project, "code_analyzer", {"max_complexity": 12})
    file_entry = read_project_file(projects.project_file_path(project)).plugins["code_analyzer"]
    assert file_entry == PluginEntry(False, {"max_complexity": 12})
    effective = plugin_config.effective_config_for(plugin, project)
    assert effective.values["max_complexity"] == 12
    assert effective.sources["max_complexity"] == "project"
    event = AuditEvent.objects.get(action=AuditAction.CONFIG_CHANGE)
    assert (event.before, event.after) == (
        {"overrides": {}},
        {"overrides": {"max_complexity": 12}},
    )

    state = ProjectPlugin.objects.get(project=project, plugin=plugin)
    plugin_config.set_plugin_overrides(
        project, "code_analyzer", remove_override(state.overrides, "max_complexity")
    )
    assert (
        plugin_config.effective_config_for(plugin, project).sources["max_complexity"] == "default"
    )


# --- hand edits and conflicts ------------------------------------------------------------


@pytest.mark.django_db
def test_unchanged_file_is_a_no_op(project, plugin) -> None:
    outcome = projects.sync_from_file(project)
    assert outcome == projects.SyncOutcome()
    assert AuditEvent.objects.count() == 1  # registration only


@pytest.mark.django_db
def test_hand_edit_is_picked_up(
    project, plugin, signals, django_capture_on_commit_callbacks
) -> None:
    projects.set_plugin_enabled(project, "code_analyzer", True)
    signals.clear()
    path = hand_edit(
        project,
        "plugins:\n  code_analyzer:\n    enabled: false\n    config: {exclude: [dist]}\n",
    )
    with django_capture_on_commit_callbacks(execute=True):
        outcome = projects.sync_from_file(project)
    assert outcome.imported and outcome.error is None
    assert outcome.enabled_changed == {"code_analyzer"}
    assert outcome.overrides_changed == {"code_analyzer"}
    state = ProjectPlugin.objects.get(project=project, plugin=plugin)
    assert (state.enabled, state.overrides) == (False, {"exclude": ["dist"]})
    assert Project.objects.get().file_hash == read_project_file(path).sha256
    event = AuditEvent.objects.filter(action=AuditAction.PROJECT_FILE).first()
    assert event.before == {"code_analyzer": {"enabled": True, "config": {}}}
    assert event.after == {"code_analyzer": {"enabled": False, "config": {"exclude": ["dist"]}}}
    assert signals == [("demo", frozenset({"code_analyzer"}))]


@pytest.mark.django_db
def test_removing_an_entry_by_hand_disables_the_plugin(project, plugin) -> None:
    projects.set_plugin_enabled(project, "code_analyzer", True)
    hand_edit(project, "project: demo\nplugins: {}\n")
    assert projects.sync_from_file(project).enabled_changed == {"code_analyzer"}
    assert not ProjectPlugin.objects.exists()


@pytest.mark.django_db
def test_malformed_or_missing_file_is_reported_and_changes_nothing(project, plugin) -> None:
    projects.set_plugin_enabled(project, "code_analyzer", True)
    stored = Project.objects.get().file_hash
    hand_edit(project, "plugins:\n  code_analyzer:\n    enabled: nope\n")
    outcome = projects.sync_from_file(project)
    assert not outcome.imported
    assert outcome.error is not None and outcome.error.line == 3
    assert ProjectPlugin.objects.get().enabled
    assert Project.objects.get().file_hash == stored

    projects.project_file_path(project).unlink()
    assert "cannot be read" in projects.sync_from_file(project).error.message


@pytest.mark.django_db
def test_check_file_describes_hand_edits_without_writing(project, plugin) -> None:
    stored = Project.objects.get().file_hash
    assert projects.check_file(project) == projects.FileCheck()
    hand_edit(project, "plugins:\n  code_analyzer: {enabled: true}\n")
    assert projects.check_file(project) == projects.FileCheck(hand_edited=True)
    hand_edit(project, "plugins:\n  code_analyzer:\n    enabled: nope\n")
    check = projects.check_file(project)
    assert check.hand_edited and check.error is not None and check.error.line == 3
    projects.project_file_path(project).unlink()
    assert "cannot be read" in projects.check_file(project).error.message
    assert not ProjectPlugin.objects.exists()
    assert AuditEvent.objects.count() == 1  # registration only
    assert Project.objects.get().file_hash == stored


@pytest.mark.django_db
def test_sync_all_from_files_imports_only_the_edited_projects(project, plugin, tmp_path) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    projects.register_project("other", other_root)
    hand_edit(project, "plugins:\n  code_analyzer: {enabled: true}\n")
    assert projects.sync_all_from_files() == 1
    assert ProjectPlugin.objects.get(project=project, plugin=plugin).enabled
    assert projects.sync_all_from_files() == 0


@pytest.mark.django_db
def test_the_scheduler_leader_imports_hand_edits_every_few_seconds(project, plugin) -> None:
    services = WorkerServices(get_runtime(), threads=1)  # not started: its tasks run by hand
    try:
        hand_edit(project, "plugins:\n  code_analyzer: {enabled: true}\n")
        assert "project-files" in services.scheduler.run_pending()
        assert ProjectPlugin.objects.get(project=project, plugin=plugin).enabled
        event = AuditEvent.objects.latest("id")
        assert event.actor is None and event.detail.startswith("hand edit imported")
    finally:
        services.jobs.close()


@pytest.mark.django_db
def test_hand_edit_plus_console_edit_is_a_conflict(project, plugin) -> None:
    projects.set_plugin_enabled(project, "code_analyzer", True)
    events = AuditEvent.objects.count()
    text = "project: demo\nplugins:\n  code_analyzer:\n    enabled: false\n    # mine\n"
    path = hand_edit(project, text)
    with pytest.raises(ProjectFileConflict) as caught:
        plugin_config.set_plugin_overrides(project, "code_analyzer", {"max_complexity": 3})
    conflict = caught.value
    assert conflict.file_entry == PluginEntry(enabled=False)
    assert conflict.console_entry == PluginEntry(enabled=True)
    assert path.read_text() == text
    state = ProjectPlugin.objects.get()
    assert (state.enabled, state.overrides) == (True, {})
    assert AuditEvent.objects.count() == events

    with pytest.raises(ProjectFileConflict):
        projects.set_plugin_enabled(project, "code_analyzer", False)
    assert path.read_text() == text


@pytest.mark.django_db
def test_malformed_hand_edit_blocks_console_edits_too(project, plugin) -> None:
    hand_edit(project, "plugins: [\n")
    with pytest.raises(ProjectFileConflict) as caught:
        projects.set_plugin_enabled(project, "code_analyzer", True)
    assert caught.value.file_entry is None
    assert "line" in caught.value.file_error
    assert not ProjectPlugin.objects.filter(enabled=True).exists()


@pytest.mark.django_db
def test_stale_project_instance_is_not_a_conflict(project, plugin) -> None:
    other_request = Project.objects.get()
    projects.set_plugin_enabled(project, "code_analyzer", True)
    plugin_config.set_plugin_overrides(other_request, "code_analyzer", {"max_complexity": 2})
    state = ProjectPlugin.objects.get()
    assert (state.enabled, state.overrides) == (True, {"max_complexity": 2})


@pytest.mark.django_db
def test_resolve_keeping_the_file(project, plugin, signals, django_capture_on_commit_callbacks):
    projects.set_plugin_enabled(project, "code_analyzer", True)
    signals.clear()
    hand_edit(project, "plugins:\n  code_analyzer: {enabled: false}\n")
    with django_capture_on_commit_callbacks(execute=True):
        outcome = projects.resolve_conflict(project, "file")
    assert outcome.enabled_changed == {"code_analyzer"}
    assert not ProjectPlugin.objects.get().enabled
    assert projects.sync_from_file(project) == projects.SyncOutcome()
    projects.set_plugin_enabled(project, "code_analyzer", True)  # no conflict any more
    event = AuditEvent.objects.filter(detail__startswith="conflict resolved").get()
    assert event.detail.startswith("conflict resolved: the file was kept")
    assert signals == [("demo", frozenset({"code_analyzer"}))]


@pytest.mark.django_db
def test_resolve_keeping_the_console(project, plugin) -> None:
    make_plugin("linter")
    projects.set_plugin_enabled(project, "code_analyzer", True)
    hand_edit(
        project,
        "owner: me\nplugins:\n  code_analyzer: {enabled: false}\n  linter: {enabled: true}\n"
        "  elsewhere: {enabled: true}\n",
    )
    projects.resolve_conflict(project, "console")
    data = read_project_file(projects.project_file_path(project))
    assert data.plugins == {
        "code_analyzer": PluginEntry(enabled=True),
        "elsewhere": PluginEntry(enabled=True),
    }
    assert data.extra == {"owner": "me"}
    assert Project.objects.get().file_hash == data.sha256
    event = AuditEvent.objects.filter(detail="conflict resolved: the console was kept").get()
    assert event.before["linter"] == {"enabled": True, "config": {}}
    assert event.after == {"code_analyzer": {"enabled": True, "config": {}}}


@pytest.mark.django_db
def test_resolve_keeping_a_broken_file_is_refused(project) -> None:
    hand_edit(project, "plugins: [\n")
    with pytest.raises(ProjectFileError):
        projects.resolve_conflict(project, "file")
    projects.resolve_conflict(project, "console")
    assert read_project_file(projects.project_file_path(project)).plugins == {}


@pytest.mark.django_db
def test_file_write_failure_rolls_the_database_back(project, plugin, monkeypatch) -> None:
    path = projects.project_file_path(project)
    before_text, before_hash = path.read_text(), Project.objects.get().file_hash

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("plugins_app.base.fsutil.os.replace", broken_replace)
    with pytest.raises(ProjectFileError, match="No space left"):
        projects.set_plugin_enabled(project, "code_analyzer", True)
    assert not ProjectPlugin.objects.filter(enabled=True).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.ENABLE).exists()
    assert Project.objects.get().file_hash == before_hash
    assert path.read_text() == before_text
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


# --- global config -----------------------------------------------------------------------


@pytest.fixture
def config_saves():
    """``created`` flag of every PluginConfig post_save, as settings_update listens to them."""
    created_flags: list[bool] = []

    def receiver(sender, created, **kwargs):
        created_flags.append(created)

    post_save.connect(receiver, sender=PluginConfig, dispatch_uid="test_projects")
    yield created_flags
    post_save.disconnect(sender=PluginConfig, dispatch_uid="test_projects")


@pytest.mark.django_db
def test_save_global_config_validates_and_audits(plugin, config_saves) -> None:
    with pytest.raises(ConfigValidationError) as caught:
        plugin_config.save_global_config(plugin, {"exclude": "dist"}, expected_revision=0)
    assert [e.path for e in caught.value.errors] == ["exclude"]

    config = plugin_config.save_global_config(plugin, {"max_complexity": 20}, expected_revision=0)
    assert (config.revision, config.values) == (1, {"max_complexity": 20})
    event = AuditEvent.objects.get(action=AuditAction.CONFIG_CHANGE)
    assert (event.before, event.after) == ({}, {"max_complexity": 20})
    assert plugin_config.effective_config_for(plugin).sources["max_complexity"] == "global"
    assert config_saves == [True, False]  # the row's creation, then the update() save

    with pytest.raises(StaleConfigError, match="reload") as stale:
        plugin_config.save_global_config(plugin, {"max_complexity": 30}, expected_revision=0)
    assert (stale.value.expected_revision, stale.value.current_revision) == (0, 1)
    assert PluginConfig.objects.get().values == {"max_complexity": 20}


@pytest.mark.django_db
def test_plugin_without_schema_accepts_any_config(db) -> None:
    plugin = InstalledPlugin.objects.create(plugin_id="plain", name="plain", manifest={})
    config = plugin_config.save_global_config(plugin, {"anything": [1]}, expected_revision=0)
    assert plugin_config.effective_config_for(plugin).values == {"anything": [1]}
    assert config.revision == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_one_wins_the_other_is_stale() -> None:
    plugin = make_plugin()
    PluginConfig.objects.create(plugin=plugin)
    barrier = threading.Barrier(2)
    results: dict[int, object] = {}

    def save(value: int) -> None:
        try:
            barrier.wait()
            plugin_config.save_global_config(plugin, {"max_complexity": value}, expected_revision=0)
            results[value] = "saved"
        except Exception as exc:  # recorded for the assertions below
            results[value] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=save, args=(value,)) for value in (11, 22)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    outcomes = sorted(results.values(), key=lambda r: r != "saved")
    assert outcomes[0] == "saved", results
    assert isinstance(outcomes[1], StaleConfigError), results
    winner = next(value for value, result in results.items() if result == "saved")
    config = PluginConfig.objects.get()
    assert (config.revision, config.values) == (1, {"max_complexity": winner})
    assert AuditEvent.objects.filter(action=AuditAction.CONFIG_CHANGE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_savers_that_reload_on_conflict_lose_nothing() -> None:
    plugin = make_plugin()
    barrier = threading.Barrier(4)
    errors: list[Exception] = []

    def append(item: str) -> None:
        try:
            barrier.wait()
            while True:
                config = PluginConfig.objects.filter(plugin=plugin).first()
                revision, values = (config.revision, config.values) if config else (0, {})
                values = {**values, "exclude": [*values.get("exclude", []), item]}
                try:
                    plugin_config.save_global_config(plugin, values, expected_revision=revision)
                    return
                except StaleConfigError:
                    continue
        except Exception as exc:  # "database is locked" would land here
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=append, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    config = PluginConfig.objects.get()
    assert config.revision == 4
    assert sorted(config.values["exclude"]) == ["t0", "t1", "t2", "t3"]


@pytest.mark.django_db
def test_forced_sync_applies_entries_of_plugins_installed_later(project) -> None:
    hand_edit(project, "plugins:\n  late: {enabled: true}\n")
    assert projects.sync_from_file(project).ignored_plugins == ("late",)
    make_plugin("late")
    assert projects.sync_from_file(project) == projects.SyncOutcome()
    assert projects.sync_from_file(project, force=True).enabled_changed == {"late"}
    assert ProjectPlugin.objects.get().enabled

"""A test double of the Bridge for plugin authors (SPEC B6).

Test a plugin without a running host or database::

    from plugins_app.authoring.testing import BridgeDouble

    def test_count_lines(tmp_path):
        (tmp_path / "a.py").write_text("x = 1\\n")
        bridge = BridgeDouble.from_plugin_dir(PLUGIN_DIR, projects={"demo": tmp_path})
        register(bridge)                              # the plugin's own entrypoint
        job = bridge.run_job("count_lines", project="demo")
        assert job.result == {"lines": 1}
        assert job.progress_log[-1][0] == 100

The double keeps the real registration contract (``register_job``, ``register_hook``,
``register_ui``, ``expose``, ``remote_actions``...: the same validation, the same errors) and
the real permission rules (runner, file access, HTTP client), but refusals are collected in
``bridge.denials`` instead of the audit table, config is the schema defaults merged with
``config=``, projects are the directories given, import graphs the edges given in
``graphs=``, and ``bridge.plugins.get`` answers from ``apis=`` for declared dependencies only.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from plugins_app.config.errors import ConfigValidationError
from plugins_app.config.layering import effective_config
from plugins_app.manifest.load import load_manifest, parse_manifest
from plugins_app.manifest.model import Manifest
from plugins_app.sdk.bridge import PluginBridge, Registration, RemoteActions
from plugins_app.sdk.errors import JobCancelled, PermissionRefused, PluginUnavailable
from plugins_app.sdk.events import EventBus, PluginEventBus
from plugins_app.sdk.loading import resolve
from plugins_app.sdk.sandbox import CommandResult, HttpClient, ProjectFiles, Runner
from plugins_app.sdk.values import Graph, ProjectInfo


class ServicesDouble:
    """``bridge.services`` of the double; the same methods as the host's ``Services``."""

    def __init__(self, double: BridgeDouble, config: Mapping[str, Any]) -> None:
        self._double = double
        self._config = dict(config)
        self.event_bus = EventBus()
        self.notes: list[tuple[str, str, dict[str, Any]]] = []

    def get_logger(self) -> logging.Logger:
        return logging.getLogger(f"jupiter.plugin.{self._double.plugin_id}")

    def get_config(self, project: str | None = None) -> dict[str, Any]:
        section = self._double.manifest.config_schema
        schema = dict(section.schema) if section else None
        return dict(effective_config(schema, self._config).values)

    def set_config(self, key: str, value: Any) -> None:
        """Set ``key`` as the host would (``bridge.config.set`` of original plugins): refused
        with ``ConfigValidationError`` unless the whole config stays valid."""
        section = self._double.manifest.config_schema
        candidate = {**self._config, key: value}
        errors = effective_config(dict(section.schema) if section else None, candidate).errors
        if errors:
            raise ConfigValidationError(tuple(errors))
        self._config = candidate

    def get_project_manager(self) -> ProjectManagerDouble:
        return ProjectManagerDouble(self._double)

    def get_event_bus(self) -> PluginEventBus:
        return PluginEventBus(self.event_bus, self._double.plugin_id)

    def get_data_dir(self) -> Path:
        """The plugin's private folder: ``data_dir`` if given, else a fresh temporary one."""
        if self._double.data_dir is None:
            self._double.data_dir = Path(tempfile.mkdtemp(prefix=f"{self._double.plugin_id}-"))
        return self._double.data_dir

    def get_runner(self) -> Runner:
        double = self._double
        return Runner(
            double.manifest,
            double.project_root,
            double.require,
            double.refuse,
            data_dir=self.get_data_dir(),
        )

    def get_http_client(self, timeout: float = 10.0) -> HttpClient:
        return HttpClient(self._double.manifest, self._double.require, timeout)

    def get_graph(self) -> GraphDouble:
        """The import graphs given as ``graphs={project: [(source, target, internal)]}``."""
        return GraphDouble(self._double)

    def get_history(self) -> ServicesDouble:
        """Notes a plugin records land in ``services.notes``."""
        return self

    def record(self, project: str, summary: str, data: Mapping[str, Any] | None = None) -> None:
        self._double.project_root(project)
        self.notes.append((project, summary, dict(data or {})))


class GraphDouble:
    def __init__(self, double: BridgeDouble) -> None:
        self._double = double

    def for_project(self, project: str) -> Graph | None:
        self._double.project_root(project)
        edges = self._double.graphs.get(project)
        if edges is None:
            return None
        files = sorted({e[0] for e in edges} | {e[1] for e in edges if e[2]})
        edge_tuples = tuple(cast("tuple[str, str, bool]", tuple(e)) for e in edges)
        return Graph(project, tuple(files), edge_tuples)


class ProjectManagerDouble:
    def __init__(self, double: BridgeDouble) -> None:
        self._double = double

    def list_projects(self) -> list[ProjectInfo]:
        return [ProjectInfo(name, Path(root)) for name, root in self._double.projects.items()]

    def get(self, name: str) -> ProjectInfo | None:
        return next((p for p in self.list_projects() if p.name == name), None)

    def root(self, name: str) -> Path:
        return self._double.project_root(name)

    def files(self, name: str, manifest: Manifest | None = None) -> ProjectFiles:
        double = self._double
        return ProjectFiles(
            double.manifest, double.project_root(name), double.require, double.refuse
        )


class PluginsDouble:
    """``bridge.plugins``: other plugins' APIs given to the double, declared ones only."""

    def __init__(self, manifest: Manifest, apis: Mapping[str, Any]) -> None:
        self._manifest = manifest
        self._apis = dict(apis)

    def get(self, plugin_id: str) -> Any:
        declared = {d.id for d in self._manifest.dependencies} | set(self._manifest.extends)
        if plugin_id not in declared:
            raise PluginUnavailable(self._manifest.id, plugin_id, "it is not a declared dependency")
        if plugin_id not in self._apis:
            raise PluginUnavailable(self._manifest.id, plugin_id, "it is not loaded")
        return self._apis[plugin_id]


@dataclass
class JobRecord:
    """What ``run_job`` returns: the job's outcome, as the host would store it."""

    state: str
    result: Any = None
    error: BaseException | None = None
    progress_log: list[tuple[int, str]] = field(default_factory=list)


class JobContextDouble:
    """The ``job`` argument a job function receives, with a ``cancel()`` for tests."""

    def __init__(self, double: BridgeDouble, name: str, project: str | None, params: dict) -> None:
        self.id = f"test-{name}"
        self.plugin_id, self.name, self.params = double.plugin_id, name, params
        self.project = ProjectInfo(project, double.project_root(project)) if project else None
        self.config = double.services.get_config(project)
        self.log = double.services.get_logger()
        self.progress_log: list[tuple[int, str]] = []
        self._double = double
        self._cancelled = threading.Event()

    def progress(self, percent: float, message: str = "") -> None:
        self.progress_log.append((max(0, min(100, int(percent))), str(message)))

    def cancel(self) -> None:
        self._cancelled.set()

    def is_cancelled(self) -> bool:
        return self._cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        if self.is_cancelled():
            raise JobCancelled(self.id)

    @property
    def files(self) -> ProjectFiles:
        assert self.project is not None, "this job was run without a project"
        services = cast(ServicesDouble, self._double.services)  # set so by BridgeDouble
        return services.get_project_manager().files(self.project.name)

    def run(self, args: list[str], **kwargs: Any) -> CommandResult:
        assert self.project is not None, "this job was run without a project"
        return self._double.services.get_runner().run(self.project.name, args, **kwargs)


class BridgeDouble(PluginBridge):
    """A ``PluginBridge`` with no host behind it: pass it to your plugin's ``register``."""

    def __init__(
        self,
        manifest: Manifest,
        *,
        config: Mapping[str, Any] | None = None,
        projects: Mapping[str, str | Path] | None = None,
        apis: Mapping[str, Any] | None = None,
        graphs: Mapping[str, list[tuple[str, str, bool]]] | None = None,
        data_dir: str | Path | None = None,
    ) -> None:
        self.plugin_id = manifest.id
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.manifest = manifest
        self.registration = Registration(manifest.id)
        self.projects = {name: Path(root) for name, root in (projects or {}).items()}
        self.graphs = dict(graphs or {})
        self.denials: list[PermissionRefused] = []
        self.services = ServicesDouble(self, config or {})
        self.plugins = PluginsDouble(manifest, apis or {})  # type: ignore[assignment]
        self.remote_actions = RemoteActions(self.registration)

    @classmethod
    def from_plugin_dir(cls, plugin_dir: str | Path, **kwargs: Any) -> BridgeDouble:
        """The double for the plugin whose ``plugin.yaml`` is in ``plugin_dir``."""
        result = load_manifest(Path(plugin_dir))
        if not result.ok or result.manifest is None:
            raise ValueError("; ".join(str(e) for e in result.errors))
        return cls(result.manifest, **kwargs)

    @classmethod
    def for_manifest_text(cls, text: str, **kwargs: Any) -> BridgeDouble:
        """The double for a manifest written inline in a test."""
        result = parse_manifest(text, source=Path("/test/plugin.yaml"))
        if not result.ok or result.manifest is None:
            raise ValueError("; ".join(str(e) for e in result.errors))
        return cls(result.manifest, **kwargs)

    def project_root(self, name: str) -> Path:
        if name not in self.projects:
            raise LookupError(f"the double has no project '{name}'; pass projects={{...}}")
        return self.projects[name]

    def require(self, manifest: Manifest, permission: str, action: str) -> None:
        if permission not in manifest.permissions:
            self.refuse(manifest, PermissionRefused(manifest.id, permission, action))

    def refuse(self, manifest: Manifest, error: PermissionRefused) -> None:
        self.denials.append(error)
        raise error

    def run_job(self, name: str, *, project: str | None = None, **params: Any) -> JobRecord:
        """Run a registered job synchronously, as the executor would (no timeout)."""
        context = JobContextDouble(self, name, project, params)
        try:
            value = self.registration.jobs[name].func(context, **params)
        except JobCancelled:
            return JobRecord("cancelled", progress_log=context.progress_log)
        except Exception as exc:
            return JobRecord("failed", error=exc, progress_log=context.progress_log)
        state = "cancelled" if context.is_cancelled() else "completed"
        return JobRecord(state, value, progress_log=context.progress_log)


def plugin_module(plugin_dir: str | Path, module: str) -> ModuleType:
    """Import ``module`` of the plugin in ``plugin_dir`` as the host does (inside the package
    ``jupiter_plugins.<id>``), so the plugin's relative imports work in its tests too."""
    result = load_manifest(Path(plugin_dir))
    if not result.ok or result.manifest is None:
        raise ValueError("; ".join(str(e) for e in result.errors))
    return resolve(result.manifest, module)

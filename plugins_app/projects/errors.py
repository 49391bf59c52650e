"""Named errors of the project and configuration services (``projects.py``).

Each carries the data a view needs to explain the problem (which field, which plugin, both
sides of a conflict), so callers never parse messages.
"""

from __future__ import annotations

from collections.abc import Mapping

from plugins_app.base.errors import JupiterError
from plugins_app.config.layering import ConfigError
from plugins_app.projects.projectfile import PluginEntry


class ProjectError(JupiterError, ValueError):
    """A project cannot be registered; ``field`` is the form field to show the message on."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ProjectPluginError(JupiterError, ValueError):
    """A plugin's per-project state cannot be changed (not installed, or a core plugin)."""

    def __init__(self, plugin_id: str, message: str) -> None:
        super().__init__(f"{plugin_id}: {message}")
        self.plugin_id = plugin_id
        self.message = message


class ProjectFileConflict(JupiterError):
    """The project file was edited by hand since Jupiter last read it, and the console is
    saving a change too: nothing was written, the person chooses (``resolve_conflict``).

    ``file_entry`` is what the file on disk says about the plugin (``None`` when it has no
    entry for it or cannot be read, see ``file_error``); ``console_entry`` is what the
    database has (``None`` when the plugin has no state in this project yet).
    """

    def __init__(
        self,
        project_name: str,
        plugin_id: str,
        *,
        file_entry: PluginEntry | None,
        console_entry: PluginEntry | None,
        file_error: str = "",
    ) -> None:
        super().__init__(
            f"{project_name}.jupiter.yaml was edited by hand since Jupiter last read it; "
            f"choose whether the file or the console wins before changing {plugin_id}"
        )
        self.project_name = project_name
        self.plugin_id = plugin_id
        self.file_entry = file_entry
        self.console_entry = console_entry
        self.file_error = file_error


class ConfigValidationError(ValueError):
    """Config values do not satisfy the plugin's schema; ``errors`` name the field paths."""

    def __init__(self, errors: tuple[ConfigError, ...]) -> None:
        super().__init__("; ".join(f"{e.path or '(config)'}: {e.message}" for e in errors))
        self.errors = errors

    def by_field(self) -> Mapping[str, list[str]]:
        """Messages grouped by dotted field path, for showing them inline in a form."""
        grouped: dict[str, list[str]] = {}
        for error in self.errors:
            grouped.setdefault(error.path, []).append(error.message)
        return grouped


class StaleConfigError(Exception):
    """Someone saved this plugin's config since the form was loaded; saving would lose it."""

    def __init__(self, plugin_id: str, expected_revision: int, current_revision: int) -> None:
        super().__init__(
            f"the settings of {plugin_id} were changed by someone else since you opened them "
            f"(revision {current_revision}, you edited revision {expected_revision}); "
            "reload to see their changes, then save again"
        )
        self.plugin_id = plugin_id
        self.expected_revision = expected_revision
        self.current_revision = current_revision

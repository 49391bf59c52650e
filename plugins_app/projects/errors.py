"""Named errors of the project service (``projects.service``).

Each carries the data a view needs to explain the problem (which field, which plugin, both
sides of a conflict), so callers never parse messages.
"""

from __future__ import annotations

from plugins_app.base.errors import JupiterError
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


class StaleProjectPluginState(JupiterError):
    """The plugin's state in this project changed since ``expected_revision`` was read.

    A save carrying an old revision would overwrite a newer change; nothing was written. The
    config layer turns it into ``StaleConfigError`` for the settings form.
    """

    def __init__(
        self, project_name: str, plugin_id: str, expected_revision: int, current_revision: int
    ) -> None:
        super().__init__(
            f"{plugin_id} in {project_name} changed since you opened it (revision "
            f"{current_revision}, you edited revision {expected_revision}); nothing was saved"
        )
        self.project_name = project_name
        self.plugin_id = plugin_id
        self.expected_revision = expected_revision
        self.current_revision = current_revision


class MembershipError(JupiterError, ValueError):
    """A project role cannot be granted or removed (unknown role, last owner)."""


class NeedsConfirmation(JupiterError):
    """The folder's project file enables plugins: the person must see them and agree first.

    ``plugin_ids`` are the installed plugins the file would enable.
    """

    def __init__(self, plugin_ids: tuple[str, ...]) -> None:
        super().__init__("the project file enables " + ", ".join(plugin_ids))
        self.plugin_ids = plugin_ids

"""What a plugin can receive back from the host: every class derives from ``BridgeError``."""

from __future__ import annotations

from pathlib import Path

from plugins_app.base.errors import BridgeError

__all__ = [
    "CommandRefused",
    "JobCancelled",
    "OutsideProjectRoot",
    "PermissionRefused",
    "PluginUnavailable",
    "ProjectUnavailable",
    "RegistrationError",
]


class PermissionRefused(BridgeError, PermissionError):
    """A plugin asked for something it was not granted: its manifest does not declare it, or
    an update added it and the project has not accepted it yet."""

    def __init__(self, plugin_id: str, permission: str, action: str) -> None:
        self.plugin_id, self.permission, self.action = plugin_id, permission, action
        super().__init__(
            f"plugin '{plugin_id}' may not {action}: it needs the '{permission}' permission, "
            "which its plugin.yaml does not declare or the project has not accepted"
        )


class OutsideProjectRoot(PermissionRefused):
    """A plugin named a path that resolves outside the project's root directory."""

    def __init__(self, plugin_id: str, path: str, root: Path) -> None:
        self.plugin_id, self.permission, self.action = plugin_id, "fs_read", f"access {path}"
        self.path, self.root = path, root
        PermissionError.__init__(
            self,
            f"plugin '{plugin_id}' may not access '{path}': it resolves outside the project "
            f"root {root}",
        )


class CommandRefused(BridgeError, ValueError):
    """The command is malformed (a shell string, non-text arguments, empty)."""


class PluginUnavailable(BridgeError):
    def __init__(self, requester: str, target: str, reason: str) -> None:
        self.requester, self.target, self.reason = requester, target, reason
        super().__init__(f"plugin '{requester}' cannot use plugin '{target}': {reason}")


class RegistrationError(BridgeError):
    """A plugin registered something invalid (duplicate name, non-callable, ...)."""


class JobCancelled(BridgeError):
    """Raised by ``job.raise_if_cancelled()``; ends the job as ``cancelled``."""


class ProjectUnavailable(BridgeError, LookupError):
    """A plugin named a project that does not exist or did not enable it."""

    def __init__(self, plugin_id: str, project: str) -> None:
        super().__init__(f"plugin '{plugin_id}' has no access to project '{project}'")

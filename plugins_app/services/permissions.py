"""Plugin permissions (SPEC X1): declared in the manifest, enforced by the Bridge.

Their names and descriptions are in ``manifest.permissions``.
"""

from __future__ import annotations

import logging

from plugins_app.base.errors import BridgeError
from plugins_app.manifest.model import Manifest
from plugins_app.models import AuditAction
from plugins_app.models.audit import record

log = logging.getLogger("jupiter.permissions")


class PermissionRefused(BridgeError, PermissionError):
    """A plugin asked for something its manifest does not declare."""

    def __init__(self, plugin_id: str, permission: str, action: str) -> None:
        self.plugin_id, self.permission, self.action = plugin_id, permission, action
        super().__init__(
            f"plugin '{plugin_id}' may not {action}: it needs the '{permission}' permission, "
            "which its plugin.yaml does not declare"
        )


def require(manifest: Manifest, permission: str, action: str) -> None:
    """Raise ``PermissionRefused`` (logged and audited) unless ``manifest`` declares it."""
    if permission in manifest.permissions:
        return
    error = PermissionRefused(manifest.id, permission, action)
    log.warning("%s", error)
    record(AuditAction.PERMISSION_DENIED, plugin_id=manifest.id, detail=str(error))
    raise error

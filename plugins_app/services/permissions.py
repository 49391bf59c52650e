"""Plugin permissions (SPEC X1): declared in the manifest, enforced by the Bridge.

Their names and descriptions are in ``manifest.permissions``.
"""

from __future__ import annotations

import logging

from plugins_app.manifest.model import Manifest
from plugins_app.models import AuditAction
from plugins_app.models.audit import record
from plugins_app.sdk.errors import PermissionRefused

log = logging.getLogger("jupiter.permissions")


def audit_refusal(manifest: Manifest, error: PermissionRefused) -> None:
    """Log and audit a refusal (SPEC X5), then raise it; the sandbox's ``refuse`` policy."""
    log.warning("%s", error)
    record(AuditAction.PERMISSION_DENIED, plugin_id=manifest.id, detail=str(error))
    raise error


def require(manifest: Manifest, permission: str, action: str) -> None:
    """Raise ``PermissionRefused`` (logged and audited) unless ``manifest`` declares it."""
    if permission not in manifest.permissions:
        audit_refusal(manifest, PermissionRefused(manifest.id, permission, action))

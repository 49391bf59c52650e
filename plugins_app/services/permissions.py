"""Plugin permissions (SPEC X1): declared in the manifest, enforced by the Bridge.

Their names and descriptions are in ``manifest.permissions``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from plugins_app.base import conf
from plugins_app.manifest.model import Manifest
from plugins_app.models import AuditAction
from plugins_app.models.audit import record
from plugins_app.sdk.errors import PermissionRefused
from plugins_app.sdk.sandbox import Runner

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


def checked_runner(
    manifest: Manifest, project_root: Callable[[str], Path], data_dir: Path
) -> Runner:
    """The command runner with the host's policy: ``manifest``'s (granted) permissions
    required and refusals audited, the configured time limit, the plugin's data folder
    allowed. One place, so a job's ``run`` and a plugin's ``get_runner`` never differ."""
    return Runner(
        manifest, project_root, require, audit_refusal, conf.get().runner_timeout, data_dir=data_dir
    )

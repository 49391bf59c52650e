"""The permissions a manifest may declare (SPEC X1, M7): one table of names and descriptions.

It lives in the manifest layer because both the manifest checks (which names are standard)
and every screen that asks a person to accept permissions read it; the Bridge enforces them
in ``services.permissions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

STANDARD_PERMISSIONS: Mapping[str, str] = MappingProxyType(
    {
        "fs_read": "Read files inside the project's root directory",
        "fs_write": "Write files inside the project's root directory",
        "run_commands": "Run commands (no shell) in the project's root directory",
        "network_outbound": "Open outbound network connections",
        "access_meeting": "Exchange data with Meeting (remote actions)",
    }
)


def describe(permission: str) -> str:
    """Human text for a permission; names beyond the standard five are shown as-is (M7)."""
    return STANDARD_PERMISSIONS.get(permission, f"Custom permission '{permission}'")

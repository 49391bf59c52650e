"""Permissions granted per project (SPEC X1, issue 15): an update's new ones wait for consent.

Enabling a plugin in a project grants what its manifest declares: the person read that list
first. An update that declares more must not gain it silently, so before it replaces the
plugin ``freeze`` writes the old set on every project's row (``ProjectPlugin.
granted_permissions``; null means "all declared"). From then on the plugin may use, in a
project, only what is both declared and granted there, until a maintainer of that project
accepts the new ones (``lifecycle.consent``). A permission that belongs to no project (the
network, Meeting) is usable only while every project that enables the plugin granted it.

The checks build a narrowed copy of the manifest, so every existing check (``require``, the
sandbox, the kernel policy) enforces the granted set without knowing about grants.
"""

from __future__ import annotations

from dataclasses import replace

from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, ProjectPlugin

__all__ = ["for_project", "freeze", "granted", "pending", "plugin_wide"]


def granted(declared: tuple[str, ...], grant: list[str] | None) -> tuple[str, ...]:
    """The declared permissions this grant covers (all of them for a null grant)."""
    if grant is None:
        return declared
    return tuple(p for p in declared if p in grant)


def pending(declared: tuple[str, ...], grant: list[str] | None) -> tuple[str, ...]:
    """The declared permissions this grant does not cover yet: what consent would add."""
    covered = granted(declared, grant)
    return tuple(p for p in declared if p not in covered)


def for_project(manifest: Manifest, project: str) -> Manifest:
    """``manifest`` narrowed to what ``project`` granted, for project-scoped checks."""
    grant = (
        ProjectPlugin.objects.filter(plugin__plugin_id=manifest.id, project__name=project)
        .values_list("granted_permissions", flat=True)
        .first()
    )
    return replace(manifest, permissions=granted(manifest.permissions, grant))


def plugin_wide(manifest: Manifest) -> Manifest:
    """``manifest`` narrowed to what every project enabling it granted (network, Meeting)."""
    grants = list(
        ProjectPlugin.objects.filter(plugin__plugin_id=manifest.id, enabled=True).values_list(
            "granted_permissions", flat=True
        )
    )
    kept = tuple(p for p in manifest.permissions if all(g is None or p in g for g in grants))
    return replace(manifest, permissions=kept)


def freeze(plugin: InstalledPlugin) -> int:
    """Before an update: rows granting "all declared" keep today's set explicitly."""
    rows = ProjectPlugin.objects.filter(plugin=plugin, granted_permissions__isnull=True)
    return rows.update(granted_permissions=plugin.permissions)

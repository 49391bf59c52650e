"""Catalogue pages (SPEC MK1-MK3, U7): install, review and confirm, update, uninstall.

Every view here changes what code the host runs, so each one is for staff only. Installing is
two requests on purpose: the first stages and checks the plugin and shows the review page
(manifest, permissions, trust, dependencies); only the second, a click on "Install", moves it
into place. Refusals come back as messages naming what failed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from packaging.version import InvalidVersion, Version

from plugins_app.base import conf
from plugins_app.lifecycle.changes import changes_of
from plugins_app.lifecycle.installer import (
    REFUSALS,
    Replacing,
    StagedPlugin,
    discard,
    install,
    load_staged,
    managed_folder,
    stage_archive,
    stage_catalogue,
    stage_directory,
    staged_for,
    uninstall,
)
from plugins_app.lifecycle.updates import check_updates, update
from plugins_app.manifest.permissions import describe
from plugins_app.models import InstalledPlugin, ProjectPlugin
from plugins_app.services.grants import pending
from plugins_app.trust.catalogue import (
    CatalogueEntry,
    CatalogueError,
    find_entry,
    latest_versions,
    read_index,
)
from plugins_app.web.decorators import staff_required
from plugins_app.web.presenters.plugins import ManifestFacts

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class CatalogueRow:
    """The newest catalogued version of a plugin beside what is installed; ``action`` is
    "install", "update" (only when the catalogue's is newer) or "" (nothing to do)."""

    entry: CatalogueEntry
    installed: InstalledPlugin | None
    action: str


def _catalogue_rows() -> tuple[list[CatalogueRow], list[str]]:
    """The newest entry of each catalogued plugin with what is installed, and fetch errors."""
    entries, errors = [], []
    for location in conf.trust().catalogues:
        try:
            entries.extend(read_index(location))
        except CatalogueError as exc:
            errors.append(str(exc))
    newest = latest_versions(entries)
    installed = {p.plugin_id: p for p in InstalledPlugin.objects.filter(plugin_id__in=newest)}
    rows = []
    for plugin_id, entry in sorted(newest.items()):
        plugin = installed.get(plugin_id)
        if plugin is None:
            action = "install"
        elif plugin.pinned:
            action = ""
        else:
            action = "update" if entry.parsed_version > _parsed(plugin.version) else ""
        rows.append(CatalogueRow(entry, plugin, action))
    return rows, errors


def _parsed(version: str) -> Version:
    try:
        return Version(version or "0")
    except InvalidVersion:
        return Version("0")


@require_GET
@staff_required
def catalogue(request: HttpRequest) -> HttpResponse:
    rows, errors = _catalogue_rows()
    return render(
        request,
        "plugins_app/catalogue.html",
        {
            "rows": rows,
            "updates": sum(1 for row in rows if row.action == "update"),
            "errors": errors,
            "catalogues": conf.trust().catalogues,
            "policy": {
                "minimum": conf.trust().minimum_level,
                "allow_unsigned": conf.get().allow_unsigned_local_plugins,
            },
        },
    )


def _stage_upload(request: HttpRequest) -> StagedPlugin:
    """An uploaded archive installs, or replaces the installed plugin with its id: an update,
    or a downgrade that the review page names as such before anything changes."""
    upload = request.FILES.get("archive")
    if upload is None:
        raise CatalogueError("choose a .zip or .tar.gz file to upload")
    if (upload.size or 0) > MAX_UPLOAD_BYTES:
        raise CatalogueError(f"the archive is larger than {MAX_UPLOAD_BYTES} bytes")
    name = Path(upload.name or "upload").name
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "upload"
        with open(archive, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        replacing = Replacing(installed=True, downgrade=True)
        staged = stage_archive(archive, source=f"upload {name}", replacing=replacing)
    expected = request.POST.get("plugin_id", "")
    if expected and staged.manifest.id != expected:
        discard(staged.token)
        raise CatalogueError(f"this archive holds '{staged.manifest.id}', not '{expected}'")
    return staged


def _catalogue_entry(request: HttpRequest) -> CatalogueEntry:
    plugin_id, version = request.POST.get("plugin_id", ""), request.POST.get("version", "")
    entries = [e for location in conf.trust().catalogues for e in read_index(location)]
    return find_entry(entries, plugin_id, version)


@require_POST
@staff_required
def stage(request: HttpRequest) -> HttpResponse:
    """Stage from an upload, a folder on this machine or the catalogue; then review it."""
    source = request.POST.get("source", "")
    try:
        if source == "upload":
            staged = _stage_upload(request)
        elif source == "directory":
            staged = stage_directory(Path(request.POST.get("path", "").strip() or "."))
        elif source == "catalogue":
            entry = _catalogue_entry(request)
            installed = InstalledPlugin.objects.filter(plugin_id=entry.plugin_id).first()
            downgrade = request.POST.get("downgrade") == "1"
            staged = stage_catalogue(entry, replacing=Replacing(installed, downgrade=downgrade))
        else:
            raise CatalogueError("unknown installation source")
    except REFUSALS as exc:
        messages.error(request, f"Refused: {exc}")
        return redirect("plugins_app:catalogue")
    return redirect("plugins_app:catalogue-review", token=staged.token)


def _staged_or_redirect(request: HttpRequest, token: str) -> StagedPlugin | HttpResponse:
    try:
        return load_staged(token)
    except REFUSALS as exc:
        discard(token)
        messages.error(request, f"Refused: {exc}")
        return redirect("plugins_app:catalogue")


@require_GET
@staff_required
def review(request: HttpRequest, token: str) -> HttpResponse:
    """What the person accepts: manifest, permissions, trust level, dependencies."""
    staged = _staged_or_redirect(request, token)
    if isinstance(staged, HttpResponse):
        return staged
    replacing = InstalledPlugin.objects.filter(plugin_id=staged_for(token)).first()
    return render(
        request,
        "plugins_app/catalogue_review.html",
        {
            "staged": staged,
            "facts": ManifestFacts.of(staged.manifest),
            "replacing": replacing,
            "changes": changes_of(replacing, staged.manifest) if replacing else None,
            "added": [(p, describe(p)) for p in _added(replacing, staged)],
        },
    )


def _added(replacing: InstalledPlugin | None, staged: StagedPlugin) -> tuple[str, ...]:
    return changes_of(replacing, staged.manifest).added if replacing else ()


@require_POST
@staff_required
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    if request.POST.get("decision") != "install":
        discard(token)
        messages.info(request, "Nothing was installed.")
        return redirect("plugins_app:catalogue")
    try:
        replacing = staged_for(token)
        if replacing and request.POST.get("consent") != "accept" and _needs_consent(token):
            messages.error(
                request,
                "The new version asks for more permissions: tick the box to accept them, "
                "or cancel.",
            )
            return redirect("plugins_app:catalogue-review", token=token)
        if replacing:
            plugin = update(token, replacing, actor=request.user)
            done = f"{plugin.name} is now at version {plugin.version}."
            if waiting := _projects_waiting(plugin):
                done += (
                    " Its new permissions stay refused in " + ", ".join(waiting) + " until a "
                    "maintainer of each accepts them on the project's page."
                )
        else:
            plugin = install(token, actor=request.user)
            done = f"{plugin.name} {plugin.version} installed; enable it in a project to load it."
    except REFUSALS as exc:
        messages.error(request, f"Refused: {exc}")
        return redirect("plugins_app:catalogue")
    messages.info(request, done)
    return redirect("plugins_app:plugin-detail", plugin_id=plugin.plugin_id)


def _needs_consent(token: str) -> bool:
    staged = load_staged(token)
    replacing = InstalledPlugin.objects.get(plugin_id=staged.manifest.id)
    return changes_of(replacing, staged.manifest).needs_consent


def _projects_waiting(plugin: InstalledPlugin) -> list[str]:
    """Projects where the updated plugin is enabled but its new permissions are not granted."""
    rows = ProjectPlugin.objects.filter(plugin=plugin, enabled=True).select_related("project")
    declared = tuple(plugin.permissions)
    return [r.project.name for r in rows if pending(declared, r.granted_permissions)]


@require_http_methods(["GET", "POST"])
@staff_required
def uninstall_plugin(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """GET asks (what is removed, in which projects it is enabled); only the confirmation
    form's POST, with ``confirm=uninstall``, removes it."""
    plugin = get_object_or_404(InstalledPlugin, plugin_id=plugin_id)
    if request.method == "GET" or request.POST.get("confirm") != "uninstall":
        enabled_in = ProjectPlugin.objects.filter(plugin=plugin, enabled=True).values_list(
            "project__name", flat=True
        )
        return render(
            request,
            "plugins_app/plugin_uninstall.html",
            {"plugin": plugin, "enabled_in": list(enabled_in)},
        )
    purge = request.POST.get("settings") == "purge"
    try:
        uninstall(plugin.plugin_id, purge=purge, actor=request.user)
    except REFUSALS as exc:
        messages.error(request, f"Refused: {exc}")
        return redirect("plugins_app:plugin-detail", plugin_id=plugin.plugin_id)
    kept = "its settings were forgotten" if purge else "its settings are kept for a reinstall"
    messages.info(request, f"{plugin.name} was uninstalled; {kept}.")
    return HttpResponseRedirect(reverse("plugins_app:plugin-list"))


@require_POST
@staff_required
def check_update(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """HTMX: the plugin's "Check for update" panel, refreshed with the catalogue's answer."""
    plugin = get_object_or_404(InstalledPlugin, plugin_id=plugin_id)
    context: dict[str, Any] = {"plugin": plugin, "checked": True}
    try:
        managed_folder(plugin)
        found = [u for u in check_updates() if u.plugin_id == plugin.plugin_id]
        context["available"] = found[0].entry if found else None
        context["versions"] = _other_versions(plugin)
    except REFUSALS as exc:
        context["error"] = str(exc)
    return render(request, "plugins_app/partials/plugin_update.html", context)


def _other_versions(plugin: InstalledPlugin) -> list[tuple[CatalogueEntry, bool]]:
    """Every catalogued version but the installed one, newest first, each with whether it is
    a downgrade: an older version is installed the same reviewed way."""
    installed = _parsed(plugin.version)
    entries = [
        entry
        for location in conf.trust().catalogues
        for entry in read_index(location)
        if entry.plugin_id == plugin.plugin_id and entry.parsed_version != installed
    ]
    entries.sort(key=lambda e: e.parsed_version, reverse=True)
    return [(entry, entry.parsed_version < installed) for entry in entries]

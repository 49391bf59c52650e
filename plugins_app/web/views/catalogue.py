"""Catalogue pages (SPEC MK1-MK3, U7): install, review and confirm, update, uninstall.

Every view here changes what code the host runs, so each one is for staff only. Installing is
two requests on purpose: the first stages and checks the plugin and shows the review page
(manifest, permissions, trust, dependencies); only the second, a click on "Install", moves it
into place. Refusals come back as messages naming what failed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from plugins_app.base import conf
from plugins_app.lifecycle.installer import (
    REFUSALS,
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
from plugins_app.models import InstalledPlugin
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


def _catalogue_rows() -> tuple[list[tuple[CatalogueEntry, InstalledPlugin | None]], list[str]]:
    """The newest entry of each catalogued plugin with what is installed, and fetch errors."""
    entries, errors = [], []
    for location in conf.trust().catalogues:
        try:
            entries.extend(read_index(location))
        except CatalogueError as exc:
            errors.append(str(exc))
    newest = latest_versions(entries)
    installed = {p.plugin_id: p for p in InstalledPlugin.objects.filter(plugin_id__in=newest)}
    rows = [(entry, installed.get(pid)) for pid, entry in sorted(newest.items())]
    return rows, errors


@require_GET
@staff_required
def catalogue(request: HttpRequest) -> HttpResponse:
    rows, errors = _catalogue_rows()
    return render(
        request,
        "plugins_app/catalogue.html",
        {
            "rows": rows,
            "errors": errors,
            "catalogues": conf.trust().catalogues,
            "policy": {
                "minimum": conf.trust().minimum_level,
                "allow_unsigned": conf.get().allow_unsigned_local_plugins,
            },
        },
    )


def _stage_upload(request: HttpRequest) -> StagedPlugin:
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
        return stage_archive(archive, source=f"upload {name}")


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
            replacing = InstalledPlugin.objects.filter(plugin_id=entry.plugin_id).first()
            staged = stage_catalogue(entry, replacing=replacing)
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
        },
    )


@require_POST
@staff_required
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    if request.POST.get("decision") != "install":
        discard(token)
        messages.info(request, "Nothing was installed.")
        return redirect("plugins_app:catalogue")
    try:
        replacing = staged_for(token)
        if replacing:
            plugin = update(token, replacing, actor=request.user)
            done = f"{plugin.name} updated to {plugin.version}."
        else:
            plugin = install(token, actor=request.user)
            done = f"{plugin.name} {plugin.version} installed; enable it in a project to load it."
    except REFUSALS as exc:
        messages.error(request, f"Refused: {exc}")
        return redirect("plugins_app:catalogue")
    messages.info(request, done)
    return redirect("plugins_app:plugin-detail", plugin_id=plugin.plugin_id)


@require_POST
@staff_required
def uninstall_plugin(request: HttpRequest, plugin_id: str) -> HttpResponse:
    plugin = get_object_or_404(InstalledPlugin, plugin_id=plugin_id)
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
    except REFUSALS as exc:
        context["error"] = str(exc)
    return render(request, "plugins_app/partials/plugin_update.html", context)

"""Plugins pages (SPEC U1, L1, X1): what is installed, its status, and where it is enabled.

The manifest snapshot stored on ``InstalledPlugin`` comes from files written by third parties,
so everything read from it goes through the defensive readers below, and templates only ever
autoescape it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from plugins_app.models import InstalledPlugin, PluginKind, Project, ProjectPlugin
from plugins_app.registry.core import core_plugin_infos
from plugins_app.services.permissions import describe
from plugins_app.web.views import JupiterRequest
from plugins_app.web.views.projects import sync_projects, toggle_plugin

if TYPE_CHECKING:
    from typing import TypeAlias, TypedDict

    from django_stubs_ext import WithAnnotations

    class _EnabledStates(TypedDict):
        enabled_states: list[ProjectPlugin]

    # What ``installed_plugins()`` yields: plugins with their enabled project states prefetched.
    PluginWithStates: TypeAlias = WithAnnotations[InstalledPlugin, _EnabledStates]


@dataclass(frozen=True)
class Dependency:
    id: str
    specifier: str
    optional: bool


@dataclass(frozen=True)
class Permission:
    name: str
    description: str


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ManifestFacts:
    """The parts of a manifest snapshot the detail page shows, each of a known type."""

    author_name: str
    author_email: str
    author_url: str
    license: str
    homepage: str
    homepage_is_link: bool
    jupiter_version: str
    dependencies: tuple[Dependency, ...]
    permissions: tuple[Permission, ...]
    changelog: tuple[ChangelogEntry, ...]


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _web_url(value: Any) -> str:
    """Only http(s) links are clickable: a ``javascript:`` homepage must stay plain text."""
    url = _text(value)
    parts = urlsplit(url)
    return url if parts.scheme in {"http", "https"} and parts.netloc else ""


def _permissions(manifest: Mapping[str, Any]) -> list[str]:
    raw = manifest.get("permissions")
    return [str(name) for name in raw] if isinstance(raw, list | tuple) else []


def _dependencies(raw: Any) -> tuple[Dependency, ...]:
    """The snapshot's normalised form: a list of {id, specifier, optional}."""
    if not isinstance(raw, list | tuple):
        return ()
    return tuple(
        Dependency(_text(item["id"]), _text(item.get("specifier")), bool(item.get("optional")))
        for item in raw
        if isinstance(item, Mapping) and _text(item.get("id"))
    )


def _notes(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list | tuple):
        return tuple(str(note) for note in raw if note)
    return ()


def _changelog(raw: Any) -> tuple[ChangelogEntry, ...]:
    """Manifests give a changelog as text, or a list of lines or of {version, changes}."""
    if isinstance(raw, str) and raw.strip():
        return (ChangelogEntry("", (raw.strip(),)),)
    if isinstance(raw, list | tuple):
        entries = []
        for item in raw:
            if isinstance(item, Mapping):
                notes = item.get("changes", item.get("notes", item.get("description")))
                entries.append(ChangelogEntry(_text(item.get("version")), _notes(notes)))
            elif isinstance(item, str):
                entries.append(ChangelogEntry("", (item,)))
        return tuple(entries)
    return ()


def manifest_facts(manifest: Any) -> ManifestFacts:
    """Read a manifest snapshot defensively: wrong types become empty values, never errors."""
    data: Mapping[str, Any] = manifest if isinstance(manifest, Mapping) else {}
    author = data.get("author")
    if not isinstance(author, Mapping):
        author = {"name": author}
    homepage = _text(data.get("homepage"))
    return ManifestFacts(
        author_name=_text(author.get("name")),
        author_email=_text(author.get("email")),
        author_url=_web_url(author.get("url")),
        license=_text(data.get("license")),
        homepage=homepage,
        homepage_is_link=bool(_web_url(homepage)),
        jupiter_version=_text(data.get("jupiter_version")),
        dependencies=_dependencies(data.get("dependencies")),
        permissions=tuple(Permission(p, describe(p)) for p in _permissions(data)),
        changelog=_changelog(data.get("changelog")),
    )


def installed_plugins() -> QuerySet[PluginWithStates]:
    """Non-core plugins, each with ``enabled_states`` prefetched (no query per row)."""
    enabled = (
        ProjectPlugin.objects.filter(enabled=True)
        .select_related("project")
        .order_by("project__name")
    )
    return (
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE)
        .prefetch_related(Prefetch("project_states", queryset=enabled, to_attr="enabled_states"))
        .order_by("name", "plugin_id")
    )


def _toggleable(plugin_id: str) -> InstalledPlugin:
    """Core plugins are part of Jupiter: they have no page of their own and no toggles."""
    return get_object_or_404(
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE), plugin_id=plugin_id
    )


@require_GET
def plugin_list(request: HttpRequest) -> HttpResponse:
    """Core plugins as part of Jupiter, then the two user-facing categories (SPEC K1, U1)."""
    sync_projects(Project.objects.all())
    plugins = list(installed_plugins())
    categories = [
        (label, [p for p in plugins if p.kind == kind])
        for kind, label in ((PluginKind.SYSTEM, "System"), (PluginKind.TOOL, "Tool"))
    ]
    return render(
        request,
        "plugins_app/plugin_list.html",
        {"core_plugins": core_plugin_infos(), "categories": categories},
    )


@require_GET
def plugin_detail(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """Everything to read before enabling a plugin, its permissions first (SPEC X1)."""
    projects = list(Project.objects.all())
    sync_projects(projects)
    plugin = _toggleable(plugin_id)
    enabled = set(
        ProjectPlugin.objects.filter(plugin=plugin, enabled=True).values_list("project", flat=True)
    )
    return render(
        request,
        "plugins_app/plugin_detail.html",
        {
            "plugin": plugin,
            "facts": manifest_facts(plugin.manifest),
            "project_rows": [(project, project.pk in enabled) for project in projects],
        },
    )


@vary_on_headers("HX-Request")
@require_POST
def plugin_project_toggle(request: JupiterRequest, plugin_id: str, name: str) -> HttpResponse:
    """Enable/disable from the plugin page: the row swaps and the status block follows."""
    plugin = _toggleable(plugin_id)
    return toggle_plugin(
        request,
        get_object_or_404(Project, name=name),
        plugin,
        row_template="plugins_app/partials/plugin_project_row.html",
        page_url=reverse("plugins_app:plugin-detail", args=[plugin.plugin_id]),
    )

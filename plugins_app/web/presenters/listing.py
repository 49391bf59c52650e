"""Plugin lists at any size: search, filters, paging, precomputed links and cached rows.

The plugin list, ``/plugins.json`` and the project page show one page of plugins, so their
cost follows the page size, not the number installed. What a row needs of the manifest (its
permissions, whether it has settings) is read by the database as JSON keys, never by decoding
each row's whole manifest in Python. Links are built from one ``reverse()`` per page and
name, not one per row. Rendered rows of the plugin list are cached by what changes them:
the plugin's ``updated_at`` (every status write bumps it) and the projects that enable it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT, KeyTransform
from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from plugins_app.models import (
    InstalledPlugin,
    PluginKind,
    PluginStatus,
    Project,
    ProjectPlugin,
    TrustLevel,
)

CATEGORIES = ((PluginKind.SYSTEM, "System"), (PluginKind.TOOL, "Tool"))
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
ROW_CACHE_SECONDS = 24 * 3600
_PLACEHOLDER = "__jupiter_arg__"


@dataclass(frozen=True)
class PluginFilters:
    """What a plugin list is narrowed to, from the query string; unknown values are ignored."""

    q: str = ""
    kind: str = ""
    status: str = ""
    trust: str = ""
    project: str = ""

    @classmethod
    def of(cls, params: Mapping[str, str]) -> PluginFilters:
        def pick(name: str, allowed: Sequence[str]) -> str:
            value = params.get(name, "")
            return value if value in allowed else ""

        user_kinds = [PluginKind.SYSTEM.value, PluginKind.TOOL.value]
        return cls(
            q=params.get("q", "").strip()[:100],
            kind=pick("kind", user_kinds),
            status=pick("status", PluginStatus.values),
            trust=pick("trust", TrustLevel.values),
            project=params.get("project", "").strip()[:64],
        )

    def apply(
        self, plugins: QuerySet[InstalledPlugin], visible: QuerySet[Project]
    ) -> QuerySet[InstalledPlugin]:
        """``plugins`` narrowed; the project filter only matches projects in ``visible`` (so
        filtering cannot reveal what a project the user may not see enables)."""
        if self.q:
            plugins = plugins.filter(
                Q(name__icontains=self.q)
                | Q(plugin_id__icontains=self.q)
                | Q(description__icontains=self.q)
            )
        if self.kind:
            plugins = plugins.filter(kind=self.kind)
        if self.status:
            plugins = plugins.filter(status=self.status)
        if self.trust:
            plugins = plugins.filter(trust_level=self.trust)
        if self.project:
            enabled = ProjectPlugin.objects.filter(
                project__in=visible.filter(name=self.project), enabled=True
            )
            plugins = plugins.filter(pk__in=enabled.values("plugin_id"))
        return plugins

    def query(self, **extra: str) -> str:
        """The filters as a query string (for pager links), with ``extra`` parameters."""
        values = {**{k: v for k, v in vars(self).items() if v}, **extra}
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def active(self) -> bool:
        return any(vars(self).values())


def user_plugins() -> QuerySet[InstalledPlugin]:
    """Non-core plugins with what their rows show of the manifest read as JSON keys:
    ``permission_list`` (decoded by the database driver) and ``settings_version``."""
    return (
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE)
        .defer("manifest")
        .annotate(
            permission_list=KeyTransform("permissions", "manifest"),
            settings_version=KT("manifest__config_schema__version"),
        )
    )


def page_of(items: Any, params: Mapping[str, str], name: str = "page") -> Page[Any]:
    """The requested page (the last one if past the end); ``per_page`` up to 500."""
    try:
        size = min(MAX_PAGE_SIZE, max(1, int(params.get("per_page", PAGE_SIZE))))
    except ValueError:
        size = PAGE_SIZE
    return Paginator(items, size).get_page(params.get(name))


def url_maker(name: str, arity: int = 1) -> Callable[..., str]:
    """``reverse(name, args)`` for many rows from one ``reverse()``: the URL is built once
    with placeholders, each row fills them in (ids and project names are URL-safe slugs)."""
    marks = [f"{_PLACEHOLDER}{n}" for n in range(arity)]
    pattern = reverse(name, args=marks)

    def make(*args: str) -> str:
        url = pattern
        for mark, value in zip(marks, args, strict=True):
            url = url.replace(mark, value)
        return url

    return make


def enabled_projects(
    plugins: Sequence[InstalledPlugin], visible: QuerySet[Project]
) -> dict[int, list[str]]:
    """Names of the projects in ``visible`` enabling each plugin of a page, in one query."""
    found: dict[int, list[str]] = {p.pk: [] for p in plugins}
    rows = (
        ProjectPlugin.objects.filter(plugin__in=list(found), project__in=visible, enabled=True)
        .order_by("project__name")
        .values_list("plugin_id", "project__name")
    )
    for plugin_pk, project in rows:
        found[plugin_pk].append(project)
    return found


def revision(plugin: InstalledPlugin) -> str:
    """What identifies a plugin row's content: every status or sync write bumps updated_at."""
    stamp = plugin.updated_at.isoformat() if plugin.updated_at else ""
    return f"{plugin.pk}:{plugin.plugin_id}:{stamp}"


def _row_key(plugin: InstalledPlugin, projects: list[str]) -> str:
    return f"jupiter:plugin-row:v1:{revision(plugin)}:{','.join(projects)}"


def cached_html(keys: Sequence[str], render: Callable[[list[int]], list[str]]) -> list[SafeString]:
    """HTML fragments by cache key: one ``get_many``, ``render`` for the indexes missing (in
    one go, so it loads its template once), one ``set_many``."""
    found: dict[str, str] = cache.get_many(keys)
    missing = [n for n, key in enumerate(keys) if key not in found]
    if missing:
        fresh = dict(zip((keys[n] for n in missing), render(missing), strict=True))
        cache.set_many(fresh, ROW_CACHE_SECONDS)
        found.update(fresh)
    # Each string was rendered by an autoescaping template, so it is HTML already.
    return [mark_safe(found[key]) for key in keys]  # noqa: S308


def plugin_rows(plugins: Sequence[InstalledPlugin], visible: QuerySet[Project]) -> list[SafeString]:
    """The plugin list's rows as HTML, from the cache where the plugin has not changed.

    Keyed by the plugin's ``updated_at`` and the projects (of ``visible``) enabling it; the
    rows carry no other per-user value (no CSRF token), so visitors seeing the same projects
    share them.
    """
    projects = enabled_projects(plugins, visible)

    def render(indexes: list[int]) -> list[str]:
        template = get_template("plugins_app/partials/plugin_row.html")
        detail_url = url_maker("plugins_app:plugin-detail")
        project_url = url_maker("plugins_app:project-detail")
        return [
            template.render(
                {
                    "plugin": plugins[n],
                    "detail_url": detail_url(plugins[n].plugin_id),
                    "projects": [(name, project_url(name)) for name in projects[plugins[n].pk]],
                }
            )
            for n in indexes
        ]

    return cached_html([_row_key(p, projects[p.pk]) for p in plugins], render)


@dataclass(frozen=True)
class CategorisedPage:
    """One page of the plugin list in its categories, with each category's total count.

    ``categories`` is computed when the template first reads it, so the page's own template
    starts rendering first (tests and the debug toolbar see it as the response's template).
    """

    page: Page[Any]
    counts: Mapping[str, int]
    visible: QuerySet[Project]

    @cached_property
    def categories(self) -> list[tuple[str, str, int, list[SafeString]]]:
        plugins = list(self.page.object_list)
        rows = plugin_rows(plugins, self.visible)
        return [
            (
                label,
                kind.value,
                self.counts.get(kind.value, 0),
                [row for plugin, row in zip(plugins, rows, strict=True) if plugin.kind == kind],
            )
            for kind, label in CATEGORIES
        ]

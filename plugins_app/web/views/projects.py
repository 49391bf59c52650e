"""Projects pages (SPEC D1, S2): register a project, enable plugins in it, settle conflicts.

The database and ``<project>.jupiter.yaml`` are kept in step by ``plugins_app.projects.service``;
these views only decide what to show. Showing a page never writes: it describes the file
read-only, and an import (which may enable plugins, and so load their code) happens on the
"Import hand edits" click or in the server's periodic task. A toggle never imports either: a
hand edit that arrives after the page was shown must surface as a conflict, not be merged
silently under the user's click.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh, reswap, retarget

from plugins_app.lifecycle.consent import pending_in
from plugins_app.models import InstalledPlugin, Project, ProjectPlugin
from plugins_app.projects.dependencies import enabled_dependents, missing_dependencies, unmet_in
from plugins_app.projects.errors import (
    NeedsConfirmation,
    ProjectError,
    ProjectFileConflict,
    ProjectPluginError,
)
from plugins_app.projects.projectfile import ProjectFileError
from plugins_app.projects.roles import MANAGE_MEMBERS, OPERATE, projects_visible_to
from plugins_app.projects.service import (
    SyncOutcome,
    check_file,
    project_file_path,
    register_project,
    resolve_conflict,
    set_plugin_enabled,
    sync_from_file,
)
from plugins_app.web.decorators import plugin_or_404, project_for
from plugins_app.web.presenters.listing import (
    PluginFilters,
    cached_html,
    page_of,
    revision,
    url_maker,
    user_plugins,
)
from plugins_app.web.presenters.plugins import ManifestFacts
from plugins_app.web.views import JupiterRequest

CONFLICT_TARGET = "#project-conflict"
_FLAGS = {"true": True, "false": False}


class ProjectForm(forms.Form):
    """Shape checks only; ``register_project`` owns the rules and names the field at fault."""

    name = forms.CharField(
        max_length=64,
        help_text="Letters, digits, hyphens and underscores.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    root_path = forms.CharField(
        label="Root path",
        max_length=1024,
        help_text="Absolute path of the project's directory on this machine.",
        widget=forms.TextInput(
            attrs={"placeholder": "/home/me/src/project", "spellcheck": "false"}
        ),
    )

    accepted = forms.CharField(required=False, widget=forms.HiddenInput)

    def register(self, actor: User | AnonymousUser) -> Project | None:
        """Register the project, or attach the service's error to its field and return None.

        ``NeedsConfirmation`` propagates: the view then asks about the plugins it names.
        ``accepted`` carries the plugin ids the person saw and agreed to enable.
        """
        if not self.is_valid():
            return None
        accepted = {pid for pid in self.cleaned_data["accepted"].split(",") if pid}
        try:
            return register_project(
                self.cleaned_data["name"],
                self.cleaned_data["root_path"],
                actor=actor,
                accepted_plugins=accepted,
            )
        except ProjectError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
            return None


@dataclass(frozen=True)
class FileState:
    """The project file as the page describes it; ``tone`` picks the style.

    ``importable`` offers the "Import hand edits" button: the edits can be read but are not in
    the database yet.
    """

    tone: str
    summary: str
    importable: bool = False


def file_state(project: Project) -> FileState:
    """Describe the file on disk without writing, so a broken, missing or edited one shows."""
    check = check_file(project)
    if check.error is not None:
        if not project_file_path(project).exists():
            return FileState("warning", "Missing: Jupiter writes it again on the next change.")
        return FileState("error", f"Cannot be used: {check.error.detail}. Fix it by hand.")
    if check.hand_edited:
        summary = "Edited by hand since Jupiter last read it: not imported yet."
        return FileState("info", summary, importable=True)
    return FileState("ok", "In sync with the console.")


def imported_message(outcome: SyncOutcome) -> str:
    """What an import click did, entries kept for plugins not installed here included."""
    kept = ", ".join(outcome.ignored_plugins)
    note = f" Entries kept for plugins not installed here: {kept}." if kept else ""
    return f"Hand edits were imported just now.{note}"


def _enabled_flag(request: HttpRequest) -> bool | None:
    return _FLAGS.get(request.POST.get("enabled", ""))


def _project_page(
    request: JupiterRequest,
    project: Project,
    *,
    conflict: ProjectFileConflict | None = None,
    conflict_error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The project page; with ``conflict`` set it shows the database side, not yet synced.

    One page of the plugins (searched and filtered like the plugin list), each row rendered
    from one loaded template with precomputed links, so the page costs the same with 10 or
    1,000 plugins installed.
    """
    filters = PluginFilters.of(request.GET)
    plugins = filters.apply(user_plugins(), projects_visible_to(request.user))
    page = page_of(plugins.order_by("kind", "name", "plugin_id"), request.GET, "plugins_page")
    can_operate = request.user.has_perm(OPERATE, project)
    rows = project_rows(request, project, list(page.object_list), can_operate=can_operate)
    return render(
        request,
        "plugins_app/project_detail.html",
        {
            "project": project,
            "can_operate": can_operate,
            "can_manage": request.user.has_perm(MANAGE_MEMBERS, project),
            "file_path": project_file_path(project),
            "file_state": file_state(project),
            "rows": rows,
            "mounts": mounts(project),
            "page": page,
            "filters": filters,
            "query": filters.query(),
            "page_param": "plugins_page",
            "previous_label": "Previous",
            "next_label": "Next",
            "conflict": conflict,
            "conflict_error": conflict_error,
            "consents": pending_in(project),
        },
        status=status,
    )


def row_links(project: Project, plugin_id: str, has_settings: bool) -> dict[str, str]:
    """The links of one project row, for the toggle's answer (the page uses ``url_maker``)."""
    return {
        "detail_url": reverse("plugins_app:plugin-detail", args=[plugin_id]),
        "toggle_url": reverse("plugins_app:project-plugin-toggle", args=[project.name, plugin_id]),
        "settings_url": reverse(
            "plugins_app:project-plugin-settings", args=[project.name, plugin_id]
        )
        if has_settings
        else "",
    }


def mounts(project: Project) -> list[str]:
    """Contribution URLs of the plugins enabled here that declare panels or widgets (U5);
    only their manifests' ``ui`` key is read."""
    contributions = url_maker("plugins_app:plugin-contributions")
    enabled = (
        InstalledPlugin.objects.filter(
            project_states__project=project, project_states__enabled=True
        )
        .order_by("kind", "name")
        .values_list("plugin_id", KeyTransform("ui", "manifest"))
    )
    return [
        contributions(plugin_id)
        for plugin_id, ui in enabled
        if isinstance(ui, dict) and (ui.get("panels") or ui.get("widgets"))
    ]


CSRF_PLACEHOLDER = "__jupiter_csrf_token__"


def project_rows(
    request: HttpRequest, project: Project, plugins: list[InstalledPlugin], *, can_operate: bool
) -> list[SafeString]:
    """A page of the project's plugin rows, cached by plugin revision, enabled state and
    whether the visitor may toggle them (``can_operate``).

    Rows are cached with a placeholder where the form's CSRF token goes, and the visitor's
    token replaces it on the way out, so the cached HTML is shared by every visitor.
    """
    enabled = set(
        ProjectPlugin.objects.filter(project=project, enabled=True, plugin__in=plugins).values_list(
            "plugin_id", flat=True
        )
    )
    unmet = unmet_in(project)
    keys = [
        f"jupiter:project-row:v3:{project.pk}:{project.name}:{revision(p)}:{p.pk in enabled}:"
        f"{can_operate}:{zlib.crc32(unmet.get(p.plugin_id, '').encode())}"
        for p in plugins
    ]

    def render(indexes: list[int]) -> list[str]:
        template = get_template("plugins_app/partials/project_plugin_row.html")
        detail = url_maker("plugins_app:plugin-detail")
        toggle = url_maker("plugins_app:project-plugin-toggle", 2)
        settings = url_maker("plugins_app:project-plugin-settings", 2)
        rows = []
        for plugin in (plugins[n] for n in indexes):
            permissions = getattr(plugin, "permission_list", None)
            has_settings = getattr(plugin, "settings_version", None) is not None
            context = {
                "project": project,
                "plugin": plugin,
                "enabled": plugin.pk in enabled,
                "detail_url": detail(plugin.plugin_id),
                "toggle_url": toggle(project.name, plugin.plugin_id),
                "settings_url": settings(project.name, plugin.plugin_id) if has_settings else "",
                "permissions": permissions if isinstance(permissions, list) else [],
                "csrf_token": CSRF_PLACEHOLDER,
                "can_operate": can_operate,
                "unmet": unmet.get(plugin.plugin_id, ""),
            }
            rows.append(template.render(context))
        return rows

    token = get_token(request)
    return [
        # The token is Django's own alphanumeric value: HTML-safe as it is.
        mark_safe(row.replace(CSRF_PLACEHOLDER, token))  # noqa: S308
        for row in cached_html(keys, render)
    ]


def toggle_plugin(
    request: JupiterRequest,
    project: Project,
    plugin: InstalledPlugin,
    *,
    row_template: str,
    page_url: str,
) -> HttpResponse:
    """Apply an enable/disable click and answer with the clicked row re-rendered.

    Enabling loads the plugin synchronously (a signal on commit), so its status is re-read
    from the database for the row. A conflict replaces the row answer with the banner.
    """
    enabled = _enabled_flag(request)
    if enabled is None:
        return HttpResponseBadRequest("enabled must be 'true' or 'false'")
    related = (
        missing_dependencies(project, plugin)
        if enabled
        else enabled_dependents(project, plugin.plugin_id)
    )
    choice = request.POST.get("related", "")
    if related and choice not in ("include", "only"):
        columns = 3 if row_template.endswith("plugin_project_row.html") else 5
        return _ask_about_related(
            request, project, plugin, enabled, related, page_url=page_url, columns=columns
        )
    error = ""
    try:
        for other in related if choice == "include" else ():
            set_plugin_enabled(project, other.plugin_id, enabled, actor=request.user)
        set_plugin_enabled(project, plugin.plugin_id, enabled, actor=request.user)
    except ProjectFileConflict as conflict:
        if not request.htmx:
            return _project_page(request, project, conflict=conflict, status=409)
        response = render(
            request,
            "plugins_app/partials/project_conflict.html",
            {"project": project, "conflict": conflict},
            status=409,
        )
        return reswap(retarget(response, CONFLICT_TARGET), "innerHTML")
    except ProjectPluginError as exc:
        error = exc.message
    except ProjectFileError as exc:
        error = f"{project.name}.jupiter.yaml: {exc.detail}"
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(page_url)
    if related and not error:
        return HttpResponseClientRefresh()  # other rows changed state or status too
    plugin.refresh_from_db()
    state = ProjectPlugin.objects.filter(project=project, plugin=plugin, enabled=True).exists()
    typed = plugin.typed_manifest
    context = {
        "project": project,
        "plugin": plugin,
        "enabled": state,
        "error": error,
        "can_operate": True,
        "unmet": unmet_in(project).get(plugin.plugin_id, ""),
        **row_links(project, plugin.plugin_id, typed is not None and bool(typed.config_schema)),
        "permissions": list(typed.permissions) if typed is not None else [],
    }
    return render(request, row_template, context, status=422 if error else 200)


def _ask_about_related(
    request: JupiterRequest,
    project: Project,
    plugin: InstalledPlugin,
    enabled: bool,
    related: list[InstalledPlugin],
    *,
    page_url: str,
    columns: int,
) -> HttpResponse:
    """Before enabling: the plugins it needs here. Before disabling: those that need it.
    ``columns``: the width of the table whose row the question replaces."""
    context = {
        "columns": columns,
        "project": project,
        "plugin": plugin,
        "enabling": enabled,
        "related": related,
        "related_names": ", ".join(p.name for p in related),
        "toggle_url": request.path,
        "page_url": page_url,
    }
    if request.htmx:
        return render(request, "plugins_app/partials/dependency_prompt.html", context)
    return render(request, "plugins_app/dependency_confirm.html", context)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def project_list(request: JupiterRequest) -> HttpResponse:
    """The projects the user has a role in (all, for staff); a staff POST registers one,
    answering HTMX with the form and inline errors. A folder whose project file enables
    plugins is registered only once the person saw them and their permissions."""
    form = ProjectForm(request.POST or None)
    if request.method == "POST":
        if not request.user.is_staff:
            raise PermissionDenied("registering projects is for staff")
        try:
            project = form.register(request.user)
        except NeedsConfirmation as asked:
            return _confirm_registration(request, form, asked)
        if project is not None:
            url = reverse("plugins_app:project-detail", args=[project.name])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
        if request.htmx:
            return render(
                request, "plugins_app/partials/project_form.html", {"form": form}, status=422
            )
    projects = projects_visible_to(request.user).annotate(
        enabled_count=Count("plugin_states", filter=Q(plugin_states__enabled=True))
    )
    return render(
        request,
        "plugins_app/project_list.html",
        {"projects": projects, "form": form},
        status=422 if form.errors else 200,
    )


def _confirm_registration(
    request: JupiterRequest, form: ProjectForm, asked: NeedsConfirmation
) -> HttpResponse:
    """Ask before a registration enables plugins: which ones, and what they may do."""
    plugins = InstalledPlugin.objects.filter(plugin_id__in=asked.plugin_ids).order_by("plugin_id")
    context = {
        "name": form.cleaned_data["name"],
        "root_path": form.cleaned_data["root_path"],
        "accepted": ",".join(asked.plugin_ids),
        "plugins": [(plugin, ManifestFacts.of(plugin.typed_manifest)) for plugin in plugins],
    }
    template = "plugins_app/partials/project_confirm.html"
    if request.htmx:
        return render(request, template, context)
    return render(request, "plugins_app/project_confirm.html", context)


@require_GET
def project_detail(request: JupiterRequest, name: str) -> HttpResponse:
    """The database's state, and whether the file on disk holds hand edits not imported yet."""
    return _project_page(request, project_for(request.user, name))


@vary_on_headers("HX-Request")
@require_POST
def project_import(request: JupiterRequest, name: str) -> HttpResponse:
    """Import the file's hand edits on a click; the page then reloads to show the result.

    Importing may enable plugins and so load their code: it needs a POST, never a page view.
    """
    project = project_for(request.user, name, OPERATE)
    outcome = sync_from_file(project, actor=request.user)
    if outcome.error is not None:
        file_name = project_file_path(project).name
        messages.error(request, f"{file_name} was not imported: {outcome.error.detail}")
    elif outcome.imported:
        messages.info(request, imported_message(outcome))
    else:
        messages.info(request, "Nothing to import: the file already matches the console.")
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("plugins_app:project-detail", name=project.name)


@vary_on_headers("HX-Request")
@require_POST
def project_plugin_toggle(request: JupiterRequest, name: str, plugin_id: str) -> HttpResponse:
    """Enable/disable from the project page: the plugin's row swaps, status included."""
    project = project_for(request.user, name, OPERATE)
    plugin = plugin_or_404(plugin_id)
    return toggle_plugin(
        request,
        project,
        plugin,
        row_template="plugins_app/partials/project_plugin_row.html",
        page_url=reverse("plugins_app:project-detail", args=[project.name]),
    )


@vary_on_headers("HX-Request")
@require_POST
def project_resolve_conflict(request: JupiterRequest, name: str) -> HttpResponse:
    """Keep the file's or the console's version; the page then reloads to show the result."""
    project = project_for(request.user, name, OPERATE)
    keep = request.POST.get("keep")
    if keep not in ("file", "console"):
        return HttpResponseBadRequest("keep must be 'file' or 'console'")
    try:
        resolve_conflict(project, cast(Literal["file", "console"], keep), actor=request.user)
    except ProjectFileError as exc:
        error = f"The file's version cannot be used: {exc.detail}"
        if not request.htmx:
            return _project_page(request, project, conflict_error=error, status=409)
        context = {"project": project, "conflict_error": error}
        return render(request, "plugins_app/partials/project_conflict.html", context, status=409)
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("plugins_app:project-detail", name=project.name)

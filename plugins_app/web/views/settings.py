"""Settings forms generated from plugin schemas (SPEC U2, S3, S4, M6, X7).

One partial (``autoui/settings.html``) is the HTMX target of every action on it: save,
reset a field, import a file. It answers 200 when saved, 422 with the errors inline next to
their fields, and 409 when someone saved in between (nothing is overwritten).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event

from plugins_app.base.storage import storage_problem
from plugins_app.config.errors import ConfigValidationError, StaleConfigError
from plugins_app.config.migrations import MigrationOutcome, migrate, stored_and_target
from plugins_app.config.scope import SettingsScope, validation_messages
from plugins_app.config.transfer import (
    SettingsIOError,
    export_settings,
    parse_export,
    prepare_import,
)
from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import InstalledPlugin
from plugins_app.projects.errors import ProjectFileConflict
from plugins_app.projects.projectfile import ProjectFileError
from plugins_app.projects.roles import OPERATE, VIEW
from plugins_app.web.autoui.forms import Scope, SettingsForm, build_form
from plugins_app.web.autoui.submit import layer_from, parse_submission
from plugins_app.web.decorators import plugin_or_404, project_for, staff_required
from plugins_app.web.views import JupiterRequest

TEMPLATE = "plugins_app/autoui/settings.html"
SAVED_EVENT = "jupiter:settings-saved"
STALE = (
    "Someone else saved these settings since you opened them, so nothing was saved. "
    "Reload the settings to see their change, then apply yours again."
)


def _scope(request: HttpRequest, plugin_id: str, name: str | None) -> SettingsScope:
    """The settings layer a request is about, once the user may change it: staff for the
    global settings, a maintainer (or better) for a project's overrides; reading a form
    (GET) needs only to see the project."""
    writing = request.method == "POST"
    if name is None:
        if writing and not request.user.is_staff:
            raise PermissionDenied("global plugin settings are for staff")
        return SettingsScope(plugin_or_404(plugin_id), None)
    project = project_for(request.user, name, OPERATE if writing else VIEW)
    return SettingsScope(plugin_or_404(plugin_id), project)


def _can_edit(request: HttpRequest, scope: SettingsScope) -> bool:
    if scope.project is None:
        return bool(request.user.is_staff)
    return request.user.has_perm(OPERATE, scope.project)


def migration_state(scope: SettingsScope, request: HttpRequest) -> MigrationOutcome:
    """Migrate stored settings now if the plugin's code is loaded, else say it is pending."""
    stored, target = stored_and_target(scope.plugin)
    if stored >= target:
        return MigrationOutcome("current", stored, target)
    runtime = get_runtime()
    manifest = runtime.manifests.get(scope.plugin.plugin_id)
    if manifest is None or runtime.bridge.registration(scope.plugin.plugin_id) is None:
        return MigrationOutcome(
            "pending",
            stored,
            target,
            f"stored settings are version {stored}, the plugin's schema is version {target}; "
            "they are migrated when the plugin is loaded (enable it in a project)",
        )
    return migrate(scope.plugin, manifest, resolve=runtime.code_of(manifest), actor=request.user)


def _urls(scope: SettingsScope) -> dict[str, str]:
    pid = scope.plugin.plugin_id
    if scope.project is None:
        return {
            "action": reverse("plugins_app:plugin-settings", args=[pid]),
            "reset": reverse("plugins_app:plugin-settings-reset", args=[pid]),
        }
    args = [scope.project.name, pid]
    return {
        "action": reverse("plugins_app:project-plugin-settings", args=args),
        "reset": reverse("plugins_app:project-plugin-settings-reset", args=args),
    }


def _respond(
    request: HttpRequest,
    scope: SettingsScope,
    *,
    form: SettingsForm | None = None,
    message: str = "",
    problems: list[str] | None = None,
    conflict: str = "",
    status: int = 200,
    template: str = TEMPLATE,
) -> HttpResponse:
    """Render the settings partial; without ``form``, the stored values as they are now.

    A re-rendered ``form`` (errors, conflict) shows what the person submitted, so it keeps
    the token they submitted: those values are based on that version, and saving them again
    must not pass over a change made since.
    """
    token = request.POST.get("token", "") if form is not None else None
    scope = SettingsScope(InstalledPlugin.objects.get(pk=scope.plugin.pk), scope.project)
    migration = migration_state(scope, request)
    snapshot = scope.snapshot()  # one read: the token guards exactly the values shown
    effective = snapshot.effective
    if form is None:
        errors: dict[str, list[str]] = {}
        for error in effective.errors:
            errors.setdefault(error.path, []).append(error.message)
        form = build_form(
            scope.schema,
            effective.values,
            scope="project" if scope.project else "global",
            sources=effective.sources,
            errors=errors,
        )
    context: dict[str, Any] = {
        "plugin": scope.plugin,
        "project": scope.project,
        "form": form,
        "token": snapshot.token if token is None else token,
        "urls": _urls(scope),
        "message": message,
        "problems": problems or [],
        "conflict": conflict,
        "migration": migration,
        "has_schema": bool(scope.schema),
        "can_edit": _can_edit(request, scope),
    }
    return render(request, template, context, status=status)


def _save(request: HttpRequest, scope: SettingsScope) -> HttpResponse:
    snapshot = scope.snapshot()
    effective = snapshot.effective
    submission = parse_submission(scope.schema, request.POST, effective.values)
    kind: Scope = "project" if scope.project else "global"

    def again(errors: dict[str, list[str]], status: int, **extra: Any) -> HttpResponse:
        form = build_form(
            scope.schema,
            submission.values,
            scope=kind,
            sources=effective.sources,
            errors=errors,
            raw=submission.raw,
        )
        return _respond(request, scope, form=form, status=status, **extra)

    layer = layer_from(submission.values, scope.inherited(), snapshot.layer)
    if submission.errors:  # with the schema's errors on the other fields, all at once
        others = scope.problems(layer)
        return again({**others, **submission.errors}, 422)
    try:
        scope.save(layer, request.POST.get("token", ""), actor=request.user)
    except ConfigValidationError as exc:
        return again(dict(exc.by_field()), 422)
    except StaleConfigError:
        return again({}, 409, conflict=STALE)
    except ProjectFileConflict as exc:
        return again({}, 409, conflict=str(exc))
    except ProjectFileError as exc:
        return again({}, _file_error_status(exc), problems=[exc.detail])
    return saved(_respond(request, scope, message="Settings saved."))


def saved(response: HttpResponse) -> HttpResponse:
    """Tell the page the settings changed, so panels showing their revision reload."""
    return trigger_client_event(response, SAVED_EVENT)


def _file_error_status(exc: ProjectFileError) -> int:
    """507/503 when the project file could not be written for lack of storage, else 422."""
    problem = storage_problem(exc)
    return problem.status if problem else 422


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def plugin_settings(request: JupiterRequest, plugin_id: str) -> HttpResponse:
    """The global settings form (lazy-loaded into the plugin page) and its Save (staff)."""
    scope = _scope(request, plugin_id, None)
    if request.method == "POST":
        return _save(request, scope)
    if not request.htmx:
        return redirect(reverse("plugins_app:plugin-detail", args=[plugin_id]) + "#settings")
    return _respond(request, scope)


@require_http_methods(["GET", "POST"])
def project_plugin_settings(request: HttpRequest, name: str, plugin_id: str) -> HttpResponse:
    """A project's view of the settings: inherited vs overridden, and its own Save."""
    scope = _scope(request, plugin_id, name)
    if request.method == "POST":
        return _save(request, scope)
    return _respond(request, scope, template="plugins_app/autoui/project_settings.html")


def _reset(request: HttpRequest, scope: SettingsScope) -> HttpResponse:
    path = request.POST.get("reset_path", "")
    try:
        scope.reset(path, request.POST.get("token", ""), actor=request.user)
    except StaleConfigError:
        return _respond(request, scope, conflict=STALE, status=409)
    except ConfigValidationError as exc:
        return _respond(request, scope, problems=validation_messages(exc.errors), status=422)
    except ProjectFileConflict as exc:
        return _respond(request, scope, conflict=str(exc), status=409)
    except ProjectFileError as exc:
        return _respond(request, scope, problems=[exc.detail], status=_file_error_status(exc))
    target = "global" if scope.project else "the default"
    return saved(_respond(request, scope, message=f"{path} reset to {target}."))


@require_POST
def plugin_settings_reset(request: HttpRequest, plugin_id: str) -> HttpResponse:
    return _reset(request, _scope(request, plugin_id, None))


@require_POST
def project_plugin_settings_reset(request: HttpRequest, name: str, plugin_id: str) -> HttpResponse:
    return _reset(request, _scope(request, plugin_id, name))


@require_GET
@staff_required
def plugin_settings_export(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """Download the global settings as JSON (SPEC S4); secrets are not in the file."""
    plugin = plugin_or_404(plugin_id)
    body = json.dumps(
        export_settings(plugin.plugin_id), indent=2, sort_keys=True, ensure_ascii=False
    )
    response = HttpResponse(body + "\n", content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{plugin.plugin_id}-settings.json"'
    return response


@require_POST
def plugin_settings_import(request: HttpRequest, plugin_id: str) -> HttpResponse:
    """Replace the global settings with an uploaded export, whole or not at all (staff)."""
    scope = _scope(request, plugin_id, None)
    upload = request.FILES.get("settings_file")
    if upload is None:
        return _respond(request, scope, problems=["Choose a settings file to import."], status=422)
    try:
        values = prepare_import(
            scope.plugin, parse_export(upload.read(512 * 1024)), code_of=get_runtime().code_of
        )
        scope.save(values, request.POST.get("token", ""), actor=request.user)
    except SettingsIOError as exc:
        return _respond(request, scope, problems=[f"Not imported: {exc}"], status=422)
    except ConfigValidationError as exc:
        problems = ["Not imported: the file does not fit the schema."]
        return _respond(
            request, scope, problems=problems + validation_messages(exc.errors), status=422
        )
    except StaleConfigError:
        return _respond(request, scope, conflict=STALE, status=409)
    return saved(_respond(request, scope, message=f"Settings imported from {upload.name}."))

"""The audit trail page (SPEC X5): read-only, filtered by who, what, plugin, project and date.

There is no view that edits or deletes an entry, and the admin refuses both too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from django import forms
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from plugins_app.models import AuditAction, AuditEvent
from plugins_app.web.decorators import staff_required

PAGE_SIZE = 50


# Dates typed and shown as 2026-12-02, never in the browser locale's month-first form (a
# type="date" input follows the browser's locale, which is often en-US).
ISO_DATE = "%Y-%m-%d"
ISO_DATE_INPUT = forms.TextInput(
    attrs={"placeholder": "YYYY-MM-DD", "pattern": r"\d{4}-\d{2}-\d{2}", "inputmode": "numeric"}
)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(required=False, label="Who", help_text="User name")
    action = forms.ChoiceField(
        required=False, label="What", choices=[("", "Any action"), *AuditAction.choices]
    )
    plugin = forms.CharField(required=False, label="Plugin")
    project = forms.CharField(required=False, label="Project")
    since = forms.DateField(
        required=False, label="From", input_formats=[ISO_DATE], widget=ISO_DATE_INPUT
    )
    until = forms.DateField(
        required=False, label="To", input_formats=[ISO_DATE], widget=ISO_DATE_INPUT
    )

    def filter(self, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        data = self.cleaned_data
        if data.get("actor"):
            events = events.filter(actor__username=data["actor"].strip())
        if data.get("action"):
            events = events.filter(action=data["action"])
        if data.get("plugin"):
            events = events.filter(plugin_id=data["plugin"].strip())
        if data.get("project"):
            events = events.filter(project_name=data["project"].strip())
        if data.get("since"):
            events = events.filter(created_at__date__gte=data["since"])
        if data.get("until"):
            events = events.filter(created_at__date__lte=data["until"])
        return events


@dataclass(frozen=True)
class AuditRow:
    event: AuditEvent
    before: str
    after: str


def _pretty(value: object) -> str:
    return "" if value is None else json.dumps(value, indent=1, sort_keys=True, default=str)


@require_GET
@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.select_related("actor")
    if form.is_bound and form.is_valid():
        events = form.filter(events)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [AuditRow(e, _pretty(e.before), _pretty(e.after)) for e in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "plugins_app/audit_list.html",
        {"form": form, "page": page, "rows": rows, "query": query.urlencode()},
    )

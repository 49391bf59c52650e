"""The storage status page (issue 16): where Jupiter writes and whether it can, staff only."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from plugins_app.observability.storage import storage_report
from plugins_app.web.decorators import staff_required


@require_GET
@staff_required
def storage_status(request: HttpRequest) -> HttpResponse:
    """Free space and writability of every place, and the live log feed's last errors.

    Answers 503 while anything fails, so a monitor can watch the page as well as people.
    """
    report = storage_report()
    status = 200 if report.ok else 503
    return render(request, "plugins_app/storage_status.html", {"report": report}, status=status)

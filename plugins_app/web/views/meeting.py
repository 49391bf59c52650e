"""Meeting pages (SPEC MT1): where plans arrive, the dry-run preview and the confirmation.

``receive`` is the one view without a session: Meeting is a remote system, and the plan's
Ed25519 signature by a trusted Meeting key is its credential (checked before anything is
stored). It is CSRF-exempt for that reason, rate-limited per client address
(``JUPITER_MEETING_RATE``) so refusals cannot flood the audit trail, and it only ever stores
a plan. Everything else is for staff, and a plan runs only from ``decide``, on a click.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_ratelimit.decorators import ratelimit

from plugins_app.base import conf
from plugins_app.meeting.plans import MAX_PLAN_BYTES, PlanRefused, decide, preview, receive_plan
from plugins_app.models import MeetingPlan, MeetingPlanStatus
from plugins_app.web.decorators import staff_required
from plugins_app.web.views import JupiterRequest


def _meeting_rate(group: str, request: HttpRequest) -> str:
    return conf.get().meeting_rate


@csrf_exempt
@login_not_required
@require_POST
@ratelimit(key="ip", rate=_meeting_rate, block=True)
def receive(request: HttpRequest) -> JsonResponse:
    if int(request.headers.get("Content-Length") or 0) > MAX_PLAN_BYTES:
        return JsonResponse({"error": f"plan larger than {MAX_PLAN_BYTES} bytes"}, status=413)
    try:
        plan = receive_plan(request.body)
    except PlanRefused as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    payload = {"id": plan.pk, "status": plan.status, "results": plan.results}
    if plan.status == MeetingPlanStatus.PENDING:
        payload["confirm_url"] = reverse("plugins_app:meeting-detail", args=[plan.pk])
    return JsonResponse(payload, status=201)


@require_GET
@staff_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    plans = list(MeetingPlan.objects.select_related("decided_by")[:100])
    pending = [p for p in plans if p.status == MeetingPlanStatus.PENDING]
    others = [p for p in plans if p.status != MeetingPlanStatus.PENDING]
    return render(request, "plugins_app/meeting_list.html", {"pending": pending, "others": others})


@require_GET
@staff_required
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(MeetingPlan.objects.select_related("decided_by"), pk=pk)
    rows = preview(plan) if plan.status == MeetingPlanStatus.PENDING else []
    return render(request, "plugins_app/meeting_detail.html", {"plan": plan, "rows": rows})


@require_POST
@staff_required
def meeting_decide(request: JupiterRequest, pk: int) -> HttpResponse:
    confirm = request.POST.get("decision") == "confirm"
    try:
        plan = decide(pk, confirm=confirm, actor=request.user)
    except PlanRefused as exc:
        messages.error(request, f"Refused: {exc}")
    else:
        messages.info(request, f"Plan {plan.get_status_display().lower()}.")
    return redirect("plugins_app:meeting-detail", pk=pk)

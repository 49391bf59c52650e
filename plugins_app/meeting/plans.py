"""Meeting v1 (SPEC MT1): signed action plans, checked by the Bridge, confirmed by a person.

A plan is JSON::

    {"plan": {"format": "jupiter-meeting-plan/1", "nonce": "<unique>",
              "expires_at": "2030-01-01T12:00:00Z", "summary": "...",
              "actions": [{"action": "meeting_adapter.status", "params": {}}]},
     "public_key": "<base64 Ed25519>", "signature": "<base64 of the canonical JSON of plan>"}

It is accepted only while ``meeting_adapter`` is loaded, and only if every check passes: the
key is an active ``meeting`` key in ``TrustedKey``, the signature verifies, the plan has not
expired (nor lives longer than ``MAX_LIFETIME``), its nonce was never seen (replay), and each
action is registered through ``bridge.remote_actions`` by a plugin declaring
``access_meeting``, with parameters valid for the action's schema (an action without a schema
takes none). Every plan, read-only or not, waits for a staff user's click in the console
after a dry-run preview: nothing runs otherwise (MT1). A body nested deeper than
``boundedjson.MAX_DEPTH`` is refused like any malformed plan. Acceptance, refusal,
confirmation, rejection and results are all audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from plugins_app.base import boundedjson, patterns
from plugins_app.base.canonical import canonical_json
from plugins_app.base.errors import JupiterError
from plugins_app.base.keys import fingerprint, verify_bytes
from plugins_app.kernel.runtime import get_runtime
from plugins_app.models import (
    AuditAction,
    KeyPurpose,
    MeetingPlan,
    MeetingPlanStatus,
    TrustedKey,
    audit,
)
from plugins_app.models.audit import Actor
from plugins_app.sdk.bridge import RemoteActionSpec
from plugins_app.sdk.errors import PermissionRefused
from plugins_app.services.grants import plugin_wide
from plugins_app.services.permissions import require

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ADAPTER_ID = "meeting_adapter"
PLAN_FORMAT = "jupiter-meeting-plan/1"
MAX_PLAN_BYTES = 64 * 1024
MAX_LIFETIME = timedelta(hours=24)
_PLAN_SCHEMA = {
    "type": "object",
    "required": ["format", "nonce", "expires_at", "actions"],
    "properties": {
        "format": {"const": PLAN_FORMAT},
        "nonce": {"type": "string", "minLength": 8, "maxLength": 128},
        "expires_at": {"type": "string"},
        "summary": {"type": "string", "maxLength": 300},
        "actions": {
            "type": "array",
            "minItems": 1,
            "maxItems": 20,
            "items": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": {"type": "string", "pattern": r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_.-]+$"},
                    "params": {"type": "object"},
                },
                "additionalProperties": False,
            },
        },
    },
}
_DOCUMENT_SCHEMA = {
    "type": "object",
    "required": ["plan", "public_key", "signature"],
    "properties": {
        "plan": _PLAN_SCHEMA,
        "public_key": {"type": "string"},
        "signature": {"type": "string"},
    },
}
_LINEAR = patterns.validator_class(Draft202012Validator)
_VALIDATOR = _LINEAR(_DOCUMENT_SCHEMA)


class PlanRefused(JupiterError):
    """A plan (or its confirmation) failed a check; nothing ran. Already audited."""


@dataclass(frozen=True)
class PlannedAction:
    """One action of a plan as the preview shows it (a dry run: nothing is executed)."""

    action: str
    params: dict[str, Any]
    description: str
    read_only: bool


def _refuse(reason: str, *, actor: Actor = None, nonce: str = "") -> PlanRefused:
    detail = f"plan {nonce[:16]} refused: {reason}" if nonce else f"plan refused: {reason}"
    audit.record(AuditAction.REMOTE_ACTION, actor=actor, plugin_id=ADAPTER_ID, detail=detail)
    return PlanRefused(reason)


def _parse_expiry(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise PlanRefused(f"expires_at is not an ISO 8601 time: {text!r}") from exc
    if timezone.is_naive(moment):
        raise PlanRefused("expires_at must carry a time zone")
    return moment


def _spec(action: str) -> RemoteActionSpec:
    """The registered action ``<plugin>.<name>``, if its plugin may talk to Meeting."""
    plugin_id, _, name = action.partition(".")
    registration = get_runtime().bridge.registration(plugin_id)
    spec = registration.remote_actions.get(name) if registration else None
    if spec is None:
        raise PlanRefused(f"action '{action}' is not a registered remote action")
    manifest = get_runtime().manifests.get(plugin_id)
    if manifest is None:
        raise PlanRefused(f"action '{action}': plugin '{plugin_id}' is not loaded")
    try:
        require(plugin_wide(manifest), "access_meeting", f"run remote action '{name}' for Meeting")
    except PermissionRefused as exc:
        raise PlanRefused(str(exc)) from exc
    return spec


def _checked_actions(actions: list[dict[str, Any]]) -> list[PlannedAction]:
    planned = []
    for item in actions:
        spec = _spec(item["action"])
        params = item.get("params", {})
        if not spec.params_schema and params:
            raise PlanRefused(
                f"action '{item['action']}' declares no parameters; refused "
                + ", ".join(sorted(params))
            )
        if spec.params_schema:
            try:
                error = next(_LINEAR(dict(spec.params_schema)).iter_errors(params), None)
            except (SchemaError, patterns.UnsafePattern) as exc:
                raise PlanRefused(f"action '{item['action']}' has a broken schema") from exc
            if error is not None:
                raise PlanRefused(f"action '{item['action']}': invalid params: {error.message}")
        planned.append(PlannedAction(item["action"], params, spec.description, spec.read_only))
    return planned


def _verify(document: dict[str, Any]) -> str:
    """The signer's fingerprint, once the key is trusted and the signature verifies."""
    key = document["public_key"].strip()
    signer = fingerprint(key)
    trusted = TrustedKey.objects.filter(
        fingerprint=signer, purpose=KeyPurpose.MEETING, active=True
    ).exists()
    if not trusted:
        raise PlanRefused(f"signed by {signer}, which is not a trusted Meeting key")
    if not verify_bytes(key, document["signature"], canonical_json(document["plan"])):
        raise PlanRefused("the signature does not match the plan")
    return signer


def _check(raw: bytes) -> tuple[dict[str, Any], str, datetime, list[PlannedAction]]:
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanRefused(f"plan larger than {MAX_PLAN_BYTES} bytes")
    try:
        document = boundedjson.loads(raw)
    except ValueError as exc:
        raise PlanRefused(f"not JSON: {exc}") from exc
    error = next(_VALIDATOR.iter_errors(document), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(plan)"
        raise PlanRefused(f"malformed plan: {where}: {error.message}")
    if get_runtime().bridge.registration(ADAPTER_ID) is None:
        raise PlanRefused(f"{ADAPTER_ID} is not enabled in any project")
    plan = document["plan"]
    signer = _verify(document)
    expires = _parse_expiry(plan["expires_at"])
    now = timezone.now()
    if expires <= now:
        raise PlanRefused(f"the plan expired at {expires.isoformat()}")
    if expires > now + MAX_LIFETIME:
        raise PlanRefused(f"the plan is valid for more than {MAX_LIFETIME}; refused")
    if MeetingPlan.objects.filter(nonce=plan["nonce"]).exists():
        raise PlanRefused(f"nonce {plan['nonce']} was already used (replayed plan)")
    return plan, signer, expires, _checked_actions(plan["actions"])


def _nonce_of(raw: bytes) -> str:
    """The claimed nonce, for the audit entry of a refusal (it may be absent or bogus)."""
    try:
        return str(boundedjson.loads(raw)["plan"]["nonce"])[:128]
    except (ValueError, KeyError, TypeError):
        return ""


def receive_plan(raw: bytes) -> MeetingPlan:
    """Check a plan and store it pending: it runs only on a local click (``decide``)."""
    nonce = _nonce_of(raw)
    try:
        plan, signer, expires, actions = _check(raw)
        with transaction.atomic():
            stored = MeetingPlan.objects.create(
                nonce=plan["nonce"],
                signer=signer,
                expires_at=expires,
                summary=plan.get("summary", ""),
                actions=[{"action": a.action, "params": a.params} for a in actions],
                read_only=all(a.read_only for a in actions),
            )
    except PlanRefused as exc:
        raise _refuse(str(exc), nonce=nonce) from exc
    except IntegrityError as exc:  # the same plan arriving twice at once
        raise _refuse("nonce already used (replayed plan)", nonce=nonce) from exc
    audit.record(
        AuditAction.REMOTE_ACTION,
        plugin_id=ADAPTER_ID,
        after={"actions": stored.actions, "signer": signer},
        detail=f"plan {stored.nonce[:16]} received; awaiting confirmation",
    )
    return stored


def preview(plan: MeetingPlan) -> list[tuple[PlannedAction | None, str]]:
    """Each action as it would run now, or why it no longer can (the dry run)."""
    rows: list[tuple[PlannedAction | None, str]] = []
    for item in plan.actions:
        try:
            rows.append((_checked_actions([item])[0], ""))
        except PlanRefused as exc:
            rows.append((None, f"{item['action']}: {exc}"))
    return rows


def _run(item: dict[str, Any]) -> dict[str, Any]:
    try:
        spec = _spec(item["action"])
        value = spec.func(**item.get("params", {}))
        result = json.loads(json.dumps(value, default=str))
    except Exception as exc:
        return {"action": item["action"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"action": item["action"], "ok": True, "result": result}


def _execute(plan: MeetingPlan, *, actor: Actor) -> None:
    results = [_run(item) for item in plan.actions]
    failed = any(not r["ok"] for r in results)
    plan.results = results
    plan.status = MeetingPlanStatus.FAILED if failed else MeetingPlanStatus.EXECUTED
    plan.save(update_fields=["results", "status"])
    audit.record(
        AuditAction.REMOTE_ACTION,
        actor=actor,
        plugin_id=ADAPTER_ID,
        before={"actions": plan.actions},
        after={"results": results},
        detail=f"plan {plan.nonce[:16]} {plan.status}",
    )


def decide(plan_id: int, *, confirm: bool, actor: User) -> MeetingPlan:
    """A staff user's click: run the pending plan, or reject it. Only one decision wins."""
    now = timezone.now()
    pending = MeetingPlan.objects.filter(pk=plan_id, status=MeetingPlanStatus.PENDING)
    plan = pending.first()
    if plan is None:
        raise _refuse("this plan is not awaiting confirmation", actor=actor)
    if plan.expires_at <= now:
        pending.update(status=MeetingPlanStatus.EXPIRED)
        raise _refuse("the plan expired before it was confirmed", actor=actor, nonce=plan.nonce)
    status = MeetingPlanStatus.EXECUTED if confirm else MeetingPlanStatus.REJECTED
    if not pending.update(status=status, decided_by=actor, decided_at=now):
        raise _refuse("someone else decided this plan meanwhile", actor=actor, nonce=plan.nonce)
    plan.refresh_from_db()
    if confirm:
        _execute(plan, actor=actor)
    else:
        audit.record(
            AuditAction.REMOTE_ACTION,
            actor=actor,
            plugin_id=ADAPTER_ID,
            before={"actions": plan.actions},
            detail=f"plan {plan.nonce[:16]} rejected",
        )
    return plan

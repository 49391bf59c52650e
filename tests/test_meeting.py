"""Meeting v1 (SPEC MT1): signed plans, every refusal audited, nothing runs without a click."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.utils import timezone

from plugins_app.base.canonical import canonical_json as canonical
from plugins_app.base.keys import public_key_text, sign_bytes
from plugins_app.kernel.runtime import boot
from plugins_app.meeting.plans import PlanRefused, decide, preview, receive_plan
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    KeyPurpose,
    MeetingPlan,
    MeetingPlanStatus,
    Project,
    TrustedKey,
)
from plugins_app.projects.service import register_project, set_plugin_enabled
from tests.plugin_factory import write_plugin

pytestmark = pytest.mark.django_db(transaction=True)
BUNDLED = Path(__file__).resolve().parent.parent / "plugins"


def make_plan(key: Ed25519PrivateKey, *actions: dict, expires_in: float = 600, **extra) -> bytes:
    plan = {
        "format": "jupiter-meeting-plan/1",
        "nonce": extra.pop("nonce", secrets.token_hex(16)),
        "expires_at": (timezone.now() + timedelta(seconds=expires_in)).isoformat(),
        "summary": "test plan",
        "actions": list(actions),
        **extra,
    }
    document = {
        "plan": plan,
        "public_key": public_key_text(key.public_key()),
        "signature": sign_bytes(key, canonical(plan)),
    }
    return json.dumps(document).encode()


STATUS = {"action": "meeting_adapter.status", "params": {}}
ANNOUNCE = {"action": "meeting_adapter.announce", "params": {"message": "standup in 5"}}


@pytest.fixture
def key() -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    TrustedKey.objects.create(
        name="Meeting", public_key=public_key_text(key.public_key()), purpose=KeyPurpose.MEETING
    )
    return key


@pytest.fixture
def adapter(settings, tmp_path: Path) -> None:
    settings.JUPITER_PLUGIN_DIRS = [BUNDLED]
    (tmp_path / "proj").mkdir()
    boot()
    set_plugin_enabled(register_project("proj", tmp_path / "proj"), "meeting_adapter", True)


@pytest.fixture
def staff():
    return get_user_model().objects.create_user("op", password="x", is_staff=True)


def refusals() -> list[str]:
    return list(
        AuditEvent.objects.filter(action=AuditAction.REMOTE_ACTION, detail__contains="refused")
        .order_by("id")
        .values_list("detail", flat=True)
    )


def test_a_read_only_plan_also_waits_for_a_local_click(adapter, key, staff) -> None:
    """MT1: nothing runs without a local click, read-only plans included (issue 13)."""
    plan = receive_plan(make_plan(key, STATUS))
    assert (plan.status, plan.results) == (MeetingPlanStatus.PENDING, [])
    decided = decide(plan.pk, confirm=True, actor=staff)
    [result] = decided.results
    assert decided.status == MeetingPlanStatus.EXECUTED and result["ok"]
    assert result["result"]["by_status"]["ready"] >= 1


def test_an_action_writes_unless_declared_read_only_and_takes_no_undeclared_params(
    adapter, key, settings, tmp_path
) -> None:
    body = "def register(bridge):\n    bridge.remote_actions.register('ping', lambda **kw: kw)\n"
    write_plugin(
        tmp_path / "more", "chatty", body=body, extra_yaml="permissions: [access_meeting]\n"
    )
    settings.JUPITER_PLUGIN_DIRS = [BUNDLED, tmp_path / "more"]
    boot()
    set_plugin_enabled(Project.objects.get(), "chatty", True)
    with pytest.raises(PlanRefused, match="declares no parameters; refused path"):
        receive_plan(make_plan(key, {"action": "chatty.ping", "params": {"path": "/etc"}}))
    assert not MeetingPlan.objects.exists()
    plan = receive_plan(make_plan(key, {"action": "chatty.ping"}))
    [(action, problem)] = preview(plan)
    assert (action.read_only, problem) == (False, "")


def test_a_deeply_nested_body_is_a_400_and_audited(adapter, client) -> None:
    for body in (b"[" * 30_000 + b"]" * 30_000, b'{"plan": []}'):
        response = client.post("/meeting/plans", body, content_type="application/json")
        assert response.status_code == 400
    deep = b'{"plan": ' + b"[" * 100 + b"]" * 100 + b"}"
    response = client.post("/meeting/plans", deep, content_type="application/json")
    assert response.status_code == 400 and "nested deeper" in response.json()["error"]
    assert "nested deeper" in refusals()[-1]
    assert len(refusals()) == 3


def test_the_anonymous_endpoint_is_rate_limited(adapter, client, settings) -> None:
    from django.core.cache import cache

    cache.clear()
    settings.JUPITER_MEETING_RATE = "5/m"
    codes = [
        client.post("/meeting/plans", b"{}", content_type="application/json").status_code
        for _ in range(8)
    ]
    assert codes == [400] * 5 + [429] * 3
    assert len(refusals()) == 5  # refused before anything is parsed or written
    cache.clear()


def test_a_plan_that_writes_waits_for_a_click(adapter, key, staff) -> None:
    plan = receive_plan(make_plan(key, STATUS, ANNOUNCE))
    assert (plan.status, plan.results) == (MeetingPlanStatus.PENDING, [])
    [_, (announce, problem)] = preview(plan)
    assert (announce.action, announce.read_only, problem) == ("meeting_adapter.announce", False, "")
    decided = decide(plan.pk, confirm=True, actor=staff)
    assert decided.status == MeetingPlanStatus.EXECUTED
    assert decided.results[1]["result"]["logged"] is True
    last = AuditEvent.objects.filter(action=AuditAction.REMOTE_ACTION).first()
    assert (last.actor, last.detail) == (staff, f"plan {plan.nonce[:16]} executed")
    with pytest.raises(PlanRefused, match="not awaiting confirmation"):
        decide(plan.pk, confirm=True, actor=staff)


def test_a_rejected_plan_never_runs(adapter, key, staff) -> None:
    plan = receive_plan(make_plan(key, ANNOUNCE))
    assert decide(plan.pk, confirm=False, actor=staff).results == []
    assert MeetingPlan.objects.get().status == MeetingPlanStatus.REJECTED


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda k: make_plan(k, STATUS, expires_in=-5), "the plan expired at"),
        (lambda k: make_plan(k, STATUS, expires_in=3 * 86400), "valid for more than"),
        (lambda k: make_plan(k, {"action": "meeting_adapter.rm_rf"}), "not a registered"),
        (lambda k: make_plan(k, {"action": "ghost.status"}), "not a registered remote action"),
        (
            lambda k: make_plan(k, {"action": "meeting_adapter.announce", "params": {}}),
            "invalid params: 'message' is a required property",
        ),
        (lambda k: make_plan(Ed25519PrivateKey.generate(), STATUS), "not a trusted Meeting key"),
        (lambda k: b"{not json", "not JSON"),
    ],
    ids=["expired", "too-long", "unregistered", "unknown-plugin", "params", "wrong-key", "junk"],
)
def test_refused_plans_are_audited_and_never_stored(adapter, key, build, message) -> None:
    with pytest.raises(PlanRefused, match=message):
        receive_plan(build(key))
    assert not MeetingPlan.objects.exists()
    assert message in refusals()[-1]


def test_a_tampered_plan_fails_its_signature(adapter, key) -> None:
    document = json.loads(make_plan(key, STATUS))
    document["plan"]["actions"].append(ANNOUNCE)
    with pytest.raises(PlanRefused, match="signature does not match the plan"):
        receive_plan(json.dumps(document).encode())


def test_a_replayed_nonce_is_refused(adapter, key) -> None:
    receive_plan(make_plan(key, STATUS, nonce="n-0123456789"))
    with pytest.raises(PlanRefused, match="nonce n-0123456789 was already used"):
        receive_plan(make_plan(key, STATUS, nonce="n-0123456789"))
    assert MeetingPlan.objects.count() == 1


def test_an_expired_pending_plan_cannot_be_confirmed(adapter, key, staff) -> None:
    plan = receive_plan(make_plan(key, ANNOUNCE))
    MeetingPlan.objects.filter(pk=plan.pk).update(expires_at=timezone.now() - timedelta(1))
    with pytest.raises(PlanRefused, match="expired before it was confirmed"):
        decide(plan.pk, confirm=True, actor=staff)
    assert MeetingPlan.objects.get().status == MeetingPlanStatus.EXPIRED


def test_plans_are_refused_while_the_adapter_is_off(settings, key, runtime_dirs) -> None:
    boot()
    with pytest.raises(PlanRefused, match="meeting_adapter is not enabled"):
        receive_plan(make_plan(key, STATUS))


def test_a_plugin_without_access_meeting_cannot_be_driven(adapter, key, settings, tmp_path) -> None:
    body = "def register(bridge):\n    bridge.remote_actions.register('ping', lambda: 'pong')\n"
    write_plugin(tmp_path / "more", "chatty", body=body)
    settings.JUPITER_PLUGIN_DIRS = [BUNDLED, tmp_path / "more"]
    boot()
    set_plugin_enabled(Project.objects.get(), "chatty", True)
    with pytest.raises(PlanRefused, match="needs the 'access_meeting' permission"):
        receive_plan(make_plan(key, {"action": "chatty.ping"}))
    denial = AuditEvent.objects.get(action=AuditAction.PERMISSION_DENIED)
    assert denial.plugin_id == "chatty"

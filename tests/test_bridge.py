"""The Bridge's registration contract, dependency access and permission checks (SPEC B2-B5, X1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins_app.kernel.bridge import Bridge
from plugins_app.manifest.load import parse_manifest
from plugins_app.manifest.model import Manifest
from plugins_app.manifest.permissions import describe
from plugins_app.models import AuditAction, AuditEvent
from plugins_app.registry.dependencies import plan_load_order
from plugins_app.sdk.errors import PermissionRefused, PluginUnavailable, RegistrationError
from plugins_app.sdk.events import EventBus
from plugins_app.services.permissions import require
from plugins_app.services.provider import ServiceProvider


def manifest(plugin_id: str, extra: str = "") -> Manifest:
    text = (
        f"id: {plugin_id}\nname: {plugin_id}\nversion: 1.0.0\ntype: tool\n"
        f'entrypoint: "main:register"\n{extra}'
    )
    result = parse_manifest(text, source=Path(f"/plugins/{plugin_id}/plugin.yaml"))
    assert result.ok, result.errors
    return result.manifest


@pytest.fixture
def bridge() -> Bridge:
    return Bridge(ServiceProvider())


def test_registration_collects_everything_a_plugin_registers(bridge):
    scoped = bridge.scoped(manifest("alpha"))
    scoped.register_job("run", lambda: 1, title="Run it")
    scoped.register_service("counter", object())
    scoped.register_cli_command("hello", lambda: 0, help="Say hello")
    scoped.register_api_route("stats", lambda request: None)
    scoped.register_ui("panel", "overview", lambda context: "", title="Overview")
    scoped.remote_actions.register("status", lambda: {}, description="Status", read_only=True)
    scoped.expose({"api": True})
    bridge.install(scoped.registration)
    reg = bridge.registration("alpha")
    assert reg.jobs["run"].title == "Run it"
    assert set(reg.services) == {"counter"}
    assert reg.cli_commands["hello"].help == "Say hello"
    assert "stats" in reg.api_routes
    assert "panel:overview" in reg.ui
    assert reg.remote_actions["status"].read_only is True
    assert reg.public_api == {"api": True}


def test_duplicate_and_non_callable_registrations_are_refused(bridge):
    scoped = bridge.scoped(manifest("alpha"))
    scoped.register_job("run", lambda: 1)
    with pytest.raises(RegistrationError, match="'run' is registered twice"):
        scoped.register_job("run", lambda: 2)
    with pytest.raises(RegistrationError, match="must be callable"):
        scoped.register_job("other", "not callable")
    with pytest.raises(RegistrationError, match="must be relative"):
        scoped.register_api_route("/admin/", lambda request: None)


def test_plugins_get_only_reaches_declared_and_loaded_dependencies(bridge):
    provider = bridge.scoped(manifest("provider"))
    provider.expose("provider-api")
    bridge.install(provider.registration)
    consumer = bridge.scoped(
        manifest("consumer", "dependencies:\n  - id: provider\n    version: '>=1'\n")
    )
    assert consumer.plugins.get("provider") == "provider-api"
    stranger = bridge.scoped(manifest("stranger"))
    with pytest.raises(PluginUnavailable, match="not a declared dependency"):
        stranger.plugins.get("provider")
    bridge.remove("provider")
    with pytest.raises(PluginUnavailable, match="not loaded"):
        consumer.plugins.get("provider")


@pytest.mark.django_db
def test_undeclared_permission_is_denied_logged_and_audited(caplog):
    plugin = manifest("nosy", "permissions: [fs_read]\n")
    require(plugin, "fs_read", "read files")
    with pytest.raises(PermissionRefused) as denied:
        require(plugin, "run_commands", "run 'ls'")
    assert denied.value.permission == "run_commands"
    assert "plugin 'nosy' may not run 'ls'" in str(denied.value)
    event = AuditEvent.objects.get()
    assert event.action == AuditAction.PERMISSION_DENIED
    assert event.plugin_id == "nosy"
    assert "run_commands" in caplog.text


def test_custom_permissions_are_described_not_dropped():
    assert describe("fs_write").startswith("Write files")
    assert describe("emit_events") == "Custom permission 'emit_events'"


def test_event_bus_isolates_failing_handlers_and_namespaces_plugins(bridge):
    bus = EventBus()
    seen: list[tuple[str, dict]] = []

    def broken(topic, payload):
        raise RuntimeError("handler bug")

    bus.subscribe("plugin.alpha.*", broken)
    unsubscribe = bus.subscribe("plugin.alpha.*", lambda t, p: seen.append((t, p)))
    services = ServiceProvider(bus).for_plugin(manifest("alpha"))
    assert services.get_event_bus().publish("done", {"n": 1}) == 2
    assert seen == [("plugin.alpha.done", {"n": 1})]
    unsubscribe()
    services.get_event_bus().publish("done")
    assert len(seen) == 1


def test_load_order_puts_dependencies_first_and_blocks_what_cannot_load():
    plan = plan_load_order(
        {
            "app": manifest("app", "dependencies: {lib: '>=1.0'}\n"),
            "lib": manifest("lib"),
            "old": manifest("old", "dependencies: {lib: '>=2.0'}\n"),
            "on_old": manifest("on_old", "dependencies: {old: ''}\n"),
            "opt": manifest(
                "opt", "dependencies:\n  - {id: absent, version: '>=1', optional: true}\n"
            ),
        }
    )
    assert plan.order.index("lib") < plan.order.index("app")
    assert "opt" in plan.order
    assert plan.blocked["old"] == "requires 'lib' >=2.0 but version 1.0.0 is installed"
    assert plan.blocked["on_old"] == "depends on 'old', which cannot load"


def test_a_three_plugin_loop_blocks_its_members_and_their_dependents():
    plan = plan_load_order(
        {
            "a": manifest("a", "dependencies: {b: ''}\n"),
            "b": manifest("b", "dependencies: {c: ''}\n"),
            "c": manifest("c", "dependencies: {a: ''}\n"),
            "d": manifest("d", "dependencies: {a: ''}\n"),
        }
    )
    assert plan.order == ()
    assert plan.blocked["a"] == "dependency cycle: a -> b -> c -> a"
    assert plan.blocked["d"] == "depends on 'a', which cannot load"

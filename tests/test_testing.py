"""The Bridge test double plugin authors use (SPEC B6): same contract, no host needed."""

from __future__ import annotations

import sys

import pytest

from plugins_app.authoring.testing import BridgeDouble
from plugins_app.sdk.errors import (
    CommandRefused,
    OutsideProjectRoot,
    PermissionRefused,
    PluginUnavailable,
    RegistrationError,
)

MANIFEST = """
id: author_plugin
name: Author plugin
version: 1.0.0
type: tool
entrypoint: "main:register"
permissions: [fs_read, run_commands]
dependencies: {helper: ">=1"}
config_schema:
  version: 1
  schema:
    type: object
    properties:
      limit: {type: integer, default: 3}
"""


def register(bridge):
    def count(job):
        files = job.files.list("*.txt")
        for n, _ in enumerate(files, 1):
            job.progress(100 * n / len(files))
        return {"files": len(files), "limit": job.config["limit"]}

    bridge.register_job("count", count)
    bridge.register_job("echo", lambda job: job.run([sys.executable, "-c", "print(42)"]).stdout)
    bridge.register_job("peek", lambda job: job.files.read_text("../secret"))
    bridge.register_job("write", lambda job: job.files.write_text("x.txt", "x"))


@pytest.fixture
def bridge(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    double = BridgeDouble.for_manifest_text(
        MANIFEST, config={"limit": 5}, projects={"demo": tmp_path}, apis={"helper": "api"}
    )
    register(double)
    return double


def test_jobs_run_with_config_progress_and_permitted_services(bridge):
    job = bridge.run_job("count", project="demo")
    assert (job.state, job.result) == ("completed", {"files": 2, "limit": 5})
    assert [p for p, _ in job.progress_log] == [50, 100]
    assert bridge.run_job("echo", project="demo").result.strip() == "42"


def test_denials_are_collected_not_audited(bridge):
    peek = bridge.run_job("peek", project="demo")
    assert isinstance(peek.error, OutsideProjectRoot)
    write = bridge.run_job("write", project="demo")
    assert isinstance(write.error, PermissionRefused) and write.error.permission == "fs_write"
    assert len(bridge.denials) == 2
    with pytest.raises(PermissionRefused, match="network_outbound"):
        bridge.services.get_http_client()
    with pytest.raises(CommandRefused, match="no shell"):
        bridge.services.get_runner().run("demo", "echo hi")


def test_registration_rules_and_dependencies_are_the_hosts(bridge):
    with pytest.raises(RegistrationError, match="registered twice"):
        bridge.register_job("count", lambda job: None)
    assert bridge.plugins.get("helper") == "api"
    with pytest.raises(PluginUnavailable, match="not a declared dependency"):
        bridge.plugins.get("stranger")


def test_the_double_imports_without_django() -> None:
    """Plugin authors test without a host: no settings, no database, no Django models."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = (
        "import sys\n"
        "from plugins_app.authoring.testing import BridgeDouble\n"
        "double = BridgeDouble.for_manifest_text("
        "'id: probe\\nname: Probe\\nversion: 1.0.0\\ntype: tool\\nentrypoint: probe:register\\n')\n"
        "assert double.plugin_id == 'probe'\n"
        "heavy = ('django.db', 'plugins_app.models')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

"""Console pages for the catalogue, Meeting and the audit trail (SPEC MK1-MK3, MT1, X5)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from plugins_app.base.keys import public_key_text
from plugins_app.kernel.runtime import boot
from plugins_app.models import (
    AuditAction,
    AuditEvent,
    InstalledPlugin,
    KeyPurpose,
    MeetingPlan,
    MeetingPlanStatus,
    TrustedKey,
)
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.trust.catalogue import add_to_index
from tests.plugin_factory import add_tar_member, signed_plugin, tar_of
from tests.test_meeting import ANNOUNCE, BUNDLED, STATUS, make_plan

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def staff_client(runtime_dirs) -> Client:
    user = get_user_model().objects.create_user("op", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)
    boot()
    return client


def upload(client: Client, archive: Path):
    data = {"source": "upload", "archive": SimpleUploadedFile(archive.name, archive.read_bytes())}
    return client.post(reverse("plugins_app:catalogue-stage"), data)


def test_pages_are_for_staff_only(runtime_dirs) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("viewer", password="pw"))
    for name in ("catalogue", "audit", "meeting"):
        assert client.get(reverse(f"plugins_app:{name}")).status_code == 403
    response = client.post(reverse("plugins_app:plugin-uninstall", args=["hello"]))
    assert response.status_code == 403


def test_upload_review_confirm(staff_client: Client, tmp_path: Path, key) -> None:
    folder = signed_plugin(tmp_path, "web_demo", key, extra_yaml="permissions: [run_commands]\n")
    response = upload(staff_client, tar_of(folder, tmp_path / "web_demo.tar.gz"))
    assert response.status_code == 302
    review = staff_client.get(response.url)
    page = review.content.decode()
    assert "Install Web Demo?" in page
    assert "Run commands (no shell)" in page
    assert 'class="badge trust-community">Community' in page
    assert not InstalledPlugin.objects.filter(plugin_id="web_demo").exists()

    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    confirm = reverse("plugins_app:catalogue-confirm", args=[token])
    done = staff_client.post(confirm, {"decision": "install"})
    assert done.url == reverse("plugins_app:plugin-detail", args=["web_demo"])
    detail = staff_client.get(done.url).content.decode()
    assert "Validly signed, by a key nobody here vouches for." in detail
    assert "Uninstall…" in detail
    assert AuditEvent.objects.filter(action=AuditAction.INSTALL, actor__username="op").exists()


def test_cancel_installs_nothing(staff_client: Client, tmp_path: Path, key) -> None:
    response = upload(
        staff_client, tar_of(signed_plugin(tmp_path, "nope", key), tmp_path / "n.tgz")
    )
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    staff_client.post(reverse("plugins_app:catalogue-confirm", args=[token]), {"decision": "no"})
    assert not InstalledPlugin.objects.filter(plugin_id="nope").exists()
    assert staff_client.get(response.url).url == reverse("plugins_app:catalogue")


def test_a_hostile_upload_is_refused_with_a_message(staff_client: Client, tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add_tar_member(tar, "/etc/evil.py")
    response = upload(staff_client, archive)
    page = staff_client.get(response.url).content.decode()
    assert "Refused: /etc/evil.py: absolute path refused" in page


def test_uninstall_and_check_update(staff_client: Client, tmp_path: Path, key, settings) -> None:
    folder = signed_plugin(tmp_path / "v1", "updatable", key)
    response = upload(staff_client, tar_of(folder, tmp_path / "u1.tar.gz"))
    token = response.url.rstrip("/").rsplit("/", 1)[-1]
    staff_client.post(
        reverse("plugins_app:catalogue-confirm", args=[token]), {"decision": "install"}
    )

    newer = signed_plugin(tmp_path / "v2", "updatable", key, version="1.1.0")
    index = tmp_path / "index.json"
    add_to_index(index, tar_of(newer, tmp_path / "u2.tar.gz"), "updatable", "1.1.0")
    settings.JUPITER_CATALOGUES = [str(index)]
    check = staff_client.post(
        reverse("plugins_app:plugin-check-update", args=["updatable"]),
        headers={"HX-Request": "true"},
    )
    assert "Version <strong>1.1.0</strong> is available" in check.content.decode()

    gone = staff_client.post(
        reverse("plugins_app:plugin-uninstall", args=["updatable"]),
        {"settings": "purge", "confirm": "uninstall"},
    )
    assert gone.url == reverse("plugins_app:plugin-list")
    assert not InstalledPlugin.objects.filter(plugin_id="updatable").exists()


def test_audit_filters(staff_client: Client) -> None:
    AuditEvent.objects.create(action=AuditAction.INSTALL, plugin_id="alpha", detail="one")
    AuditEvent.objects.create(action=AuditAction.UNINSTALL, plugin_id="beta", detail="two")
    url = reverse("plugins_app:audit")
    page = staff_client.get(url, {"action": "uninstall"}).content.decode()
    assert "two" in page
    assert "<code>alpha</code>" not in page
    assert "<code>alpha</code>" in staff_client.get(url, {"plugin": "alpha"}).content.decode()
    assert staff_client.post(url).status_code == 405, "the audit trail cannot be written"


@pytest.fixture
def meeting_key(settings, tmp_path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    TrustedKey.objects.create(
        name="M", public_key=public_key_text(key.public_key()), purpose=KeyPurpose.MEETING
    )
    settings.JUPITER_PLUGIN_DIRS = [BUNDLED]
    (tmp_path / "proj").mkdir()
    boot()
    set_plugin_enabled(register_project("proj", tmp_path / "proj"), "meeting_adapter", True)
    return key


def test_meeting_receives_without_session_or_csrf(meeting_key) -> None:
    client = Client(enforce_csrf_checks=True)
    url = reverse("plugins_app:meeting-receive")
    done = client.post(url, make_plan(meeting_key, STATUS), content_type="application/json")
    assert done.status_code == 201
    assert done.json()["status"] == "pending", "MT1: read-only plans wait for a click too"
    waiting = client.post(url, make_plan(meeting_key, ANNOUNCE), content_type="application/json")
    assert waiting.json()["confirm_url"] == reverse(
        "plugins_app:meeting-detail", args=[waiting.json()["id"]]
    )
    bad = client.post(url, b'{"plan": 1}', content_type="application/json")
    assert bad.status_code == 400
    assert "malformed plan" in bad.json()["error"]
    assert client.get(reverse("plugins_app:meeting")).status_code == 302, "pages need a login"


def test_meeting_confirmation_page(meeting_key) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("op", password="pw", is_staff=True))
    url = reverse("plugins_app:meeting-receive")
    plan_id = client.post(url, make_plan(meeting_key, ANNOUNCE), content_type="application/json")
    plan_id = plan_id.json()["id"]
    detail = client.get(reverse("plugins_app:meeting-detail", args=[plan_id])).content.decode()
    assert "Dry run" in detail
    assert "Changes something" in detail
    decide = reverse("plugins_app:meeting-decide", args=[plan_id])
    client.post(decide, {"decision": "confirm"})
    assert MeetingPlan.objects.get().status == MeetingPlanStatus.EXECUTED
    page = client.get(reverse("plugins_app:meeting-detail", args=[plan_id])).content.decode()
    assert "Executed by op" in page
    assert json.loads(json.dumps(MeetingPlan.objects.get().results))[0]["ok"] is True

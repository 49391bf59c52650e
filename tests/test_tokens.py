"""API tokens (SPEC X4, issue 13): per user, scoped, revocable, hashed at rest."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from plugins_app.models import ApiToken, InstalledPlugin
from plugins_app.web import tokens

pytestmark = pytest.mark.django_db


def _bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def issued(user) -> str:
    InstalledPlugin.objects.create(plugin_id="probe", name="Probe")
    return tokens.issue(user, "ci", ["read"])[1]


def test_only_the_hash_is_stored(issued: str) -> None:
    token = ApiToken.objects.get()
    assert token.digest == hashlib.sha256(issued.encode()).hexdigest()
    assert issued not in {token.prefix, token.digest, token.name}
    assert issued.startswith(token.prefix)


def test_a_read_token_reads_the_json_api_as_its_user(issued: str) -> None:
    client = Client()
    response = client.get("/api/plugins", **_bearer(issued))
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["plugins"]] == ["probe"]
    assert ApiToken.objects.get().last_used_at is not None


def test_scopes_methods_and_pages_are_enforced(issued: str, user) -> None:
    client = Client()
    assert client.get("/metrics", **_bearer(issued)).status_code == 401  # no metrics scope
    assert client.get("/plugins/", **_bearer(issued)).status_code == 403  # a page, not the API
    assert client.post("/api/plugins/probe/x", **_bearer(issued)).status_code == 403
    assert client.get("/api/plugins", **_bearer("jpt_forged")).status_code == 401
    metrics = tokens.issue(user, "grafana", ["metrics"])[1]
    assert client.get("/metrics", **_bearer(metrics)).status_code == 200
    assert client.get("/api/plugins", **_bearer(metrics)).status_code == 401


def test_revoked_tokens_and_inactive_users_stop_working(issued: str, user) -> None:
    client = Client()
    user.is_active = False
    user.save()
    assert client.get("/api/plugins", **_bearer(issued)).status_code == 401
    user.is_active = True
    user.save()
    tokens.revoke(ApiToken.objects.get(), actor=user)
    assert client.get("/api/plugins", **_bearer(issued)).status_code == 401


def test_the_tokens_page_shows_a_new_secret_once_and_revokes_own_tokens_only(
    user, django_user_model
) -> None:
    client = Client()
    client.force_login(user)
    page = client.post("/tokens/", {"name": "script", "scopes": ["read", "metrics"]})
    token = ApiToken.objects.get()
    assert token.scopes == ["metrics", "read"]
    assert f'<code id="new-token">{token.prefix}' in page.content.decode()
    assert 'id="new-token"' not in client.get("/tokens/").content.decode()
    other = Client()
    other.force_login(django_user_model.objects.create_user("eve"))
    assert other.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get().revoked_at is not None

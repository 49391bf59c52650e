"""API tokens for scripts and scrapers (SPEC X4), as Grafana's service-account tokens.

A token is ``jpt_`` and 43 URL-safe characters (256 random bits), shown once when issued;
only its SHA-256 is stored. It authenticates as its user, on read-only views marked with
``token_scope`` for one of its scopes, and never does more than that user's roles allow.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils import timezone

from plugins_app.models import ApiToken, AuditAction, TokenScope, audit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PREFIX = "jpt_"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue(user: User, name: str, scopes: Iterable[str]) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret exists outside the caller)."""
    chosen = sorted({TokenScope(scope).value for scope in scopes})
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name[:100], prefix=secret[:12], digest=digest(secret), scopes=chosen
    )
    audit.record(
        AuditAction.API_TOKEN,
        actor=user,
        after={"name": token.name, "prefix": token.prefix, "scopes": chosen},
        detail=f"token {token.prefix}… issued",
    )
    return token, secret


def revoke(token: ApiToken, *, actor: User) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            AuditAction.API_TOKEN,
            actor=actor,
            before={"name": token.name, "prefix": token.prefix},
            detail=f"token {token.prefix}… revoked",
        )


def authenticate(secret: str, scope: TokenScope) -> User | None:
    """The active user behind a live token holding ``scope``, else None."""
    if not secret.startswith(PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or scope.value not in token.scopes or not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user

"""Keys the operator trusts and the Meeting plans they sign (SPEC X2, MT1)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from plugins_app.base.keys import KeyFileError, fingerprint, load_public_key


class KeyPurpose(models.TextChoices):
    PLUGINS = "plugins", "Plugin signing"
    MEETING = "meeting", "Meeting action plans"


class TrustedKey(models.Model):
    """An Ed25519 public key the operator trusts (SPEC X2, MT1), managed in the admin.

    Plugins signed by an active ``plugins`` key are ``verified``; Meeting action plans are
    accepted only when signed by an active ``meeting`` key.
    """

    name = models.CharField(max_length=100)
    public_key = models.CharField(
        max_length=64, unique=True, help_text="Base64 of the raw 32-byte key (the .pub file)."
    )
    fingerprint = models.CharField(max_length=32, editable=False, db_index=True)
    purpose = models.CharField(
        max_length=16, choices=KeyPurpose.choices, default=KeyPurpose.PLUGINS
    )
    active = models.BooleanField(default=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["purpose", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.public_key = self.public_key.strip()
        self.fingerprint = fingerprint(self.public_key)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.public_key = self.public_key.strip()
        try:
            load_public_key(self.public_key)
        except KeyFileError as exc:
            raise ValidationError({"public_key": str(exc)}) from exc


class MeetingPlanStatus(models.TextChoices):
    PENDING = "pending", "Awaiting confirmation"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"


class MeetingPlan(models.Model):
    """A signed action plan from Meeting that passed every check (SPEC MT1).

    The unique ``nonce`` is what makes a replayed plan fail; refused plans are not stored,
    only audited.
    """

    nonce = models.CharField(max_length=128, unique=True)
    signer = models.CharField(max_length=32)
    received_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    summary = models.CharField(max_length=300, blank=True)
    actions = models.JSONField(default=list)
    read_only = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=MeetingPlanStatus.choices, default=MeetingPlanStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    results = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"plan {self.nonce[:12]} ({self.status})"

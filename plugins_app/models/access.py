"""Who may do what (SPEC X4): project roles and API tokens.

Staff administer the installation (``User.is_staff``); everything else is per project, by
role. The rules that read these rows are ``projects.roles``; tokens are stored hashed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from plugins_app.models.projects import Project


class ProjectRole(models.TextChoices):
    """Ordered: each role can do everything the ones before it can."""

    VIEWER = "viewer", "Viewer"
    MAINTAINER = "maintainer", "Maintainer"
    OWNER = "owner", "Owner"


ROLE_RANK: dict[str, int] = {role.value: rank for rank, role in enumerate(ProjectRole, 1)}


class ProjectMembership(models.Model):
    """One user's role in one project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=16, choices=ProjectRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="unique_project_member")
        ]
        ordering = ["project__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.project}"


class TokenScope(models.TextChoices):
    """What a token may be used for; it never does more than its owner may."""

    READ = "read", "Read the JSON API"
    METRICS = "metrics", "Scrape /metrics"


class ApiToken(models.Model):
    """A bearer token for scripts and scrapers: per user, scoped, revocable.

    Only the SHA-256 of the token is kept (it is 256 random bits, so a fast hash is enough);
    ``prefix`` is its first characters, shown so a person can tell tokens apart.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16)
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) of {self.user}"

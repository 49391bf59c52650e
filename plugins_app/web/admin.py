"""Django admin for every model (SPEC T2). Audit entries are read-only (SPEC X5)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from plugins_app.models import (
    ApiToken,
    AuditAction,
    AuditEvent,
    ChangeEvent,
    Finding,
    HistoryEntry,
    InstalledPlugin,
    Job,
    JobEventRecord,
    Lease,
    MeetingPlan,
    MetricPoint,
    MetricSample,
    Notification,
    PluginConfig,
    PluginDebugMode,
    PluginProcessEvent,
    PluginRegistration,
    PluginReloadRequest,
    Project,
    ProjectGraph,
    ProjectMembership,
    ProjectPlugin,
    RetainedPluginConfig,
    SafeMode,
    TrustedKey,
)
from plugins_app.models.audit import record

# The admin is part of Jupiter: its title says so, not "Django administration".
admin.site.site_header = "Jupiter administration"
admin.site.site_title = "Jupiter admin"
admin.site.index_title = "Records"
admin.site.site_url = "/"


class ProjectPluginInline(admin.TabularInline):
    model = ProjectPlugin
    extra = 0
    fields = ("plugin", "enabled", "overrides", "updated_at")
    readonly_fields = ("updated_at",)


class ProjectMembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0
    fields = ("user", "role")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "root_path", "created_at")
    search_fields = ("name", "root_path")
    readonly_fields = ("file_hash", "created_at")
    inlines = [ProjectMembershipInline, ProjectPluginInline]


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    list_display = ("project", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("project__name", "user__username")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued by their owner (``/tokens/``), who alone sees the secret once; here
    staff can only see them and revoke one by setting ``revoked_at``."""

    list_display = ("name", "user", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("user", "name", "prefix", "digest", "scopes", "created_at", "last_used_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(InstalledPlugin)
class InstalledPluginAdmin(admin.ModelAdmin):
    list_display = ("plugin_id", "name", "version", "kind", "status", "trust_level", "legacy")
    list_filter = ("kind", "status", "trust_level", "legacy")
    search_fields = ("plugin_id", "name", "description")
    # The status is the host's finding (registry.status is its one writer), not a setting.
    readonly_fields = (
        "status",
        "status_reason",
        "status_source",
        "manifest",
        "warnings",
        "trust_level",
        "installed_at",
        "updated_at",
    )


@admin.register(ProjectPlugin)
class ProjectPluginAdmin(admin.ModelAdmin):
    list_display = ("project", "plugin", "enabled", "updated_at")
    list_filter = ("enabled", "project")


@admin.register(PluginConfig)
class PluginConfigAdmin(admin.ModelAdmin):
    list_display = ("plugin", "schema_version", "revision", "updated_at", "updated_by")
    readonly_fields = ("revision", "updated_at")


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "plugin_id", "project_name", "actor")
    list_filter = ("action",)
    search_fields = ("plugin_id", "project_name", "detail")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(TrustedKey)
class TrustedKeyAdmin(admin.ModelAdmin):
    """Operators vouch for signing keys here (SPEC X2); every change is audited (X5)."""

    list_display = ("name", "fingerprint", "purpose", "active", "created_at")
    list_filter = ("purpose", "active")
    search_fields = ("name", "fingerprint", "note")
    readonly_fields = ("fingerprint", "created_at")

    def save_model(self, request: HttpRequest, obj: TrustedKey, form: Any, change: bool) -> None:
        before = _key_view(TrustedKey.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        record(
            AuditAction.TRUSTED_KEY,
            actor=request.user,
            before=before,
            after=_key_view(obj),
            detail=f"trusted key {'changed' if change else 'added'}: {obj.name}",
        )

    def delete_model(self, request: HttpRequest, obj: TrustedKey) -> None:
        record(
            AuditAction.TRUSTED_KEY,
            actor=request.user,
            before=_key_view(obj),
            detail=f"trusted key deleted: {obj.name}",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            self.delete_model(request, key)


def _key_view(key: TrustedKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "fingerprint": key.fingerprint,
        "purpose": key.purpose,
        "active": key.active,
    }


@admin.register(MeetingPlan)
class MeetingPlanAdmin(admin.ModelAdmin):
    """Plans are decided in the console (a local click), never changed here (SPEC MT1)."""

    list_display = ("received_at", "summary", "status", "signer", "decided_by")
    list_filter = ("status",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: MeetingPlan | None = None) -> bool:
        return False


@admin.register(RetainedPluginConfig)
class RetainedPluginConfigAdmin(admin.ModelAdmin):
    list_display = ("plugin_id", "version", "schema_version", "retained_at")
    readonly_fields = ("retained_at",)


class RecordAdmin(admin.ModelAdmin):
    """Records the runtime writes (jobs, history, graphs, reload requests): viewable, and
    deletable to clean up, but never hand-edited, since the runtime treats them as truth."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(RecordAdmin):
    list_display = ("created_at", "plugin_id", "name", "project", "state", "progress")
    list_filter = ("state", "plugin_id")
    search_fields = ("id", "plugin_id", "name", "message", "error")


@admin.register(HistoryEntry)
class HistoryEntryAdmin(RecordAdmin):
    list_display = ("created_at", "project", "kind", "plugin_id", "summary")
    list_filter = ("kind", "project")
    search_fields = ("summary", "plugin_id")


@admin.register(ProjectGraph)
class ProjectGraphAdmin(RecordAdmin):
    list_display = ("project", "built_at")


@admin.register(PluginReloadRequest)
class PluginReloadRequestAdmin(RecordAdmin):
    list_display = ("created_at", "plugin_id", "origin", "handled_at", "ok")
    list_filter = ("ok",)


@admin.register(Notification)
class NotificationAdmin(RecordAdmin):
    list_display = ("created_at", "level", "plugin_id", "title")
    list_filter = ("level", "plugin_id")
    search_fields = ("title", "body", "topic")


@admin.register(JobEventRecord)
class JobEventRecordAdmin(RecordAdmin):
    list_display = ("created_at", "payload")


@admin.register(Lease)
class LeaseAdmin(RecordAdmin):
    list_display = ("name", "holder", "expires_at")


@admin.register(ChangeEvent)
class ChangeEventAdmin(RecordAdmin):
    list_display = ("created_at", "topic", "plugin_id", "project", "origin")
    list_filter = ("topic",)


@admin.register(PluginProcessEvent)
class PluginProcessEventAdmin(RecordAdmin):
    list_display = ("at", "plugin_id", "kind", "reason", "pid", "origin")
    list_filter = ("kind", "plugin_id")
    search_fields = ("plugin_id", "reason", "origin")


@admin.register(SafeMode)
class SafeModeAdmin(admin.ModelAdmin):
    """Switched from the console or ``jupiter_plugins safe-mode`` (audited, announced to
    every process); the admin shows it."""

    list_display = ("enabled", "changed_at", "changed_by", "note")
    readonly_fields = ("enabled", "changed_at", "changed_by", "note")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(PluginDebugMode)
class PluginDebugModeAdmin(admin.ModelAdmin):
    """Toggled from the plugin page (audited there); the admin shows who changed it last."""

    list_display = ("plugin", "enabled", "changed_at", "changed_by")
    list_filter = ("enabled",)
    readonly_fields = ("plugin", "enabled", "changed_at", "changed_by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(MetricSample)
class MetricSampleAdmin(RecordAdmin):
    list_display = ("plugin_id", "collected_at", "attempted_at", "error", "collector")
    search_fields = ("plugin_id",)


@admin.register(MetricPoint)
class MetricPointAdmin(RecordAdmin):
    list_display = ("plugin_id", "collected_at")
    list_filter = ("plugin_id",)
    search_fields = ("plugin_id",)


@admin.register(Finding)
class FindingAdmin(RecordAdmin):
    list_display = ("project", "plugin_id", "severity", "rule", "path", "line")
    list_filter = ("severity", "plugin_id")
    search_fields = ("path", "message", "rule")


@admin.register(PluginRegistration)
class PluginRegistrationAdmin(RecordAdmin):
    """What a plugin's process registered, remembered so its next start can wait for first
    use; deleting a row only makes that plugin start its process at the next boot."""

    list_display = ("plugin_id", "code_key", "updated_at")
    search_fields = ("plugin_id",)

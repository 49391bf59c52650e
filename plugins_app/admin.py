"""Django admin for every model (SPEC T2). Audit entries are read-only (SPEC X5)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEvent, InstalledPlugin, PluginConfig, Project, ProjectPlugin


class ProjectPluginInline(admin.TabularInline):
    model = ProjectPlugin
    extra = 0
    fields = ("plugin", "enabled", "overrides", "updated_at")
    readonly_fields = ("updated_at",)


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "root_path", "created_at")
    search_fields = ("name", "root_path")
    readonly_fields = ("file_hash", "created_at")
    inlines = [ProjectPluginInline]


@admin.register(InstalledPlugin)
class InstalledPluginAdmin(admin.ModelAdmin):
    list_display = ("plugin_id", "name", "version", "kind", "status", "trust_level", "legacy")
    list_filter = ("kind", "status", "trust_level", "legacy")
    search_fields = ("plugin_id", "name", "description")
    readonly_fields = ("manifest", "warnings", "installed_at", "updated_at")


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

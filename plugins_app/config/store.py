"""A plugin's configuration: schema, effective values, validated saving (SPEC S3, S4, X7).

The global row, the per-project overrides' validation and the merge that every caller
(views, the Bridge's ``get_config``, ``settings_update``) shares live here. Storing a
project's overrides (row, project file, audit) is ``projects.service``'s job: it sits below
config and stores what this module has validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_save
from django.utils import timezone

from plugins_app.config.errors import ConfigValidationError, StaleConfigError
from plugins_app.config.layering import ConfigError, EffectiveConfig, effective_config
from plugins_app.config.secrets import without_secrets
from plugins_app.models import (
    AuditAction,
    InstalledPlugin,
    PluginConfig,
    Project,
    ProjectPlugin,
    audit,
)
from plugins_app.models.audit import Actor, stored_user
from plugins_app.projects.service import toggleable_plugin, write_plugin_overrides


def plugin_config_schema(plugin: InstalledPlugin) -> dict[str, Any] | None:
    """The JSON Schema of the plugin's settings from its manifest snapshot, if it has one."""
    manifest = plugin.typed_manifest
    if manifest is None or manifest.config_schema is None:
        return None
    return dict(manifest.config_schema.schema)


def plugin_schema_version(plugin: InstalledPlugin) -> int:
    """``config_schema.version`` of the installed manifest (1 when it declares none)."""
    manifest = plugin.typed_manifest
    if manifest is None or manifest.config_schema is None:
        return 1
    return manifest.config_schema.version


def save_global_config(
    plugin: InstalledPlugin,
    values: Mapping[str, Any],
    *,
    expected_revision: int,
    actor: Actor = None,
) -> PluginConfig:
    """Save a plugin's global config if nobody saved it since ``expected_revision`` was read.

    The revision check and increment are one ``UPDATE ... WHERE revision = expected``, so two
    concurrent saves of the same revision cannot both win: the later one gets
    ``StaleConfigError`` instead of silently erasing the first. Raises
    ``ConfigValidationError`` when defaults <- ``values`` does not satisfy the schema.
    """
    values = require_mapping(values)
    errors = effective_config(plugin_config_schema(plugin), values).errors
    if errors:
        raise ConfigValidationError(errors)
    user = stored_user(actor)
    with transaction.atomic():
        config, _ = PluginConfig.objects.select_for_update().get_or_create(plugin=plugin)
        before = config.values
        updated = PluginConfig.objects.filter(pk=config.pk, revision=expected_revision).update(
            values=values,
            revision=F("revision") + 1,
            updated_by=user,
            updated_at=timezone.now(),
            schema_version=plugin_schema_version(plugin),  # saved against the current schema
        )
        if not updated:
            raise StaleConfigError(plugin.plugin_id, expected_revision, config.revision)
        config.refresh_from_db()
        audit.record(
            AuditAction.CONFIG_CHANGE,
            actor=actor,
            plugin_id=plugin.plugin_id,
            before=without_secrets(plugin_config_schema(plugin), before),
            after=without_secrets(plugin_config_schema(plugin), values),
            detail=f"global config, revision {config.revision}",
        )
        # update() sends no model signal; listeners of PluginConfig saves (settings_update
        # pushes new config to running plugins) must still hear of this one.
        post_save.send(
            sender=PluginConfig,
            instance=config,
            created=False,
            update_fields=frozenset({"values", "revision", "updated_by", "updated_at"}),
            raw=False,
            using=config._state.db,
        )
    return config


def set_plugin_overrides(
    project: Project,
    plugin_id: str,
    overrides: Mapping[str, Any],
    *,
    actor: Actor = None,
    expected_revision: int | None = None,
) -> ProjectPlugin:
    """Replace a plugin's per-project config overrides (the whole mapping), validated.

    The merged config (defaults <- global <- these overrides) must validate, else
    ``ConfigValidationError``; an unknown or core plugin raises ``ProjectPluginError``,
    conflicts and write failures behave as in ``projects.service.set_plugin_enabled``. To
    reset one field to global, pass ``config.layering.remove_override(...)``. With
    ``expected_revision`` (a form's token) a row changed since raises
    ``StaleProjectPluginState`` and nothing is written.
    """
    plugin = toggleable_plugin(plugin_id)
    overrides = require_mapping(overrides)
    merged = effective_config(plugin_config_schema(plugin), global_values(plugin), overrides)
    if merged.errors:
        raise ConfigValidationError(merged.errors)
    return write_plugin_overrides(
        project, plugin, overrides, actor=actor, expected_revision=expected_revision
    )


def effective_config_for(
    plugin: InstalledPlugin, project: Project | None = None
) -> EffectiveConfig:
    """The plugin's config as it runs (in ``project`` if given), with provenance and errors."""
    overrides: Mapping[str, Any] = {}
    if project is not None:
        row = ProjectPlugin.objects.filter(project=project, plugin=plugin).first()
        overrides = row.overrides if row is not None else {}
    return effective_config(plugin_config_schema(plugin), global_values(plugin), overrides)


def require_mapping(values: Any) -> dict[str, Any]:
    """``values`` as a dict; anything else is refused as a validation error, not a crash."""
    if not isinstance(values, Mapping):
        raise ConfigValidationError((ConfigError("", "settings must be a mapping of values"),))
    return dict(values)


def global_values(plugin: InstalledPlugin) -> Mapping[str, Any]:
    try:
        return plugin.config.values  # uses select_related("config") when the caller did
    except PluginConfig.DoesNotExist:
        return {}

"""Reading, changing, exporting and importing a plugin's global settings (SPEC S3, S4, T2).

The command line (``jupiter_plugins config ...``) and the console share this module, so both
apply the same rules: every write goes through ``config.store.save_global_config`` (schema
validation, revision check, audit), and an import is all or nothing. An export is a small
JSON document naming the plugin, its version and the settings schema version, so importing
it into a later version runs the manifest's settings migrations first (SPEC M6). Secrets
(``writeOnly`` or ``format: password``) never leave in an export, and an import without them
keeps the stored ones.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.utils import timezone

from plugins_app.base import boundedjson
from plugins_app.base.errors import JupiterError
from plugins_app.config.errors import ConfigValidationError, StaleConfigError
from plugins_app.config.layering import effective_config
from plugins_app.config.migrations import MigrationFailed, Resolver, run_steps
from plugins_app.config.secrets import get_path, secret_paths, without_secrets
from plugins_app.config.store import (
    effective_config_for,
    global_values,
    plugin_config_schema,
    plugin_schema_version,
    save_global_config,
)
from plugins_app.manifest.model import Manifest
from plugins_app.models import InstalledPlugin, PluginConfig, PluginKind, Project
from plugins_app.models.audit import Actor

EXPORT_FORMAT = "jupiter-plugin-settings"
EXPORT_FORMAT_VERSION = 1
IMPORT_MAX_BYTES = 256 * 1024


class SettingsIOError(JupiterError, ValueError):
    """A settings read, change or import that cannot be done; the message says why."""


def installed(plugin_id: str) -> InstalledPlugin:
    """The installed, non-core plugin ``plugin_id``; core plugins have no settings."""
    plugin = (
        InstalledPlugin.objects.exclude(kind=PluginKind.CORE)
        .select_related("config")
        .filter(plugin_id=plugin_id)
        .first()
    )
    if plugin is None:
        raise SettingsIOError(f"plugin '{plugin_id}' is not installed")
    return plugin


def _walk(values: Mapping[str, Any], key: str) -> Any:
    current: Any = values
    for part in key.split("."):
        if not isinstance(current, Mapping) or part not in current:
            raise SettingsIOError(f"no setting '{key}'")
        current = current[part]
    return current


def get_settings(plugin_id: str, key: str = "", *, project: str = "") -> Any:
    """The effective value of ``key`` (dotted, ``""`` for all) globally or in ``project``."""
    plugin = installed(plugin_id)
    scope = None
    if project:
        scope = Project.objects.filter(name=project).first()
        if scope is None:
            raise SettingsIOError(f"no project named '{project}'")
    values = dict(effective_config_for(plugin, scope).values)
    return _walk(values, key) if key else values


def parse_value(text: str) -> Any:
    """Command-line values are JSON (``3``, ``true``, ``["a"]``); anything else is a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _save(plugin: InstalledPlugin, values: dict[str, Any], actor: Actor) -> None:
    config, _ = PluginConfig.objects.get_or_create(plugin=plugin)
    try:
        save_global_config(plugin, values, expected_revision=config.revision, actor=actor)
    except (ConfigValidationError, StaleConfigError) as exc:
        raise SettingsIOError(str(exc)) from exc


def set_setting(plugin_id: str, key: str, value: Any, *, actor: Actor = None) -> dict[str, Any]:
    """Set the global value of dotted ``key``; the whole config is validated before saving."""
    plugin = installed(plugin_id)
    values = copy.deepcopy(dict(global_values(plugin)))
    *parents, leaf = key.split(".")
    target = values
    for part in parents:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise SettingsIOError(f"'{part}' in '{key}' is not a group of settings")
        target = child
    target[leaf] = value
    _save(plugin, values, actor)
    return values


def export_settings(plugin_id: str) -> dict[str, Any]:
    """The plugin's global settings (what was set, not the defaults) as an export document;
    secrets are left out."""
    plugin = installed(plugin_id)
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "plugin": plugin.plugin_id,
        "version": plugin.version,
        "schema_version": plugin_schema_version(plugin),
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "values": without_secrets(plugin_config_schema(plugin), global_values(plugin)),
    }


def _document(raw: Any, plugin_id: str) -> tuple[dict[str, Any], int]:
    if not isinstance(raw, Mapping) or raw.get("format") != EXPORT_FORMAT:
        raise SettingsIOError(f'not a Jupiter settings export (no "format": "{EXPORT_FORMAT}")')
    if raw.get("plugin") != plugin_id:
        raise SettingsIOError(f"this export is for '{raw.get('plugin')}', not '{plugin_id}'")
    values, version = raw.get("values"), raw.get("schema_version", 1)
    if not isinstance(values, Mapping):
        raise SettingsIOError('the export has no "values" mapping')
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SettingsIOError('the export\'s "schema_version" must be a positive integer')
    return dict(values), version


def parse_export(raw: bytes) -> Any:
    """An uploaded export file's JSON, refused before parsing when oversized."""
    if len(raw) > IMPORT_MAX_BYTES:
        raise SettingsIOError(f"the file is larger than {IMPORT_MAX_BYTES // 1024} KB")
    try:
        return boundedjson.loads(raw.decode("utf-8"))
    except ValueError as exc:  # not UTF-8, not JSON, or nested too deep
        raise SettingsIOError(f"not a JSON settings file ({exc})") from None


def _keep_stored_secrets(plugin: InstalledPlugin, values: dict[str, Any]) -> None:
    """Exports carry no secrets: an imported file without one keeps the stored value."""
    stored = global_values(plugin)
    for path in secret_paths(plugin_config_schema(plugin)):
        secret = get_path(stored, path)
        if secret is not None and get_path(values, path) is None:
            node = values
            *parents, leaf = path.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = secret


def prepare_import(
    plugin: InstalledPlugin, document: Any, *, code_of: Callable[[Manifest], Resolver]
) -> dict[str, Any]:
    """The values an export document would store: checked, migrated if it is older, stored
    secrets kept. Raises ``SettingsIOError``, or ``ConfigValidationError`` naming fields.

    An older export goes through the same steps as stored settings (``run_steps``), taken
    from the installed manifest; ``code_of`` hands over the plugin's code (the kernel's
    ``loader.resolver``: config sits below the kernel).
    """
    values, version = _document(document, plugin.plugin_id)
    current = plugin_schema_version(plugin)
    if version > current:
        raise SettingsIOError(
            f"the export has settings schema version {version}, newer than the installed "
            f"{plugin.plugin_id} {plugin.version} (version {current}); update the plugin first"
        )
    if version < current:
        manifest = plugin.typed_manifest
        if manifest is None:
            raise SettingsIOError(f"the manifest of {plugin.plugin_id} cannot be read")
        try:
            values = run_steps(manifest, version, code_of(manifest), values).global_values
        except MigrationFailed as exc:
            raise SettingsIOError(f"settings migration failed: {exc}") from exc
    _keep_stored_secrets(plugin, values)
    errors = effective_config(plugin_config_schema(plugin), values).errors
    if errors:
        raise ConfigValidationError(errors)
    return values


def import_settings(
    plugin_id: str,
    document: Any,
    *,
    code_of: Callable[[Manifest], Resolver],
    actor: Actor = None,
) -> dict[str, Any]:
    """Replace the global settings with an export's values (``prepare_import``), or change
    nothing."""
    plugin = installed(plugin_id)
    try:
        values = prepare_import(plugin, document, code_of=code_of)
    except ConfigValidationError as exc:
        raise SettingsIOError(str(exc)) from exc
    _save(plugin, values, actor)
    return values

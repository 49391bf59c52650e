"""Saving a plugin's settings from the console's forms: one layer at a time, no lost update.

A settings form edits one layer: the global config (over the schema defaults) or one
project's overrides (over defaults <- global). Both saves are optimistic (SPEC X7): the form
carries a token, the ``revision`` of the row holding the edited layer, read in the same
SELECT as the values it guards (``snapshot``), so a token is never newer than the values
shown. A save applies only through ``UPDATE ... WHERE revision = token``; one whose token no
longer matches is refused with ``StaleConfigError`` instead of erasing the other person's
change. Export and import files are ``config.transfer``'s, shared with the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugins_app.config.errors import StaleConfigError
from plugins_app.config.layering import (
    ConfigError,
    EffectiveConfig,
    effective_config,
    remove_override,
    schema_defaults,
)
from plugins_app.config.store import (
    plugin_config_schema,
    save_global_config,
    set_plugin_overrides,
)
from plugins_app.models import InstalledPlugin, PluginConfig, Project, ProjectPlugin
from plugins_app.models.audit import Actor
from plugins_app.projects.errors import StaleProjectPluginState


@dataclass(frozen=True)
class SettingsSnapshot:
    """What a form shows and the token guarding it, from one read of the edited layer's row.

    ``layer`` is the stored layer, ``effective`` the merge shown in the form, ``token`` the
    row's revision ("0" when there is no row yet): the version of exactly ``layer``.
    """

    effective: EffectiveConfig
    layer: dict[str, Any]
    token: str


@dataclass(frozen=True)
class SettingsScope:
    """Which layer a form edits: ``project`` None means the global config."""

    plugin: InstalledPlugin
    project: Project | None = None

    @property
    def schema(self) -> dict[str, Any] | None:
        return plugin_config_schema(self.plugin)

    def snapshot(self) -> SettingsSnapshot:
        """The edited layer, its merge and its token, the layer and token from one row read."""
        if self.project is None:
            row = PluginConfig.objects.filter(plugin=self.plugin).values_list("values", "revision")
            values, revision = row.first() or ({}, 0)
            layer = dict(values)
            effective = effective_config(self.schema, layer)
        else:
            state = ProjectPlugin.objects.filter(project=self.project, plugin=self.plugin)
            overrides, revision = state.values_list("overrides", "revision").first() or ({}, 0)
            layer = dict(overrides)
            effective = effective_config(self.schema, self._global_values(), layer)
        return SettingsSnapshot(effective, layer, str(revision))

    def inherited(self) -> Mapping[str, Any]:
        """What the edited layer sits on: defaults, or defaults <- global for a project."""
        if self.project is None:
            return schema_defaults(self.schema)
        return effective_config(self.schema, self._global_values()).values

    def _global_values(self) -> Mapping[str, Any]:
        row = PluginConfig.objects.filter(plugin=self.plugin).values_list("values", flat=True)
        return row.first() or {}

    def problems(self, layer: Mapping[str, Any]) -> dict[str, list[str]]:
        """What the schema says of ``layer`` on what it inherits, by field; nothing saved."""
        if self.project is None:
            merged = effective_config(self.schema, layer)
        else:
            merged = effective_config(self.schema, self._global_values(), layer)
        grouped: dict[str, list[str]] = {}
        for error in merged.errors:
            grouped.setdefault(error.path, []).append(error.message)
        return grouped

    def save(self, layer: Mapping[str, Any], token: str, *, actor: Actor) -> None:
        """Store ``layer`` if nobody saved since ``token`` was read (else ``StaleConfigError``)."""
        revision = int(token) if token.isdigit() else -1
        if self.project is None:
            save_global_config(self.plugin, layer, expected_revision=revision, actor=actor)
            return
        try:
            set_plugin_overrides(
                self.project,
                self.plugin.plugin_id,
                layer,
                actor=actor,
                expected_revision=revision,
            )
        except StaleProjectPluginState as exc:
            raise StaleConfigError(
                self.plugin.plugin_id, exc.expected_revision, exc.current_revision
            ) from exc

    def reset(self, path: str, token: str, *, actor: Actor) -> None:
        """Drop one field from the layer: back to global (project) or to the default."""
        self.save(remove_override(self.snapshot().layer, path), token, actor=actor)


def validation_messages(errors: tuple[ConfigError, ...]) -> list[str]:
    return [f"{e.path or '(settings)'}: {e.message}" for e in errors]

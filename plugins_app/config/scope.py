"""Saving a plugin's settings from the console's forms: one layer at a time, no lost update.

A settings form edits one layer: the global config (over the schema defaults) or one
project's overrides (over defaults <- global). Both saves are optimistic (SPEC X7): the form
carries a token read with the values (the global ``revision``, or a digest of the project's
overrides), and a save whose token no longer matches is refused with ``StaleConfigError``
instead of erasing the other person's change. Export and import files are
``config.transfer``'s, shared with the command line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from plugins_app.base.canonical import canonical_json
from plugins_app.config.errors import StaleConfigError
from plugins_app.config.layering import (
    ConfigError,
    EffectiveConfig,
    effective_config,
    remove_override,
    schema_defaults,
)
from plugins_app.config.store import (
    effective_config_for,
    global_values,
    plugin_config_schema,
    save_global_config,
    set_plugin_overrides,
)
from plugins_app.models import InstalledPlugin, PluginConfig, Project, ProjectPlugin
from plugins_app.models.audit import Actor


def overrides_digest(overrides: Mapping[str, Any]) -> str:
    """A short fingerprint of a project's overrides: the project form's staleness token."""
    return hashlib.sha256(canonical_json(overrides)).hexdigest()[:20]


@dataclass(frozen=True)
class SettingsScope:
    """Which layer a form edits: ``project`` None means the global config."""

    plugin: InstalledPlugin
    project: Project | None = None

    @property
    def schema(self) -> dict[str, Any] | None:
        return plugin_config_schema(self.plugin)

    def effective(self) -> EffectiveConfig:
        return effective_config_for(self.plugin, self.project)

    def inherited(self) -> Mapping[str, Any]:
        """What the edited layer sits on: defaults, or defaults <- global for a project."""
        if self.project is None:
            return schema_defaults(self.schema)
        return effective_config(self.schema, global_values(self.plugin)).values

    def layer(self) -> dict[str, Any]:
        if self.project is None:
            return dict(global_values(self.plugin))
        row = ProjectPlugin.objects.filter(project=self.project, plugin=self.plugin).first()
        return dict(row.overrides) if row else {}

    def token(self) -> str:
        if self.project is None:
            config = PluginConfig.objects.filter(plugin=self.plugin).first()
            return str(config.revision if config else 0)
        return overrides_digest(self.layer())

    def save(self, layer: Mapping[str, Any], token: str, *, actor: Actor) -> None:
        """Store ``layer`` if nobody saved since ``token`` was read (else ``StaleConfigError``)."""
        if self.project is None:
            revision = int(token) if token.isdigit() else -1
            save_global_config(self.plugin, layer, expected_revision=revision, actor=actor)
            return
        with transaction.atomic():
            Project.objects.select_for_update().get(pk=self.project.pk)
            if overrides_digest(self.layer()) != token:
                raise StaleConfigError(self.plugin.plugin_id, 0, 0)
            set_plugin_overrides(self.project, self.plugin.plugin_id, layer, actor=actor)

    def reset(self, path: str, token: str, *, actor: Actor) -> None:
        """Drop one field from the layer: back to global (project) or to the default."""
        self.save(remove_override(self.layer(), path), token, actor=actor)


def validation_messages(errors: tuple[ConfigError, ...]) -> list[str]:
    return [f"{e.path or '(settings)'}: {e.message}" for e in errors]

"""Named errors of the configuration services (``config.store``, ``config.scope``).

Each carries the data a view needs to explain the problem (which field, which plugin), so
callers never parse messages. They live in ``config`` (not ``projects``) because only the
config layer validates settings; projects store what they are given.
"""

from __future__ import annotations

from collections.abc import Mapping

from plugins_app.base.errors import JupiterError
from plugins_app.config.layering import ConfigError


class ConfigValidationError(JupiterError, ValueError):
    """Config values do not satisfy the plugin's schema; ``errors`` name the field paths."""

    def __init__(self, errors: tuple[ConfigError, ...]) -> None:
        super().__init__("; ".join(f"{e.path or '(config)'}: {e.message}" for e in errors))
        self.errors = errors

    def by_field(self) -> Mapping[str, list[str]]:
        """Messages grouped by dotted field path, for showing them inline in a form."""
        grouped: dict[str, list[str]] = {}
        for error in self.errors:
            grouped.setdefault(error.path, []).append(error.message)
        return grouped


class StaleConfigError(JupiterError):
    """Someone saved this plugin's config since the form was loaded; saving would lose it."""

    def __init__(self, plugin_id: str, expected_revision: int, current_revision: int) -> None:
        super().__init__(
            f"the settings of {plugin_id} were changed by someone else since you opened them "
            f"(revision {current_revision}, you edited revision {expected_revision}); "
            "reload to see their changes, then save again"
        )
        self.plugin_id = plugin_id
        self.expected_revision = expected_revision
        self.current_revision = current_revision

"""Core plugins' code (SPEC K1): part of Jupiter, loaded before discovery, never disabled.

Which ids are core is a registry fact (``plugins_app.registry.core``); what they do lives here.
"""

from plugins_app.kernel.core.settings_update import SettingsUpdate

__all__ = ["SettingsUpdate"]

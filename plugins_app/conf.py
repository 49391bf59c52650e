"""One cached getter for the ``JUPITER_*`` settings.

Cached for speed on hot paths and cleared on Django's ``setting_changed`` signal, so
``override_settings`` works in tests (the django-debug-toolbar pattern).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class JupiterSettings:
    plugin_dirs: tuple[Path, ...]
    developer_mode: bool
    allow_unsigned_local_plugins: bool
    log_dir: Path
    manifest_max_bytes: int
    metrics_token: str = ""


@functools.cache
def get() -> JupiterSettings:
    return JupiterSettings(
        plugin_dirs=tuple(Path(p) for p in settings.JUPITER_PLUGIN_DIRS),
        developer_mode=bool(settings.JUPITER_DEVELOPER_MODE),
        allow_unsigned_local_plugins=bool(settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS),
        log_dir=Path(settings.JUPITER_LOG_DIR),
        manifest_max_bytes=int(getattr(settings, "JUPITER_MANIFEST_MAX_BYTES", 256 * 1024)),
        metrics_token=str(getattr(settings, "JUPITER_METRICS_TOKEN", "")),
    )


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("JUPITER_"):
        get.cache_clear()

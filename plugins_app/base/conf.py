"""One cached getter for the ``JUPITER_*`` settings.

Cached for speed on hot paths and cleared on Django's ``setting_changed`` signal, so
``override_settings`` works in tests (the django-debug-toolbar pattern).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class JupiterSettings:
    plugin_dirs: tuple[Path, ...]
    developer_mode: bool
    allow_unsigned_local_plugins: bool
    log_dir: Path
    manifest_max_bytes: int
    job_workers: int = 4
    job_timeout: float = 600
    job_cancel_grace: float = 5
    breaker_threshold: int = 3
    breaker_cooldown: float = 60
    runner_timeout: float = 60
    scan_max_files: int = 100_000
    metrics_token: str = ""


@functools.cache
def get() -> JupiterSettings:
    return JupiterSettings(
        plugin_dirs=(
            *(Path(p) for p in settings.JUPITER_PLUGIN_DIRS),
            Path(settings.JUPITER_INSTALL_DIR),
        ),
        developer_mode=bool(settings.JUPITER_DEVELOPER_MODE),
        allow_unsigned_local_plugins=bool(settings.JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS),
        log_dir=Path(settings.JUPITER_LOG_DIR),
        manifest_max_bytes=int(getattr(settings, "JUPITER_MANIFEST_MAX_BYTES", 256 * 1024)),
        job_workers=max(1, int(getattr(settings, "JUPITER_JOB_WORKERS", 4))),
        job_timeout=float(getattr(settings, "JUPITER_JOB_TIMEOUT", 600)),
        job_cancel_grace=float(getattr(settings, "JUPITER_JOB_CANCEL_GRACE", 5)),
        breaker_threshold=max(1, int(getattr(settings, "JUPITER_BREAKER_THRESHOLD", 3))),
        breaker_cooldown=float(getattr(settings, "JUPITER_BREAKER_COOLDOWN", 60)),
        runner_timeout=float(getattr(settings, "JUPITER_RUNNER_TIMEOUT", 60)),
        scan_max_files=int(getattr(settings, "JUPITER_SCAN_MAX_FILES", 100_000)),
        metrics_token=str(getattr(settings, "JUPITER_METRICS_TOKEN", "")),
    )


@dataclass(frozen=True)
class TrustSettings:
    """Signatures and catalogue (SPEC X2, MK1): see ``trust.py`` for how they combine."""

    bundled_dir: Path
    install_dir: Path
    minimum_level: str
    official_keys: tuple[str, ...]
    catalogues: tuple[str, ...]


TRUST_LEVELS_BY_RANK = ("unsigned", "community", "verified", "official")


@functools.cache
def trust() -> TrustSettings:
    minimum = str(settings.JUPITER_TRUST_MINIMUM).strip().lower()
    if minimum not in TRUST_LEVELS_BY_RANK:
        raise ImproperlyConfigured(
            f"JUPITER_TRUST_MINIMUM must be one of {', '.join(TRUST_LEVELS_BY_RANK)}, "
            f"not {minimum!r}"
        )
    return TrustSettings(
        bundled_dir=Path(settings.JUPITER_BUNDLED_PLUGIN_DIR),
        install_dir=Path(settings.JUPITER_INSTALL_DIR),
        minimum_level=minimum,
        official_keys=tuple(k.strip() for k in settings.JUPITER_OFFICIAL_KEYS if k.strip()),
        catalogues=tuple(c.strip() for c in settings.JUPITER_CATALOGUES if c.strip()),
    )


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("JUPITER_"):
        get.cache_clear()
        trust.cache_clear()

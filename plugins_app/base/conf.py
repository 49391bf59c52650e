"""The ``JUPITER_*`` settings: one table of defaults, one cached getter.

``settings.py`` reads the scalar knobs from the environment through ``from_environment`` and
the getter falls back to the same table, so a default is written once. The getter is cached
for hot paths and cleared on Django's ``setting_changed`` signal, so ``override_settings``
works in tests (the django-debug-toolbar pattern).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

__all__ = [
    "KNOBS",
    "TRUST_LEVELS_BY_RANK",
    "JupiterSettings",
    "Knob",
    "ProjectRootSettings",
    "TrustSettings",
    "from_environment",
    "get",
    "project_roots",
    "trust",
]


def _flag(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(frozen=True)
class Knob:
    """One scalar setting: its name (also the environment variable) and its default."""

    name: str
    default: Any
    parse: Callable[[str], Any]


KNOBS: tuple[Knob, ...] = (
    Knob("JUPITER_DEVELOPER_MODE", False, _flag),
    Knob("JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS", True, _flag),
    Knob("JUPITER_MANIFEST_MAX_BYTES", 256 * 1024, int),
    Knob("JUPITER_TRUST_MINIMUM", "community", str),
    Knob("JUPITER_OFFICIAL_KEYS", [], _csv),
    Knob("JUPITER_CATALOGUES", [], _csv),
    Knob("JUPITER_JOB_WORKERS", 4, int),
    Knob("JUPITER_JOB_TIMEOUT", 600.0, float),
    Knob("JUPITER_JOB_CANCEL_GRACE", 5.0, float),
    Knob("JUPITER_BREAKER_THRESHOLD", 3, int),
    Knob("JUPITER_BREAKER_COOLDOWN", 60.0, float),
    Knob("JUPITER_RUNNER_TIMEOUT", 60.0, float),
    Knob("JUPITER_SCAN_MAX_FILES", 100_000, int),
    Knob("JUPITER_METRICS_TOKEN", "", str),
    Knob("JUPITER_METRICS_RETENTION_HOURS", 168.0, float),
    Knob("JUPITER_PLUGIN_REGISTER_TIMEOUT", 10.0, float),
    Knob("JUPITER_PLUGIN_MEMORY_MB", 512, int),
    Knob("JUPITER_WORKER_DRAIN", 600.0, float),
    Knob("JUPITER_ALLOW_UNSIGNED_ARCHIVES", False, _flag),
    Knob("JUPITER_MEETING_RATE", "30/m", str),
    Knob("JUPITER_SAFE_MODE", False, _flag),
    Knob("JUPITER_LOG_RETENTION_DAYS", 14.0, float),
)
_DEFAULTS = {knob.name: knob.default for knob in KNOBS}


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Each knob's value for ``settings.py``: parsed from ``environ``, else its default."""
    return {
        knob.name: knob.parse(environ[knob.name]) if knob.name in environ else knob.default
        for knob in KNOBS
    }


def _setting(name: str) -> Any:
    return getattr(settings, name, _DEFAULTS[name])


@dataclass(frozen=True)
class JupiterSettings:
    plugin_dirs: tuple[Path, ...]
    developer_mode: bool
    allow_unsigned_local_plugins: bool
    var_dir: Path
    log_dir: Path
    plugin_data_dir: Path
    manifest_max_bytes: int
    job_workers: int
    job_timeout: float
    job_cancel_grace: float
    breaker_threshold: int
    breaker_cooldown: float
    runner_timeout: float
    scan_max_files: int
    metrics_token: str
    metrics_retention_hours: float
    plugin_register_timeout: float
    plugin_memory_mb: int
    worker_drain: float
    allow_unsigned_archives: bool
    meeting_rate: str
    safe_mode: bool
    log_retention_days: float


@functools.cache
def get() -> JupiterSettings:
    return JupiterSettings(
        plugin_dirs=(
            *(Path(p) for p in settings.JUPITER_PLUGIN_DIRS),
            Path(settings.JUPITER_INSTALL_DIR),
        ),
        developer_mode=bool(_setting("JUPITER_DEVELOPER_MODE")),
        allow_unsigned_local_plugins=bool(_setting("JUPITER_ALLOW_UNSIGNED_LOCAL_PLUGINS")),
        var_dir=Path(settings.JUPITER_VAR_DIR),
        log_dir=Path(settings.JUPITER_LOG_DIR),
        plugin_data_dir=Path(settings.JUPITER_PLUGIN_DATA_DIR),
        manifest_max_bytes=int(_setting("JUPITER_MANIFEST_MAX_BYTES")),
        job_workers=max(1, int(_setting("JUPITER_JOB_WORKERS"))),
        job_timeout=float(_setting("JUPITER_JOB_TIMEOUT")),
        job_cancel_grace=float(_setting("JUPITER_JOB_CANCEL_GRACE")),
        breaker_threshold=max(1, int(_setting("JUPITER_BREAKER_THRESHOLD"))),
        breaker_cooldown=float(_setting("JUPITER_BREAKER_COOLDOWN")),
        runner_timeout=float(_setting("JUPITER_RUNNER_TIMEOUT")),
        scan_max_files=int(_setting("JUPITER_SCAN_MAX_FILES")),
        metrics_token=str(_setting("JUPITER_METRICS_TOKEN")),
        metrics_retention_hours=max(1.0, float(_setting("JUPITER_METRICS_RETENTION_HOURS"))),
        plugin_register_timeout=float(_setting("JUPITER_PLUGIN_REGISTER_TIMEOUT")),
        plugin_memory_mb=max(64, int(_setting("JUPITER_PLUGIN_MEMORY_MB"))),
        worker_drain=float(_setting("JUPITER_WORKER_DRAIN")),
        allow_unsigned_archives=bool(_setting("JUPITER_ALLOW_UNSIGNED_ARCHIVES")),
        meeting_rate=str(_setting("JUPITER_MEETING_RATE")),
        safe_mode=bool(_setting("JUPITER_SAFE_MODE")),
        log_retention_days=max(1.0, float(_setting("JUPITER_LOG_RETENTION_DAYS"))),
    )


@dataclass(frozen=True)
class TrustSettings:
    """Signatures and catalogue (SPEC X2, MK1): see ``trust/policy.py`` for how they combine."""

    bundled_dir: Path
    install_dir: Path
    minimum_level: str
    official_keys: tuple[str, ...]
    catalogues: tuple[str, ...]


TRUST_LEVELS_BY_RANK = ("unsigned", "community", "verified", "official")


@functools.cache
def trust() -> TrustSettings:
    minimum = str(_setting("JUPITER_TRUST_MINIMUM")).strip().lower()
    if minimum not in TRUST_LEVELS_BY_RANK:
        raise ImproperlyConfigured(
            f"JUPITER_TRUST_MINIMUM must be one of {', '.join(TRUST_LEVELS_BY_RANK)}, "
            f"not {minimum!r}"
        )
    return TrustSettings(
        bundled_dir=Path(settings.JUPITER_BUNDLED_PLUGIN_DIR),
        install_dir=Path(settings.JUPITER_INSTALL_DIR),
        minimum_level=minimum,
        official_keys=tuple(k.strip() for k in _setting("JUPITER_OFFICIAL_KEYS") if k.strip()),
        catalogues=tuple(c.strip() for c in _setting("JUPITER_CATALOGUES") if c.strip()),
    )


@dataclass(frozen=True)
class ProjectRootSettings:
    """Where projects may live (SPEC X4, X6): under one of ``allowed`` and never inside (nor
    above) one of ``protected``, Jupiter's own tree and data, which plugins must not read."""

    allowed: tuple[Path, ...]
    protected: tuple[Path, ...]
    inside_only: tuple[Path, ...]


@functools.cache
def project_roots() -> ProjectRootSettings:
    """Resolved once; ``inside_only`` are folders a project may not be rooted in, though a
    project may contain them (plugin folders)."""
    source = Path(settings.JUPITER_SOURCE_DIR).resolve()
    allowed = tuple(Path(p).expanduser().resolve() for p in settings.JUPITER_PROJECT_ROOTS)
    return ProjectRootSettings(
        allowed=allowed,
        protected=(Path(settings.JUPITER_VAR_DIR).resolve(), source),
        inside_only=(
            Path(settings.JUPITER_INSTALL_DIR).resolve(),
            *(Path(p).resolve() for p in settings.JUPITER_PLUGIN_DIRS),
        ),
    )


@receiver(setting_changed)
def _clear_cache(*, setting: str, **kwargs: object) -> None:
    if setting.startswith("JUPITER_"):
        get.cache_clear()
        trust.cache_clear()
        project_roots.cache_clear()

"""Importing plugin code and running its entrypoints, with failures isolated (SPEC M5, L5).

Every plugin is imported as the package ``jupiter_plugins.<id>`` rooted at its own folder,
so entrypoints written relative to the plugin (``analyzer:register``) resolve inside it and
the plugin's whole module subtree can be dropped from ``sys.modules`` to unload it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plugins_app.base.errors import JupiterError
from plugins_app.kernel.bridge import Bridge, Registration
from plugins_app.manifest.model import Manifest
from plugins_app.manifest.tracebacks import summarise_exception

PACKAGE_ROOT = "jupiter_plugins"
LEGACY_HOOKS = ("on_scan", "on_analyze")


class EntrypointError(JupiterError):
    """An entrypoint string that does not resolve to something callable."""


@dataclass(frozen=True)
class LoadOutcome:
    """The result of loading one plugin: a registration, or the reason it failed."""

    plugin_id: str
    registration: Registration | None
    error: str = ""


def package_name(plugin_id: str) -> str:
    return f"{PACKAGE_ROOT}.{plugin_id}"


def _ensure_root_package() -> None:
    if PACKAGE_ROOT not in sys.modules:
        root = types.ModuleType(PACKAGE_ROOT)
        root.__path__ = []
        sys.modules[PACKAGE_ROOT] = root


def _import_plugin_package(manifest: Manifest) -> types.ModuleType:
    name = package_name(manifest.id)
    if name in sys.modules:
        return sys.modules[name]
    _ensure_root_package()
    root = Path(manifest.root)
    init = root / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name, init, submodule_search_locations=[str(root)]
        )
    else:
        spec = importlib.util.spec_from_loader(name, loader=None, is_package=True)
    if spec is None:
        raise EntrypointError(f"cannot build an import spec for {root}")
    if spec.submodule_search_locations is not None and not spec.submodule_search_locations:
        spec.submodule_search_locations.append(str(root))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _is_relative(manifest: Manifest, module_path: str) -> bool:
    base = Path(manifest.root).joinpath(*module_path.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _module_in_plugin(manifest: Manifest, module_path: str) -> str | None:
    """The plugin-relative module a dotted path names: itself or its longest suffix.

    Absolute spellings from the original Jupiter (``jupiter.plugins.<id>.main``) thus resolve
    to the plugin's own ``main.py``; ``""`` means the plugin package itself.
    """
    parts = module_path.split(".")
    for start in range(len(parts)):
        candidate = ".".join(parts[start:])
        if _is_relative(manifest, candidate):
            return candidate
    return "" if parts[-1] == manifest.id else None


def resolve(manifest: Manifest, entrypoint: str) -> Any:
    """Import what ``entrypoint`` names (``module:attr`` or a bare ``module``).

    Only the plugin's own code can be named: an entrypoint such as ``os:system`` that points
    outside the plugin folder is refused, so a manifest can never make the host run
    arbitrary library functions (SPEC M5).
    """
    module_path, _, attr = entrypoint.partition(":")
    relative = _module_in_plugin(manifest, module_path)
    if relative is None:
        raise EntrypointError(
            f"entrypoint '{entrypoint}' names no module inside the plugin folder; "
            "entrypoints may only name the plugin's own code"
        )
    package = _import_plugin_package(manifest)
    module = importlib.import_module(f"{package.__name__}.{relative}") if relative else package
    if not attr:
        return module
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise EntrypointError(f"entrypoint '{entrypoint}': '{module_path}' has no '{attr}'")
        target = getattr(target, part)
    return target


def resolver(manifest: Manifest) -> Callable[[str], Any]:
    """``resolve`` bound to ``manifest``: how plugin code (settings migration steps) is handed
    to the config layer, which sits below the kernel and must not import it."""
    return functools.partial(resolve, manifest)


def unload_modules(plugin_id: str) -> list[str]:
    """Drop the plugin's whole module subtree so a re-import runs fresh code (SPEC L6)."""
    prefix = package_name(plugin_id)
    names = [n for n in sys.modules if n == prefix or n.startswith(prefix + ".")]
    for name in names:
        del sys.modules[name]
    importlib.invalidate_caches()
    return names


def _legacy_hooks(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    return {h: getattr(module, h) for h in LEGACY_HOOKS if callable(getattr(module, h, None))}


def load_plugin(manifest: Manifest, bridge: Bridge) -> LoadOutcome:
    """Import ``manifest``'s code and run its register entrypoint; never raises.

    A module exposing ``on_scan``/``on_analyze`` but no ``register`` is wrapped by the legacy
    adapter (SPEC L5). On failure nothing of the plugin stays registered or imported.
    """
    entrypoint = manifest.entrypoints.get("register")
    if not entrypoint:
        return LoadOutcome(manifest.id, None, "the manifest declares no register entrypoint")
    scoped = bridge.scoped(manifest)
    legacy = False
    try:
        target = resolve(manifest, entrypoint)
        if isinstance(target, types.ModuleType):
            register = getattr(target, "register", None)
            hooks = _legacy_hooks(target)
            if callable(register):
                target = register
            elif hooks:
                legacy = True
                for name, func in hooks.items():
                    scoped.register_hook(name, func)
            else:
                raise EntrypointError(
                    f"module '{target.__name__}' has no register() and no legacy "
                    "on_scan/on_analyze hooks"
                )
        if not legacy:
            if not callable(target):
                raise EntrypointError("the register entrypoint is not callable")
            target(scoped)
        for hook in ("health", "metrics"):
            if hook in manifest.entrypoints and hook not in scoped.registration.hooks:
                scoped.register_hook(hook, resolve(manifest, manifest.entrypoints[hook]))
    except (Exception, SystemExit) as exc:
        unload_modules(manifest.id)
        return LoadOutcome(manifest.id, None, summarise_exception(exc, manifest))
    scoped.registration.legacy = legacy
    bridge.install(scoped.registration)
    return LoadOutcome(manifest.id, scoped.registration)

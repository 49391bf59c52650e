"""Importing a plugin's own code as ``jupiter_plugins.<id>`` (SPEC M5, L6).

Every plugin is imported as the package ``jupiter_plugins.<id>`` rooted at its own folder,
so entrypoints written relative to the plugin (``analyzer:register``) resolve inside it and
the plugin's whole module subtree can be dropped from ``sys.modules`` to unload it. No
Django: the host's loader, the Bridge double and a plugin process share it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plugins_app.base.errors import JupiterError
from plugins_app.manifest.model import Manifest
from plugins_app.manifest.original import module_in_plugin
from plugins_app.sdk.bridge import PluginBridge

__all__ = ["PACKAGE_ROOT", "EntrypointError", "package_name", "resolve", "unload_modules"]

PACKAGE_ROOT = "jupiter_plugins"


class EntrypointError(JupiterError):
    """An entrypoint string that does not resolve to something callable."""


def package_name(plugin_id: str) -> str:
    return f"{PACKAGE_ROOT}.{plugin_id}"


def _ensure_root_package() -> None:
    if PACKAGE_ROOT not in sys.modules:
        root = types.ModuleType(PACKAGE_ROOT)
        root.__path__ = []
        sys.modules[PACKAGE_ROOT] = root


class SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles a plugin's ``.py`` files from source, every time.

    The signature covers the sources; a ``__pycache__/*.pyc`` dropped beside them (or left
    by an old host) would otherwise run instead of the signed code. So plugin code never
    reads or writes bytecode caches, and ``.pyc`` and compiled extension files in a plugin
    folder are never imported (the finder below offers only ``.py``).
    """

    def get_code(self, fullname: str) -> types.CodeType:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        return compile(source, path, "exec", dont_inherit=True)


_plugin_roots: set[Path] = set()


def _source_only_hook(path: str) -> importlib.abc.PathEntryFinder:
    """The finder for folders inside plugin roots: ``.py`` only, through the loader above."""
    here = Path(path).resolve()
    if not any(here == root or root in here.parents for root in _plugin_roots):
        raise ImportError("not a plugin folder")
    return importlib.machinery.FileFinder(
        path, (SourceOnlyLoader, importlib.machinery.SOURCE_SUFFIXES)
    )


def _guard_plugin_root(root: Path) -> None:
    if _source_only_hook not in sys.path_hooks:
        sys.path_hooks.insert(0, _source_only_hook)
    _plugin_roots.add(root.resolve())
    for cached in [p for p in sys.path_importer_cache if Path(p).resolve().is_relative_to(root)]:
        del sys.path_importer_cache[cached]


def _import_plugin_package(manifest: Manifest) -> types.ModuleType:
    name = package_name(manifest.id)
    if name in sys.modules:
        return sys.modules[name]
    _ensure_root_package()
    root = Path(manifest.root)
    _guard_plugin_root(root)
    init = root / "__init__.py"
    if init.is_file():
        spec = importlib.util.spec_from_file_location(
            name,
            init,
            loader=SourceOnlyLoader(name, str(init)),
            submodule_search_locations=[str(root)],
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


def resolve(manifest: Manifest, entrypoint: str) -> Any:
    """Import what ``entrypoint`` names (``module:attr`` or a bare ``module``).

    Only the plugin's own code can be named: an entrypoint such as ``os:system`` that points
    outside the plugin folder is refused, so a manifest can never make the host run
    arbitrary library functions (SPEC M5).
    """
    module_path, _, attr = entrypoint.partition(":")
    relative = module_in_plugin(Path(manifest.root), manifest.id, module_path)
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


def unload_modules(plugin_id: str | None = None) -> list[str]:
    """Drop the plugin's whole module subtree so a re-import runs fresh code (SPEC L6).

    Without ``plugin_id``, every plugin's: a runtime that closes leaves no plugin code behind,
    whoever imported it (a load, a settings migration, a test's ``plugin_module``).
    """
    prefix = package_name(plugin_id) if plugin_id else PACKAGE_ROOT
    names = [n for n in sys.modules if n.startswith(prefix + ".")]
    if plugin_id:
        names += [prefix] if prefix in sys.modules else []
    for name in names:
        del sys.modules[name]
    importlib.invalidate_caches()
    return names


LEGACY_HOOKS = ("on_scan", "on_analyze")


def _legacy_hooks(module: types.ModuleType) -> dict[str, Callable[..., Any]]:
    return {h: getattr(module, h) for h in LEGACY_HOOKS if callable(getattr(module, h, None))}


def _legacy_table(manifest: Manifest) -> str:
    """The module of a legacy plugin giving ``entrypoints: {on_scan: ..., on_analyze: ...}``."""
    for hook in LEGACY_HOOKS:
        if hook in manifest.entrypoints:
            return manifest.entrypoints[hook].partition(":")[0]
    return ""


def named_legacy_hooks(manifest: Manifest) -> dict[str, Callable[..., Any]]:
    """The hooks a legacy table names function by function (``on_analyze: "hooks:analyze"``):
    the function need not be called after the hook, so it is resolved as written."""
    return {
        hook: resolve(manifest, manifest.entrypoints[hook])
        for hook in LEGACY_HOOKS
        if ":" in manifest.entrypoints.get(hook, "")
    }


def register_plugin(manifest: Manifest, bridge: PluginBridge) -> bool:
    """Import ``manifest``'s code and run its register entrypoint on ``bridge``.

    A module exposing ``on_scan``/``on_analyze`` but no ``register`` is wrapped by the legacy
    adapter (SPEC L5); returns whether it was. Raises what the plugin raised, or
    ``EntrypointError``: the caller (a plugin process) reports it and exits.
    """
    if manifest.original_api:
        # Written for the original Jupiter's API (1.8): adapted by ``sdk.compat``.
        from plugins_app.sdk.compat import alias_original_package, register_original

        alias_original_package(manifest.id, package_name(manifest.id))
        data_dir = Path(bridge.services.get_data_dir())
        register_original(manifest, bridge, resolve, fitting_args, data_dir)
        return False
    entrypoint = manifest.entrypoints.get("register")
    named = {} if entrypoint else named_legacy_hooks(manifest)
    if not entrypoint and not named:
        entrypoint = _legacy_table(manifest)
        if not entrypoint:
            raise EntrypointError("the manifest declares no register entrypoint")
    legacy = bool(named)
    for name, func in named.items():
        bridge.register_hook(name, func)
    target = resolve(manifest, entrypoint) if entrypoint else None
    if isinstance(target, types.ModuleType):
        register = getattr(target, "register", None)
        hooks = _legacy_hooks(target)
        if callable(register):
            target = register
        elif hooks:
            legacy = True
            for name, func in hooks.items():
                bridge.register_hook(name, func)
        else:
            raise EntrypointError(
                f"module '{target.__name__}' has no register() and no legacy "
                "on_scan/on_analyze hooks"
            )
    if not legacy:
        if not callable(target):
            raise EntrypointError("the register entrypoint is not callable")
        target(bridge)
    for hook in ("health", "metrics"):
        if hook in manifest.entrypoints and hook not in bridge.registration.hooks:
            bridge.register_hook(hook, resolve(manifest, manifest.entrypoints[hook]))
    bridge.registration.legacy = legacy
    return legacy


def fitting_args(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The leading ``args`` a hook accepts: old hooks take ``on_scan(root)`` only, newer
    ones ``on_scan(root, graph)``; the host passes all it has."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return args
    for count in range(len(args), -1, -1):
        try:
            signature.bind(*args[:count])
        except TypeError:
            continue
        return args[:count]
    return args

"""Importing plugin code and running its entrypoints, with failures isolated (SPEC M5, L5).

Every plugin is imported as the package ``jupiter_plugins.<id>`` rooted at its own folder,
so entrypoints written relative to the plugin (``analyzer:register``) resolve inside it and
the plugin's whole module subtree can be dropped from ``sys.modules`` to unload it.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plugins_app.kernel.bridge import Bridge
from plugins_app.manifest.model import Manifest
from plugins_app.manifest.tracebacks import summarise_exception
from plugins_app.sdk.bridge import Registration
from plugins_app.sdk.loading import EntrypointError, resolve, unload_modules

LEGACY_HOOKS = ("on_scan", "on_analyze")


@dataclass(frozen=True)
class LoadOutcome:
    """The result of loading one plugin: a registration, or the reason it failed."""

    plugin_id: str
    registration: Registration | None
    error: str = ""


def resolver(manifest: Manifest) -> Callable[[str], Any]:
    """``resolve`` bound to ``manifest``: how plugin code (settings migration steps) is handed
    to the config layer, which sits below the kernel and must not import it."""
    return functools.partial(resolve, manifest)


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

"""One root for every error Jupiter raises on purpose; plugins catch ``BridgeError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import django.core.exceptions

import plugins_app
from plugins_app.base.errors import BridgeError, JupiterError

# What plugin code can receive from the Bridge, its services and its job context.
PLUGIN_FACING = {
    "CommandRefused",
    "JobCancelled",
    "JobRefused",
    "OutsideProjectRoot",
    "PermissionRefused",
    "PluginUnavailable",
    "ProjectUnavailable",
    "RegistrationError",
}


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(plugins_app.__path__, "plugins_app."):
        if ".migrations" in info.name or ".management.commands" in info.name:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_every_error_derives_from_the_root() -> None:
    strays = [
        name for name, cls in _exception_classes().items() if not issubclass(cls, JupiterError)
    ]
    assert not strays, f"errors outside JupiterError: {strays}"


def test_what_a_plugin_can_receive_is_a_bridge_error() -> None:
    classes = {name.rsplit(".", 1)[1]: cls for name, cls in _exception_classes().items()}
    assert set(classes) >= PLUGIN_FACING
    assert all(issubclass(classes[name], BridgeError) for name in PLUGIN_FACING)


def test_no_name_clashes_with_django() -> None:
    django_names = {n for n, v in vars(django.core.exceptions).items() if inspect.isclass(v)}
    clashes = {name.rsplit(".", 1)[1] for name in _exception_classes()} & django_names
    assert not clashes

"""The original Jupiter's manifest spellings that need more than a rename (SPEC M7).

Plugins written for the original Jupiter (plugin API 1.8) write npm-style version ranges
(``^1.2``, ``~1.0``, a bare ``1.0.0``), settings as ``config: {schema, defaults}``,
translations as files (``ui.i18n: {path, languages}``) and the Python packages they need
(``python_dependencies``). This module turns each into what the host works with: PEP 440
specifiers, a settings schema carrying its defaults, translation maps, and the reason a
plugin cannot run when a package is missing. Pure data: no plugin code runs here.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

_NPM_RANGE = re.compile(r"^([\^~])(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_BARE = re.compile(r"^\d+\.\d+\.\d+$")
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)
MAX_I18N_BYTES = 256 * 1024


def npm_specifier(spec: str) -> str | None:
    """The PEP 440 form of an npm-style range, or None when `spec` is not one.

    ``^1.2.3`` allows changes that keep the first non-zero part (``>=1.2.3,<2.0.0``; ``^0.3``
    is ``>=0.3,<0.4``), ``~1.2.3`` keeps the minor version (``>=1.2.3,<1.3``) and a bare
    version means exactly it (``==1.0.0``).
    """
    if _BARE.match(spec):
        return f"=={spec}"
    match = _NPM_RANGE.match(spec)
    if match is None:
        return None
    operator, *parts = match.groups()
    numbers = [int(part) for part in parts if part is not None]
    version = ".".join(map(str, numbers))
    if operator == "~":
        upper = [numbers[0], numbers[1] + 1] if len(numbers) > 1 else [numbers[0] + 1]
    else:
        keep = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
        upper = [*numbers[:keep], numbers[keep] + 1]
    return f">={version},<{'.'.join(map(str, upper))}"


def inferred_property(name: str, default: Any) -> dict[str, Any]:
    """A settings-schema property for a default the original manifest gave without a schema."""
    title = name.replace("_", " ").capitalize()
    prop: dict[str, Any] = {"title": title, "default": default}
    for python_type, json_type in _JSON_TYPES:
        if isinstance(default, python_type):
            prop["type"] = json_type
            break
    return prop


def _flatten(texts: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in texts.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, str):
            flat[name] = value
    return flat


def read_i18n_files(
    root: Path, folder: str, languages: Iterable[str]
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """({language: {key: text}}, problems) from ``root/folder/<language>.json`` files.

    Nested objects become dotted keys. A missing or unreadable file is a problem (a
    warning: the console falls back to the keys), never an error.
    """
    base = (root / folder).resolve()
    found: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for language in languages:
        path = base / f"{language}.json"
        if not path.resolve().is_relative_to(root.resolve()):
            problems.append(f"{folder}/{language}.json is outside the plugin folder")
            continue
        try:
            if path.stat().st_size > MAX_I18N_BYTES:
                problems.append(f"{folder}/{language}.json is larger than {MAX_I18N_BYTES} bytes")
                continue
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            problems.append(f"{folder}/{language}.json cannot be read: {error}")
            continue
        if not isinstance(data, Mapping):
            problems.append(f"{folder}/{language}.json is not a JSON object")
            continue
        found[language] = _flatten(data)
    return found, problems


def missing_python_dependency(requirements: Iterable[str]) -> str | None:
    """Why the environment cannot run the plugin: the first requirement not installed (or
    installed at a version the requirement excludes), or None when all are met."""
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            return f"requires the Python package {text!r}, which is not a valid requirement"
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return f"requires the Python package {requirement.name!r}, which is not installed"
        if requirement.specifier and not requirement.specifier.contains(
            installed, prereleases=True
        ):
            return (
                f"requires the Python package {requirement.name}{requirement.specifier} "
                f"but {installed} is installed"
            )
    return None


def api_off_reason(named: str) -> str | None:
    """Why the FastAPI routes ``named`` (``api.router``, ``entrypoints.server``) are not
    served, or None when they can be: FastAPI is an optional extra of this host."""
    if named and importlib.util.find_spec("fastapi") is None:
        return (
            "the plugin's API is off: FastAPI is not installed "
            "(install the extra: pip install 'jupiter[fastapi]')"
        )
    return None


def _is_module(root: Path, module_path: str) -> bool:
    base = root.joinpath(*module_path.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def module_in_plugin(root: Path, plugin_id: str, module_path: str) -> str | None:
    """The plugin-relative module a dotted path names: itself or its longest suffix.

    Absolute spellings from the original Jupiter (``jupiter.plugins.<id>.main``) thus resolve
    to the plugin's own ``main.py``; ``""`` means the plugin package itself, None a module
    outside the plugin folder.
    """
    parts = module_path.split(".")
    if parts[-1] == "__init__":  # "__init__:init" (original Jupiter) names the package
        parts = parts[:-1]
        if not parts or parts == [plugin_id]:
            return ""
    for start in range(len(parts)):
        candidate = ".".join(parts[start:])
        if _is_module(root, candidate):
            return candidate
    return "" if parts[-1] == plugin_id else None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def handler_problem(root: Path, plugin_id: str, entrypoint: str) -> str | None:
    """Why the handler ``entrypoint`` (``module:function``) cannot be found in the plugin's
    code, or None. Read, never imported: ``validate`` says what the load would find, without
    running the plugin (a name defined only at run time passes here and fails at load)."""
    module_path, _, attr = entrypoint.partition(":")
    relative = module_in_plugin(root, plugin_id, module_path)
    if relative is None:
        return f"{entrypoint!r} names no module inside the plugin folder"
    base = root.joinpath(*relative.split(".")) if relative else root
    path = base / "__init__.py" if (base / "__init__.py").is_file() else base.with_suffix(".py")
    if not attr:
        return f"{entrypoint!r} names no function (write module:function)"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as error:
        return f"{entrypoint!r}: {path.name} cannot be read: {error}"
    if attr.split(".")[0] not in _top_level_names(tree):
        return f"{entrypoint!r}: {module_path or path.name} defines no {attr!r}"
    return None

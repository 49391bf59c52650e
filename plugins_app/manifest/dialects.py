"""Normalise the two real-world `plugin.yaml` dialects into one canonical form (SPEC M7).

Plugins written for the original Jupiter spell the same thing in several ways (`name` as text
or as a map of languages, `permissions` as a list or a map of booleans, `health` or
`health_check`, ...). `normalise` turns a manifest that already passed the JSON Schema into
one canonical, JSON-compatible dict, and checks the values the schema cannot (PEP 440
versions and specifiers, cross-field rules) while it still knows where each value came from,
so every finding carries the path the author wrote (`dependencies.foo`, not the canonical
place). Where two spellings are given, the canonical one wins and the other is reported as
ignored.

The canonical dict has exactly the keys of `manifest.Manifest` (minus `root` and
`extra_sections`), which is also the shape of `Manifest.to_snapshot()`.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from plugins_app.manifest.original import inferred_property, npm_specifier

FieldPath = tuple[str | int, ...]
Finding = tuple[FieldPath, str]

DEFAULT_INTERVAL = 60
# Entrypoints that make a plugin loadable: one of them must be given.
_LOADABLE = frozenset({"register", "init", "on_scan", "on_analyze"})
_PANEL_TEXTS = ("script", "location", "route", "title_key", "icon", "settings_section")
DEFAULT_HEALTH_TIMEOUT = 5


def localized(value: str | Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
    """Return (default text, {language: text}) for a string or a language map.

    The default is English (`en`, then any `en-*`), or else the first language given; a plain
    string has no language map.
    """
    if value is None:
        return "", {}
    if isinstance(value, str):
        return value, {}
    texts = dict(value)
    english = texts.get("en") or next(
        (text for lang, text in texts.items() if lang.startswith(("en-", "en_"))), None
    )
    return english or next(iter(texts.values()), ""), texts


def parse_author(text: str) -> dict[str, str]:
    """Split the npm-style "Name <email> (url)" author string; both parts are optional.

    Plain string operations rather than a regular expression: the text is untrusted, and
    a backtracking pattern over it could be made to take seconds.
    """
    name, url, email = text.strip(), "", ""
    if name.endswith(")") and "(" in name:
        name, _, url = name[:-1].rpartition("(")
        name = name.rstrip()
    if name.endswith(">") and "<" in name:
        name, _, email = name[:-1].rpartition("<")
    return {"name": name.strip(), "email": email.strip(), "url": url.strip()}


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


class _Normaliser:
    """One pass over a schema-valid manifest mapping, collecting errors and warnings."""

    def __init__(self, raw: Mapping[str, Any], skip: frozenset[str]) -> None:
        self.raw = raw
        self.skip = skip
        self.errors: list[Finding] = []
        self.warnings: list[Finding] = []

    def section(self, key: str) -> Any:
        """The raw value of a top-level section, or None when absent or schema-invalid."""
        return None if key in self.skip else self.raw.get(key)

    def pick(self, mapping: Mapping[str, Any], path: FieldPath, names: tuple[str, ...]) -> Any:
        """Value of the first spelling present in `mapping`; later spellings are ignored."""
        present = [name for name in names if name in mapping]
        for ignored in present[1:]:
            self.warnings.append(
                ((*path, ignored), f"ignored: {present[0]} is given and takes precedence")
            )
        return mapping[present[0]] if present else None

    def specifier(self, spec: str | None, path: FieldPath) -> str:
        """Return the stripped specifier, reporting it when PEP 440 rejects it.

        The original Jupiter's `^1.2`, `~1.0` and bare `1.0.0` are translated first.
        """
        spec = (spec or "").strip()
        translated = npm_specifier(spec)
        if translated is not None:
            self.warnings.append((path, f"{spec!r} read as the PEP 440 specifier {translated!r}"))
            return translated
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            hint = ""
            try:
                Version(spec)
                hint = f" (did you mean '=={spec}' or '>={spec}'?)"
            except InvalidVersion:
                pass
            self.errors.append((path, f"{spec!r} is not a valid version specifier{hint}"))
        return spec

    def run(self) -> dict[str, Any]:
        raw = self.raw
        raw_id = raw.get("id")
        plugin_id = raw_id if isinstance(raw_id, str) else ""
        if "id" not in self.skip and keyword.iskeyword(plugin_id):
            self.errors.append((("id",), f"{plugin_id!r} is a Python keyword"))
        version = raw.get("version") if isinstance(raw.get("version"), str) else ""
        if version and "version" not in self.skip:
            try:
                Version(version)
            except InvalidVersion:
                self.errors.append(
                    (("version",), f"{version!r} is not a valid PEP 440 version (e.g. 1.2.0)")
                )
        name, names = localized(self.section("name"))
        description, descriptions = localized(self.section("description"))
        return {
            "id": plugin_id,
            "name": name,
            "names": names,
            "version": version,
            "kind": self.kind(),
            "description": description,
            "descriptions": descriptions,
            "author": self.author(),
            "license": self.section("license") or "",
            "homepage": self.section("homepage") or "",
            "jupiter_version": self.jupiter_version(),
            "dependencies": self.dependencies(plugin_id),
            "extends": self.extends(plugin_id),
            "permissions": self.permissions(),
            "entrypoints": self.entrypoints(),
            "config_schema": self.config_schema() or self.original_config(),
            "capabilities": self.capabilities(),
            "ui": self.ui(name, names),
            "changelog": self.section("changelog") or "",
            "signature": self.section("signature"),
            "python_dependencies": self.python_dependencies(),
            "cli_commands": self.cli_commands(),
            "api": self.api(),
        }

    def kind(self) -> str:
        value = self.section("type") or ""
        if value == "core":
            self.warnings.append((("type",), "core plugins are the host's own; read as system"))
            return "system"
        return str(value)

    def original_config(self) -> dict[str, Any] | None:
        """`config: {schema, defaults}` (original Jupiter) as config_schema version 1."""
        value = self.section("config")
        if value is None:
            return None
        if self.section("config_schema") is not None:
            self.warnings.append(
                (("config",), "ignored: config_schema is given and takes precedence")
            )
            return None
        schema = dict(value.get("schema") or {"type": "object"})
        schema.setdefault("type", "object")
        properties = dict(schema.get("properties") or {})
        for key, default in (value.get("defaults") or {}).items():
            prop = properties.get(key)
            if isinstance(prop, Mapping):
                properties[key] = {**prop, "default": prop.get("default", default)}
            else:
                properties[key] = inferred_property(key, default)
        if properties:
            schema["properties"] = properties
        return {"version": 1, "schema": schema, "migrations": []}

    def python_dependencies(self) -> list[str]:
        result = []
        for i, text in enumerate(self.section("python_dependencies") or []):
            try:
                Requirement(text)
            except InvalidRequirement as error:
                self.errors.append((("python_dependencies", i), f"not a pip requirement: {error}"))
            result.append(text)
        return result

    def cli_commands(self) -> list[dict[str, Any]]:
        cli = self.section("cli") or {}
        result: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, entry in enumerate(cli.get("commands") or []):
            command = {"name": entry, "entrypoint": ""} if isinstance(entry, str) else entry
            if command["name"] in seen:
                self.errors.append(
                    (("cli", "commands", i, "name"), f"duplicate command {command['name']!r}")
                )
            seen.add(command["name"])
            result.append(
                {
                    "name": command["name"],
                    "entrypoint": command["entrypoint"],
                    "description": command.get("description", ""),
                    "parent": command.get("parent", ""),
                    "aliases": list(command.get("aliases") or []),
                }
            )
        return result

    def api(self) -> dict[str, Any] | None:
        value = self.section("api")
        if not value:
            return None
        return {
            "router": value.get("router", ""),
            "prefix": value.get("prefix", ""),
            "tags": list(value.get("tags") or []),
            "routes": [
                {
                    "path": "/" + route["path"].lstrip("/"),
                    "method": route["method"],
                    "entrypoint": route["entrypoint"],
                    "tags": list(route.get("tags") or []),
                }
                for route in value.get("routes") or []
                if isinstance(route, dict)
            ],
        }

    def author(self) -> dict[str, str] | None:
        value = self.section("author")
        if value is None:
            return None
        if isinstance(value, str):
            return parse_author(value)
        return {key: value.get(key, "") for key in ("name", "email", "url")}

    def jupiter_version(self) -> str:
        nested = self.section("jupiter") or {}
        flat = self.section("jupiter_version")
        if "version" in nested:
            if flat is not None:
                self.warnings.append(
                    (("jupiter_version",), "ignored: jupiter.version is given and takes precedence")
                )
            return self.specifier(nested["version"], ("jupiter", "version"))
        return self.specifier(flat, ("jupiter_version",))

    def dependencies(self, plugin_id: str) -> list[dict[str, Any]]:
        value = self.section("dependencies") or []
        if isinstance(value, Mapping):
            entries = [
                (dep_id, spec, False, ("dependencies", dep_id)) for dep_id, spec in value.items()
            ]
        else:
            entries = [
                (item["id"], item.get("version"), item.get("optional", False), ("dependencies", i))
                for i, item in enumerate(value)
            ]
        result: list[dict[str, Any]] = []
        seen: set[str] = set()
        for dep_id, spec, optional, path in entries:
            spec_path = (*path, "version") if isinstance(path[1], int) else path
            if dep_id == plugin_id:
                self.errors.append((path, "a plugin cannot depend on itself"))
            elif dep_id in seen:
                self.errors.append((path, f"duplicate dependency {dep_id!r}"))
            seen.add(dep_id)
            specifier = self.specifier(spec, spec_path)
            result.append({"id": dep_id, "specifier": specifier, "optional": optional})
        return result

    def extends(self, plugin_id: str) -> list[str]:
        value = self.section("extends") or []
        if value is True:
            self.warnings.append((("extends",), "true names no plugin to extend; ignored"))
            return []
        ids = [value] if isinstance(value, str) else list(dict.fromkeys(value))
        if plugin_id in ids:
            self.errors.append((("extends",), "a plugin cannot extend itself"))
        return ids

    def permissions(self) -> list[str]:
        value = self.section("permissions") or []
        if isinstance(value, Mapping):
            return [name for name, granted in value.items() if granted]
        return list(dict.fromkeys(value))

    def entrypoints(self) -> dict[str, str]:
        table = dict(self.section("entrypoints") or {})
        single = self.section("entrypoint")
        if single is None:
            if table and not _LOADABLE & table.keys() and "entrypoints" not in self.skip:
                self.errors.append(
                    (
                        ("entrypoints", "register"),
                        "required field is missing (give register; init for a plugin "
                        "written for the original Jupiter; or on_scan/on_analyze)",
                    )
                )
            return table
        if table.get("register", single) != single:
            self.warnings.append(
                (("entrypoint",), "ignored: entrypoints.register is given and takes precedence")
            )
            return table
        return {"register": single, **table}

    def config_schema(self) -> dict[str, Any] | None:
        value = self.section("config_schema")
        if value is None:
            return None
        version = value.get("version", 1)
        migrations = []
        for i, step in enumerate(value.get("migrations") or []):
            path: FieldPath = ("config_schema", "migrations", i, "to")
            if step["to"] <= step["from"]:
                self.errors.append((path, f"must be greater than from ({step['from']})"))
            elif step["to"] > version:
                self.errors.append(
                    (
                        path,
                        f"migrates to version {step['to']} but config_schema.version is {version}",
                    )
                )
            migrations.append(
                {
                    "from_version": step["from"],
                    "to_version": step["to"],
                    "entrypoint": step["entrypoint"],
                }
            )
        return {"version": version, "schema": value["schema"], "migrations": migrations}

    def capabilities(self) -> dict[str, Any]:
        caps = self.section("capabilities") or {}
        path: FieldPath = ("capabilities",)
        metrics = caps.get("metrics") or {}
        jobs = caps.get("jobs") or {}
        health = self.pick(caps, path, ("health", "health_check")) or {}
        health_path = (*path, "health" if "health" in caps else "health_check")
        interval_names = ("interval", "interval_seconds")
        timeout_names = ("timeout", "default_timeout")
        metrics_interval = self.pick(metrics, (*path, "metrics"), interval_names)
        health_interval = self.pick(health, health_path, interval_names)
        health_timeout = self.pick(health, health_path, timeout_names)
        return {
            "metrics": {
                "enabled": metrics.get("enabled", False),
                "interval": _default(metrics_interval, DEFAULT_INTERVAL),
            },
            "jobs": {
                "timeout": self.pick(jobs, (*path, "jobs"), timeout_names),
                "max_concurrent": jobs.get("max_concurrent"),
            },
            "health": {
                "interval": _default(health_interval, DEFAULT_INTERVAL),
                "timeout": _default(health_timeout, DEFAULT_HEALTH_TIMEOUT),
                "enabled": health.get("enabled", True),
            },
        }

    def ui(self, plugin_name: str, plugin_names: dict[str, str]) -> dict[str, Any]:
        ui = self.section("ui") or {}
        tab = ui.get("tab")
        if tab is None and ui.get("tabs"):
            tab = ui["tabs"][0]
        elif "tabs" in ui and tab is not None:
            self.warnings.append((("ui", "tabs"), "ignored: ui.tab is given and takes precedence"))
        items: dict[str, list[dict[str, Any]]] = {"panels": [], "widgets": []}
        seen: set[str] = set()
        for kind, entries in items.items():
            for i, entry in enumerate(ui.get(kind) or []):
                if entry["id"] in seen:
                    self.errors.append((("ui", kind, i, "id"), f"duplicate id {entry['id']!r}"))
                seen.add(entry["id"])
                title, titles = localized(entry.get("title"))
                entries.append(
                    {
                        "id": entry["id"],
                        "title": title or entry["id"],
                        "titles": titles,
                        "mount_point": entry.get("mount_point", ""),
                        "template": entry.get("template", ""),
                        **{key: entry.get(key, "") for key in _PANEL_TEXTS},
                        "order": entry.get("order"),
                    }
                )
        if tab is not None:
            title, titles = localized(tab.get("title"))
            tab = {
                "id": tab.get("id", "main"),
                "title": title or plugin_name,
                "titles": titles if title else dict(plugin_names),
                "icon": tab.get("icon", ""),
                "template": tab.get("template", ""),
                "script": tab.get("script", ""),
                "order": tab.get("order"),
            }
        return {
            **items,
            "mount_points": list(dict.fromkeys(ui.get("mount_points") or [])),
            "tab": tab,
            # The file form ({path, languages}) is read by `load`, which knows the folder.
            "i18n": {
                lang: texts
                for lang, texts in (ui.get("i18n") or {}).items()
                if lang not in ("path", "languages")
            },
            "assets": {kind: list(ui["assets"].get(kind) or []) for kind in ("js", "css")}
            if ui.get("assets")
            else {},
        }


def normalise(
    raw: Mapping[str, Any], *, skip: frozenset[str] = frozenset()
) -> tuple[dict[str, Any], list[Finding], list[Finding]]:
    """Return (canonical dict, errors, warnings) for a manifest mapping.

    `raw` must already have been validated against plugin.schema.json; top-level sections
    named in `skip` (those with schema errors) are left at their defaults rather than read.
    """
    normaliser = _Normaliser(raw, skip)
    canonical = normaliser.run()
    return canonical, normaliser.errors, normaliser.warnings

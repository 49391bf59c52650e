"""Panels, widgets and assets a plugin declares in its manifest's ``ui`` (SPEC U5, U7, X6).

Each contribution is lazy-loaded into a container whose HTML id is ``plugin.<id>.<item>``
and which carries ``data-plugin="<id>"``. Its HTML comes from a template in the plugin folder,
rendered by a separate Django engine with autoescaping on and no way to turn it off, and/or
from data returned by a renderer registered with ``bridge.register_ui(kind, item, fn)``.
Plugin CSS (``assets/*.css``) is served only when every selector starts with the plugin's
``[data-plugin="<id>"]`` scope: no plugin restyles the console (U5).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tinycss2
from django.template import Context, Engine

from plugins_app.base.errors import JupiterError
from plugins_app.manifest.model import UiContributions, UiItem

HOST_MOUNT_POINTS = ("plugin_page", "project_page")
KINDS = ("panel", "widget")
TEMPLATE_MAX_BYTES = 64 * 1024
ASSET_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
# Ways a template could emit unescaped or executable markup; CSP blocks inline code anyway.
_FORBIDDEN = re.compile(
    r"\|\s*safe|safeseq|{%\s*(autoescape|load|include|extends|ssi|debug)\b"
    r"|<\s*(script|style|iframe|object|embed)\b|<[^>]*\s(on\w+|style)\s*=",
    re.IGNORECASE,
)
_ENGINE = Engine(autoescape=True, libraries={}, string_if_invalid="")


class ContributionError(JupiterError):
    """A contribution that cannot be shown; the message is for the plugin's author."""


@dataclass(frozen=True)
class Contribution:
    kind: str
    id: str
    title: str
    mount_point: str
    template: str

    def dom_id(self, plugin_id: str) -> str:
        return f"plugin.{plugin_id}.{self.id}"


def _mount(item: UiItem) -> str:
    return item.mount_point if item.mount_point in HOST_MOUNT_POINTS else "plugin_page"


def contributions(ui: UiContributions) -> list[Contribution]:
    """Panels and widgets the manifest declares; an unknown (or no) mount point means the
    plugin's own page (reported by ``mount_warnings``)."""
    return [
        Contribution(
            kind=kind,
            id=item.id,
            title=item.title or item.id,
            mount_point=_mount(item),
            template=item.template,
        )
        for kind, items in (("panel", ui.panels), ("widget", ui.widgets))
        for item in items
    ]


def mount_warnings(ui: UiContributions) -> list[str]:
    """Why some contributions land on the plugin page: mount points this console lacks."""
    declared = (item.mount_point for item in (*ui.panels, *ui.widgets) if item.mount_point)
    unknown = sorted({*ui.mount_points, *declared} - set(HOST_MOUNT_POINTS))
    return [
        f"mount point {name!r} is not one this console offers "
        f"({', '.join(HOST_MOUNT_POINTS)}); its contributions are shown on the plugin page"
        for name in unknown
    ]


def contained(root: Path, relative: str) -> Path:
    """``root/relative`` if it stays inside ``root`` once links are followed (X6), else
    ``ContributionError``: no ``..``, no absolute path, no symlink pointing out."""
    if (
        not relative
        or "\x00" in relative  # the OS refuses it: a 404 here, not a ValueError (a 500)
        or relative.startswith(("/", "\\"))
        or ".." in re.split(r"[\\/]", relative)
    ):
        raise ContributionError(f"{relative!r} is not a path inside the plugin folder")
    base = Path(os.path.realpath(root))
    target = Path(os.path.realpath(base / relative))
    if not target.is_relative_to(base) or not target.is_file():
        raise ContributionError(f"{relative!r} is not a file inside the plugin folder")
    return target


def render_template(root: Path, relative: str, context: Mapping[str, Any]) -> str:
    """Render a plugin's template with autoescaping that the template cannot switch off."""
    path = contained(root, relative)
    if path.stat().st_size > TEMPLATE_MAX_BYTES:
        raise ContributionError(f"{relative} is larger than {TEMPLATE_MAX_BYTES // 1024} KB")
    source = path.read_text(encoding="utf-8", errors="replace")
    if match := _FORBIDDEN.search(source):
        raise ContributionError(f"{relative} uses {match.group(0).strip()!r}, which is not allowed")
    try:
        return _ENGINE.from_string(source).render(Context(dict(context), autoescape=True))
    except Exception as exc:
        raise ContributionError(f"{relative} failed to render: {exc}") from exc


def _selectors(prelude: list[Any]) -> list[list[Any]]:
    """Split a selector list on its top-level commas (commas inside ``:is(...)`` stay)."""
    groups: list[list[Any]] = [[]]
    for token in prelude:
        if token.type == "literal" and token.value == ",":
            groups.append([])
        elif token.type not in ("whitespace", "comment") or groups[-1]:
            groups[-1].append(token)
    return groups


def _scoped(selector: list[Any], plugin_id: str) -> bool:
    if not selector or selector[0].type != "[] block":
        return False
    inside = re.sub(r"[\s\"']", "", tinycss2.serialize(selector[0].content))
    return inside == f"data-plugin={plugin_id}"


def css_problems(css: str, plugin_id: str) -> list[str]:
    """Why a plugin stylesheet is refused; empty when every rule is scoped to the plugin."""
    scope = f'[data-plugin="{plugin_id}"]'
    problems: list[str] = []

    def check(rules: list[Any]) -> None:
        for rule in rules:
            if rule.type == "error":
                problems.append(f"unreadable CSS: {rule.message}")
            elif rule.type == "at-rule":
                if rule.lower_at_keyword in ("media", "supports") and rule.content is not None:
                    check(tinycss2.parse_rule_list(rule.content, True, True))
                else:
                    problems.append(f"@{rule.lower_at_keyword} is not allowed in plugin CSS")
            elif rule.type == "qualified-rule":
                for selector in _selectors(rule.prelude):
                    if not _scoped(selector, plugin_id):
                        text = tinycss2.serialize(selector).strip()
                        problems.append(f"selector {text!r} is not scoped under {scope}")

    check(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))
    return problems


def i18n_messages(ui: UiContributions, plugin_id: str, language: str) -> dict[str, str]:
    """The plugin's messages in ``language`` (else English), keyed ``plugin.<id>.<key>``."""
    table = ui.i18n
    chosen = table.get(language) or table.get(language.split("-")[0]) or table.get("en") or {}
    return {f"plugin.{plugin_id}.{key}": str(text) for key, text in chosen.items()}

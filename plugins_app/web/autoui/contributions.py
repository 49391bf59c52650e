"""Panels, widgets and the tab a plugin declares in its manifest's ``ui`` (SPEC U5-U7).

Where each one goes is decided here; how it is shown is ``web/frames``: everything a
plugin authors (its templates, its renderers' data, its JavaScript and CSS) is shown in a
sandboxed frame of its own, never in the console's page.

Places: ``plugin_page`` (the default), ``project_page`` (the page of every project enabling
the plugin), ``sidebar`` (the plugin's one tab, listed under **Views** with its icon, in
``order``) and ``settings`` (beside the plugin's settings form, grouped by
``settings_section``). ``location`` (the original Jupiter's field: ``sidebar``,
``settings``, ``both`` or ``none``, and here also ``plugin_page``, ``project_page``) wins
over ``mount_point``; a mount point this console lacks falls back to the plugin page, with a
warning. Titles come from ``title_key`` when the plugin's messages translate it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.template import Context, Engine

from plugins_app.base.errors import JupiterError
from plugins_app.manifest.model import UiContributions, UiItem

HOST_MOUNT_POINTS = ("plugin_page", "project_page")
PLACES = ("plugin_page", "project_page", "sidebar", "settings")
KINDS = ("panel", "widget", "tab")
DEFAULT_ORDER = 100
TEMPLATE_MAX_BYTES = 64 * 1024
# A separate engine with no loaders, no tag libraries and autoescaping on: a template is
# rendered from its own text only. It runs inside the panel's sandboxed frame, so this is
# hygiene for the values Jupiter puts in its context, not the security boundary.
_ENGINE = Engine(autoescape=True, libraries={}, string_if_invalid="")
_DEBUG_TAG = re.compile(r"{%\s*debug\b")


class ContributionError(JupiterError):
    """A contribution that cannot be shown; the message is for the plugin's author."""


@dataclass(frozen=True)
class Contribution:
    kind: str
    id: str
    title: str
    places: tuple[str, ...] = ("plugin_page",)
    template: str = ""
    script: str = ""
    icon: str = ""
    order: int = DEFAULT_ORDER
    title_key: str = ""
    settings_section: str = ""

    @property
    def mount_point(self) -> str:
        """The first place it is shown (where the pre-frame console showed it)."""
        return self.places[0]

    def dom_id(self, plugin_id: str) -> str:
        return f"plugin.{plugin_id}.{self.id}"

    def titled(self, messages: Mapping[str, str]) -> str:
        """Its title in the user's language when ``title_key`` is translated."""
        return lookup(messages, self.title_key, "") or self.title


def _places(item: UiItem) -> tuple[str, ...]:
    if item.location == "both":
        return ("sidebar", "settings")
    if item.location in PLACES:
        return (item.location,)
    if item.mount_point in HOST_MOUNT_POINTS:
        return (item.mount_point,)
    return ("plugin_page",)


def contributions(ui: UiContributions) -> list[Contribution]:
    """The tab (when it has a template or a script), then panels and widgets, each group by
    ``order`` (then as declared)."""
    found: list[Contribution] = []
    tab = ui.tab
    if tab is not None and (tab.template or tab.script):
        found.append(
            Contribution(
                kind="tab",
                id=tab.id,
                title=tab.title or tab.id,
                places=("sidebar",),
                template=tab.template,
                script=tab.script,
                icon=tab.icon,
                order=tab.order if tab.order is not None else DEFAULT_ORDER,
            )
        )
    for kind, items in (("panel", ui.panels), ("widget", ui.widgets)):
        declared = [
            Contribution(
                kind=kind,
                id=item.id,
                title=item.title or item.id,
                places=_places(item),
                template=item.template,
                script=item.script,
                icon=item.icon,
                order=item.order if item.order is not None else DEFAULT_ORDER,
                title_key=item.title_key,
                settings_section=item.settings_section,
            )
            for item in items
        ]
        found.extend(sorted(declared, key=lambda c: c.order))
    return found


def at(ui: UiContributions, place: str) -> list[Contribution]:
    """What is shown at ``place`` (the tab's own frame is shown on the tab page only)."""
    return [c for c in contributions(ui) if place in c.places]


def find(ui: UiContributions, kind: str, item: str) -> Contribution | None:
    return next((c for c in contributions(ui) if (c.kind, c.id) == (kind, item)), None)


@dataclass(frozen=True)
class Tab:
    """A plugin's one tab (U5): its sidebar panels, and ``ui.tab``'s own frame if any."""

    title: str
    icon: str
    order: int


def tab_of(ui: UiContributions, plugin_name: str, messages: Mapping[str, str]) -> Tab | None:
    """The plugin's tab, or None when it declares no tab and no sidebar panel."""
    shown = at(ui, "sidebar")
    if ui.tab is None and not shown:
        return None
    panels = [c for c in shown if c.kind != "tab"]
    title = ui.tab.title if ui.tab is not None and ui.tab.title else ""
    if not title:
        title = panels[0].titled(messages) if len(panels) == 1 else plugin_name
    icon = ui.tab.icon if ui.tab is not None and ui.tab.icon else ""
    if not icon:
        icon = next((c.icon for c in shown if c.icon), "")
    if ui.tab is not None and ui.tab.order is not None:
        order = ui.tab.order
    else:
        order = min((c.order for c in shown), default=DEFAULT_ORDER)
    return Tab(title=title, icon=icon, order=order)


def mount_warnings(ui: UiContributions) -> list[str]:
    """Why some contributions land on the plugin page: mount points this console lacks."""
    declared = (
        item.mount_point
        for item in (*ui.panels, *ui.widgets)
        if item.mount_point and not item.location
    )
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


def render_template(source: str, relative: str, context: Mapping[str, Any]) -> str:
    """Render a plugin template's text (read by ``web.frames.files``) with autoescaping."""
    if len(source.encode("utf-8")) > TEMPLATE_MAX_BYTES:
        raise ContributionError(f"{relative} is larger than {TEMPLATE_MAX_BYTES // 1024} KB")
    if _DEBUG_TAG.search(source):  # it would print the host's loaded module names
        raise ContributionError(f"{relative} uses {{% debug %}}, which is not available")
    try:
        return _ENGINE.from_string(source).render(Context(dict(context), autoescape=True))
    except Exception as exc:
        raise ContributionError(f"{relative} failed to render: {exc}") from exc


def messages_for(ui: UiContributions, language: str) -> dict[str, str]:
    """The plugin's messages in ``language`` (else its base language, else English), keyed
    as the plugin wrote them; ``ui.i18n`` holds inline maps and ``{path, languages}`` files
    alike (read when the manifest is loaded)."""
    table = ui.i18n
    chosen = table.get(language) or table.get(language.split("-")[0]) or table.get("en") or {}
    return {str(key): str(text) for key, text in chosen.items()}


def i18n_messages(ui: UiContributions, plugin_id: str, language: str) -> dict[str, str]:
    """The same messages keyed ``plugin.<id>.<key>`` (a key already so spelled is kept)."""
    prefix = f"plugin.{plugin_id}."
    return {
        key if key.startswith(prefix) else prefix + key: text
        for key, text in messages_for(ui, language).items()
    }


def lookup(messages: Mapping[str, str], key: str, fallback: str) -> str:
    """``key`` in ``messages``, also without a ``plugin.<id>.`` prefix; else ``fallback``."""
    if not key:
        return fallback
    if key in messages:
        return messages[key]
    parts = key.split(".", 2)
    if len(parts) == 3 and parts[0] == "plugin" and parts[2] in messages:
        return messages[parts[2]]
    return fallback

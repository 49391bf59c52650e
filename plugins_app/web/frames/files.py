"""Which files of a plugin folder a frame may load, and reading them as signed (X2, X6).

Served: JavaScript modules, style sheets, images and fonts, from the plugin's ``assets/``
folder or from a folder holding a file the manifest names (``ui.assets.js``/``css``, a
panel's or the tab's ``script``), so a module's relative imports work. Never: another type
(Python, YAML, JSON, HTML...), a path with a hidden segment, ``..``, an absolute path or a
link leading out of the folder. Every file read for a browser is compared with the
plugin's signature (``trust.policy.served_file_refusal``): the bytes sent are the bytes
checked, so a file edited after the plugin loaded is refused, not served.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from plugins_app.manifest.model import UiContributions
from plugins_app.models import InstalledPlugin
from plugins_app.trust.policy import served_file_refusal
from plugins_app.web.autoui.contributions import ContributionError, contained

ASSETS_FOLDER = "assets"
STYLESHEET = "assets/style.css"
MAX_FILE_BYTES = 4 * 1024 * 1024
WEB_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}
SCRIPT_TYPES = (".js", ".mjs")


class FileRefused(ContributionError):
    """A file a frame asked for that is not served; the message is for logs and authors."""


def declared_scripts(ui: UiContributions) -> tuple[str, ...]:
    """Every script the manifest names (``ui.assets.js``, panels' and the tab's ``script``)."""
    named = [*ui.assets.get("js", ()), *(item.script for item in (*ui.panels, *ui.widgets))]
    if ui.tab is not None:
        named.append(ui.tab.script)
    return tuple(dict.fromkeys(path for path in named if path))


def web_folders(ui: UiContributions) -> tuple[str, ...]:
    """Folders whose web files are served: ``assets/`` and those of declared files."""
    named = [*declared_scripts(ui), *ui.assets.get("css", ())]
    folders = [ASSETS_FOLDER, *(posixpath.dirname(path) for path in named)]
    return tuple(dict.fromkeys(folders))


def _refuse_shape(relative: str) -> None:
    parts = re.split(r"[\\/]", relative)
    if (
        not relative
        or "\x00" in relative
        or relative.startswith(("/", "\\"))
        or any(part in ("", ".", "..") or part.startswith(".") for part in parts)
    ):
        raise FileRefused(f"{relative!r} is not a path the plugin's frames may load")


def web_file(root: Path, ui: UiContributions, relative: str) -> tuple[Path, str]:
    """(path, content type) of a web file a frame may load, or ``FileRefused``."""
    _refuse_shape(relative)
    content_type = WEB_TYPES.get(posixpath.splitext(relative)[1].lower())
    if content_type is None:
        raise FileRefused(f"{relative}: this kind of file is not served")
    folders = web_folders(ui)
    if not any(
        relative.startswith(folder + "/") if folder else "/" not in relative for folder in folders
    ):
        raise FileRefused(
            f"{relative} is not in assets/ nor beside a file ui.assets or a script names"
        )
    return contained(root, relative), content_type


def read_signed(plugin: InstalledPlugin, relative: str, path: Path | None = None) -> bytes:
    """The bytes of ``relative`` in the plugin's folder, if its signature covers them."""
    root = Path(plugin.source_path)
    target = path or contained(root, relative)
    if target.stat().st_size > MAX_FILE_BYTES:
        raise FileRefused(f"{relative} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    data = target.read_bytes()
    refusal = served_file_refusal(plugin, relative, data, root=root)
    if refusal is not None:
        raise FileRefused(refusal)
    return data


def stylesheets(root: Path, ui: UiContributions) -> tuple[str, ...]:
    """Style sheets every frame of the plugin links: ``ui.assets.css``, then
    ``assets/style.css`` when it exists."""
    named = list(ui.assets.get("css", ()))
    if (root / STYLESHEET).is_file() and STYLESHEET not in named:
        named.append(STYLESHEET)
    return tuple(named)

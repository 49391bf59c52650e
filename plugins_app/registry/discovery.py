"""Finding plugins on disk: one folder with a `plugin.yaml` per plugin (SPEC M3, M5).

Discovery reads manifests and nothing else: it never imports plugin code, so a plugin that is
broken, untrusted or incompatible can still be listed with its reason. Every immediate
subfolder of each scanned directory that holds a `plugin.yaml` becomes one
`DiscoveredPlugin`; problems are reported in its result instead of being raised, so one bad
plugin never stops the host.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from plugins_app.manifest.load import load_manifest
from plugins_app.manifest.model import MANIFEST_FILENAME, ManifestIssue, ManifestResult
from plugins_app.manifest.safe_yaml import DEFAULT_MAX_BYTES

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DiscoveredPlugin:
    """A plugin folder and what its manifest says.

    `duplicate_of` is set when another folder, scanned earlier, already provides the same
    plugin id: this one is then an error, and must not replace the first one's records.
    """

    path: Path
    result: ManifestResult
    duplicate_of: Path | None = None

    @property
    def id(self) -> str:
        """The manifest's id, or the folder name when the manifest is invalid."""
        manifest = self.result.manifest
        return manifest.id if manifest is not None else self.path.name


def _plugin_folders(directory: Path) -> Iterator[tuple[Path, str | None]]:
    """(folder, refusal reason or None) for each plugin folder of `directory`, by name.

    Dot folders and `__pycache__` are skipped, and so are folders without a plugin.yaml; a
    link to a folder outside `directory` is not followed but reported, so the operator sees
    why that plugin is missing. A missing `directory` simply has no plugins; an unreadable
    one is logged and skipped.
    """
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as exc:
        logger.warning("cannot scan plugin directory %s: %s", directory, exc)
        return
    base = Path(os.path.realpath(directory))
    for entry in entries:
        if entry.name.startswith(".") or entry.name == "__pycache__" or not entry.is_dir():
            continue
        path = Path(entry.path)
        if not os.path.lexists(path / MANIFEST_FILENAME):
            continue
        target = Path(os.path.realpath(path)) if entry.is_symlink() else None
        if target is not None and not target.is_relative_to(base):
            yield path, f"link to {target}, outside {directory}: not followed"
        else:
            yield path, None


def _error(
    path: Path, issue: ManifestIssue, result: ManifestResult | None = None
) -> ManifestResult:
    source = path / MANIFEST_FILENAME
    return ManifestResult(source, None, (issue,), result.warnings if result else ())


def discover(dirs: Iterable[Path], *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[DiscoveredPlugin]:
    """Load the manifest of every plugin folder in `dirs`, without importing any code.

    ``max_bytes`` caps each plugin.yaml (``JUPITER_MANIFEST_MAX_BYTES`` in the runtime, the
    same cap the installer applies to archives).

    Directories are scanned in the order given and their folders by name; when two folders
    claim the same id, the first one wins and the later one is returned as an error naming
    both paths. A folder with an invalid manifest claims its folder name: it must not take
    over the row (and the pages) of the plugin of that id found earlier, a bundled one say.
    """
    found: list[DiscoveredPlugin] = []
    owners: dict[str, Path] = {}
    for directory in dirs:
        for path, refusal in _plugin_folders(Path(directory)):
            if refusal is not None:
                found.append(DiscoveredPlugin(path, _error(path, ManifestIssue("", refusal))))
                continue
            result = load_manifest(path, max_bytes=max_bytes)
            claimed = DiscoveredPlugin(path, result).id
            if claimed in owners:
                first = owners[claimed]
                issue = ManifestIssue(
                    "id",
                    f"duplicate plugin id {claimed!r}: already provided by {first}; "
                    f"{path} is ignored",
                )
                found.append(DiscoveredPlugin(path, _error(path, issue, result), first))
                continue
            owners[claimed] = path
            found.append(DiscoveredPlugin(path, result))
    return found

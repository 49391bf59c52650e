"""Where a project may be rooted (SPEC X4, X6).

Registering a project makes Jupiter write ``<name>.jupiter.yaml`` at its root and lets the
plugins enabled in it read the files below. So a root must lie under one of the base folders
the operator allowed (``JUPITER_PROJECT_ROOTS``); it may be neither inside nor above Jupiter's
own tree or its data (``var/``: keys, database, secret key), unless the operator allowed a base
inside the tree on purpose (the repository's ``examples/``); and never inside a plugin folder.
"""

from __future__ import annotations

from pathlib import Path

from plugins_app.base import conf
from plugins_app.projects.errors import ProjectError


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_root(root: Path) -> None:
    """Raise ``ProjectError("root_path", ...)`` unless ``root`` (resolved) may be a project."""
    policy = conf.project_roots()
    bases = [base for base in policy.allowed if _within(root, base)]
    if not bases:
        allowed = ", ".join(str(base) for base in policy.allowed) or "none configured"
        raise ProjectError(
            "root_path",
            f"{root} is outside the folders projects may live in ({allowed}; "
            "JUPITER_PROJECT_ROOTS)",
        )
    for folder in policy.inside_only:
        if _within(root, folder):
            raise ProjectError("root_path", f"{root} is inside the plugin folder {folder}")
    for folder in policy.protected:
        if _within(folder, root) or (
            _within(root, folder)
            and not any(base != folder and _within(base, folder) for base in bases)
        ):
            raise ProjectError(
                "root_path", f"{root} overlaps Jupiter's own files ({folder}); choose another"
            )

"""Scanning a project (SPEC D2, D3): ignore rules, the import graph, history, plugin hooks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins_app.jobs.api import executor, submit
from plugins_app.jobs.scan import ImportCache, raw_imports, walk
from plugins_app.kernel.runtime import boot
from plugins_app.models import HistoryKind, JobState, ProjectGraph
from plugins_app.projects.service import register_project, set_plugin_enabled
from plugins_app.services.history import graph_of, latest, timeline

pytestmark = pytest.mark.usefixtures("job_worker")


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_walk_honours_gitignore_files_at_every_level_and_skips_vcs(tmp_path):
    write(
        tmp_path,
        {
            ".gitignore": "*.log\nbuild/\n!keep.log\n",
            ".jupiterignore": "secrets/\n",
            "app.py": "",
            "debug.log": "",
            "keep.log": "",
            "build/out.py": "",
            "secrets/key.txt": "",
            "pkg/.gitignore": "generated_*.py\n",
            "pkg/generated_a.py": "",
            "pkg/real.py": "",
            "other/generated_b.py": "",
            ".git/config": "",
        },
    )
    (tmp_path / "link.py").symlink_to("/etc/hostname")
    files, ignored, truncated = walk(tmp_path, 1000)
    assert files == [
        ".gitignore",
        ".jupiterignore",
        "app.py",
        "keep.log",
        "other/generated_b.py",
        "pkg/.gitignore",
        "pkg/real.py",
    ]
    assert ignored == 6  # .git, build, secrets, debug.log, link.py, pkg/generated_a.py
    assert not truncated
    assert walk(tmp_path, 3)[2] is True


@pytest.mark.django_db(transaction=True)
def test_scan_records_history_builds_the_graph_and_runs_legacy_hooks(tmp_path, runtime_dirs):
    root = tmp_path / "proj"
    write(
        root,
        {
            "src/app/__init__.py": "",
            "src/app/core.py": "import os\nfrom . import util\nfrom .util import helper\n",
            "src/app/util.py": "import json\nfrom . import core\ndef helper():\n    return 1\n",
            "src/app/broken.py": "def (:\n",
            "notes.md": "hi",
        },
    )
    boot()
    project = register_project("proj", root)
    set_plugin_enabled(project, "legacy_style", True)
    job = submit("", "scan", project=project)
    assert executor().wait(str(job.pk), 20)
    job.refresh_from_db()
    assert job.state == JobState.COMPLETED, job.error
    assert job.progress == 100
    scan = latest(project, HistoryKind.SCAN)
    assert scan.data["python_files"] == 4
    assert scan.data["external_modules"] == ["json", "os"]
    assert scan.data["plugins"]["legacy_style"] == {"result": {"scanned": str(root)}, "error": ""}
    graph = graph_of(project)
    assert graph.imports_of("src/app/core.py") == ["os", "src/app/__init__.py", "src/app/util.py"]
    assert graph.imported_by("src/app/util.py") == ["src/app/core.py"]
    stored = ProjectGraph.objects.get(project=project)
    assert stored.cycles == [["src/app/core.py", "src/app/util.py"]]  # for the graph view
    assert {item.kind for item in timeline(project)} == {"job", "scan"}


def test_only_import_statements_are_parsed_wherever_they_are() -> None:
    source = b'''"""Module.

import not_this
from the docs, nothing
"""
import os, json as j
from . import util
from ..pkg.mod import (
    a,
    b,  # comment (
)
if TYPE_CHECKING:
    from typing import Any
def f():
    import inner \\
        as alias
    text = """
from fake import nothing
"""
'''
    assert raw_imports(source) == (
        ("os", 0, ()),
        ("json", 0, ()),
        ("", 1, ("util",)),
        ("pkg.mod", 2, ("a", "b")),
        ("typing", 0, ("Any",)),
        ("inner", 0, ()),
    )


def test_imports_fall_back_to_the_whole_file_and_never_fail() -> None:
    tricky = b"x = '''\nfrom here on\n''' + \"\"\"\"\"\"\nimport real\n"
    assert raw_imports(tricky) == (("real", 0, ()),)
    assert raw_imports(b"import (\n") == ()
    # Only the import lines are parsed: a syntax error elsewhere no longer hides them.
    assert raw_imports(b"def (:\nimport os\n") == (("os", 0, ()),)
    assert raw_imports(b"x = 1\n") == ()


def test_import_cache_parses_a_file_once_until_it_changes(tmp_path: Path, monkeypatch) -> None:
    from plugins_app.jobs import scan

    calls: list[bytes] = []
    original = scan.raw_imports
    monkeypatch.setattr(scan, "raw_imports", lambda b: calls.append(b) or original(b))
    cache = ImportCache()
    file = tmp_path / "m.py"
    file.write_text("import os\n")
    twin = tmp_path / "twin.py"
    twin.write_text("import os\n")
    assert cache.imports(str(file)) == (("os", 0, ()),)
    assert cache.imports(str(file)) == (("os", 0, ()),)
    assert cache.imports(str(twin)) == (("os", 0, ()),)  # same bytes: same digest
    assert len(calls) == 1
    file.write_text("import sys\n")
    os.utime(file, ns=(1, 1))
    assert cache.imports(str(file)) == (("sys", 0, ()),)
    assert len(calls) == 2

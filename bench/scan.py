"""Benchmark: the host's scan, its import graph and code_analyzer on a 120,000-file tree.

Run with `python bench/scan.py` (or `make bench`). The generated tree has 20,001 Python files
(about 60 lines each: imports between modules, eight functions of varied complexity) among
100,000 other files, a root `.gitignore` and ignored build folders. In the same run, beside
their floors: the walk beside `rg --files` and a bare `os.scandir`; the import graph cold and
warm beside `ast.parse` of every file; the scan job (walk, rules, graph, records) beside
`rg --files`; a rescan after one file changed; code_analyzer (ruff measuring, through the
Bridge double's runner with `run_commands` granted) cold and after one change, beside
`ruff check --select C901 --output-format json`. Goals (issue 17) are printed beside each.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-scan-"))
os.environ["JUPITER_VAR_DIR"] = str(WORK / "var")
os.environ["JUPITER_LOG_LEVEL"] = "WARNING"
os.environ["JUPITER_SCAN_MAX_FILES"] = "1000000"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")

PYTHON_FILES = 20_001
OTHER_FILES = 100_000
IGNORED_FILES = 3_000
PER_DIRECTORY = 100
EXCLUDE = ("--no-cache", "--extend-exclude=build")


def _module(n: int) -> str:
    lines = [
        f'"""Module {n}: generated for the scan benchmark."""',
        "from __future__ import annotations",
        "",
        "import os",
        f"from pkg.d{(n + 7) % 200}.m{(n + 7) % PYTHON_FILES} import f0",
        f"from . import m{n - n % PER_DIRECTORY}",
        "",
    ]
    for f in range(8):
        lines += [f"def f{f}(x, y):", '    """Sum things."""', "    total = 0"]
        lines += [f"    if x > {b}:\n        total += {b}" for b in range((n + f) % 6)]
        lines += ["    for i in range(y):", "        total += i", "    return total", ""]
    return "\n".join(lines) + "\n"


def _tree() -> Path:
    root = WORK / "tree"
    (root / ".gitignore").parent.mkdir(parents=True)
    (root / ".gitignore").write_text("*.log\nbuild/\n")
    for n in range(PYTHON_FILES):
        folder = root / "pkg" / f"d{n // PER_DIRECTORY}"
        if n % PER_DIRECTORY == 0:
            folder.mkdir(parents=True)
        (folder / f"m{n}.py").write_text(_module(n))
    for n in range(OTHER_FILES):
        folder = root / "assets" / f"a{n // PER_DIRECTORY}"
        if n % PER_DIRECTORY == 0:
            folder.mkdir(parents=True)
        (folder / f"f{n}.{('txt', 'json', 'md', 'csv')[n % 4]}").write_text(f"asset {n}\n")
    for n in range(IGNORED_FILES):
        folder = root / "build" / f"b{n // PER_DIRECTORY}"
        if n % PER_DIRECTORY == 0:
            folder.mkdir(parents=True)
        (folder / f"gen{n}.py").write_text("import os\n")
    return root


def _time(func: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = func()
    return time.perf_counter() - started, value


def _scandir_floor(top: str) -> int:
    count, stack = 0, [top]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    count += 1
    return count


def _ast_floor(root: Path, files: list[str]) -> None:
    for path in files:
        if path.endswith(".py"):
            ast.parse((root / path).read_bytes())


def _line(label: str, seconds: float, reference: str, ratio: float, goal: str) -> None:
    print(f"{label:44} {seconds * 1000:9.0f} ms  {ratio:6.2f}x {reference:28} goal {goal}")


def _analyzer(root: Path) -> Any:
    from plugins_app.authoring.testing import BridgeDouble, plugin_module

    granted = WORK / "code_analyzer"
    shutil.copytree(ROOT / "plugins" / "code_analyzer", granted)
    yaml = granted / "plugin.yaml"
    yaml.write_text(yaml.read_text().replace("  - fs_read\n", "  - fs_read\n  - run_commands\n"))
    bridge = BridgeDouble.from_plugin_dir(
        granted, projects={"t": root}, config={"ruff": False, "exclude": ["build"]}
    )
    plugin_module(granted, "analyzer").register(bridge)
    return bridge.registration.public_api


def main() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from plugins_app.jobs import scan
    from plugins_app.models import Project

    started = time.perf_counter()
    root = _tree()
    print(
        f"Tree: {PYTHON_FILES + OTHER_FILES + IGNORED_FILES:,} files "
        f"({PYTHON_FILES:,} Python, {IGNORED_FILES:,} ignored) written in "
        f"{time.perf_counter() - started:.1f} s"
    )
    rg = shutil.which("rg")
    rg_time = 0.0
    if rg:
        rg_time, _ = _time(
            lambda: subprocess.run(
                [rg, "--files", "--hidden", "--no-require-git", str(root)],
                check=True,
                capture_output=True,
            )
        )
        print(f"{'rg --files (reference)':44} {rg_time * 1000:9.0f} ms")
    else:
        print("rg --files: skipped, ripgrep is not installed (apt-get install ripgrep)")
    scandir_time, _ = _time(lambda: _scandir_floor(str(root)))
    print(f"{'os.scandir, no rules (floor)':44} {scandir_time * 1000:9.0f} ms")
    walk_time, (files, _, _) = _time(lambda: scan.walk(root, 1_000_000))
    print(f"{'walk (ignore rules honoured)':44} {walk_time * 1000:9.0f} ms  {len(files):,} kept")
    ast_time, _ = _time(lambda: _ast_floor(root, files))
    print(f"{'ast.parse of every Python file (floor)':44} {ast_time * 1000:9.0f} ms")
    scan.IMPORTS = scan.ImportCache()
    cold_graph, (_, edges) = _time(lambda: scan.build_graph(root, files, lambda f, m: None))
    _line("import graph, cold", cold_graph, "of ast.parse", cold_graph / ast_time, "<= 1x")
    warm_graph, _ = _time(lambda: scan.build_graph(root, files, lambda f, m: None))
    _line("import graph, unchanged files", warm_graph, "of ast.parse", warm_graph / ast_time, "")

    project = Project.objects.create(name="tree", root_path=str(root))
    job = SimpleNamespace(
        id=None,
        project=project,
        progress=lambda *a: None,
        raise_if_cancelled=lambda: None,
    )
    scan.IMPORTS = scan.ImportCache()
    cold_scan, summary = _time(lambda: scan.run_scan(job))
    warm_scan, _ = _time(lambda: scan.run_scan(job))
    changed = root / "pkg" / "d3" / "m300.py"
    changed.write_text(changed.read_text() + "import json\n")
    rescan, _ = _time(lambda: scan.run_scan(job))
    if rg_time:
        _line("scan job, cold (first scan)", cold_scan, "of rg --files", cold_scan / rg_time, "")
        _line("scan job, unchanged files", warm_scan, "of rg --files", warm_scan / rg_time, "<= 5x")
    print(
        f"{'rescan after one file changed':44} {rescan * 1000:9.0f} ms  "
        f"{'ok' if rescan < 1 else 'SLOW':>7} {'':28} goal < 1000 ms"
    )
    print(
        f"  ({summary['files']:,} files, {summary['ignored']:,} ignored, "
        f"{summary['internal_imports']:,} internal imports, {len(edges):,} edges)"
    )

    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    ruff_time, _ = _time(
        lambda: subprocess.run(
            [ruff, "check", "--select=C901", "--output-format=json", "--exit-zero", *EXCLUDE, "."],
            cwd=root,
            check=True,
            capture_output=True,
        )
    )
    print(f"{'ruff check --select C901 (reference)':44} {ruff_time * 1000:9.0f} ms")
    api = _analyzer(root)
    cold, report = _time(lambda: api.report("t"))
    _line("code_analyzer, cold (ruff measuring)", cold, "of ruff", cold / ruff_time, "<= 3x")
    unchanged, _ = _time(lambda: api.report("t"))
    changed.write_text(changed.read_text() + "def g(a):\n    return a or 1\n")
    one, again = _time(lambda: api.report("t"))
    _line("code_analyzer, unchanged files", unchanged, "of ruff", unchanged / ruff_time, "")
    _line("code_analyzer, one file changed", one, "of ruff", one / ruff_time, "< 1000 ms")
    print(
        f"  ({report['totals']['files']:,} files, {report['totals']['functions']:,} functions, "
        f"{len(report['findings']):,} findings; after the change "
        f"{again['totals']['functions']:,} functions)"
    )
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: code_analyzer and ai_helper on a synthetic project, and the scaffold.

Run with `python bench/analyzers.py` (or `make bench`). The project has 1,000 Python files of
about 120 lines each (functions of varied complexity, imports between modules, a few import
cycles). Timed, through the Bridge double (no database, the plugins' own code paths):
code_analyzer's report cold and warm (unchanged files: the cached report), ai_helper's
suggestions and the for-AI bundle (Markdown and JSON), and writing one scaffolded plugin.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = Path(tempfile.mkdtemp(prefix="jupiter-bench-analyzers-"))
os.environ["JUPITER_VAR_DIR"] = str(WORK / "var")
os.environ["JUPITER_LOG_LEVEL"] = "WARNING"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jupiter_site.settings")

FILES = 1000
FUNCTIONS_PER_FILE = 8


def _module(n: int) -> str:
    lines = [f'"""Module {n}."""', "", f"from pkg import m{(n + 1) % FILES}", ""]
    for f in range(FUNCTIONS_PER_FILE):
        branches = (n + f) % 9
        lines += [f"def f{f}(x, y):", "    total = 0"]
        lines += [f"    if x > {b}:\n        total += {b}" for b in range(branches)]
        lines += ["    for i in range(y):", "        total += i", "    return total", ""]
    return "\n".join(lines) + "\n"


def _project() -> Path:
    root = WORK / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    for n in range(FILES):
        (root / "pkg" / f"m{n}.py").write_text(_module(n))
    (root / "tests").mkdir()
    for n in range(0, FILES, 10):
        (root / "tests" / f"test_m{n}.py").write_text(f"def test_m{n}():\n    assert True\n")
    return root


def _timed(func, repeat: int = 3) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def main() -> None:
    import django

    django.setup()
    from plugins_app.authoring.scaffold import ScaffoldOptions, scaffold
    from plugins_app.authoring.testing import BridgeDouble, plugin_module

    bundled = ROOT / "plugins"
    root = _project()
    lines = sum(p.read_text().count("\n") for p in root.rglob("*.py"))
    edges = [(f"pkg/m{n}.py", f"pkg/m{(n + 1) % FILES}.py", True) for n in range(0, FILES, 50)]
    edges += [(f"pkg/m{(n + 1) % FILES}.py", f"pkg/m{n}.py", True) for n in range(0, FILES, 50)]

    analyzer_bridge = BridgeDouble.from_plugin_dir(
        bundled / "code_analyzer", projects={"p": root}, config={"max_complexity": 6}
    )
    plugin_module(bundled / "code_analyzer", "analyzer").register(analyzer_bridge)
    api = analyzer_bridge.registration.public_api

    started = time.perf_counter()
    report = api.report("p")
    cold = time.perf_counter() - started
    warm, _ = _timed(lambda: api.report("p"), repeat=5)

    helper_bridge = BridgeDouble.from_plugin_dir(
        bundled / "ai_helper",
        projects={"p": root},
        apis={"code_analyzer": api},
        graphs={"p": edges},
    )
    plugin_module(bundled / "ai_helper", "helper").register(helper_bridge)
    on_analyze = helper_bridge.registration.hooks["on_analyze"]
    suggest_time, suggested = _timed(lambda: on_analyze({"project": "p"}))
    bundle_cli = helper_bridge.registration.cli_commands["bundle"].func
    bundle_time, markdown = _timed(lambda: bundle_cli(["p"]))
    json_size = len(bundle_cli(["p", "--json"]))

    counter = iter(range(100))

    def one_scaffold() -> Path:
        return scaffold(
            ScaffoldOptions(f"bench_{next(counter)}", with_ui=True, with_cli=True), WORK
        )

    scaffold_time, _ = _timed(one_scaffold, repeat=5)

    print(
        f"Synthetic project: {FILES} files, {lines} lines, "
        f"{report['totals']['functions']} functions"
    )
    print(
        f"code_analyzer report, cold:            {cold * 1000:8.1f} ms "
        f"({FILES / cold:,.0f} files/s, {len(report['findings'])} findings)"
    )
    print(f"code_analyzer report, unchanged files: {warm * 1000:8.1f} ms (cached, stat only)")
    print(
        f"ai_helper suggestions (cached report): {suggest_time * 1000:8.1f} ms "
        f"({len(suggested['findings'])} kept, by priority {json.dumps(suggested['by_priority'])})"
    )
    print(
        f"ai_helper bundle (Markdown):           {bundle_time * 1000:8.1f} ms "
        f"({len(markdown):,} chars; JSON {json_size:,} chars)"
    )
    print(f"jupiter_scaffold, one plugin written:  {scaffold_time * 1000:8.1f} ms")


if __name__ == "__main__":
    main()

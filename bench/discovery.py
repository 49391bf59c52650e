"""Benchmark: discover + validate N complete-profile plugins (target: 1000 in under 1 s).

Run with `python bench/discovery.py`. Django is not needed: discovery only reads manifests.
Each synthetic plugin has its own config schema (no two are identical, so nothing can be
served from a cache) and every optional section of the complete profile.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plugins_app.registry.discovery import discover

SIZES = (10, 100, 1000)
REPEATS = 3
TARGET_SECONDS = {1000: 1.0}

MANIFEST = """\
# Plugin synthétique n° {n} (commentaire en français)
id: bench_plugin_{n}
name:
  en: Bench plugin {n}
  fr: Plugin de mesure {n}
version: "1.{n}.0"
type: tool
description:
  en: Synthetic plugin number {n} for the discovery benchmark.
  fr: Plugin synthétique numéro {n}.
author:
  name: Bench Author
  email: bench{n}@example.org
  url: https://example.org/bench/{n}
license: MIT
homepage: https://example.org/plugins/bench_plugin_{n}
jupiter:
  version: ">=1.1.0,<2.0.0"
dependencies:
  - id: dependency_{n}
    version: ">=0.{n},<2"
  - id: optional_helper
    version: "~=1.2"
    optional: true
extends: [base_plugin]
permissions: [fs_read, run_commands, emit_events]
entrypoints:
  register: "plugin:register"
  health: "plugin:health"
  metrics: "bench_plugin_{n}.metrics:collect"
config_schema:
  version: 2
  schema:
    type: object
    properties:
      threshold_{n}:
        type: integer
        minimum: 0
        maximum: {n}
        default: 1
        description: Threshold number {n}
      label_{n}:
        type: string
        maxLength: 80
        pattern: "^[a-z]+$"
      mode:
        type: string
        enum: [fast, thorough]
        default: fast
      paths:
        type: array
        items: {{type: string}}
        default: []
      advanced:
        type: object
        properties:
          retries: {{type: integer, minimum: 0, default: 3}}
          verbose: {{type: boolean, default: false}}
    required: [mode]
  migrations:
    - from: 1
      to: 2
      entrypoint: "migrations:v1_to_v2"
capabilities:
  metrics: {{enabled: true, interval: 30}}
  jobs: {{timeout: 600}}
  health: {{interval: 120, timeout: 10}}
ui:
  tab: {{title: Bench {n}, icon: chart}}
  panels:
    - id: summary
      title: Summary {n}
      mount_point: project.sidebar
      template: templates/summary.html
  widgets:
    - id: counter
      title: {{en: Counter, fr: Compteur}}
      mount_point: dashboard
  mount_points: [project.sidebar, dashboard]
  i18n:
    en: {{done: Done}}
    fr: {{done: Terminé}}
changelog:
  - version: "1.{n}.0"
    changes: [Synthetic release]
signature: plugin.sig
"""


def populate(directory: Path, count: int) -> None:
    for n in range(count):
        folder = directory / f"bench_plugin_{n}"
        folder.mkdir()
        (folder / "plugin.yaml").write_text(MANIFEST.format(n=n), encoding="utf-8")


def best_time(directory: Path, count: int) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        found = discover([directory])
        best = min(best, time.perf_counter() - started)
        bad = [str(issue) for plugin in found for issue in plugin.result.errors]
        if len(found) != count or bad:
            raise SystemExit(f"benchmark manifests are not all valid: {bad[:3]}")
    return best


def main() -> int:
    discover([])  # import-time work (schema loading) is not part of a discovery pass
    slow = False
    print(f"{'plugins':>8} {'total (s)':>10} {'per plugin (ms)':>16}  best of {REPEATS}")
    for count in SIZES:
        with tempfile.TemporaryDirectory(prefix="jupiter-bench-") as tmp:
            populate(Path(tmp), count)
            seconds = best_time(Path(tmp), count)
        verdict = ""
        if (target := TARGET_SECONDS.get(count)) is not None:
            slow |= seconds >= target
            verdict = "  ok" if seconds < target else f"  SLOW (target {target} s)"
        print(f"{count:>8} {seconds:>10.3f} {seconds / count * 1000:>16.3f}{verdict}")
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())

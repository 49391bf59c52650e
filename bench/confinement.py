"""Benchmark: what confining a plugin process costs (SPEC X3).

Starts fresh children that build ``Confinement.for_plugin`` and ``apply`` it, then idle.
Prints the time importing the module (ctypes, libc), ``for_plugin`` and ``apply`` take
inside the child (median, p95, max), and the resident memory (VmRSS, read from the
parent) of an idle confined child beside an idle unconfined one that imported the same modules.

Run: .venv/bin/python bench/confinement.py   (prints figures, asserts nothing)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNS = 20

CHILD = """
import json, sys, time
sys.path.insert(0, {repo!r})
begun = time.perf_counter()
from plugins_app.sdk.confinement import Confinement, apply, landlock_abi
confine = {confine!r}
started = time.perf_counter()
policy = Confinement.for_plugin({plugin!r}, memory_bytes=1 << 30, cpu_seconds=600)
built = time.perf_counter()
abi = apply(policy).landlock_abi if confine else landlock_abi()
applied = time.perf_counter()
timings = {{"import": started - begun, "build": built - started, "apply": applied - built}}
print(json.dumps({{**timings, "abi": abi}}), flush=True)
sys.stdin.readline()
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for {pid}")


def child(plugin: str, confine: bool) -> tuple[dict[str, float], int]:
    """One child's own timings and its idle resident memory once it has reported."""
    code = CHILD.format(repo=str(REPO), plugin=plugin, confine=confine)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout is not None and proc.stdin is not None
    timings = json.loads(proc.stdout.readline())
    rss = rss_kib(proc.pid)
    proc.stdin.write("\n")
    proc.stdin.close()
    proc.wait(timeout=10)
    return timings, rss


def summary(values: list[float], unit: str, scale: float) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered) * scale:.2f} {unit}, "
        f"p95 {p95 * scale:.2f} {unit}, max {ordered[-1] * scale:.2f} {unit}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="jupiter-bench-confinement-") as plugin:
        confined = [child(plugin, confine=True) for _ in range(RUNS)]
        free = [child(plugin, confine=False) for _ in range(RUNS)]
    abi = confined[0][0]["abi"]
    print(f"confinement, {RUNS} fresh children each way (Landlock ABI {abi:.0f})")
    print("  import:      ", summary([t["import"] for t, _ in confined], "ms", 1e3))
    print("  for_plugin():", summary([t["build"] for t, _ in confined], "ms", 1e3))
    print("  apply():     ", summary([t["apply"] for t, _ in confined], "ms", 1e3))
    confined_rss = statistics.median(rss for _, rss in confined)
    free_rss = statistics.median(rss for _, rss in free)
    print(f"  idle RSS: confined {confined_rss / 1024:.1f} MiB,", end=" ")
    print(f"unconfined {free_rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()

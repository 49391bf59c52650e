"""Benchmark: the cost of trust checks (SPEC X2, MK1).

Run with `python bench/trust.py`. Django is not needed. Measures, for plugins of 10, 100 and
1,000 files of 4 KiB each: signing, verifying (what every sync and every load pays: every
file re-hashed, one Ed25519 check) and packing + safely extracting the plugin as a .tar.gz
and a .zip. Median of several runs; figures only, no assertion.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from plugins_app.trust.archives import extract_archive
from plugins_app.trust.catalogue import pack
from plugins_app.trust.signing import sign_plugin, verify_plugin

SIZES = (10, 100, 1000)
REPEATS = 5
FILE_BYTES = 4096


def make_plugin(root: Path, files: int) -> Path:
    folder = root / "bench_plugin"
    (folder / "pkg").mkdir(parents=True)
    (folder / "plugin.yaml").write_text("id: bench_plugin\nversion: 1.0.0\n")
    for i in range(files - 1):
        (folder / "pkg" / f"module_{i}.py").write_bytes(os.urandom(FILE_BYTES // 2).hex().encode())
    return folder


def median_ms(action: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def zip_of(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in folder.rglob("*"):
            zf.write(path, path.relative_to(folder.parent).as_posix())
    return target


def extract_into(archive: Path, scratch: Path) -> Callable[[], None]:
    def run() -> None:
        dest = Path(tempfile.mkdtemp(dir=scratch))
        extract_archive(archive, dest)

    return run


def main() -> None:
    key = Ed25519PrivateKey.generate()
    print(f"{'files':>6} {'sign ms':>9} {'verify ms':>10} {'untar ms':>9} {'unzip ms':>9}")
    for files in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            folder = make_plugin(root, files)
            sign = median_ms(lambda f=folder: sign_plugin(f, key, "bench_plugin", "1.0.0"))
            verify = median_ms(lambda f=folder: verify_plugin(f))
            tar = pack(folder, root / "bench.tar.gz")
            zipped = zip_of(folder, root / "bench.zip")
            scratch = root / "scratch"
            scratch.mkdir()
            untar = median_ms(extract_into(tar, scratch))
            unzip = median_ms(extract_into(zipped, scratch))
            print(f"{files:>6} {sign:>9.1f} {verify:>10.1f} {untar:>9.1f} {unzip:>9.1f}")


if __name__ == "__main__":
    main()

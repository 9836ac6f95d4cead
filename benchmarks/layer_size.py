"""What each dependency costs in the Lambda layer: zipped and unzipped bytes per top-level
package (a package's ``*.dist-info`` counted with it). Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/layer_size.py [dist/agentocore-layer.zip ...]
    .venv/bin/python benchmarks/layer_size.py --build [--with-sdk | --runtime-sdk]
        [--arch arm64 --python 3.12]

With ``--build`` the layer is built first (layers/agentocore/build.py, into a temporary
directory); without, the zips given (default ``dist/agentocore-layer.zip``) are read.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "layers" / "agentocore" / "build.py"
MIB = 2**20


def package_of(name: str) -> str:
    """The top-level package of a layer entry (``python/<package>/...``), dist-info merged;
    botocore's service models (``botocore/data``) counted apart from its code."""
    parts = name.split("/")
    top = parts[1] if parts[0] == "python" and len(parts) > 1 else parts[0]
    if parts[1:3] == ["botocore", "data"]:
        return "botocore/data"
    if top.endswith(".dist-info"):
        top = re.sub(r"-[^-]+\.dist-info$", "", top).lower().replace("-", "_")
        return {"python_dateutil": "dateutil", "pydantic_core": "pydantic_core"}.get(top, top)
    return top.removesuffix(".py")


def sizes(layer: Path) -> dict[str, tuple[int, int, int]]:
    """Per package: (zipped bytes, unzipped bytes, files)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    with zipfile.ZipFile(layer) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            entry = totals[package_of(info.filename)]
            entry[0] += info.compress_size
            entry[1] += info.file_size
            entry[2] += 1
    return {k: (v[0], v[1], v[2]) for k, v in totals.items()}


def report(layer: Path) -> None:
    table = sizes(layer)
    print(f"\n{layer}: {layer.stat().st_size / MIB:.2f} MiB zipped")
    print(f"{'package':<26} {'zipped KiB':>11} {'unzipped KiB':>13} {'files':>6} {'share':>6}")
    total_zipped = sum(z for z, _, _ in table.values())
    for name, (zipped, unzipped, files) in sorted(table.items(), key=lambda kv: -kv[1][0]):
        print(
            f"{name:<26} {zipped / 1024:11.1f} {unzipped / 1024:13.1f} {files:6d} "
            f"{zipped / total_zipped:6.1%}"
        )
    unzipped_total = sum(u for _, u, _ in table.values())
    print(f"{'total':<26} {total_zipped / 1024:11.1f} {unzipped_total / 1024:13.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layers", nargs="*", type=Path)
    parser.add_argument("--build", action="store_true", help="build the layer first")
    sdk = parser.add_mutually_exclusive_group()
    sdk.add_argument("--with-sdk", action="store_true", help="with --build: the whole SDK")
    sdk.add_argument("--runtime-sdk", action="store_true", help="with --build: no SDK")
    parser.add_argument("--arch", default="arm64")
    parser.add_argument("--python", default="3.12")
    args = parser.parse_args()
    if not args.build:
        for layer in args.layers or [ROOT / "dist" / "agentocore-layer.zip"]:
            report(layer)
        return
    with tempfile.TemporaryDirectory(prefix="layer-size-") as tmp:
        command = [sys.executable, str(BUILD), "--out", tmp, "--arch", args.arch]
        command += ["--python", args.python]
        command += ["--with-sdk"] * args.with_sdk + ["--runtime-sdk"] * args.runtime_sdk
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        report(Path(tmp) / "agentocore-layer.zip")


if __name__ == "__main__":
    main()

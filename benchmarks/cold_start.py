"""Cold start: each handler's module init (its import) in a fresh process, as a ratio to
``import boto3`` measured in the same run. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/cold_start.py [--runs 7] [--layer dist/agentocore-layer.zip]
                                              [--xray] [--importtime [--top 12]]

Each run is a new interpreter whose ``sys.path`` starts like Lambda's: the function's code
directory, then the layer's ``python`` directory (by default the source tree: ``shared`` and
``functions``; with ``--layer``, a built layer zip unpacked once into a temporary directory);
packages the layer lacks (boto3, as in the Lambda runtime) come from this interpreter's
site-packages. Only the import is timed (CPU and wall), not the interpreter's own start. The
handlers and boto3 are measured in interleaved rounds so that machine noise hits them alike.

``--xray`` runs the imports as on Lambda with active tracing (``LAMBDA_TASK_ROOT`` set,
``POWERTOOLS_TRACE_DISABLED`` unset); without it, as the tests and the local stack run them
(tracing off). ``--importtime`` adds ``python -X importtime``'s largest imports per handler.
``--xray-costs`` measures what X-Ray through Powertools Tracer costs: importing the SDK, patching
(everything vs botocore only) and the per-invocation overhead (sampled or not, vs no tracer).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
TARGET_RATIO = 1.5
BASELINE = "boto3"

PROBE = """
import importlib, json, sys, time
sys.path[:0] = [p for p in sys.argv[2:] if p]
wall, cpu = time.perf_counter(), time.process_time()
importlib.import_module(sys.argv[1])
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}))
"""


def handlers() -> list[str]:
    """The functions' folders (those with a ``handler.py``)."""
    return sorted(p.name for p in FUNCTIONS.iterdir() if (p / "handler.py").is_file())


def environment(xray: bool) -> dict[str, str]:
    """A Lambda-like environment without AWS credentials (nothing may call AWS at import)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "cold-start",
        "AGENTOCORE_TABLE_NAME": "agentocore",
        "AGENTOCORE_EVENT_BUS_NAME": "agentocore",
        "AGENTOCORE_APP": "example_app",
    }
    if xray:
        env.update(
            LAMBDA_TASK_ROOT=str(FUNCTIONS),
            AWS_XRAY_DAEMON_ADDRESS="127.0.0.1:2000",
            AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
        )
    else:
        env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def probe(module: str, path: list[str], env: dict[str, str]) -> dict[str, float]:
    """One fresh interpreter importing ``module`` with ``path`` in front of ``sys.path``."""
    out = subprocess.run(
        [sys.executable, "-s", "-c", PROBE, module, *path],
        env=env,
        cwd=path[0] if path else None,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def import_tree(module: str, path: list[str], env: dict[str, str]) -> list[tuple[int, int, str]]:
    """``-X importtime`` of one import: (self µs, cumulative µs, name) per module."""
    code = f"import sys; sys.path[:0] = {path!r}; import {module}"
    out = subprocess.run(
        [sys.executable, "-s", "-X", "importtime", "-c", code],
        env=env,
        cwd=path[0] if path else None,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(own), int(cumulative), name.rstrip()))
    return rows


def offenders(rows: list[tuple[int, int, str]], top: int) -> list[tuple[str, float, float]]:
    """Per top-level package: (package, self ms summed, largest cumulative ms of one import)."""
    own: dict[str, float] = {}
    cumulative: dict[str, float] = {}
    for us, cum_us, name in rows:
        package = name.strip().split(".")[0]
        own[package] = own.get(package, 0.0) + us / 1000
        cumulative[package] = max(cumulative.get(package, 0.0), cum_us / 1000)
    ranked = sorted(own, key=own.__getitem__, reverse=True)[:top]
    return [(p, own[p], cumulative[p]) for p in ranked]


XRAY_IMPORT = """
import json, sys, time
{before}
wall, cpu = time.perf_counter(), time.process_time()
import aws_xray_sdk.core
print(json.dumps({{"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}}))
"""

XRAY_PATCH = """
import json, sys, time
import boto3, aws_xray_sdk.core
from aws_lambda_powertools import Tracer
cpu = time.process_time()
if sys.argv[1] == "all":
    Tracer(service="bench")
else:
    Tracer(service="bench", auto_patch=False).patch(["botocore"])
mods = sorted(m for m in ("requests", "sqlite3", "httpx") if m in sys.modules)
print(json.dumps({"cpu": time.process_time() - cpu, "imported": mods}))
"""

# One invocation: the handler decorator, three annotations and two DynamoDB calls (stubbed).
XRAY_INVOKE = """
import json, os, sys, time
import boto3
from botocore.stub import Stubber
mode, n = sys.argv[1], int(sys.argv[2])
os.environ["_X_AMZN_TRACE_ID"] = (
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled="
    + ("0" if mode == "unsampled" else "1")
)
ddb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x",
                   aws_secret_access_key="x")
stub = Stubber(ddb)
for _ in range(2 * (n + 1)):
    stub.add_response("get_item", {}, {"TableName": "t", "Key": {"PK": {"S": "k"}}})
stub.activate()
if mode == "none":
    def trace(fn):
        return fn
    annotate = lambda key, value: None
else:
    from aws_lambda_powertools import Tracer
    tracer = Tracer(service="bench", auto_patch=False, disabled=mode == "disabled")
    tracer.patch(["botocore"])
    trace, annotate = tracer.capture_lambda_handler, tracer.put_annotation

@trace
def handler(event, context):
    for key in ("trigger", "agent_id", "status"):
        annotate(key, "x")
    for _ in range(2):
        ddb.get_item(TableName="t", Key={"PK": {"S": "k"}})
    return {}

handler({}, None)
start = time.perf_counter()
for _ in range(n):
    handler({}, None)
print(json.dumps({"us": (time.perf_counter() - start) / n * 1e6}))
"""


def xray_costs(env: dict[str, str], runs: int) -> None:
    """What X-Ray through Powertools Tracer costs, on Lambda with active tracing."""
    lambda_env = {**environment(xray=True), "PATH": env["PATH"]}
    python = [sys.executable, "-s", "-c"]

    def median(code: str, *argv: str, key: str = "cpu") -> float:
        values = []
        for _ in range(runs):
            out = subprocess.run(
                [*python, code, *argv], env=lambda_env, capture_output=True, text=True, check=True
            ).stdout
            values.append(json.loads(out.strip().splitlines()[-1])[key])
        return statistics.median(values)

    print(f"\nX-Ray through Powertools Tracer (Lambda env, tracing active), median of {runs}:")
    fresh = median(XRAY_IMPORT.format(before=""))
    after = median(XRAY_IMPORT.format(before="import boto3"))
    print(f"  import aws_xray_sdk.core             {fresh * 1000:7.1f} ms CPU in a fresh process")
    print(f"  ... after import boto3               {after * 1000:7.1f} ms CPU (the SDK's own part)")
    for how, label in (("all", "Tracer() (auto_patch: patch_all)"), ("botocore", "botocore only")):
        cost = median(XRAY_PATCH, how)
        print(f"  {label:<36} {cost * 1000:7.1f} ms CPU")
    print("  per invocation (decorator, 3 annotations, 2 stubbed DynamoDB calls):")
    for mode in ("none", "disabled", "unsampled", "sampled"):
        us = median(XRAY_INVOKE, mode, "2000", key="us")
        print(f"    {mode:<34} {us:7.1f} µs")


def unpack_layer(layer: Path, into: Path) -> Path:
    """The layer's ``python`` directory, unpacked from a zip (or the directory itself)."""
    if layer.is_dir():
        return layer / "python" if (layer / "python").is_dir() else layer
    with zipfile.ZipFile(layer) as zf:
        zf.extractall(into)
    return into / "python"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per import")
    parser.add_argument("--layer", type=Path, help="a built layer zip (default: the sources)")
    parser.add_argument("--xray", action="store_true", help="as on Lambda with active tracing")
    parser.add_argument("--importtime", action="store_true", help="largest imports per handler")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--xray-costs", action="store_true", help="what X-Ray tracing costs")
    parser.add_argument("handlers", nargs="*", help="default: every function")
    args = parser.parse_args()
    names = args.handlers or handlers()
    env = environment(args.xray)
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp:
        layer = (
            [str(unpack_layer(args.layer, Path(tmp)))]
            if args.layer
            else [str(ROOT / "shared"), str(FUNCTIONS)]
        )
        paths = {name: [str(FUNCTIONS / name), *layer] for name in names}
        paths[BASELINE] = []
        modules = {name: "handler" for name in names} | {BASELINE: BASELINE}
        for name in modules:  # compile and cache bytecode first, as a deployed layer would
            probe(modules[name], paths[name], env)
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in modules}
        order = list(modules)
        for run in range(args.runs):
            rotated = order[run % len(order) :] + order[: run % len(order)]
            for name in rotated:
                samples[name].append(probe(modules[name], paths[name], env))
        median = {
            name: {k: statistics.median(s[k] for s in runs) for k in ("cpu", "wall")}
            for name, runs in samples.items()
        }
        base = median[BASELINE]
        source = args.layer or "sources (shared/, functions/)"
        mode = "X-Ray active (Lambda env)" if args.xray else "tracing off"
        print(f"cold start: import in a fresh process, median of {args.runs}; layer: {source}")
        print(f"mode: {mode}; python {sys.version.split()[0]}; target <= {TARGET_RATIO}x boto3")
        print(f"{'import':<18} {'cpu ms':>8} {'wall ms':>8} {'cpu x':>7} {'wall x':>7}")
        for name in [BASELINE, *names]:
            m = median[name]
            flag = "" if name == BASELINE or m["cpu"] / base["cpu"] <= TARGET_RATIO else "  over"
            print(
                f"{name:<18} {m['cpu'] * 1000:8.1f} {m['wall'] * 1000:8.1f} "
                f"{m['cpu'] / base['cpu']:7.2f} {m['wall'] / base['wall']:7.2f}{flag}"
            )
        if args.importtime:
            for name in names:
                print(f"\n{name}: largest imports (package, self ms, largest cumulative ms)")
                for package, own, cumulative in offenders(
                    import_tree("handler", paths[name], env), args.top
                ):
                    print(f"  {package:<28} {own:8.1f} {cumulative:8.1f}")
    if args.xray_costs:
        xray_costs(env, args.runs)


if __name__ == "__main__":
    main()

"""Load test: Locust (benchmarks/load/locustfile.py) headless, stepping through concurrent users.

    flock /tmp/agentocore-4566.lock make load          # deploys the local stack when needed
    .venv/bin/python benchmarks/load_test.py [--users 1,5,10,20,50] [--step-seconds 45] [--quick]
    .venv/bin/python benchmarks/load_test.py --host https://<stage url> --jwt <token>
                                         # a deployed stage (or env AGENTOCORE_JWT for --jwt)

Without ``--host`` it serves the deployed local stack's HTTP API (workspace ``local`` on the
emulator, ``make deploy-local``) on 127.0.0.1 through the local API front, in this process.
Each step runs Locust for ``--step-seconds`` with that many users (statistics reset once all
users have spawned) and keeps Locust's CSV stats; at the end it writes ``load_summary.json``
and ``load.png`` (p50/p95/p99 latency and throughput against concurrent users) to ``--out``
and prints the table. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "load"))
from behaviour import wait_bounds  # noqa: E402

LOCUSTFILE = ROOT / "benchmarks" / "load" / "locustfile.py"
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_USERS = (1, 5, 10, 20, 50)
QUICK_USERS = (1, 5)
DEFAULT_STEP_S = 45
QUICK_STEP_S = 15
MAX_USERS = 200
MAX_STEP_S = 600
#: Seconds Locust waits for users' requests in flight when a step ends (the front's 30 s + 5).
STOP_TIMEOUT_S = 35


@dataclass(frozen=True)
class StepStats:
    """One step's aggregated Locust numbers (latencies in ms, as Locust rounds them)."""

    users: int
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    failure_reasons: dict[str, int] = field(default_factory=dict)


def schedule(users: str | Sequence[int] | None = None, quick: bool = False) -> list[int]:
    """The steps' user counts: ``"1,5,10"`` or a sequence, else the default (or quick) set;
    sorted, deduplicated, each within 1..MAX_USERS."""
    if users is None:
        chosen: Sequence[int] = QUICK_USERS if quick else DEFAULT_USERS
    elif isinstance(users, str):
        chosen = [int(part) for part in users.split(",") if part.strip()]
    else:
        chosen = users
    steps = sorted(set(chosen))
    if not steps or steps[0] < 1 or steps[-1] > MAX_USERS:
        raise ValueError(f"users must be 1..{MAX_USERS}, got {list(chosen)}")
    return steps


def check_host(host: str, jwt: str) -> str:
    """A deployed stage over https (needs a JWT) or an API already served on loopback."""
    parts = urlsplit(host)
    if parts.scheme == "https" and parts.hostname:
        if not jwt:
            raise ValueError("a deployed stage needs --jwt or AGENTOCORE_JWT")
        return host.rstrip("/")
    if parts.scheme == "http" and parts.hostname:
        name = parts.hostname
        if name == "localhost" or _is_loopback(name):
            return host.rstrip("/")
    raise ValueError(f"--host must be https://... or http://127.0.0.1:<port>, not {host!r}")


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def spawn_rate(users: int) -> int:
    """Users started per second: all within about 5 s, at most 10 a second."""
    return max(1, min(10, -(-users // 5)))


def locust_command(users: int, seconds: int, host: str, csv_prefix: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--only-summary",
        "--reset-stats",
        "--users",
        str(users),
        "--spawn-rate",
        str(spawn_rate(users)),
        "--run-time",
        f"{seconds}s",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
        "--csv",
        str(csv_prefix),
        "--host",
        host,
    ]


def read_step(users: int, stats_csv: Path, failures_csv: Path | None = None) -> StepStats:
    """The Aggregated row of Locust's ``*_stats.csv`` and the reasons of ``*_failures.csv``."""
    with stats_csv.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["Name"] == "Aggregated"]
    if not rows:
        raise ValueError(f"{stats_csv}: no Aggregated row")
    row = rows[0]
    reasons: dict[str, int] = {}
    if failures_csv is not None and failures_csv.exists():
        with failures_csv.open(newline="") as f:
            for failure in csv.DictReader(f):
                error = failure["Error"]
                reasons[error] = reasons.get(error, 0) + int(failure["Occurrences"])

    def number(column: str) -> float:
        value = row.get(column, "")
        return float(value) if value not in ("", "N/A") else 0.0

    return StepStats(
        users=users,
        requests=int(number("Request Count")),
        failures=int(number("Failure Count")),
        rps=round(number("Requests/s"), 2),
        p50=number("50%"),
        p95=number("95%"),
        p99=number("99%"),
        failure_reasons=reasons,
    )


def run_step(users: int, seconds: int, host: str, out: Path, env: dict[str, str]) -> StepStats:
    """One Locust run; its stats and failures CSVs land in ``out`` as ``load_u<NN>_*.csv``."""
    with tempfile.TemporaryDirectory(prefix="agentocore-load-") as tmp:
        prefix = Path(tmp) / "step"
        log = Path(tmp) / "locust.log"
        with log.open("w") as sink:
            done = subprocess.run(
                locust_command(users, seconds, host, prefix),
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=seconds + STOP_TIMEOUT_S + 120,
                check=False,
            )
        if done.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise RuntimeError(f"locust exited {done.returncode} at {users} users:\n{tail}")
        name = f"load_u{users:02d}"
        stats = out / f"{name}_stats.csv"
        failures = out / f"{name}_failures.csv"
        shutil.copyfile(f"{prefix}_stats.csv", stats)
        shutil.copyfile(f"{prefix}_failures.csv", failures)
    return read_step(users, stats, failures)


def write_chart(
    steps: Sequence[StepStats], path: Path, title: str, mean_wait_s: float = 2.0
) -> None:
    """p50/p95/p99 latency (s) and throughput (requests/s) against concurrent users, as PNG.
    The throughput panel also draws the think-time ceiling, users / mean wait: what the users
    would send if every answer took no time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    users = [s.users for s in steps]
    fig, (latency, throughput) = plt.subplots(1, 2, figsize=(10, 4), dpi=90)
    for label, values, style in (
        ("p50", [s.p50 for s in steps], "o-"),
        ("p95", [s.p95 for s in steps], "s--"),
        ("p99", [s.p99 for s in steps], "^:"),
    ):
        latency.plot(users, [v / 1000 for v in values], style, label=label)
    latency.set(xlabel="concurrent users", ylabel="latency (s)", title="Response time")
    latency.set_ylim(bottom=0)
    latency.legend()
    throughput.plot(users, [s.rps for s in steps], "o-", color="tab:green", label="measured")
    if mean_wait_s > 0:
        ceiling = [u / mean_wait_s for u in users]
        throughput.plot(users, ceiling, ":", color="gray", label=f"users / {mean_wait_s:g} s wait")
        throughput.legend()
    for s in steps:
        if s.failures:
            throughput.annotate(
                f"{s.failures} err", (s.users, s.rps), textcoords="offset points", xytext=(4, 6)
            )
    throughput.set(xlabel="concurrent users", ylabel="requests/s", title="Throughput")
    throughput.set_ylim(bottom=0)
    for axis in (latency, throughput):
        if len(users) > 1 and users[-1] / users[0] >= 10:
            axis.set_xscale("log")
        axis.set_xticks(users, [str(u) for u in users])
        axis.minorticks_off()
        axis.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def table(steps: Sequence[StepStats]) -> str:
    """The summary as a Markdown table (the README's)."""
    lines = [
        "| users | requests | requests/s | p50 ms | p95 ms | p99 ms | errors |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in steps:
        reasons = ", ".join(f"{n} {r}" for r, n in sorted(s.failure_reasons.items()))
        errors = f"{s.failures} ({reasons})" if s.failures and reasons else str(s.failures)
        lines.append(
            f"| {s.users} | {s.requests} | {s.rps:.2f} | {s.p50:.0f} | {s.p95:.0f} | "
            f"{s.p99:.0f} | {errors} |"
        )
    return "\n".join(lines)


def write_summary(steps: Sequence[StepStats], path: Path, meta: dict[str, object]) -> None:
    path.write_text(json.dumps({**meta, "steps": [asdict(s) for s in steps]}, indent=1) + "\n")


@contextlib.contextmanager
def local_api() -> Iterator[tuple[str, str]]:
    """The deployed local stack's HTTP API, served on 127.0.0.1 (a free port) while in use, and
    the model its agent_executor runs."""
    sys.path.insert(0, str(ROOT / "localstack"))
    from api_front import Front, api_id_from_outputs, deployed_routes, make_server
    from emulator import endpoint

    outputs = ROOT / ".localstack" / "local-outputs.json"
    try:
        urllib.request.urlopen(endpoint(), timeout=5).close()
    except urllib.error.HTTPError:
        pass  # the emulator answers (any status)
    except OSError as err:
        raise SystemExit(
            f"the local emulator does not answer on {endpoint()} ({err}): run "
            "`flock /tmp/agentocore-4566.lock make load`, which deploys the local stack"
        ) from err
    if not outputs.exists():
        raise SystemExit(
            f"{outputs} is missing: the local stack is not deployed (make deploy-local)"
        )
    front = Front(deployed_routes(endpoint(), api_id_from_outputs()), endpoint())
    executor = next(r.function for r in front.routes if r.key.endswith("/messages"))
    config = front.client.get_function_configuration(FunctionName=executor)
    model = str(config.get("Environment", {}).get("Variables", {}).get("AGENTOCORE_MODEL", "?"))
    server = make_server(front, "127.0.0.1", 0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", model
    finally:
        server.shutdown()
        server.server_close()
        front.pool.shutdown(wait=False, cancel_futures=True)


def warm_up(host: str, auth: str, requests: int) -> None:
    """A few sequential messages before the first step (not measured)."""
    url = f"{host}/conversations/load-warmup-{int(time.time())}/messages"
    for _ in range(requests):
        request = urllib.request.Request(
            url, data=json.dumps({"message": "Where is order A-1001?"}).encode(), method="POST"
        )
        request.add_header("Authorization", auth)
        request.add_header("Content-Type", "application/json")
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=120).close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", default=None, help="comma-separated steps (default 1,5,10,20,50)"
    )
    parser.add_argument("--step-seconds", type=int, default=None, help=f"default {DEFAULT_STEP_S}")
    parser.add_argument("--quick", action="store_true", help="users 1,5 for 15 s each, to /tmp")
    parser.add_argument("--host", default=None, help="default: the local stack on 127.0.0.1")
    parser.add_argument("--jwt", default=os.environ.get("AGENTOCORE_JWT", ""))
    parser.add_argument("--out", type=Path, default=None, help="default benchmarks/results")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests first")
    parser.add_argument(
        "--wait", default="1,3", help="seconds between a user's messages, min,max (default 1,3)"
    )
    args = parser.parse_args(argv)
    steps = schedule(args.users, args.quick)
    try:
        wait = wait_bounds(args.wait)
    except ValueError as err:
        parser.error(f"--wait: {err}")
    seconds = args.step_seconds or (QUICK_STEP_S if args.quick else DEFAULT_STEP_S)
    if not 5 <= seconds <= MAX_STEP_S:
        parser.error(f"--step-seconds must be 5..{MAX_STEP_S}")
    out = args.out or (
        Path(tempfile.gettempdir()) / "agentocore-load-quick" if args.quick else RESULTS
    )
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("load_u*_*.csv"):
        stale.unlink()
    env = dict(os.environ)
    env.pop("AGENTOCORE_JWT", None)
    env["AGENTOCORE_LOAD_WAIT_S"] = f"{wait[0]:g},{wait[1]:g}"
    with contextlib.ExitStack() as stack:
        if args.host:
            try:
                host = check_host(args.host, args.jwt)
            except ValueError as err:
                parser.error(str(err))
            if args.jwt:
                env["AGENTOCORE_JWT"] = args.jwt
            target, model = host, "deployed"
        else:
            host, model = stack.enter_context(local_api())
            target = f"local stack (emulator, local API front on 127.0.0.1), model {model}"
        auth = f"Bearer {args.jwt or 'load-warmup'}"
        print(
            f"load test: {target}; users {steps}, {seconds} s per step, "
            f"{wait[0]:g}-{wait[1]:g} s between messages",
            flush=True,
        )
        warm_up(host, auth, args.warmup)
        load_before = round(os.getloadavg()[1], 2)
        results = []
        for users in steps:
            result = run_step(users, seconds, host, out, env)
            print(
                f"  {users:>3} users: {result.requests} requests, {result.rps:.2f}/s, "
                f"p50 {result.p50:.0f} ms, p95 {result.p95:.0f} ms, p99 {result.p99:.0f} ms, "
                f"{result.failures} errors",
                flush=True,
            )
            results.append(result)
    load_after = round(os.getloadavg()[1], 2)
    meta: dict[str, object] = {
        "target": "deployed stage" if args.host else "local stack",
        "model": model,
        "step_seconds": seconds,
        "wait_s": list(wait),
        # This machine's 5-minute load average around the run: other work skews the numbers.
        "load_average_5m": [load_before, load_after],
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    write_summary(results, out / "load_summary.json", meta)
    title = (
        f"AgentoCore load test: {meta['target']}, model {model}\n"
        f"{seconds} s per step, {wait[0]:g}-{wait[1]:g} s between a user's messages"
    )
    write_chart(results, out / "load.png", title, mean_wait_s=sum(wait) / 2)
    print()
    print(table(results))
    print(f"\nload average (5 min) {load_before} -> {load_after} on {os.cpu_count()} CPUs")
    print(f"CSV stats, load_summary.json and load.png in {out}")


if __name__ == "__main__":
    main()

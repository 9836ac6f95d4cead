"""Where a request's CPU goes on the local stack: the API front (this process), the emulator
(moto's server: DynamoDB, EventBridge, streams, SQS, the Lambda service) and the Lambda
execution environments (its child processes). Needs `make deploy-local`. Sends sequential
POST /conversations/{id}/messages (order status and weather, rules model) and prints CPU
milliseconds per request for each; asserts nothing.

    .venv/bin/python benchmarks/local_cpu.py [--requests 100]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "localstack"), str(ROOT / "benchmarks")]
from api_front import Front, api_id_from_outputs, deployed_routes, make_server  # noqa: E402
from emulator import endpoint  # noqa: E402

from local_api_latency import MESSAGES, post  # noqa: E402

STATE = ROOT / ".localstack"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int, *, children: bool = False) -> float:
    """utime + stime of ``pid`` (+ its reaped children's with ``children``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def lambdas_s(emulator: int) -> float:
    """CPU of the emulator's live child processes (execution environments) and reaped ones."""
    total = 0.0
    for pid in descendants(emulator):
        try:
            total += cpu_s(pid, children=True)
        except OSError:
            continue
    own = Path(f"/proc/{emulator}/stat").read_text().rsplit(")", 1)[1].split()
    return total + (int(own[13]) + int(own[14])) / TICK


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    emulator = int((STATE / "emulator.pid").read_text())
    front = Front(deployed_routes(endpoint(), api_id_from_outputs()), endpoint())
    server = make_server(front, "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/conversations/%s/messages"
    run = f"cpu-{time.time_ns()}"
    for i in range(5):  # warm every environment first
        post(url % f"{run}-warm", MESSAGES[i % 2])
    before = (cpu_s(os.getpid()), cpu_s(emulator), lambdas_s(emulator), time.perf_counter())
    for i in range(args.requests):
        post(url % f"{run}-{i // 10}", MESSAGES[i % 2])
    after = (cpu_s(os.getpid()), cpu_s(emulator), lambdas_s(emulator), time.perf_counter())
    server.shutdown()
    n = args.requests
    deltas = [(a - b) * 1000 / n for a, b in zip(after, before, strict=True)]
    front_ms, emu_ms, fn_ms, wall_ms = deltas
    total = front_ms + emu_ms + fn_ms
    print(f"{n} sequential POST .../messages (rules model), per request:")
    print(f"  wall                               {wall_ms:7.1f} ms")
    print(f"  CPU, API front + client (this)     {front_ms:7.1f} ms")
    print(f"  CPU, emulator (moto server)        {emu_ms:7.1f} ms")
    print(f"  CPU, Lambda environments           {fn_ms:7.1f} ms")
    print(f"  CPU, total                         {total:7.1f} ms")
    print(f"  => at most {2000 / total:.1f} requests/s on 2 cores (CPU-bound)")


if __name__ == "__main__":
    main()

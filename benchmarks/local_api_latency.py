"""Latency of `POST /conversations/{id}/messages` through the local API front (API Gateway v2
event -> agent_executor on the emulator -> DynamoDB/EventBridge), embedded rules model:
sequential requests, then optionally concurrent users. Needs `make deploy-local`. Prints
numbers; asserts nothing.

    .venv/bin/python benchmarks/local_api_latency.py [--requests 200] [--users 10]

The emulator keeps warm Lambda execution environments (localstack/README.md); started with
AGENTOCORE_LAMBDA_IDLE_S=0 it gives every invocation a new one (a cold start each time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "localstack"))
from api_front import Front, api_id_from_outputs, deployed_routes, make_server  # noqa: E402
from emulator import endpoint  # noqa: E402

MESSAGES = ["What's the status of order A-1001?", "What's the weather in Oslo?"]


def post(url: str, message: str) -> float:
    """One message; its latency in ms (raises unless 200)."""
    request = urllib.request.Request(url, data=json.dumps({"message": message}).encode())
    request.add_header("Authorization", "Bearer bench")
    request.add_header("Content-Type", "application/json")
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        assert response.status == 200
        response.read()
    return (time.perf_counter() - start) * 1000


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"p50 {statistics.median(ordered):.0f} ms   p95 {p95:.0f} ms   "
        f"min {ordered[0]:.0f} ms   max {ordered[-1]:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--users", type=int, default=0, help="then N users at once")
    parser.add_argument("--messages", type=int, default=3, help="each concurrent user's")
    args = parser.parse_args()
    front = Front(deployed_routes(endpoint(), api_id_from_outputs()), endpoint())
    server = make_server(front, "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/conversations/%s/messages"
    run = f"{time.time_ns()}"
    latencies = [
        post(url % f"bench-{run}-{i // 10}", MESSAGES[i % 2]) for i in range(args.requests)
    ]
    print(f"{args.requests} sequential POST .../messages through the local API (rules model):")
    print(f"  {summary(latencies)}")
    if args.users:

        def user(n: int) -> list[float]:
            return [post(url % f"user-{run}-{n}", MESSAGES[i % 2]) for i in range(args.messages)]

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.users) as pool:
            together = [ms for user_ms in pool.map(user, range(args.users)) for ms in user_ms]
        elapsed = time.perf_counter() - start
        print(f"{args.users} concurrent users x {args.messages} messages (no think time):")
        print(f"  {summary(together)}   {len(together) / elapsed:.1f} requests/s")
    server.shutdown()


if __name__ == "__main__":
    main()

"""Latency of sequential `POST /conversations/{id}/messages` through the local API front
(API Gateway v2 event -> agent_executor on the emulator -> DynamoDB/EventBridge), embedded rules
model. Needs `make deploy-local`. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/local_api_latency.py [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "localstack"))
from api_front import Front, function_from_outputs, make_server  # noqa: E402
from emulator import endpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    server = make_server(Front(function_from_outputs(), endpoint()), "127.0.0.1", 0, quiet=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/conversations/bench-%d/messages"
    latencies = []
    messages = ["What's the status of order A-1001?", "What's the weather in Oslo?"]
    for i in range(args.requests):
        body = json.dumps({"message": messages[i % 2]}).encode()
        request = urllib.request.Request(url % (i // 10), data=body, method="POST")
        request.add_header("Authorization", "Bearer bench")
        request.add_header("Content-Type", "application/json")
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as response:
            assert response.status == 200
            response.read()
        latencies.append((time.perf_counter() - start) * 1000)
    server.shutdown()
    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"{args.requests} sequential POST .../messages through the local API (rules model):")
    print(
        f"  p50 {statistics.median(latencies):.0f} ms   p95 {p95:.0f} ms   "
        f"min {latencies[0]:.0f} ms   max {latencies[-1]:.0f} ms"
    )
    print("  (each invocation starts a fresh Python process for the function: a Lambda cold start)")


if __name__ == "__main__":
    main()

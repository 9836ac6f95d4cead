"""Live run events through the local stack's WebSocket front: time to first token, events per
second, and forced reconnects mid-run (nothing lost, nothing twice).

    python benchmarks/live_events.py [--workspace local] [--runs 30] [--reconnects 100]

Needs the local stack deployed (``make deploy-local``; the emulator keeps running). The model
is the deployed one (rules, or the local LLM with ``make deploy-local`` after
``make local-llm``). Prints one table; nothing here is a test assertion.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "localstack"))

from api_front import emulator_client  # noqa: E402
from emulator import endpoint  # noqa: E402
from fronts import start_fronts  # noqa: E402
from tests.live_client import LiveClient  # noqa: E402

QUESTIONS = [
    "What's the status of order A-1001?",
    "What's the status of order A-2002?",
    "What's the status of order A-3003?",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def first_token(fronts: Any, runs: int) -> dict[str, list[float]]:
    """sendMessage -> the first ``text`` record / the ``result`` / the reply, per run."""
    client = LiveClient(fronts.ws_url, fronts.api_url, "bench-ttft").connect()
    out: dict[str, list[float]] = {"first_text_ms": [], "result_ms": [], "reply_ms": []}
    try:
        for i in range(runs):
            cid = f"ttft-{uuid.uuid4().hex[:10]}"
            client.subscribe(cid)
            seen: dict[str, float] = {}
            done = threading.Event()

            def on_record(
                record: dict[str, Any],
                cid: str = cid,
                seen: dict[str, float] = seen,
                done: threading.Event = done,
            ) -> None:
                if record["conversation_id"] != cid:
                    return
                now = time.perf_counter()
                if record["type"] == "text":
                    seen.setdefault("text", now)
                if record["type"] == "result":
                    seen.setdefault("result", now)
                    done.set()

            client._listeners = [on_record]
            started = time.perf_counter()
            reply = client.run(cid, QUESTIONS[i % len(QUESTIONS)], 600)
            replied = time.perf_counter()
            done.wait(60)
            assert reply["status"] == 200, reply
            out["first_text_ms"].append((seen["text"] - started) * 1000)
            out["result_ms"].append((seen["result"] - started) * 1000)
            out["reply_ms"].append((replied - started) * 1000)
    finally:
        client.close()
    return out


def front_throughput(fronts: Any, messages: int) -> float:
    """The front alone: management API posts -> a client's socket, messages per second."""
    client = LiveClient(fronts.ws_url, fronts.api_url, "bench-front").connect()
    try:
        time.sleep(0.2)
        [connection] = [c for c, v in fronts.sockets.connections.items() if v.open]
        management = fronts.sockets.management.server_address[1]
        received = 0
        got_all = threading.Event()

        def count(_: dict[str, Any]) -> None:
            nonlocal received
            received += 1
            if received == messages:
                got_all.set()

        original = client._apply
        client._apply = count  # type: ignore[method-assign]
        from urllib.parse import quote

        url = f"http://127.0.0.1:{management}/@connections/{quote(connection, safe='')}"
        started = time.perf_counter()
        for i in range(messages):
            data = json.dumps({"conversation_id": "x", "seq": i + 1, "type": "text"}).encode()
            with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10):
                pass
        got_all.wait(60)
        elapsed = time.perf_counter() - started
        client._apply = original  # type: ignore[method-assign]
        return received / elapsed
    finally:
        client.close()


def end_to_end_throughput(fronts: Any, users: int, runs_each: int) -> tuple[float, int, float]:
    """``users`` clients each running ``runs_each`` runs back to back over their sockets:
    records received per second (all users), the records, the wall time."""
    clients = [
        LiveClient(fronts.ws_url, fronts.api_url, f"bench-eps-{u}").connect() for u in range(users)
    ]
    errors: list[Any] = []

    def user(client: LiveClient) -> None:
        cid = f"eps-{uuid.uuid4().hex[:10]}"
        client.subscribe(cid)
        for i in range(runs_each):
            reply = client.run(cid, QUESTIONS[i % len(QUESTIONS)], 600)
            if reply.get("status") != 200:
                errors.append(reply)

    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    time.sleep(0.5)
    records = sum(len(v) for c in clients for v in c.applied.values())
    for c in clients:
        c.close()
    if errors:
        raise SystemExit(f"{len(errors)} runs failed: {errors[:2]}")
    return records / elapsed, records, elapsed


def forced_reconnects(fronts: Any, reconnects: int) -> dict[str, int]:
    """Runs stream while the front hangs up on the client ``reconnects`` times; the client
    resumes after its last number each time. Compared with the log over HTTP."""
    client = LiveClient(fronts.ws_url, fronts.api_url, "bench-reconnect").connect()
    cid = f"reconnect-{uuid.uuid4().hex[:10]}"
    client.subscribe(cid)
    stop = threading.Event()
    runs = 0

    def keep_running() -> None:
        nonlocal runs
        while not stop.is_set():
            body = json.dumps({"message": QUESTIONS[runs % 3], "watch": True}).encode()
            request = urllib.request.Request(
                f"{fronts.api_url}/conversations/{cid}/messages",
                data=body,
                headers={"Authorization": "Bearer bench-reconnect"},
            )
            with urllib.request.urlopen(request, timeout=120) as response:
                assert response.status == 200
            runs += 1

    worker = threading.Thread(target=keep_running)
    worker.start()
    mid_run = 0
    for _ in range(reconnects):
        time.sleep(0.05)
        before = client.last_seq(cid)
        for connection in list(fronts.sockets.connections):
            fronts.sockets.close(connection)
        last = client.applied.get(cid, [{}])[-1]
        mid_run += int(before > 0 and last.get("type") != "result")
        client.reconnect([cid])
    stop.set()
    worker.join()
    client.reconnect([cid])
    expected = client.read_events(cid)
    deadline = time.monotonic() + 30
    while client.last_seq(cid) < expected[-1]["seq"] and time.monotonic() < deadline:
        time.sleep(0.05)
    got = [{k: v for k, v in r.items() if k != "conversation_id"} for r in client.applied[cid]]
    client.close()
    seqs = [r["seq"] for r in got]
    return {
        "reconnects": client.reconnects,
        "dropped_mid_run": mid_run,
        "runs": runs,
        "events_logged": len(expected),
        "events_applied": len(got),
        "lost": len({r["seq"] for r in expected} - set(seqs)),
        "applied_twice": len(seqs) - len(set(seqs)),
        "received_twice_and_dropped": client.duplicates,
        "gap_fills_over_http": client.gap_fills,
        "identical_to_the_log": int(got == expected),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default="local")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--reconnects", type=int, default=100)
    parser.add_argument("--front-messages", type=int, default=2000)
    parser.add_argument("--users", type=int, default=5)
    parser.add_argument("--runs-each", type=int, default=10)
    parser.add_argument(
        "--ttft-only", action="store_true", help="time to first token only (a slow model)"
    )
    args = parser.parse_args()
    raw = json.loads((ROOT / ".localstack" / f"{args.workspace}-outputs.json").read_text())
    outputs = {k: v["value"] for k, v in raw.items()}
    fronts = start_fronts(outputs, endpoint())
    try:
        first_token(fronts, 2)  # warm the functions' environments
        ttft = first_token(fronts, args.runs)
        config = emulator_client("lambda", endpoint()).get_function_configuration(
            FunctionName=outputs["function_names"]["agent_executor"]
        )
        model = config["Environment"]["Variables"].get("AGENTOCORE_MODEL")
        print(f"model: {model}; time to first token over {args.runs} runs (after 2 warm-up runs)")
        for name, values in ttft.items():
            print(
                f"  {name:14s} p50 {statistics.median(values):7.1f} ms   "
                f"p95 {pct(values, 0.95):7.1f} ms   max {max(values):7.1f} ms"
            )
        if args.ttft_only:
            return
        print(f"front alone: {front_throughput(fronts, args.front_messages):,.0f} messages/s")
        eps, records, elapsed = end_to_end_throughput(fronts, args.users, args.runs_each)
        print(
            f"end to end: {args.users} users x {args.runs_each} runs: {records} events in "
            f"{elapsed:.1f} s = {eps:,.0f} events/s"
        )
        print("forced reconnects:", json.dumps(forced_reconnects(fronts, args.reconnects)))
    finally:
        fronts.stop()


if __name__ == "__main__":
    main()

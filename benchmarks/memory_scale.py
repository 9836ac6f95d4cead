"""Memory at scale: a conversation of 10, 1,000 and 10,000 stored turns costs the same to load
and to save. Per size: DynamoDB requests per load, per receipt check and per save (counted with
botocore's ``before-call`` event, so retries of one call count once), items read, and load
latency on the emulator (``localstack/emulator.py``, every hook, on a free 127.0.0.1 port;
never 4566). Conversations are seeded with BatchWriteItem directly, all before any load: moto's
Query reads every item of the table (then filters and sorts), so on the emulator a Query's cost
follows the table's size; DynamoDB reads only the key range. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/memory_scale.py [--sizes 10,1000,10000] [--loads 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from agentocore import ddb
from agentocore.memory import codec
from agentocore.memory.receipts import Receipt
from agentocore.memory.schema import create_table
from agentocore.memory.store import META, ConversationMemory, conv_pk, turn_sk

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "localstack"))
import ephemeral

TABLE = "memory-scale"
USER = "user-a"
EXCHANGE = [
    {"role": "user", "content": [{"text": "Where is my order A-1001?"}]},
    {"role": "assistant", "content": [{"text": "It ships tomorrow. " * 20}]},
]


def client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "max_attempts": 5}, read_timeout=300),
    )


def seed(dynamodb: Any, memory: ConversationMemory, conversation_id: str, turns: int) -> float:
    """``turns`` alternating user/assistant text turns and their META, written directly
    (BatchWriteItem, 25 items a call); the seconds it took."""
    start = time.perf_counter()
    now = time.time()
    pk = ddb.s(conv_pk(conversation_id))
    ttl = memory.turn_expires(now)  # fresh: a load refreshes nothing
    items = [
        {
            "PK": pk,
            "SK": ddb.s(turn_sk(n)),
            "turn": ddb.n(n),
            "role": ddb.s(EXCHANGE[(n - 1) % 2]["role"]),
            "content": ddb.s(codec.dumps(EXCHANGE[(n - 1) % 2]["content"])),  # type: ignore[arg-type]
            "token_estimate": ddb.n(40),
            "created_at": ddb.s(ddb.iso(now)),
            "ttl": ttl,
        }
        for n in range(1, turns + 1)
    ]
    items.append(
        {
            "PK": pk,
            "SK": ddb.s(META),
            "conversation_id": ddb.s(conversation_id),
            "user_id": ddb.s(USER),
            "turn_count": ddb.n(turns),
            "run_count": ddb.n(turns // 2),
            "created_at": ddb.s(ddb.iso(now)),
            "updated_at": ddb.s(ddb.iso(now)),
            "ttl": memory.expires(now),
        }
    )
    for i in range(0, len(items), 25):
        pending: dict[str, Any] = {TABLE: [{"PutRequest": {"Item": x}} for x in items[i : i + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return time.perf_counter() - start


class Calls:
    """DynamoDB API calls made by a client, by operation (botocore ``before-call``)."""

    def __init__(self, dynamodb: Any) -> None:
        self.counts: Counter[str] = Counter()
        dynamodb.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1

    def take(self) -> Counter[str]:
        counts, self.counts = self.counts, Counter()
        return counts


def fmt(counts: Counter[str]) -> str:
    return " + ".join(f"{n} {op}" for op, n in sorted(counts.items())) or "-"


def measure(endpoint: str, sizes: list[int], loads: int) -> list[dict[str, Any]]:
    dynamodb = client(endpoint)
    create_table(dynamodb, TABLE)
    memory = ConversationMemory(TABLE, client=dynamodb)
    calls = Calls(dynamodb)
    # all seeded first: every load then runs against the same table (moto's Query filters
    # the whole table in Python, so its cost follows the table's size, not the conversation's)
    seeded = {size: seed(dynamodb, memory, f"conv-{size}", size) for size in sizes}
    results = []
    for size in sizes:
        cid, seeded_s = f"conv-{size}", seeded[size]
        calls.take()
        memory.load(cid, user_id=USER)  # warm-up
        calls.take()
        times, windows = [], set()
        for _ in range(loads):
            start = time.perf_counter()
            window = memory.load(cid, user_id=USER)
            times.append((time.perf_counter() - start) * 1000)
            windows.add(len(window.turns))
        per_load = calls.take()
        load_calls = Counter({op: n // loads for op, n in per_load.items()})
        meta_times = []
        for _ in range(loads):  # the load's first request alone
            start = time.perf_counter()
            memory.get_meta(cid)
            meta_times.append((time.perf_counter() - start) * 1000)
        calls.take()
        memory.get_receipt(cid, f"req-{size}")
        receipt_calls = calls.take()
        receipt = Receipt(request_id=f"req-{size}", outcome="{}", owner=USER)
        memory.append(
            cid,
            EXCHANGE,
            expected_turn_count=size,
            user_id=USER,
            receipt=receipt,  # type: ignore[arg-type]
        )
        save_calls = calls.take()
        times.sort()
        results.append(
            {
                "turns": size,
                "seed_s": seeded_s,
                "load": fmt(load_calls),
                "receipt": fmt(receipt_calls),
                "save": fmt(save_calls),
                "window": ",".join(str(w) for w in sorted(windows)),
                "p50": statistics.median(times),
                "p95": times[max(0, round(0.95 * len(times)) - 1)],
                "meta_p50": statistics.median(meta_times),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--loads", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with ephemeral.server(hooks=True) as endpoint:
        results = measure(endpoint, sizes, args.loads)
    print(f"per conversation size: DynamoDB calls and load latency (emulator; {args.loads} loads)")
    cols = ("turns", "seeded s", "calls per load", "receipt check", "calls per save",
            "window msgs", "load p50 ms", "load p95 ms", "META GetItem p50 ms")  # fmt: skip
    print(" | ".join(cols))
    for r in results:
        print(
            f"{r['turns']:,} | {r['seed_s']:.1f} | {r['load']} | {r['receipt']} | {r['save']} | "
            f"{r['window']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['meta_p50']:.2f}"
        )


if __name__ == "__main__":
    main()

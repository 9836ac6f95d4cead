"""A turn's save with and without the outbox: DynamoDB requests and save latency.

In-process moto (the unit tests' backend): the numbers compare the two saves on the same
backend; they are not DynamoDB's latencies. Prints requests per save, items per transaction,
p50/p95 milliseconds.
"""

from __future__ import annotations

import os
import statistics
import time

import boto3
from moto import mock_aws

from agentocore.events import ActionRequest
from agentocore.memory.schema import create_table
from agentocore.memory.store import ConversationMemory

ROUNDS = 60
MESSAGES = [
    {"role": "user", "content": [{"text": "Refund order A-1001, it arrived broken."}]},
    {
        "role": "assistant",
        "content": [
            {
                "toolUse": {
                    "toolUseId": "t1",
                    "name": "trigger_refund",
                    "input": {"order_id": "A-1001"},
                }
            }
        ],
    },
    {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "t1", "content": [{"json": {"status": "requested"}}]}}
        ],
    },
    {"role": "assistant", "content": [{"text": "Your refund was requested."}]},
]


def measure(memory: ConversationMemory, client: object, with_actions: bool) -> None:
    calls: list[str] = []
    client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))  # type: ignore[attr-defined]
    times = []
    for i in range(ROUNDS):
        actions = (
            [
                ActionRequest(
                    type="RefundRequested",
                    action_id=f"a{i}",
                    detail={"action_id": f"a{i}", "order_id": "A-1001", "amount": 50},
                )
            ]
            if with_actions
            else []
        )
        start = time.perf_counter()
        memory.append(f"{with_actions}-{i}", MESSAGES, expected_turn_count=0, actions=actions)
        times.append((time.perf_counter() - start) * 1000)
    items = len(MESSAGES) + 1 + (1 if with_actions else 0)
    label = "with outbox   " if with_actions else "without outbox"
    print(
        f"{label}: {len(calls) / ROUNDS:.0f} request/save ({', '.join(sorted(set(calls)))}), "
        f"{items} items/transaction, save p50 {statistics.median(times):.2f} ms, "
        f"p95 {statistics.quantiles(times, n=20)[18]:.2f} ms"
    )


def main() -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        for with_actions in (False, True):
            client = boto3.client("dynamodb", region_name="us-east-1")
            table = f"bench-{with_actions}-{time.monotonic_ns()}"
            create_table(client, table)
            measure(ConversationMemory(table, client=client), client, with_actions)


if __name__ == "__main__":
    main()

"""Loop overhead per iteration (zero-latency scripted model, in-memory tools) and the number of
DynamoDB requests per turn (moto, in-process). Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/loop_overhead.py [--runs 300] [--iterations 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from agentocore import Agent, ConversationMemory, ConversationRunner, Settings, ToolRegistry
from agentocore.models.scripted import ScriptedModel, text_response, tool_use_response


class LookupInput(BaseModel):
    key: str = Field(description="Key to look up")


def registry() -> ToolRegistry:
    reg = ToolRegistry()
    data = {"a": 1, "b": 2}

    @reg.tool
    def lookup(args: LookupInput) -> dict[str, Any]:
        """Look up a key in an in-memory dict."""
        return {"key": args.key, "value": data.get(args.key)}

    return reg


def script(iterations: int, parallel: int) -> list[Any]:
    steps: list[Any] = []
    for i in range(iterations - 1):
        calls = [(f"t{i}_{j}", "lookup", {"key": "a"}) for j in range(parallel)]
        steps.append(tool_use_response(*calls))
    steps.append(text_response("done"))
    return steps


def bench_loop(runs: int, iterations: int, parallel: int) -> dict[str, float]:
    settings = Settings(max_iterations=iterations, prompt_caching=True)
    agent = Agent(ScriptedModel([]), registry(), settings=settings)
    steps = script(iterations, parallel)
    per_iteration: list[float] = []
    for _ in range(runs):
        agent.model = ScriptedModel(steps, record=False)
        start = time.perf_counter()
        result = agent.run("go")
        elapsed = time.perf_counter() - start
        assert result.status == "completed" and result.iterations == iterations
        per_iteration.append(elapsed / iterations * 1e6)
    per_iteration.sort()
    return {
        "median_us": statistics.median(per_iteration),
        "p95_us": per_iteration[int(len(per_iteration) * 0.95) - 1],
    }


def bench_dynamodb() -> dict[str, list[str]]:
    import boto3
    from moto import mock_aws

    from agentocore.memory.schema import create_table

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    results: dict[str, list[str]] = {}
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "bench")
        calls: list[str] = []
        client.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
        memory = ConversationMemory("bench", client=client, window_messages=40)

        def turn(label: str, steps: list[Any]) -> None:
            agent = Agent(ScriptedModel(steps, record=False), registry(), settings=Settings())
            runner = ConversationRunner(agent, memory, compact_after_save=False)
            calls.clear()
            runner.send("c1", "hello", user_id="u1")
            results[label] = list(calls)

        turn("turn 1 (new conversation)", script(3, 1))
        turn("turn 2", script(3, 1))
        for _ in range(50):
            ConversationRunner(
                Agent(ScriptedModel(script(3, 1), record=False), registry()),
                memory,
                compact_after_save=False,
            ).send("c1", "again", user_id="u1")
        turn("turn 53 (262 stored messages)", script(3, 1))
    return results


def bench_tiktoken() -> tuple[float, float]:
    """First-use cost of the offline encoder (once per process) and one message estimate."""
    from agentocore.budget import tokens

    start = time.perf_counter()
    tokens.get_encoding()
    load_ms = (time.perf_counter() - start) * 1000
    msg = {"role": "user", "content": [{"text": "Refund order A-1001, it arrived broken"}]}
    start = time.perf_counter()
    for _ in range(1000):
        tokens.count_message(msg)
    return load_ms, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()

    print(f"Loop overhead per iteration ({args.runs} runs x {args.iterations} iterations,")
    print("zero-latency scripted model, in-memory tool, thread-pool tool execution):")
    for parallel in (0, 1, 3):
        if parallel == 0:
            steps_label = "no tool calls (1 iteration per run)"
            stats = bench_loop(args.runs * 5, 1, 1)
        else:
            steps_label = f"{parallel} tool call(s) per iteration"
            stats = bench_loop(args.runs, args.iterations, parallel)
        print(
            f"  {steps_label:<40} median {stats['median_us']:8.1f} us"
            f"   p95 {stats['p95_us']:8.1f} us"
        )

    load_ms, per_msg_us = bench_tiktoken()
    print(
        f"\ntiktoken (offline BPE): first load {load_ms:.0f} ms per process,"
        f" {per_msg_us:.1f} us per message estimate"
    )

    print("\nDynamoDB requests per agent turn (load + save, moto in-process):")
    for label, calls in bench_dynamodb().items():
        counts = Counter(calls)
        detail = ", ".join(f"{n} {op}" for op, n in counts.items())
        print(f"  {label:<32} {len(calls)} requests: {detail}")


if __name__ == "__main__":
    main()

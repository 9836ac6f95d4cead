"""Tool-choice accuracy and speed of a model on the labelled requests for the example tools.

Runs every request of ``benchmarks/data/tool_choice.json`` as one whole agent turn (the real
``Agent`` loop, the example app's tools) and prints, per request, the first tool
the model called and its input, then: tool-choice accuracy, argument accuracy, seconds per
model step and per turn, prompt and generation tokens/s. Asserts nothing.

    .venv/bin/python benchmarks/local_llm_accuracy.py [--model local] [--limit N]

Needs `make local-llm` for ``local`` models; ``--model rules:v1`` gives the rules baseline.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

import example_app  # noqa: E402
from agentocore import Agent, Settings, ToolContext, create_model  # noqa: E402
from agentocore.events.actions import CollectingActionSink  # noqa: E402
from agentocore.types import ConverseRequest, ConverseResponse  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "tool_choice.json"


class TimedModel:
    """Wraps a provider: wall time and llama.cpp timings of every call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[dict[str, float]] = []

    @property
    def model_id(self) -> str:
        return str(self.inner.model_id)

    @property
    def min_cache_tokens(self) -> int:
        return int(self.inner.min_cache_tokens)

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        started = time.perf_counter()
        reply = self.inner.converse(request)
        usage = reply.get("usage", {})
        self.calls.append(
            {
                "seconds": time.perf_counter() - started,
                "prompt_tokens": usage.get("inputTokens", 0),
                "cached_tokens": usage.get("cacheReadInputTokens", 0),
                "generated_tokens": usage.get("outputTokens", 0),
            }
        )
        return reply


def first_call(messages: list[dict[str, Any]]) -> tuple[str | None, dict[str, Any]]:
    for message in messages:
        for block in message.get("content", []):
            if "toolUse" in block:
                return block["toolUse"]["name"], block["toolUse"].get("input", {})
    return None, {}


def inputs_match(expected: dict[str, Any], actual: dict[str, Any]) -> bool:
    return all(str(actual.get(k, "")).lower() == str(v).lower() for k, v in expected.items())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="local")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA, help="labelled set (JSON)")
    args = parser.parse_args()

    requests = json.loads(args.data.read_text())["requests"]
    requests = requests[: args.limit] if args.limit else requests
    load_started = time.perf_counter()
    model = TimedModel(create_model(args.model))
    agent = Agent(
        model,
        example_app.tools(),
        settings=Settings(max_iterations=4),
        action_sink=CollectingActionSink(),
    )
    print(f"model {model.model_id}: {len(requests)} labelled requests")

    right_tool = right_input = 0
    turn_seconds: list[float] = []
    for i, item in enumerate(requests):
        started = time.perf_counter()
        context = ToolContext(conversation_id=f"bench-{i}", user_id="bench", agent_id="bench")
        result = agent.run(item["text"], context=context)
        turn_seconds.append(time.perf_counter() - started)
        if i == 0:
            print(f"  (first turn includes loading the model: {turn_seconds[0]:.1f} s)")
        tool, tool_input = first_call(result.messages)
        tool_ok = tool == item["tool"]
        input_ok = tool_ok and inputs_match(item["input"], tool_input)
        right_tool += tool_ok
        right_input += input_ok
        mark = "ok " if input_ok else ("arg" if tool_ok else "BAD")
        called = f"{tool}({json.dumps(tool_input)})" if tool else "answer"
        print(f"{mark} {turn_seconds[-1]:5.1f}s  {item['text'][:52]:52}  -> {called[:70]}")
        print(f"        {result.status}: {result.final_text[:110]!r}")

    calls = model.calls
    steady = turn_seconds[1:] or turn_seconds
    step_s = [c["seconds"] for c in calls[1:]] or [c["seconds"] for c in calls]
    generated = sum(c["generated_tokens"] for c in calls)
    prompt = sum(c["prompt_tokens"] for c in calls)
    busy = sum(c["seconds"] for c in calls)
    n = len(requests)
    print()
    print(f"tool choice accuracy   {right_tool}/{n} = {right_tool / n:.0%}")
    print(f"tool + input accuracy  {right_input}/{n} = {right_input / n:.0%}")
    print(f"model steps            {len(calls)} ({len(calls) / n:.1f} per turn)")
    print(
        f"seconds per step       mean {statistics.mean(step_s):.2f}  "
        f"p50 {percentile(step_s, 0.5):.2f}  p95 {percentile(step_s, 0.95):.2f}"
    )
    print(
        f"seconds per turn       mean {statistics.mean(steady):.2f}  "
        f"p50 {percentile(steady, 0.5):.2f}  p95 {percentile(steady, 0.95):.2f}  "
        f"(first turn {turn_seconds[0]:.2f}, total {time.perf_counter() - load_started:.0f} s)"
    )
    cached = sum(c["cached_tokens"] for c in calls)
    print(
        f"tokens                 {prompt} prompt (+{cached} reused from cache), "
        f"{generated} generated; {(prompt + generated) / busy:.0f} tok/s overall"
    )


if __name__ == "__main__":
    main()

"""The run event log: numbers without gaps or repeats across concurrent writers, text deltas
coalesced per model call, listeners that fail harmlessly, TTL."""

from __future__ import annotations

import threading
from typing import Any

from agentocore.stream import log as event_log
from agentocore.stream.events import RunFinished, TextDelta, ToolUseStart, UsageReport
from agentocore.stream.log import EventLog

NOW = 1_795_608_000.0


def test_two_writers_at_once_never_take_the_same_number(dynamodb, table):
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    barrier = threading.Barrier(2)

    def write(name: str) -> None:
        writer = log.writer("c1", owner="u1", run_id=name)
        barrier.wait()
        for i in range(15):
            writer.emit(ToolUseStart(i, f"{name}-{i}", "tool"))

    threads = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = [r for _, r in log.read("c1", limit=100)]
    assert [r["seq"] for r in records] == list(range(1, 31))  # no gap, no repeat
    for name in ("a", "b"):  # each writer's events in its own order
        mine = [r["tool_use_id"] for r in records if r["run_id"] == name]
        assert mine == [f"{name}-{i}" for i in range(15)]


def test_text_deltas_of_a_call_are_written_together(dynamodb, table, counter, monkeypatch):
    clock = [0.0]
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    writer = log.writer("c1", owner="u1", monotonic=lambda: clock[0])
    stored: list[dict[str, Any]] = []
    writer.listeners.append(stored.append)
    counter.reset()
    for word in ("Hel", "lo ", "there"):
        writer.emit(TextDelta(1, word))
    assert counter.calls.count("PutItem") == 0  # buffered
    writer.emit(TextDelta(2, "Next"))  # another call: the first one's text is written
    clock[0] = event_log.FLUSH_S  # time passes: the next delta flushes the buffer
    writer.emit(TextDelta(2, " step"))
    writer.emit(TextDelta(2, "x" * event_log.FLUSH_CHARS))  # size flushes
    writer.emit(UsageReport(2, 1, 1, 0.0))
    writer.emit(TextDelta(3, "tail"))
    writer.flush()
    assert [(r["type"], r.get("delta")) for r in stored] == [
        ("text", "Hello there"),
        ("text", "Next step"),
        ("text", "x" * event_log.FLUSH_CHARS),
        ("usage", None),
        ("text", "tail"),
    ]
    assert [r["seq"] for r in stored] == [1, 2, 3, 4, 5]


def test_a_failing_listener_loses_nothing(dynamodb, table):
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    writer = log.writer("c1", owner="u1")

    def gone(record: dict[str, Any]) -> None:
        raise ConnectionError("410 gone")

    writer.listeners.append(gone)
    writer.emit(RunFinished("completed", "ok", "end_turn", 1, 1, 0.0))
    [(owner, record)] = log.read("c1")
    assert owner == "u1" and record["type"] == "result" and record["seq"] == 1


def test_items_expire_and_stay_out_of_the_turn_queries(dynamodb, table):
    log = EventLog(table, client=dynamodb, clock=lambda: NOW, ttl_hours=24)
    log.writer("c1", owner="u1").emit(RunFinished("completed", "ok", "end_turn", 1, 1, 0.0))
    [item] = dynamodb.scan(TableName=table)["Items"]
    assert item["SK"]["S"] == "EVT#000000000001"
    assert int(item["ttl"]["N"]) == int(NOW) + 24 * 3600
    assert not item["SK"]["S"].startswith(("TURN#", "META", "REQ#"))

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
        writer = log.writer("c1", owner="u1", run_id=name, monotonic=lambda: 0.0)
        barrier.wait()
        for i in range(15):
            writer.emit(ToolUseStart(i, f"{name}-{i}", "tool"))
            if i % 3 == 2:
                writer.flush()  # batches of 3, racing the other writer for the head

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


def test_a_run_is_written_in_batches_with_one_call_s_text_merged(dynamodb, table, counter):
    clock = [0.0]
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    writer = log.writer("c1", owner="u1", monotonic=lambda: clock[0])
    stored: list[dict[str, Any]] = []
    writer.listeners.append(stored.append)
    counter.reset()
    for word in ("Hel", "lo ", "there"):
        writer.emit(TextDelta(1, word))
    writer.emit(UsageReport(1, 5, 3, 0.0))
    writer.emit(ToolUseStart(1, "t1", "tool"))
    assert counter.calls == []  # held: a quick run is written once
    clock[0] = event_log.FLUSH_S  # time passes: the next event writes what is held
    writer.emit(TextDelta(2, "Next"))
    assert counter.calls == ["GetItem", "TransactWriteItems"]  # the head, then one batch
    writer.emit(TextDelta(2, " step"))
    writer.emit(RunFinished("completed", "Next step", "end_turn", 5, 3, 0.0))  # the end
    assert counter.calls[2:] == []  # the result waits for the caller (the turn's save)
    writer.flush()
    assert counter.calls[2:] == ["TransactWriteItems"]
    assert [(r["type"], r.get("delta"), r["seq"]) for r in stored] == [
        ("text", "Hello there", 1),
        ("usage", None, 2),
        ("tool_use_start", None, 3),
        ("text", "Next", 4),  # written with what was held; the rest of the step's text follows
        ("text", " step", 5),
        ("result", None, 6),
    ]
    assert [r["seq"] for _, r in log.read("c1", after=2)] == [3, 4, 5, 6]
    assert log.last_seq("c1") == 6


def test_a_big_batch_is_written_before_it_grows_past_the_item_limit(dynamodb, table, counter):
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    writer = log.writer("c1", owner="u1", monotonic=lambda: 0.0)
    counter.reset()
    for step in range(1, 5):
        writer.emit(TextDelta(step, "x" * (event_log.FLUSH_BYTES // 3)))
    assert counter.calls.count("TransactWriteItems") == 1
    writer.flush()
    assert [len(r["delta"]) for _, r in log.read("c1")] == [event_log.FLUSH_BYTES // 3] * 4


def test_a_failing_listener_loses_nothing(dynamodb, table):
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    writer = log.writer("c1", owner="u1")

    def gone(record: dict[str, Any]) -> None:
        raise ConnectionError("410 gone")

    writer.listeners.append(gone)
    writer.emit(RunFinished("completed", "ok", "end_turn", 1, 1, 0.0))
    writer.flush()
    [(owner, record)] = log.read("c1")
    assert owner == "u1" and record["type"] == "result" and record["seq"] == 1


def test_items_expire_and_stay_out_of_the_turn_queries(dynamodb, table):
    log = EventLog(table, client=dynamodb, clock=lambda: NOW, ttl_hours=24)
    writer = log.writer("c1", owner="u1")
    writer.emit(RunFinished("completed", "ok", "end_turn", 1, 1, 0.0))
    writer.flush()
    items = sorted(dynamodb.scan(TableName=table)["Items"], key=lambda i: i["SK"]["S"])
    assert [i["SK"]["S"] for i in items] == ["EVT#000000000001", "EVT#HEAD"]
    assert all(int(i["ttl"]["N"]) == int(NOW) + 24 * 3600 for i in items)


def test_a_pause_in_a_live_run_does_not_hold_its_text(dynamodb, table):
    """No further event comes (the model is thinking): the writer's timer writes what it holds,
    and the stored batch goes to the live push."""
    pushed: list[Any] = []
    got = threading.Event()

    def on_stored(conversation_id: str, owner: str | None, records: list[Any]) -> None:
        pushed.append((conversation_id, owner, [r["seq"] for r in records]))
        got.set()

    log = EventLog(table, client=dynamodb, clock=lambda: NOW, on_stored=on_stored)
    writer = log.writer("c1", owner="u1", live=True)
    assert writer.flush_s == log.live_flush_s == 0.1
    writer.emit(TextDelta(1, "Let me check"))
    assert got.wait(10)  # written by the timer, no later event needed
    assert [r["delta"] for _, r in log.read("c1")] == ["Let me check"]
    assert pushed == [("c1", "u1", [1])]


def test_a_result_is_only_ever_written_by_the_caller(dynamodb, table):
    """Whatever the clock says, the run's result waits for the caller's flush (after the turn
    is saved); what came before it is written."""
    clock = [0.0]
    log = EventLog(table, client=dynamodb, clock=lambda: NOW)
    writer = log.writer("c1", owner="u1", flush_s=30, monotonic=lambda: clock[0])
    writer.emit(TextDelta(1, "Done."))
    clock[0] = 31.0  # past the interval: the next event would write the batch...
    writer.emit(RunFinished("completed", "Done.", "end_turn", 10, 2, 0.0))
    assert log.read("c1") == []  # ...but a result is held
    writer._timed_flush()  # the timer fires
    assert [r["type"] for _, r in log.read("c1")] == ["text"]
    writer.flush()  # the turn was saved
    assert [r["type"] for _, r in log.read("c1")] == ["text", "result"]

"""DynamoDB memory on moto: windowed reads, conflict-safe writes, invariants, item limits."""

from __future__ import annotations

import threading

import pytest

from agentocore.budget import Usage
from agentocore.memory import (
    ConversationMemory,
    ConversationNotFound,
    StoredTurn,
    TurnConflict,
    codec,
)
from agentocore.memory.window import repair, split_for_compaction


def user(text):
    return {"role": "user", "content": [{"text": text}]}


def assistant(text):
    return {"role": "assistant", "content": [{"text": text}]}


def tool_use(tid, name="get_weather"):
    return {
        "role": "assistant",
        "content": [{"toolUse": {"toolUseId": tid, "name": name, "input": {}}}],
    }


def tool_result(tid):
    return {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": tid, "content": [{"text": "ok"}], "status": "success"}}
        ],
    }


def exchange(i, with_tool=False):
    msgs = [user(f"q{i}")]
    if with_tool:
        msgs += [tool_use(f"t{i}"), tool_result(f"t{i}")]
    return [*msgs, assistant(f"a{i}")]


@pytest.fixture
def memory(dynamodb, table):
    return ConversationMemory(table, client=dynamodb, window_messages=10)


def save_many(memory, conversation_id, n, user_id="u1", with_tool=True):
    count = 0
    for i in range(n):
        count = memory.append(
            conversation_id, exchange(i, with_tool), expected_turn_count=count, user_id=user_id
        )
    return count


def test_new_conversation_loads_with_one_request(memory, counter):
    counter.reset()
    window = memory.load("new-conv", user_id="u1")
    assert window.meta.exists is False
    assert window.turns == []
    assert counter.calls == ["GetItem"]


def test_append_and_load_round_trip(memory):
    count = memory.append(
        "c1",
        exchange(0, with_tool=True),
        expected_turn_count=0,
        user_id="u1",
        agent_id="support",
        usage=Usage(input_tokens=100, output_tokens=20, cache_read_tokens=5, cache_write_tokens=7),
        cost_usd=0.0123,
        model_id="m1",
    )
    assert count == 4
    window = memory.load("c1", user_id="u1")
    assert window.messages == exchange(0, with_tool=True)
    meta = window.meta
    assert (meta.user_id, meta.agent_id, meta.turn_count) == ("u1", "support", 4)
    assert (meta.input_tokens, meta.output_tokens) == (100, 20)
    assert (meta.cache_read_tokens, meta.cache_write_tokens) == (5, 7)
    assert meta.cost_usd == pytest.approx(0.0123)
    assert meta.spent.tokens == 132
    assert all(t.token_estimate > 0 for t in window.turns)


def test_turn_items_carry_ttl_and_keys(memory, dynamodb, table):
    memory.append("c1", exchange(0), expected_turn_count=0, user_id="u1")
    items = dynamodb.scan(TableName=table)["Items"]
    sks = sorted(i["SK"]["S"] for i in items)
    assert sks == ["META", "TURN#000000001", "TURN#000000002"]
    assert all(i["PK"]["S"] == "CONV#c1" for i in items)
    assert all(int(i["ttl"]["N"]) > 0 for i in items)
    meta = next(i for i in items if i["SK"]["S"] == "META")
    assert meta["user_id"]["S"] == "u1" and "updated_at" in meta


def test_window_load_is_one_query_whatever_the_history_length(memory, counter):
    save_many(memory, "short", 2)
    save_many(memory, "long", 60)  # 240 turns, the window holds 10 messages
    for conv in ("short", "long"):
        counter.reset()
        window = memory.load(conv, user_id="u1")
        assert counter.calls == ["GetItem", "Query"], conv
        assert window.requests == 2
    assert window.turns[-1].number == 240
    assert len(window.turns) <= 10


def test_window_starts_with_user_text_and_keeps_tool_pairs(memory):
    # 4 messages per exchange, window of 10: the newest 10 start in the middle of an exchange
    save_many(memory, "c1", 5)
    window = memory.load("c1", user_id="u1")
    msgs = window.messages
    assert msgs[0]["role"] == "user" and "text" in msgs[0]["content"][0]
    for i, m in enumerate(msgs):
        for block in m["content"]:
            if "toolUse" in block:
                nxt = msgs[i + 1]["content"][0]["toolResult"]
                assert nxt["toolUseId"] == block["toolUse"]["toolUseId"]
            if "toolResult" in block:
                prev = msgs[i - 1]["content"][0]["toolUse"]
                assert prev["toolUseId"] == block["toolResult"]["toolUseId"]
    assert msgs[-1] == assistant("a4")


def test_repair_drops_orphans_and_merges_roles():
    turns = [
        StoredTurn(1, "user", tool_result("old")["content"]),  # orphaned toolResult
        StoredTurn(2, "assistant", [{"text": "stale"}]),
        StoredTurn(3, "user", [{"text": "q"}]),
        StoredTurn(4, "assistant", tool_use("x")["content"]),  # toolUse without its result
        StoredTurn(5, "user", [{"text": "follow-up"}]),
        StoredTurn(6, "user", [{"text": "again"}]),
        StoredTurn(7, "assistant", [{"text": "a"}]),
        StoredTurn(8, "user", [{"text": "dangling"}]),
    ]
    fixed = repair(turns)
    assert [t.number for t in fixed] == [3, 4, 6, 7]
    assert fixed[1].content == [{"text": "[tool call without result removed]"}]
    assert fixed[2].content == [{"text": "follow-up"}, {"text": "again"}]


def test_split_for_compaction_keeps_whole_exchanges():
    turns = [
        StoredTurn(i + 1, m["role"], m["content"])
        for i, m in enumerate(exchange(0, True) + exchange(1, True) + exchange(2))
    ]
    split = split_for_compaction(turns, keep=2)
    assert split == 8 and turns[split].content == [{"text": "q2"}]
    split = split_for_compaction(turns, keep=3)  # q2's exchange is too short: keep q1's too
    assert split == 4 and turns[split].content == [{"text": "q1"}]
    assert split_for_compaction(turns[:4], keep=3) == 0


def test_stale_writer_gets_a_conflict_and_nothing_is_written(memory, dynamodb, table):
    memory.append("c1", exchange(0), expected_turn_count=0, user_id="u1")
    with pytest.raises(TurnConflict):
        memory.append("c1", exchange(1), expected_turn_count=0, user_id="u1")
    assert len(dynamodb.scan(TableName=table)["Items"]) == 3
    assert memory.get_meta("c1").turn_count == 2


def test_concurrent_writers_lose_nothing(dynamodb, table):
    memory = ConversationMemory(table, client=dynamodb, window_messages=200)
    writers, per_writer = 4, 3
    errors = []
    start = threading.Barrier(writers)

    def writer(w):
        start.wait()
        for i in range(per_writer):
            for _ in range(200):
                expected = memory.get_meta("shared").turn_count
                try:
                    memory.append(
                        "shared",
                        exchange(f"{w}-{i}"),
                        expected_turn_count=expected,
                        user_id="u1",
                        usage=Usage(input_tokens=1, output_tokens=1),
                        cost_usd=0.5,
                    )
                    break
                except TurnConflict:
                    continue
            else:
                errors.append(w)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    meta = memory.get_meta("shared")
    total = writers * per_writer
    assert meta.turn_count == 2 * total
    assert (meta.input_tokens, meta.output_tokens) == (total, total)
    assert meta.cost_usd == pytest.approx(0.5 * total)
    _, turns, _ = memory.history("shared", user_id="u1", limit=1000)
    assert [t.number for t in turns] == list(range(1, 2 * total + 1))
    questions = {t.content[0]["text"] for t in turns if t.role == "user"}
    assert questions == {f"q{w}-{i}" for w in range(writers) for i in range(per_writer)}


def test_another_users_conversation_is_not_found(memory):
    memory.append("c1", exchange(0), expected_turn_count=0, user_id="alice")
    with pytest.raises(ConversationNotFound):
        memory.load("c1", user_id="mallory")
    with pytest.raises(ConversationNotFound):
        memory.append("c1", exchange(1), expected_turn_count=2, user_id="mallory")
    assert memory.get_meta("c1").turn_count == 2


def test_oversized_turn_is_truncated_with_a_marker_not_lost(memory):
    huge = "x" * 600_000
    msgs = [
        user("summarize this file"),
        tool_use("big", "read_file"),
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": "big",
                        "content": [{"text": huge}],
                        "status": "success",
                    }
                }
            ],
        },
        assistant("done"),
    ]
    memory.append("c1", msgs, expected_turn_count=0, user_id="u1")
    window = memory.load("c1", user_id="u1")
    stored = window.messages[2]["content"][0]["toolResult"]
    assert stored["toolUseId"] == "big"
    text = stored["content"][0]["text"]
    assert "truncated by AgentoCore" in text
    assert len(text.encode()) < codec.MAX_ITEM_CONTENT_BYTES
    assert window.messages[3] == assistant("done")


def test_codec_round_trips_bytes_and_fits_many_blocks():
    content = [{"image": {"format": "png", "source": {"bytes": b"\x89PNG..."}}}, {"text": "é" * 10}]
    assert codec.loads(codec.dumps(content)) == content
    many = [{"text": "y" * 50_000} for _ in range(20)]
    fitted = codec.fit(many, 100_000)
    assert len(codec.dumps(fitted).encode()) <= 100_000
    assert len(fitted) == 20


def test_list_conversations_uses_the_gsi_newest_first(dynamodb, table):
    clock = iter(range(1_000, 2_000, 10))
    memory = ConversationMemory(table, client=dynamodb, clock=lambda: float(next(clock)))
    for cid in ("a", "b", "c"):
        memory.append(cid, exchange(0), expected_turn_count=0, user_id="u1")
    memory.append("x", exchange(0), expected_turn_count=0, user_id="u2")
    memory.append("a", exchange(1), expected_turn_count=2, user_id="u1")
    metas, next_key = memory.list_conversations("u1", limit=2)
    assert [m.conversation_id for m in metas] == ["a", "c"]
    assert next_key is not None
    rest, _ = memory.list_conversations("u1", limit=2, start_key=next_key)
    assert [m.conversation_id for m in rest] == ["b"]


def test_summary_is_stored_and_window_starts_after_it(memory, counter):
    save_many(memory, "c1", 3, with_tool=False)  # 6 turns
    assert memory.save_summary("c1", "user asked q0 and q1", upto=4, usage=Usage(input_tokens=9))
    assert not memory.save_summary("c1", "older summary", upto=2)  # a newer one already won
    counter.reset()
    window = memory.load("c1", user_id="u1")
    assert counter.calls == ["GetItem", "Query"]
    assert window.summary == "user asked q0 and q1"
    assert [t.number for t in window.turns] == [5, 6]
    assert window.meta.input_tokens == 9


def test_a_conversation_without_an_owner_is_nobodys(dynamodb, table):
    """An ownerless META (e.g. written by an old worker) can neither be read nor claimed by a
    user: 404 for everyone, and appending as a user fails instead of adopting it."""
    from agentocore.memory import ConversationMemory, ConversationNotFound

    memory = ConversationMemory(table, client=dynamodb)
    memory.append(
        "orphan",
        [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"text": "x"}]},
        ],
        expected_turn_count=0,
    )
    with pytest.raises(ConversationNotFound):
        memory.load("orphan", user_id="mallory")
    with pytest.raises(ConversationNotFound):
        memory.append(
            "orphan",
            [{"role": "user", "content": [{"text": "mine now"}]}],
            expected_turn_count=2,
            user_id="mallory",
        )
    assert memory.get_meta("orphan").user_id is None

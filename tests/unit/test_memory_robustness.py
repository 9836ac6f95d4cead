"""Issue 13, memory: escaped content under the item and transaction limits, a window for runs
longer than the window, turns that live as long as their active conversation."""

from __future__ import annotations

import json

import pytest

from agentocore.agent import Agent
from agentocore.budget import Usage
from agentocore.config import Settings
from agentocore.memory import ConversationMemory, StoredTurn, codec
from agentocore.memory.store import MAX_ITEM_BYTES
from agentocore.memory.window import is_valid, repair
from agentocore.models.scripted import ScriptedModel, text_response
from agentocore.session import ConversationRunner

from .sample_tools import build_registry
from .test_loop_deadline import FakeClock, refund, slow

DAY = 86_400
#: DynamoDB's TransactWriteItems limit on the aggregate size of its items.
TRANSACTION_LIMIT = 4_000_000


def user(text):
    return {"role": "user", "content": [{"text": text}]}


def assistant(text):
    return {"role": "assistant", "content": [{"text": text}]}


def tool_use(tid, name="lookup", tool_input=None):
    block = {"toolUse": {"toolUseId": tid, "name": name, "input": tool_input or {}}}
    return {"role": "assistant", "content": [block]}


def tool_result(tid, text="ok"):
    block = {"toolResult": {"toolUseId": tid, "content": [{"text": text}], "status": "success"}}
    return {"role": "user", "content": [block]}


def json_document(approx_bytes):
    """A JSON document as a tool returns it as text: quotes, backslashes, control characters
    and non-ASCII in every record (about 2.4 escaped bytes per raw byte)."""
    record = {"name": 'Zoë "the \\ admin"', "note": "tab\there\nnull\x00bell\x07", "city": "Kraków"}
    one = len(json.dumps(record).encode())
    return json.dumps([record] * (approx_bytes // one))


class TransactionLog:
    """The TransactItems of every TransactWriteItems a client sends."""

    def __init__(self, client):
        self.requests = []
        client.meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems", self._record
        )

    def _record(self, params, **_):
        self.requests.append(params["TransactItems"])


def sizes_of(transact_items):
    """Each Put item's size as DynamoDB counts it (names + string/number values; a BOOL is
    one byte)."""

    def value_bytes(v):
        [(kind, value)] = v.items()
        return 1 if kind == "BOOL" else len(value.encode())

    items = [next(iter(a.values())).get("Item") for a in transact_items]
    return [
        sum(len(k.encode()) + value_bytes(v) for k, v in i.items()) for i in items if i is not None
    ]


@pytest.fixture
def memory(dynamodb, table):
    return ConversationMemory(table, client=dynamodb, window_messages=10)


# ---- 1. escaped content and the 400 KB / 4 MB limits -----------------------------------------


def test_escaped_json_text_fits_the_item_limit():
    """The review's case: cutting raw bytes while measuring escaped ones ended at ~509 KB."""
    doc = json_document(880_000)
    assert codec.size([{"text": doc}]) > 2 * codec.MAX_ITEM_CONTENT_BYTES
    content = tool_result("big", doc)["content"]
    fitted = codec.fit(content)
    assert codec.size(fitted) <= codec.MAX_ITEM_CONTENT_BYTES
    result = fitted[0]["toolResult"]
    assert result["toolUseId"] == "big" and result["status"] == "success"
    text = result["content"][0]["text"]
    assert "truncated by AgentoCore" in text
    assert doc.startswith(text[: text.index("\n[... truncated")])
    assert codec.size(fitted) > codec.MAX_ITEM_CONTENT_BYTES - 1_000  # cut, not gutted


def test_control_characters_fit_the_item_limit():
    """Six escaped bytes per raw byte: a raw-byte cut did not shrink it at all."""
    fitted = codec.fit([{"text": "\x01" * 200_000}])
    assert codec.size(fitted) <= codec.MAX_ITEM_CONTENT_BYTES
    assert "truncated by AgentoCore" in fitted[0]["text"]


def test_escaped_tool_output_is_saved_with_its_usage_not_lost(memory, dynamodb):
    doc = json_document(880_000)
    messages = [
        user("export the users"),
        tool_use("t1", "export_users"),
        tool_result("t1", doc),
        assistant("done"),
    ]
    log = TransactionLog(dynamodb)
    count = memory.append(
        "c1",
        messages,
        expected_turn_count=0,
        user_id="u1",
        usage=Usage(input_tokens=120, output_tokens=30),
        cost_usd=0.25,
    )
    assert count == 4
    assert max(sizes_of(log.requests[0])) <= MAX_ITEM_BYTES
    window = memory.load("c1", user_id="u1")
    assert window.meta.input_tokens == 120 and window.meta.cost_usd == pytest.approx(0.25)
    assert is_valid(window.messages)
    text = window.messages[2]["content"][0]["toolResult"]["content"][0]["text"]
    assert "truncated by AgentoCore" in text


def test_a_save_of_many_large_escaped_messages_fits_one_transaction(memory, dynamodb):
    """96 messages of ~1 MB escaped text each (the longest run): every item under 400 KB and
    the transaction under 4 MB, the save degraded (cut) rather than failed."""
    from agentocore.config import MAX_ITERATIONS_LIMIT
    from agentocore.memory.receipts import MAX_OUTCOME_BYTES, Receipt

    doc = json_document(400_000)
    messages = [user(doc)]
    for i in range(MAX_ITERATIONS_LIMIT):
        messages += [tool_use(f"t{i}", tool_input={"q": doc[:50_000]}), tool_result(f"t{i}", doc)]
    messages.append(assistant(doc))
    assert len(messages) == 96
    log = TransactionLog(dynamodb)
    receipt = Receipt(request_id="r-1", outcome='"' + "y" * (MAX_OUTCOME_BYTES - 2) + '"')
    saved = memory.append("c1", messages, expected_turn_count=0, user_id="u1", receipt=receipt)
    assert saved == 96
    sizes = sizes_of(log.requests[0])
    assert max(sizes) <= MAX_ITEM_BYTES
    assert sum(sizes) <= codec.MAX_TRANSACTION_BYTES < TRANSACTION_LIMIT
    turns, after = [], 0
    while after is not None:  # 1 MB pages
        _, page, after = memory.history("c1", user_id="u1", after_turn=after)
        turns += page
    assert len(turns) == 96
    assert is_valid([t.message for t in turns])  # every pair kept its ids


def test_fit_all_cuts_only_what_the_transaction_cannot_hold():
    small = [{"text": "hello"}]
    big = [{"text": "\\" * 1_500_000}]
    fitted = codec.fit_all([small, big, big], max_item=380_000, max_total=500_000)
    assert fitted[0] == small
    assert sum(codec.size(c) for c in fitted) <= 500_000
    assert all("truncated by AgentoCore" in c[0]["text"] for c in fitted[1:])


def test_thousands_of_blocks_collapse_to_a_visible_marker():
    tools = [{"toolUse": {"toolUseId": f"t{i}", "name": "n", "input": {}}} for i in range(3)]
    content = [{"text": "x"}] * 5_000 + tools
    fitted = codec.fit(content, 2_000)
    assert codec.size(fitted) <= 2_000
    assert [b["toolUse"]["toolUseId"] for b in fitted if "toolUse" in b] == ["t0", "t1", "t2"]
    assert "5000 blocks" in fitted[0]["text"]


def test_a_dict_shaped_like_encoded_bytes_round_trips():
    """Tool output {"$bytes": "..."} read back as bytes (or crashed the load when not base64)."""
    content = [
        {"toolResult": {"toolUseId": "t", "content": [{"json": {"$bytes": "not base64!"}}]}},
        {"toolResult": {"toolUseId": "u", "content": [{"json": {"$bytes": "aGk="}}]}},
        {"toolResult": {"toolUseId": "v", "content": [{"json": {"$dict": [["a", 1]]}}]}},
        {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}},
    ]
    assert codec.loads(codec.dumps(content)) == content


def test_lone_surrogates_are_stored_replaced_not_crashing(memory):
    memory.append("c1", [user("a\ud800b"), assistant("ok")], expected_turn_count=0, user_id="u1")
    assert memory.load("c1", user_id="u1").messages[0]["content"] == [{"text": "a\ufffdb"}]


# ---- 2. a run longer than the window ---------------------------------------------------------


def long_run(n_tools, prefix="t"):
    messages = [user("do many things")]
    for i in range(n_tools):
        messages += [tool_use(f"{prefix}{i}"), tool_result(f"{prefix}{i}")]
    return [*messages, assistant("all done")]


def test_a_run_longer_than_the_window_still_loads_from_its_user_turn(memory, counter):
    memory.append("c1", [user("hello"), assistant("hi")], expected_turn_count=0, user_id="u1")
    run = long_run(8)  # 18 messages, the window holds 10
    memory.append("c1", run, expected_turn_count=2, user_id="u1")
    counter.reset()
    window = memory.load("c1", user_id="u1")
    assert window.messages == run  # the whole exchange, from its user text turn
    assert window.skipped == 2 and counter.calls == ["GetItem", "Query", "Query"]


def test_a_window_with_no_user_text_turn_left_is_explicitly_empty(memory, dynamodb, table):
    memory.append("c1", long_run(8), expected_turn_count=0, user_id="u1")
    dynamodb.delete_item(  # the exchange's user text turn expired
        TableName=table, Key={"PK": {"S": "CONV#c1"}, "SK": {"S": "TURN#000000001"}}
    )
    window = memory.load("c1", user_id="u1")
    assert window.turns == [] and window.skipped == 18


def test_an_empty_window_carries_the_summary(memory, dynamodb, table):
    memory.append("c1", [user("q"), assistant("a")], expected_turn_count=0, user_id="u1")
    memory.append("c1", long_run(8)[1:], expected_turn_count=2, user_id="u1")  # no user text
    assert memory.save_summary("c1", "the user asked q", upto=2)
    window = memory.load("c1", user_id="u1")
    assert window.turns == [] and window.skipped == 17  # turns 3..19
    assert window.summary == "the user asked q"


def test_settings_reject_a_window_smaller_than_one_run():
    with pytest.raises(ValueError, match="window_messages=60 is too small"):
        Settings(max_iterations=30)  # 62 messages per run
    with pytest.raises(ValueError, match="too small"):  # compaction waits for 2 x 20
        Settings(max_iterations=1, window_messages=30, compaction_keep_messages=20)
    assert Settings(max_iterations=30, window_messages=70).window_messages == 70
    assert Settings().window_messages == 60  # the defaults agree


def test_a_deferred_run_longer_than_the_window_is_continued(dynamodb, table):
    """Its user text turn is older than the newest 4 messages: the continuation used to find
    no valid window and closed the exchange as failed."""
    clock = FakeClock()
    steps = [
        slow(clock, 4, refund("t1")),
        slow(clock, 4, refund("t2")),
        slow(clock, 20, refund("t3")),
        text_response("Refunds requested."),
    ]
    model = ScriptedModel(steps)
    agent = Agent(model, build_registry(), settings=Settings(), clock=clock)
    memory = ConversationMemory(table, client=dynamodb, window_messages=4)
    runner = ConversationRunner(agent, memory)
    sent = runner.send("c1", "Refund A-1001", user_id="u1", deadline=clock() + 25)
    assert sent.result.status == "deferred"
    outcome = runner.resume("c1", sent.running.invocation_id, user_id="u1")
    assert outcome is not None and outcome.result.status == "completed"
    assert outcome.result.final_text == "Refunds requested."


# ---- 3. turns live as long as their active conversation -------------------------------------


def expire(dynamodb, table, now):
    """What DynamoDB's TTL does (eventually): delete every item whose ttl has passed."""
    for item in dynamodb.scan(TableName=table)["Items"]:
        if "ttl" in item and int(item["ttl"]["N"]) < now:
            dynamodb.delete_item(TableName=table, Key={"PK": item["PK"], "SK": item["SK"]})


def test_an_active_conversation_keeps_its_first_turns_past_ttl_days(dynamodb, table):
    """One exchange every 10 days for 120 days (ttl_days=30, no compaction): every turn META
    counts is still loaded; before, turn 1 expired 30 days after it was written."""
    now = [1_700_000_000.0]
    memory = ConversationMemory(
        table, client=dynamodb, ttl_days=30, window_messages=60, clock=lambda: now[0]
    )
    count = 0
    for day in range(0, 121, 10):
        now[0] = 1_700_000_000.0 + day * DAY
        expire(dynamodb, table, now[0])
        window = memory.load("c1", user_id="u1")
        assert window.meta.turn_count == count
        assert [t.number for t in window.turns] == list(range(1, count + 1)), f"day {day}"
        count = memory.append(
            "c1",
            [user(f"day {day}"), assistant("noted")],
            expected_turn_count=count,
            user_id="u1",
        )
    assert count == 26


def test_ttl_refresh_writes_are_bounded_and_rare(dynamodb, table, counter):
    now = [1_700_000_000.0]
    memory = ConversationMemory(
        table, client=dynamodb, ttl_days=30, window_messages=10, clock=lambda: now[0]
    )
    count = 0
    for i in range(10):
        count = memory.append(
            "c1", [user(f"q{i}"), assistant("a")], expected_turn_count=count, user_id="u1"
        )
    counter.reset()
    assert memory.load("c1", user_id="u1").refreshed == 0  # young turns: no write
    assert "UpdateItem" not in counter.calls
    now[0] += 20 * DAY
    count = memory.append("c1", [user("q"), assistant("a")], expected_turn_count=count)
    now[0] += 20 * DAY  # the first 20 turns are due (written 40 days ago, for 61 days)
    counter.reset()
    window = memory.load("c1", user_id="u1")
    # the 8 old ones among the 10 loaded (turns 13..22); older turns are out of the window
    assert window.refreshed == 8 == counter.calls.count("UpdateItem")
    assert memory.load("c1", user_id="u1").refreshed == 0  # once per ttl_days


def test_a_leftover_turn_of_an_expired_conversation_does_not_block_its_id(memory, dynamodb, table):
    memory.append("c1", long_run(2), expected_turn_count=0, user_id="u1")
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": "CONV#c1"}, "SK": {"S": "META"}})
    assert memory.append("c1", [user("new"), assistant("fresh")], expected_turn_count=0) == 2
    _, turns, _ = memory.history("c1")
    assert [t.message for t in turns] == [user("new"), assistant("fresh")]  # not turns 3..6


def test_partly_expired_turns_still_load_a_valid_window(memory, dynamodb, table):
    count = 0
    for i in range(3):
        count = memory.append(
            "c1", long_run(1, prefix=f"x{i}-"), expected_turn_count=count, user_id="u1"
        )
    for number in (1, 6, 7):  # the first user turn, a toolResult, an answer
        dynamodb.delete_item(
            TableName=table, Key={"PK": {"S": "CONV#c1"}, "SK": {"S": f"TURN#{number:09d}"}}
        )
    window = memory.load("c1", user_id="u1")
    assert window.messages and is_valid(window.messages)
    assert window.messages[0] == user("do many things") and window.turns[0].number == 5


def test_repair_of_a_run_whose_partner_expired_drops_the_orphan():
    turns = [
        StoredTurn(3, "user", [{"text": "q"}]),
        StoredTurn(4, "assistant", tool_use("a")["content"] + tool_use("b")["content"]),
        StoredTurn(5, "user", tool_result("b")["content"]),  # a's result expired
        StoredTurn(7, "assistant", [{"text": "done"}]),
    ]
    fixed = repair(turns)
    assert is_valid([t.message for t in fixed])
    assert [b["toolUse"]["toolUseId"] for b in fixed[1].content] == ["b"]

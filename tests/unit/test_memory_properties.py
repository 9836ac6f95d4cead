"""Property-based tests of the memory (Hypothesis): the codec fits any content under the item
and transaction limits and round-trips what fits; any stored history loads as a valid Converse
window, or as an explicit empty one carrying the summary.

Derandomized (the same examples on every run, no example database): CI-stable, seconds.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentocore.memory import ConversationMemory, StoredTurn, codec
from agentocore.memory.store import MAX_ITEM_BYTES, conv_pk, turn_sk
from agentocore.memory.window import is_valid, repair

CI = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
MARKER = "truncated by AgentoCore"
REMOVED = {"text": "[tool call without result removed]"}

# ---- strategies: content ---------------------------------------------------------------------

#: Characters that escape to 2 or 6 bytes, multi-byte UTF-8, and plain ones.
ESCAPY = st.sampled_from(['"', "\\", "\x00", "\x01", "\x1f", "\n", "\t", "é", "€", "😀", "a", "/"])
unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # no surrogates
escaped_text = st.lists(ESCAPY, max_size=40).map("".join)
short_text = unicode_text | escaped_text


def _repeat(seed: str, length: int) -> str:
    return (seed * (length // len(seed) + 1))[:length]


#: Up to 400 K characters (2.4 MB escaped for control characters), cheap to generate.
huge_text = st.builds(_repeat, short_text.filter(bool), st.integers(1_000, 400_000))
texts = st.one_of(short_text, short_text, short_text, huge_text)
keys = unicode_text | st.sampled_from(["$bytes", "$dict", "text", "json", "toolUse"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | short_text
    | st.sampled_from(["aGk=", "not base64!"])
)
small_json = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
#: Small documents, one with a huge string, or a long list of copies (a big export).
json_values = st.one_of(
    small_json,
    small_json,
    st.builds(lambda k, t: {k: t}, keys, huge_text),
    st.builds(lambda v, n: [v] * n, small_json, st.integers(0, 2_000)),
)
ids = st.sampled_from(["t0", "t1", "t2", "tooluse_8bX3kQ2aT9ym"])
text_block = st.builds(lambda t: {"text": t}, texts)
tool_use_block = st.builds(
    lambda i, v: {"toolUse": {"toolUseId": i, "name": "lookup", "input": v}},
    ids,
    st.dictionaries(keys, json_values, max_size=3),
)
result_item = text_block | st.builds(lambda v: {"json": v}, json_values)
tool_result_block = st.builds(
    lambda i, items, status: {"toolResult": {"toolUseId": i, "content": items, "status": status}},
    ids,
    st.lists(result_item, max_size=3),
    st.sampled_from(["success", "error"]),
)
image_block = st.builds(
    lambda data: {"image": {"format": "png", "source": {"bytes": data}}},
    st.binary(max_size=64) | st.builds(lambda n: b"\x89PNG" * n, st.integers(1, 300_000)),
)
blocks = st.one_of(text_block, tool_use_block, tool_result_block, image_block)
small_blocks = st.one_of(
    st.builds(lambda t: {"text": t}, short_text),
    st.builds(lambda i: {"toolUse": {"toolUseId": i, "name": "lookup", "input": {}}}, ids),
    st.builds(lambda i: {"toolResult": {"toolUseId": i, "content": [{"text": "r"}]}}, ids),
)
contents = st.lists(blocks, max_size=6) | st.builds(  # or thousands of copies of one block
    lambda b, n: [b] * n, small_blocks, st.integers(0, 5_000)
)
limits = st.integers(codec.MIN_FIT_BYTES, 2_000) | st.integers(2_000, codec.MAX_ITEM_CONTENT_BYTES)


def tool_ids(content):
    return [
        (kind, b[kind]["toolUseId"])
        for b in content
        for kind in ("toolUse", "toolResult")
        if kind in b
    ]


# ---- (a) the codec ---------------------------------------------------------------------------


@settings(CI, max_examples=150)
@given(content=contents, max_bytes=limits)
def test_fit_puts_any_content_under_the_limit_and_keeps_what_fits(content, max_bytes):
    fitted = codec.fit(content, max_bytes)
    stored = codec.dumps(fitted)
    assert len(stored.encode("utf-8")) <= max_bytes
    assert codec.loads(stored) == fitted
    if codec.size(content) <= max_bytes:
        assert fitted == content  # unchanged, and it round-trips
        assert codec.loads(codec.dumps(content)) == content
        return
    assert MARKER in stored  # what was cut says so
    n_tools = len(tool_ids(content))
    if max_bytes >= 250 * (n_tools + 1):  # room for every tool block's smallest form
        assert tool_ids(fitted) == tool_ids(content)  # toolUse/toolResult pairs survive


@settings(CI, max_examples=60)
@given(
    batch=st.lists(contents, min_size=1, max_size=5),
    max_item=limits,
    max_total=st.integers(5 * codec.MIN_FIT_BYTES, 2 * codec.MAX_TRANSACTION_BYTES),
)
def test_fit_all_puts_a_save_under_the_item_and_transaction_limits(batch, max_item, max_total):
    fitted = codec.fit_all(batch, max_item, max_total)
    sizes = [codec.size(c) for c in fitted]
    assert max(sizes) <= max_item and sum(sizes) <= max_total
    if all(codec.size(c) <= max_item for c in batch) and sum(map(codec.size, batch)) <= max_total:
        assert fitted == batch


@settings(CI, max_examples=150)
@given(value=json_values)
def test_any_json_value_round_trips(value):
    content = [{"toolResult": {"toolUseId": "t0", "content": [{"json": value}]}}]
    assert codec.loads(codec.dumps(content)) == content


@settings(CI, max_examples=12)
@given(messages=st.lists(st.lists(text_block | tool_result_block, max_size=3), max_size=6))
def test_any_save_fits_dynamodb(dynamodb, table, messages):
    """moto rejects items over 400 KB: every save of any content is stored."""
    memory = ConversationMemory(table, client=dynamodb)
    conversation = f"a{next(COUNTER)}"
    turns = [{"role": ("user", "assistant")[i % 2], "content": c} for i, c in enumerate(messages)]
    if not turns:
        return
    assert memory.append(conversation, turns, expected_turn_count=0) == len(turns)
    stored, after = [], 0
    while after is not None:  # 1 MB pages
        _, page, after = memory.history(conversation, after_turn=after)
        stored += page
    assert len(stored) == len(turns)
    assert all(len(codec.dumps(t.content).encode()) < MAX_ITEM_BYTES for t in stored)


# ---- (b) window repair -----------------------------------------------------------------------

turn_blocks = st.one_of(
    st.builds(lambda t: {"text": t}, st.sampled_from(["hi", "q", "ok"])),
    st.builds(lambda i: {"toolUse": {"toolUseId": i, "name": "t", "input": {}}}, ids),
    st.builds(lambda i: {"toolResult": {"toolUseId": i, "content": [{"text": "r"}]}}, ids),
    st.just({"image": {"format": "png", "source": {"bytes": b"x"}}}),
)
stored_turns = st.lists(
    st.tuples(st.sampled_from(["user", "assistant"]), st.lists(turn_blocks, max_size=3)),
    max_size=30,
)


def assert_valid_converse(messages, *, open_turn=False):
    """Converse's rules, checked independently of the code under test."""
    if not messages:
        return
    first = messages[0]["content"]
    assert any("text" in b for b in first), "the first message is a user text turn"
    for i, m in enumerate(messages):
        assert m["role"] == ("user", "assistant")[i % 2], "roles alternate, user first"
        assert m["content"], "no empty message"
        uses = [b["toolUse"]["toolUseId"] for b in m["content"] if "toolUse" in b]
        results = [b["toolResult"]["toolUseId"] for b in m["content"] if "toolResult" in b]
        assert len(set(uses)) == len(uses) and len(set(results)) == len(results)
        if m["role"] == "user":
            assert not uses
            asked = (
                {b["toolUse"]["toolUseId"] for b in messages[i - 1]["content"] if "toolUse" in b}
                if i
                else set()
            )
            assert set(results) == asked, "every toolUse answered in the next message"
        else:
            assert not results
    last = messages[-1]
    assert last["role"] == "assistant" or (
        open_turn and any("toolResult" in b for b in last["content"])
    )
    if last["role"] == "assistant":
        assert not any("toolUse" in b for b in last["content"]), "no unanswered toolUse"


def has_exchange(turns):
    """A user text turn with an assistant turn after it."""
    seen_user_text = False
    for t in turns:
        if t.role == "user" and any("text" in b for b in t.content):
            seen_user_text = seen_user_text or not any("toolResult" in b for b in t.content)
        if t.role == "assistant" and seen_user_text:
            return True
    return False


def as_turns(raw, present=None):
    return [
        StoredTurn(n, role, content)
        for n, (role, content) in enumerate(raw, start=1)
        if present is None or n in present
    ]


@settings(CI, max_examples=400)
@given(raw=stored_turns, gaps=st.sets(st.integers(1, 30)), open_turn=st.booleans())
def test_repair_yields_a_valid_window_for_any_stored_sequence(raw, gaps, open_turn):
    turns = [t for t in as_turns(raw) if t.number not in gaps]  # gaps: expired turns
    window = repair(turns, open_turn=open_turn)
    messages = [t.message for t in window]
    assert_valid_converse(messages, open_turn=open_turn)
    assert is_valid(messages, open_turn=open_turn)
    assert bool(window) == has_exchange(turns)  # empty only when there is nothing to load
    numbers = [t.number for t in window]
    assert numbers == sorted(set(numbers))
    given_blocks = [b for t in turns for b in t.content]
    assert all(b in given_blocks or b == REMOVED for m in messages for b in m["content"])


COUNTER = itertools.count()


def store(dynamodb, table, conversation, raw, present, summary_upto):
    far = str(2_000_000_000 * 10)  # no ttl refresh due
    items = [
        {
            "PK": {"S": conv_pk(conversation)},
            "SK": {"S": turn_sk(n)},
            "turn": {"N": str(n)},
            "role": {"S": role},
            "content": {"S": codec.dumps(content)},
            "token_estimate": {"N": "1"},
            "ttl": {"N": far},
        }
        for n, (role, content) in enumerate(raw, start=1)
        if n in present
    ]
    meta = {
        "PK": {"S": conv_pk(conversation)},
        "SK": {"S": "META"},
        "user_id": {"S": "u1"},
        "turn_count": {"N": str(len(raw))},
        "summary_upto": {"N": str(summary_upto)},
        "ttl": {"N": far},
    }
    if summary_upto:
        meta["summary"] = {"S": f"summary of turns 1..{summary_upto}"}
    for i in range(0, len(items) + 1, 25):
        batch = [{"PutRequest": {"Item": it}} for it in [meta, *items][i : i + 25]]
        if batch:
            dynamodb.batch_write_item(RequestItems={table: batch})


@settings(CI, max_examples=120)
@given(
    raw=stored_turns,
    expired=st.sets(st.integers(1, 30)),
    expired_prefix=st.integers(0, 30),
    summary_at=st.floats(0, 1),
    window_messages=st.integers(2, 12),
    open_turn=st.booleans(),
)
def test_any_stored_history_loads_a_valid_window_or_an_explicit_empty_one(
    dynamodb, table, raw, expired, expired_prefix, summary_at, window_messages, open_turn
):
    """Random roles and blocks, missing pairs, a summary, an expired prefix and expired turns
    anywhere, any window size: a valid window, non-empty whenever the unsummarized turns hold
    an exchange; otherwise an empty one that says how many turns it skipped, with the
    summary."""
    conversation = f"c{next(COUNTER)}"
    summary_upto = int(summary_at * len(raw))
    present = {n for n in range(1, len(raw) + 1) if n > expired_prefix and n not in expired}
    store(dynamodb, table, conversation, raw, present, summary_upto)
    memory = ConversationMemory(table, client=dynamodb, window_messages=window_messages)
    window = memory.load(conversation, user_id="u1", open_turn=open_turn)
    assert_valid_converse(window.messages, open_turn=open_turn)
    assert all(t.number > summary_upto for t in window.turns)
    loadable = [t for t in as_turns(raw, present) if t.number > summary_upto]
    assert bool(window.turns) == has_exchange(loadable)
    if not window.turns:
        assert window.skipped == len(raw) - summary_upto
        assert window.summary == (f"summary of turns 1..{summary_upto}" if summary_upto else None)

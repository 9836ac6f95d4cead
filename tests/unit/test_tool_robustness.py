"""Tool execution robustness: hung tools never starve later calls, and any tool output becomes a
``toolResult`` that Converse accepts (checked with botocore's own request validator)."""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import botocore.session
from botocore.validate import ParamValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from agentocore import Agent, ConversationMemory, ConversationRunner, ToolContext
from agentocore.models import ScriptedModel
from agentocore.models.scripted import text_response, tool_use_response
from agentocore.tools import ToolExecutor, ToolRegistry

HANG_TIMEOUT_S = 0.2
_CONVERSE_INPUT = (
    botocore.session.get_session()
    .get_service_model("bedrock-runtime")
    .operation_model("Converse")
    .input_shape
)


def assert_converse_accepts(request: dict[str, Any]) -> None:
    """botocore would send ``request`` (no ParamValidationError) and its JSON body is standard."""
    params = {"modelId": "anthropic.claude-test", **request}
    report = ParamValidator().validate(params, _CONVERSE_INPUT)
    assert not report.has_errors(), report.generate_report()
    json.dumps(params, allow_nan=False)


class In(BaseModel):
    q: str = "x"


def call(name: str, tool_use_id: str = "t1") -> dict[str, Any]:
    return {"toolUseId": tool_use_id, "name": name, "input": {"q": "x"}}


def wait_until(predicate: Any, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class HungTools:
    """``hang`` blocks until released (bounded); ``quick`` answers at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.registry = ToolRegistry()

        @self.registry.tool(input_model=In, timeout_s=HANG_TIMEOUT_S)
        def hang(args: In) -> str:
            """Never answers in time."""
            self.release.wait(30)
            return "late"

        @self.registry.tool(input_model=In, timeout_s=5)
        def quick(args: In) -> str:
            """Answers at once."""
            return "ok"


# --- hung tools ------------------------------------------------------------------------------


def test_more_hung_calls_than_pool_slots_then_a_normal_call_still_succeeds():
    tools = HungTools()
    executor = ToolExecutor(tools.registry, concurrency=2)  # bound: 8
    try:
        for batch in range(3):  # 6 hung calls on a pool of 2 slots
            ids = [f"h{batch}{i}" for i in range(2)]
            outcomes = executor.execute([call("hang", i) for i in ids], ToolContext())
            assert [o.status for o in outcomes] == ["timeout", "timeout"]
            assert all("to finish" in (o.error or "") for o in outcomes)
        assert executor.abandoned == 6
        [outcome] = executor.execute([call("quick")], ToolContext())
        assert outcome.status == "success", outcome.error
        assert outcome.result["toolResult"]["content"] == [{"text": "ok"}]
    finally:
        tools.release.set()
    assert wait_until(lambda: executor.abandoned == 0)
    executor.shutdown(wait=True)


def test_warm_agent_after_four_hung_calls_still_runs_the_next_runs_tools():
    """The reported case: four hung calls fill the default pool (4) of a warm Agent."""
    tools = HungTools()
    hung = [(f"h{i}", "hang", {"q": "x"}) for i in range(4)]
    model = ScriptedModel(
        [
            tool_use_response(*hung),
            text_response("The lookups timed out."),
            tool_use_response(("q1", "quick", {"q": "x"})),
            text_response("Done."),
        ]
    )
    agent = Agent(model, tools.registry)
    try:
        first = agent.run("look everything up")
        assert [c.status for c in first.tool_calls] == ["timeout"] * 4
        second = agent.run("and now the quick one")
        assert second.status == "completed"
        assert [(c.name, c.status) for c in second.tool_calls] == [("quick", "success")]
    finally:
        tools.release.set()
    assert wait_until(lambda: agent.executor.abandoned == 0)
    agent.executor.shutdown(wait=True)


def test_abandoned_calls_at_the_bound_refuse_new_calls_with_an_unavailable_error_result():
    tools = HungTools()
    executor = ToolExecutor(tools.registry, concurrency=2, max_abandoned=2)
    try:
        hung = executor.execute([call("hang", "h1"), call("hang", "h2")], ToolContext())
        assert [o.status for o in hung] == ["timeout", "timeout"]
        assert executor.abandoned == 2
        [refused] = executor.execute([call("quick", "q1")], ToolContext())
        assert refused.status == "unavailable"
        result = refused.result["toolResult"]
        assert (result["toolUseId"], result["status"]) == ("q1", "error")
        assert (
            "was not run: 2 earlier tool calls that timed out are still running"
            in (result["content"][0]["text"])
        )
    finally:
        tools.release.set()
    # once the hung tools return, their threads no longer count and calls run again
    assert wait_until(lambda: executor.abandoned == 0)
    [outcome] = executor.execute([call("quick")], ToolContext())
    assert outcome.status == "success"
    executor.shutdown(wait=True)


def test_refused_call_at_the_bound_is_a_tool_result_the_loop_sends_back():
    tools = HungTools()
    model = ScriptedModel(
        [
            tool_use_response(("h1", "hang", {"q": "x"})),
            tool_use_response(("q1", "quick", {"q": "x"})),
            text_response("Tools are unavailable right now."),
        ]
    )
    agent = Agent(model, tools.registry)
    agent.executor.max_abandoned = 1
    try:
        result = agent.run("go")
    finally:
        tools.release.set()
    assert result.status == "completed"
    assert [c.status for c in result.tool_calls] == ["timeout", "unavailable"]
    assert model.requests[2]["messages"][-1]["content"][0]["toolResult"]["status"] == "error"
    assert_converse_accepts(model.requests[2])
    assert wait_until(lambda: agent.executor.abandoned == 0)
    agent.executor.shutdown(wait=True)


def test_no_thread_left_for_a_call_is_an_unavailable_result_not_an_exception(monkeypatch):
    def cannot_start(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    executor = ToolExecutor(HungTools().registry)
    monkeypatch.setattr(threading.Thread, "start", cannot_start)
    [outcome] = executor.execute([call("quick")], ToolContext())
    monkeypatch.undo()
    assert outcome.status == "unavailable"
    assert "no thread could be started for it" in (outcome.error or "")
    assert outcome.result["toolResult"]["status"] == "error"
    executor.shutdown(wait=True)


# --- tool output that is not plain JSON ------------------------------------------------------


class Shipment(BaseModel):
    carrier: str
    eta: datetime.date


@dataclasses.dataclass
class Parcel:
    weight_kg: Decimal
    tags: frozenset[str]


class Colour(enum.Enum):
    RED = "red"


ORDER_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)


def rich_item() -> dict[str, Any]:
    """What boto3's DynamoDB resource and ordinary Python code hand back."""
    return {
        "amount": Decimal("12.50"),
        "count": Decimal("3"),
        "updated": WHEN,
        "day": datetime.date(2024, 5, 1),
        "id": ORDER_ID,
        "labels": {"b", "a"},
        "blob": b"\x00\xffraw",
        "ratio": float("nan"),
        "ceiling": float("inf"),
        "shipment": Shipment(carrier="DHL", eta=datetime.date(2024, 5, 3)),
        "parcel": Parcel(Decimal("1.2"), frozenset({"fragile"})),
        "colour": Colour.RED,
        "history": [{"at": WHEN, "qty": Decimal("-1")}, (Decimal("NaN"), None)],
        7: "int key",
    }


def rich_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(input_model=In)
    def get_item(args: In) -> dict[str, Any]:
        """A DynamoDB item as the boto3 resource returns it."""
        return rich_item()

    @registry.tool(input_model=In)
    def get_tags(args: In) -> set[str]:
        """A bare set."""
        return {"z", "y"}

    @registry.tool(input_model=In)
    def get_cycle(args: In) -> dict[str, Any]:
        """Output that refers to itself."""
        doc: dict[str, Any] = {"name": "loop"}
        doc["self"] = doc
        return doc

    @registry.tool(input_model=In)
    def get_object(args: In) -> dict[str, Any]:
        """Output holding an arbitrary object."""
        return {"handle": [threading.Lock()]}

    return registry


def test_tool_returning_decimal_datetime_set_bytes_and_models_yields_a_valid_converse_request():
    model = ScriptedModel(
        [
            tool_use_response(("t1", "get_item", {}), ("t2", "get_tags", {})),
            text_response("Order loaded."),
        ]
    )
    result = Agent(model, rich_registry()).run("Show order 42")
    assert result.status == "completed", result.error
    assert [c.status for c in result.tool_calls] == ["success", "success"]
    assert_converse_accepts(model.requests[1])
    item, tags = (b["toolResult"] for b in model.requests[1]["messages"][-1]["content"])
    doc = item["content"][0]["json"]
    assert doc["amount"] == 12.5 and doc["count"] == 3 and isinstance(doc["count"], int)
    assert doc["updated"] == "2024-05-01T12:30:00+00:00" and doc["day"] == "2024-05-01"
    assert doc["id"] == str(ORDER_ID) and doc["labels"] == ["a", "b"]
    assert base64.b64decode(doc["blob"]) == b"\x00\xffraw"
    assert (doc["ratio"], doc["ceiling"]) == ("NaN", "Infinity")
    assert doc["shipment"] == {"carrier": "DHL", "eta": "2024-05-03"}
    assert doc["parcel"] == {"weight_kg": 1.2, "tags": ["fragile"]}
    assert doc["colour"] == "red" and doc["7"] == "int key"
    assert doc["history"] == [{"at": "2024-05-01T12:30:00+00:00", "qty": -1}, ["NaN", None]]
    assert tags["content"] == [{"json": {"result": ["y", "z"]}}]
    json.dumps(result.messages, allow_nan=False)  # what the conversation stores


def test_tool_output_that_cannot_be_serialized_is_an_error_result_the_model_sees():
    model = ScriptedModel(
        [
            tool_use_response(("t1", "get_cycle", {}), ("t2", "get_object", {})),
            text_response("I could not read them."),
        ]
    )
    result = Agent(model, rich_registry()).run("go")
    assert result.status == "completed"
    assert [c.status for c in result.tool_calls] == ["invalid_output", "invalid_output"]
    cycle, obj = (b["toolResult"] for b in model.requests[1]["messages"][-1]["content"])
    assert cycle["status"] == obj["status"] == "error"
    assert (
        "cannot be sent to the model: result.self: circular reference"
        in (cycle["content"][0]["text"])
    )
    assert "result.handle[0]: lock is not JSON-serializable" in obj["content"][0]["text"]
    assert_converse_accepts(model.requests[1])


def test_turn_with_decimal_tool_output_is_saved_and_reloads_as_a_valid_conversation(
    dynamodb, table
):
    model = ScriptedModel(
        [tool_use_response(("t1", "get_item", {})), text_response("Order 42 costs 12.50.")]
    )
    memory = ConversationMemory(table, client=dynamodb)
    runner = ConversationRunner(Agent(model, rich_registry()), memory)
    outcome = runner.send("c1", "Show order 42", user_id="u1")
    assert outcome.saved and outcome.result.status == "completed"
    window = memory.load("c1", user_id="u1")
    assert [m["role"] for m in window.messages] == ["user", "assistant", "user", "assistant"]
    assert_converse_accepts({"messages": window.messages})


# --- property: any nested structure of such values -------------------------------------------


class Point(BaseModel):
    x: float
    label: str


_TZ = st.sampled_from(
    [None, datetime.UTC, datetime.timezone(datetime.timedelta(hours=-3, minutes=-30))]
)
_TEXT = st.text(st.characters(codec=None)) | st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)
_HASHABLE = st.one_of(
    st.text(max_size=8),
    st.integers(),
    st.uuids(),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False),
)
_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and +-inf included
    _TEXT,
    st.decimals(),  # NaN, sNaN and +-Infinity included
    st.datetimes(timezones=_TZ),
    st.dates(),
    st.times(),
    st.timedeltas(),
    st.uuids(),
    st.binary(max_size=16),
    st.sampled_from(list(Colour)),
    st.builds(Point, x=st.floats(), label=_TEXT),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = _TEXT | st.integers() | st.booleans() | st.decimals(allow_nan=False) | st.uuids()
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=4),
        st.sets(_HASHABLE, max_size=4),
        st.frozensets(_HASHABLE, max_size=4),
    )


TOOL_OUTPUT = st.recursive(_LEAVES, _containers, max_leaves=20)

_produced: list[Any] = [None]
_producing = ToolRegistry()


@_producing.tool(input_model=In)
def produce(args: In) -> Any:
    """Returns the generated value."""
    return _produced[0]


_PRODUCE = ToolExecutor(_producing)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TOOL_OUTPUT)
def test_any_nested_tool_output_becomes_a_tool_result_json_and_botocore_accept(value):
    _produced[0] = value
    [outcome] = _PRODUCE.execute([call("produce")], ToolContext())
    assert outcome.status == "success", outcome.error
    block = outcome.result
    json.dumps(block, allow_nan=False)
    assert_converse_accepts(
        {
            "messages": [
                {"role": "user", "content": [{"text": "go"}]},
                {"role": "assistant", "content": [{"toolUse": {**call("produce"), "input": {}}}]},
                {"role": "user", "content": [block]},
            ]
        }
    )

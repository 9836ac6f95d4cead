"""The ``local`` provider without a model: schema, prompt, parsing, backends, registry."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, Field

from agentocore import Agent, create_model
from agentocore.events import CollectingActionSink
from agentocore.models import ContextWindowExceeded, ModelError, RetryableModelError
from agentocore.models.local import LlamaServerHttp, LocalModel, models
from agentocore.models.local.backends import check
from agentocore.models.local.parse import parse_step
from agentocore.models.local.prompt import render
from agentocore.models.local.schema import SchemaError, input_schema, step_schema
from agentocore.models.registry import _default_models
from agentocore.tools import ToolContext, ToolRegistry
from agentocore.tools.examples import append_examples, split_examples

from .test_rules_model import example_tools


def request(text: str = "Where is order A-1001?", **extra: Any) -> dict[str, Any]:
    return {
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": text}]}],
        "toolConfig": {"tools": example_tools().specs()},
        **extra,
    }


# --- decoding schema -------------------------------------------------------------------------


class Address(BaseModel):
    city: str = Field(description="City")


class Shipment(BaseModel):
    order_id: str = Field(pattern=r"^[A-Z]-\d{4}$", title="Order")
    note: str = Field("", max_length=5000)
    code: str = Field("x", max_length=8)
    to: Address


def test_input_schema_is_closed_inlined_and_stripped():
    schema = input_schema(Shipment.model_json_schema())
    assert "$defs" not in json.dumps(schema) and "title" not in json.dumps(schema)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["to"]["additionalProperties"] is False
    assert schema["properties"]["to"]["properties"]["city"] == {"type": "string"}
    assert schema["properties"]["order_id"]["pattern"] == "^[A-Z]-[0-9]{4}$"
    assert "maxLength" not in schema["properties"]["note"]  # left to the tool's validation
    assert schema["properties"]["code"]["maxLength"] == 8


def test_input_schema_rejects_remote_and_recursive_refs():
    with pytest.raises(SchemaError):
        input_schema({"type": "object", "properties": {"a": {"$ref": "https://x/y.json"}}})
    recursive = {
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(SchemaError):
        input_schema(recursive)


def test_step_schema_accepts_exactly_valid_steps():
    schema = step_schema(request())
    valid = [
        {"tool": "get_order_status", "input": {"order_id": "A-1001"}},
        {"tool": "get_weather", "input": {"location": "Paris", "units": "fahrenheit"}},
        {"tool": "trigger_refund", "input": {"order_id": "A-1001", "reason": "broken"}},
        {"tool": "answer", "input": {"text": "Hello!"}},
    ]
    invalid = [
        {"tool": "delete_everything", "input": {}},
        {"tool": "get_order_status", "input": {"order_id": "1001"}},
        {"tool": "get_order_status", "input": {"order_id": "A-1001", "extra": 1}},
        {"tool": "get_weather", "input": {"location": "Paris", "units": "kelvin"}},
        {"tool": "answer", "input": {"text": ""}},
        {"answer": "Hello"},
    ]
    for step in valid:
        jsonschema.validate(step, schema)
    for step in invalid:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(step, schema)


def test_tool_choice_is_honoured():
    forced = request(toolConfig={**request()["toolConfig"], "toolChoice": {"any": {}}})
    assert all(o["properties"]["tool"]["const"] != "answer" for o in step_schema(forced)["anyOf"])
    one = request(
        toolConfig={**request()["toolConfig"], "toolChoice": {"tool": {"name": "get_weather"}}}
    )
    assert step_schema(one)["properties"]["tool"] == {"const": "get_weather"}
    no_tools = {k: v for k, v in request().items() if k != "toolConfig"}
    assert step_schema(no_tools)["properties"]["tool"] == {"const": "answer"}


def test_answer_pseudo_tool_never_shadows_a_real_tool():
    spec = {"toolSpec": {"name": "answer", "description": "d", "inputSchema": {"json": {}}}}
    req = request(toolConfig={"tools": [spec]})
    names = [o["properties"]["tool"]["const"] for o in step_schema(req)["anyOf"]]
    assert names == ["answer", "final_answer"]
    assert '"tool": "final_answer", "input": {"text": "Hello! How' in render(
        req, [spec["toolSpec"]]
    )


# --- examples in tool descriptions -------------------------------------------------------------


def test_examples_round_trip_through_the_description():
    text = append_examples("Find things.", [('Say "hi"', {"q": "hi"}), ("Two", {"q": "2"})])
    assert text.startswith("Find things.\nExample requests:\n")
    assert split_examples(text) == (
        "Find things.",
        [('Say "hi"', {"q": "hi"}), ("Two", {"q": "2"})],
    )
    assert split_examples("No examples here.") == ("No examples here.", [])
    broken = 'Find.\nExample requests:\n- not an example\n- "ok" -> {"q": 1}'
    assert split_examples(broken) == ("Find.", [("ok", {"q": 1})])


def test_registry_validates_examples():
    class Q(BaseModel):
        q: str = Field(min_length=2)

    tools = ToolRegistry()
    with pytest.raises(ValueError, match="example 'bad' is invalid"):
        tools.add(
            lambda args: args,
            name="find",
            description="Find.",
            input_model=Q,
            examples=[("bad", {"q": "x"})],
        )
    tool = tools.add(
        lambda args: args,
        name="find",
        description="Find.",
        input_model=Q,
        examples=[("good", {"q": "xy"})],
    )
    assert split_examples(tool.description) == ("Find.", [("good", {"q": "xy"})])


# --- prompt ---------------------------------------------------------------------------------------


def test_prompt_lists_tools_rules_examples_and_ends_with_a_step():
    req = request()
    prompt = render(req, [t["toolSpec"] for t in req["toolConfig"]["tools"]])
    assert prompt.startswith("Be brief.\n\nTools:\n- get_order_status: Look up an order's")
    assert "Example requests" not in prompt  # shown as steps instead
    assert "\"order_id\": string (Order id, e.g. 'A-1001')" in prompt
    assert '"units": "celsius" | "fahrenheit" (Temperature units; optional, default "celsius")' in (
        prompt
    )
    shots = prompt.split("Examples:\n")[1].split("\n\n")[0].splitlines()
    tools_in_order = [json.loads(line[6:])["tool"] for line in shots if line.startswith("Step:")]
    assert tools_in_order == [
        "get_order_status", "trigger_refund", "cancel_subscription", "track_shipment",
        "get_weather", "answer",
        "trigger_refund", "cancel_subscription", "track_shipment", "get_weather",
        "get_order_status", "answer",
    ]  # fmt: skip
    assert prompt.endswith("\n\nUser: Where is order A-1001?\nStep:")


def test_transcript_renders_calls_results_errors_and_answers():
    req = request()
    req["messages"] += [
        {
            "role": "assistant",
            "content": [
                {"text": "Let me look."},
                {"toolUse": {"toolUseId": "t1", "name": "get_order_status",
                             "input": {"order_id": "A-1001"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "t1", "content": [{"json": {"status": "late"}}]}},
            ],
        },
        {"role": "assistant", "content": [{"text": "It is\nlate."}]},
        {
            "role": "user",
            "content": [{"text": "And B-2?"}, {"image": {"format": "png", "source": {}}}],
        },
        {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "t2", "name": "get_order_status", "input": {"order_id": "B"}}}
        ]},
        {"role": "user", "content": [{"toolResult": {
            "toolUseId": "t2", "status": "error", "content": [{"text": "x" * 5000}]}}]},
    ]  # fmt: skip
    transcript = render(req, []).split("\n\n")[-1].splitlines()
    assert transcript[:6] == [
        "User: Where is order A-1001?",
        'Step: {"tool": "get_order_status", "input": {"order_id": "A-1001"}}',
        'Result: {"status": "late"}',
        'Step: {"tool": "answer", "input": {"text": "It is late."}}',
        "User: And B-2?",
        "User: [image attached]",
    ]
    assert transcript[7].startswith("Result: Error: xxx") and len(transcript[7]) < 1600
    assert transcript[-1] == "Step:"
    assert "Let me look." not in "\n".join(transcript)


# --- parsing --------------------------------------------------------------------------------------


def test_parse_tool_call_answer_and_repairs():
    content, stop = parse_step(
        '{"tool": "get_weather", "input": {"location": "Oslo"}}',
        answer="answer", truncated=False, position=3,
    )  # fmt: skip
    assert stop == "tool_use"
    use = content[0]["toolUse"]
    assert use["name"] == "get_weather" and use["input"] == {"location": "Oslo"}
    again, _ = parse_step(
        '{"tool": "get_weather", "input": {"location": "Oslo"}',
        answer="answer",
        truncated=False,
        position=3,
    )  # fmt: skip  (newline stop cut the last brace: repaired, same id)
    assert again[0]["toolUse"]["toolUseId"] == use["toolUseId"]
    later, _ = parse_step(
        '{"tool": "get_weather", "input": {"location": "Oslo"}}', answer="answer",
        truncated=False, position=5,
    )  # fmt: skip
    assert later[0]["toolUse"]["toolUseId"] != use["toolUseId"]
    assert parse_step(
        '{"tool": "answer", "input": {"text": "Hi"}}', answer="answer", truncated=False, position=1
    ) == ([{"text": "Hi"}], "end_turn")


def test_parse_truncated_and_malformed_steps():
    cut_answer = '{"tool": "answer", "input": {"text": "Order A-1001 is deli\\u00'
    assert parse_step(cut_answer, answer="answer", truncated=True, position=1) == (
        [{"text": "Order A-1001 is deli"}],
        "max_tokens",
    )
    cut_call = '{"tool": "trigger_refund", "input": {"order_id": "A-10'
    assert parse_step(cut_call, answer="answer", truncated=True, position=1) == ([], "max_tokens")
    assert parse_step("nonsense", answer="answer", truncated=False, position=1) == (
        [{"text": "nonsense"}],
        "malformed_model_output",
    )


# --- provider with a fake backend -----------------------------------------------------------------


class FakeBackend:
    """Plays llama.cpp completion responses and records the request bodies."""

    def __init__(self, *steps: dict[str, Any]) -> None:
        self.steps = list(steps)
        self.bodies: list[dict[str, Any]] = []

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        return self.steps.pop(0)


def completion(step: dict[str, Any], *, prompt: int = 900, cached: int = 800, out: int = 20):
    return {
        "choices": [{"text": json.dumps(step), "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": out,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
        "timings": {"prompt_ms": 40.5, "predicted_ms": 300.2},
    }


def test_converse_builds_the_completion_and_maps_usage():
    backend = FakeBackend(completion({"tool": "get_order_status", "input": {"order_id": "A-1001"}}))
    model = LocalModel("gemma3-270m", backend)
    reply = model.converse(request(inferenceConfig={"maxTokens": 4096}))
    body = backend.bodies[0]
    assert body["n_predict"] == 512 and body["temperature"] == 0.0 and body["stop"] == ["\n"]
    assert body["cache_prompt"] is True and body["prompt"].endswith("Step:")
    assert body["json_schema"] == step_schema(request())
    assert reply["stopReason"] == "tool_use"
    assert reply["usage"] == {
        "inputTokens": 100,
        "outputTokens": 20,
        "totalTokens": 920,
        "cacheReadInputTokens": 800,
        "cacheWriteInputTokens": 0,
    }
    assert reply["metrics"] == {"latencyMs": 340}
    assert model.model_id == "local:gemma3-270m" and model.min_cache_tokens == 0


def test_a_whole_agent_turn_on_the_local_provider():
    backend = FakeBackend(
        completion({"tool": "trigger_refund", "input": {"order_id": "A-1001", "reason": "broken"}}),
        completion({"tool": "answer", "input": {"text": "Refund requested."}}),
    )
    sink = CollectingActionSink()
    agent = Agent(LocalModel("gemma3-270m", backend), example_tools(), action_sink=sink)
    result = agent.run(
        "Refund A-1001, it broke", context=ToolContext(conversation_id="c1", user_id="u1")
    )
    assert result.status == "completed" and result.final_text == "Refund requested."
    assert [a.detail["payload"]["order_id"] for a in sink.actions] == ["A-1001"]
    assert "Result: " in backend.bodies[1]["prompt"]  # the tool's result went back to the model


def test_a_rejected_tool_input_goes_back_to_the_model():
    backend = FakeBackend(
        completion(
            {"tool": "trigger_refund", "input": {"order_id": "A-9999", "reason": "never came"}}
        ),
        completion({"tool": "answer", "input": {"text": "That order does not exist."}}),
    )
    agent = Agent(LocalModel("m", backend), example_tools(), action_sink=CollectingActionSink())
    result = agent.run("Refund A-9999", context=ToolContext(conversation_id="c", user_id="u"))
    assert result.ok and "Result: Error: " in backend.bodies[1]["prompt"]
    assert "A-9999 does not exist" in backend.bodies[1]["prompt"]


# --- backends ---------------------------------------------------------------------------------


def test_llama_errors_map_to_provider_errors():
    with pytest.raises(ContextWindowExceeded):
        check({"error": {"code": 400, "type": "exceed_context_size_error", "message": "too big"}})
    with pytest.raises(RetryableModelError):
        check({"error": {"code": 503, "type": "unavailable_error", "message": "Loading model"}})
    with pytest.raises(ModelError, match="local model error: bad grammar"):
        check({"error": {"code": 400, "message": "bad grammar"}})
    assert check({"choices": []}) == {"choices": []}


@pytest.fixture
def fake_llama_server():
    """A llama.cpp-shaped HTTP server on 127.0.0.1 answering from ``replies``."""
    replies: list[tuple[int, dict[str, Any]]] = []
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append({"path": self.path, "body": json.loads(self.rfile.read(
                int(self.headers["Content-Length"])))})  # fmt: skip
            status, payload = replies.pop(0)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", replies, seen
    server.shutdown()
    server.server_close()


def test_http_backend_talks_llama_server_protocol(fake_llama_server):
    url, replies, seen = fake_llama_server
    replies.append((200, completion({"tool": "answer", "input": {"text": "Hi"}})))
    replies.append((400, {"error": {"code": 400, "type": "exceed_context_size_error",
                                    "message": "request (9000 tokens) exceeds"}}))  # fmt: skip
    model = LocalModel("gemma3-270m", LlamaServerHttp(url + "/"))
    assert model.converse(request("Hello"))["output"]["message"]["content"] == [{"text": "Hi"}]
    assert seen[0]["path"] == "/v1/completions" and "json_schema" in seen[0]["body"]
    with pytest.raises(ContextWindowExceeded):
        model.converse(request("Hello"))


def test_http_backend_unreachable_is_retryable():
    backend = LlamaServerHttp("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(RetryableModelError, match="unreachable"):
        backend.complete({"prompt": "x"})


# --- registry and model files ---------------------------------------------------------------------


def test_registry_resolves_local(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTOCORE_LOCAL_LLM_URL", "http://127.0.0.1:4567")
    model = create_model("local")
    assert isinstance(model, LocalModel) and model.model_id == "local:gemma3-270m"
    assert isinstance(model.backend, LlamaServerHttp)
    assert _default_models["local"] == models.DEFAULT_MODEL
    monkeypatch.delenv("AGENTOCORE_LOCAL_LLM_URL")
    monkeypatch.setenv("AGENTOCORE_LOCAL_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="make local-llm"):
        create_model("local:gemma3-270m")
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert create_model(f"local:{gguf}").model_id == f"local:{gguf}"


def test_model_files():
    assert models.model_path("gemma3-270m").name == "gemma3-270m-q4_k_m.gguf"
    assert models.context_tokens("gemma3-270m") == 8192
    assert models.context_tokens("/x/other.gguf") == models.DEFAULT_CONTEXT_TOKENS
    with pytest.raises(ModelError, match="unknown local model"):
        models.model_path("gpt-9")


def test_answers_are_tidied():
    from agentocore.models.local.parse import tidy_answer

    looping = "The item is in the cart. The amount is 50. The item is in the cart. The amount is 5"
    assert tidy_answer(looping) == "The item is in the cart. The amount is 50."
    assert tidy_answer("No sentence end") == "No sentence end"
    assert tidy_answer("Done! Really? Yes.") == "Done! Really? Yes."


def test_only_the_current_turn_is_shown_to_the_model():
    req = request("Refund it")
    req["messages"] = [
        {"role": "user", "content": [{"text": "Status of A-1001?"}]},
        {"role": "assistant", "content": [{"text": "It is delivered."}]},
        {"role": "user", "content": [{"text": "Refund A-1001"}]},
        {"role": "assistant", "content": [{"toolUse": {
            "toolUseId": "t", "name": "trigger_refund", "input": {"order_id": "A-1001"}}}]},
        {"role": "user", "content": [{"toolResult": {
            "toolUseId": "t", "content": [{"text": "ok"}]}}]},
    ]  # fmt: skip
    transcript = render(req, [t["toolSpec"] for t in req["toolConfig"]["tools"]]).split("\n\n")[-1]
    assert transcript.startswith("User: Refund A-1001\nStep: ") and "delivered" not in transcript
    assert transcript.endswith("Result: ok\nStep:")

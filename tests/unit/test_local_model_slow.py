"""The ``local`` provider with the real model (runs only where `make local-llm` installed it)."""

from __future__ import annotations

import socket

import pytest

from agentocore import Agent
from agentocore.events import CollectingActionSink
from agentocore.models.local import InProcessLlama, LlamaServerHttp, LocalModel, models
from agentocore.models.local.backends import load_server
from agentocore.tools import ToolContext

from .test_rules_model import example_tools

pytestmark = pytest.mark.slow
pytest.importorskip("xllamacpp", reason="local model runtime not installed (make local-llm)")
MODEL = models.DEFAULT_MODEL
if not models.model_path(MODEL).is_file():
    pytest.skip(
        f"{models.model_path(MODEL)} not installed (make local-llm)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def model() -> LocalModel:
    path = models.installed_path(MODEL)
    return LocalModel(MODEL, InProcessLlama(path, context_tokens=models.context_tokens(MODEL)))


def first_call(result):
    for message in result.messages:
        for block in message["content"]:
            if "toolUse" in block:
                return block["toolUse"]["name"], block["toolUse"]["input"]
    return None, None


@pytest.mark.parametrize(
    ("text", "tool", "tool_input"),
    [
        ("What's the weather in Paris?", "get_weather", {"location": "Paris"}),
        ("What's the status of order A-1001?", "get_order_status", {"order_id": "A-1001"}),
        ("Hello!", None, None),
    ],
)
def test_a_whole_turn(model, text, tool, tool_input):
    agent = Agent(model, example_tools(), action_sink=CollectingActionSink())
    result = agent.run(text, context=ToolContext(conversation_id="slow", user_id="u"))
    assert result.ok and result.final_text.strip()
    assert first_call(result) == (tool, tool_input)
    assert result.usage.output_tokens > 0


def test_the_http_backend_against_the_llama_cpp_server():
    """What the Lambda functions of the local stack use: llama.cpp's own HTTP server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = models.installed_path(MODEL)
    server = load_server(path, context_tokens=2048, port=port)
    try:
        model = LocalModel(MODEL, LlamaServerHttp(f"http://127.0.0.1:{port}"))
        agent = Agent(model, example_tools(), action_sink=CollectingActionSink())
        result = agent.run("Is it raining in Oslo?", context=ToolContext(conversation_id="h"))
        assert result.ok and first_call(result) == ("get_weather", {"location": "Oslo"})
    finally:
        del server

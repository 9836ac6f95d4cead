"""Prompt caching placement and cost accounting."""

from __future__ import annotations

import pytest

from agentocore import Agent, PricingTable, Settings
from agentocore.agent.caching import CACHE_POINT
from agentocore.budget import Usage, base_model_id
from agentocore.models import ScriptedModel
from agentocore.models.scripted import text_response

from .sample_tools import build_registry

LONG_PROMPT = "You are a meticulous support agent. " * 200  # ~1,400 tokens


def test_cache_points_follow_tools_and_system_when_the_prefix_is_large_enough():
    model = ScriptedModel(
        [text_response("ok", cache_read=1500, cache_write=0)], min_cache_tokens=1024
    )
    agent = Agent(model, build_registry(), system_prompt=LONG_PROMPT)
    result = agent.run("hi")
    request = model.requests[0]
    assert request["system"] == [{"text": LONG_PROMPT}, CACHE_POINT]
    # the tool list alone is below 1024 tokens: no cache point there
    assert CACHE_POINT not in request["toolConfig"]["tools"]
    assert agent.cache_plan.prefix_tokens >= 1024
    assert result.usage.cache_read_tokens == 1500


def test_tool_list_gets_a_cache_point_when_it_alone_is_large_enough():
    model = ScriptedModel([text_response("ok")], min_cache_tokens=100)
    Agent(model, build_registry(), system_prompt="short").run("hi")
    request = model.requests[0]
    assert request["toolConfig"]["tools"][-1] == CACHE_POINT
    assert request["system"][-1] == CACHE_POINT


def test_no_cache_points_below_the_minimum_or_when_disabled_or_unsupported():
    for kwargs, settings in [
        ({"min_cache_tokens": 1024}, Settings()),  # short prompt
        ({"min_cache_tokens": 1}, Settings(prompt_caching=False)),
        ({"min_cache_tokens": 0}, Settings()),  # model without caching
    ]:
        model = ScriptedModel([text_response("ok")], **kwargs)
        Agent(model, build_registry(), settings=settings).run("hi")
        request = model.requests[0]
        assert CACHE_POINT not in request["system"]
        assert CACHE_POINT not in request["toolConfig"]["tools"]


def test_summary_goes_after_the_cached_system_prefix():
    model = ScriptedModel([text_response("ok")], min_cache_tokens=1024)
    Agent(model, system_prompt=LONG_PROMPT).run("hi", summary="earlier: user is Ann")
    system = model.requests[0]["system"]
    assert system[1] == CACHE_POINT
    assert system[2]["text"].endswith("earlier: user is Ann")
    assert "toolConfig" not in model.requests[0]


def test_sonnet_and_haiku_prices_from_the_seed_article():
    table = PricingTable()
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_read_tokens=1_000_000,
        cache_write_tokens=1_000_000,
    )
    sonnet = table.cost("us.anthropic.claude-sonnet-4-5-20250929-v1:0", usage)
    assert sonnet == pytest.approx(3.00 + 15.00 + 0.30 + 3.75)
    haiku_in = table.cost("anthropic.claude-3-haiku-20240307-v1:0", Usage(input_tokens=1_000_000))
    assert haiku_in == pytest.approx(0.25)
    assert table.cost("local-model", usage) == 0.0


def test_inference_profile_prefixes_resolve_to_the_base_model():
    for mid in (
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock:anthropic.claude-sonnet-4-5-20250929-v1:0",
    ):
        assert base_model_id(mid) == "anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_pricing_overrides_from_the_environment(monkeypatch):
    monkeypatch.setenv("AGENTOCORE_PRICING", '{"my-model": {"input": 1, "output": 2}}')
    table = PricingTable.from_env()
    assert table.cost("my-model", Usage(input_tokens=10**6, output_tokens=10**6)) == 3.0


def test_result_cost_includes_cache_tokens():
    model = ScriptedModel(
        [
            text_response(
                "ok", input_tokens=1000, output_tokens=100, cache_read=2000, cache_write=500
            )
        ],
        model_id="anthropic.claude-sonnet-4-5-20250929-v1:0",
    )
    result = Agent(model).run("hi")
    expected = (1000 * 3 + 100 * 15 + 2000 * 0.3 + 500 * 3.75) / 1e6
    assert result.cost_usd == pytest.approx(expected)
    assert result.usage.cache_write_tokens == 500

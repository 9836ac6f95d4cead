"""Model providers: Bedrock Converse (botocore Stubber), backoff, the provider registry."""

from __future__ import annotations

import random

import boto3
import pytest
from botocore.stub import Stubber

from agentocore import Agent, Settings
from agentocore.models import (
    BedrockConverse,
    ContextWindowExceeded,
    ModelError,
    RetryableModelError,
    ScriptedModel,
    UnknownProviderError,
    available_providers,
    create_model,
    register_provider,
)
from agentocore.models.retry import Backoff
from agentocore.models.scripted import text_response

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def converse_ok(text="hello"):
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 11, "outputTokens": 2, "totalTokens": 13},
        "metrics": {"latencyMs": 100},
    }


@pytest.fixture
def stubbed():
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        yield BedrockConverse(MODEL, client=client), stub


REQUEST = {
    "system": [{"text": "be nice"}],
    "messages": [{"role": "user", "content": [{"text": "hi"}]}],
    "inferenceConfig": {"maxTokens": 100, "temperature": 0.2},
}


def test_bedrock_sends_the_converse_request_with_the_model_id(stubbed):
    provider, stub = stubbed
    stub.add_response("converse", converse_ok(), {"modelId": MODEL, **REQUEST})
    response = provider.converse(REQUEST)
    assert response["stopReason"] == "end_turn"
    assert "ResponseMetadata" not in response
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ModelNotReadyException", "ServiceUnavailableException"]
)
def test_bedrock_transient_errors_are_retryable(stubbed, code):
    provider, stub = stubbed
    stub.add_client_error("converse", service_error_code=code, service_message="slow down")
    with pytest.raises(RetryableModelError) as info:
        provider.converse(REQUEST)
    assert info.value.code == code


def test_bedrock_context_overflow_and_other_errors(stubbed):
    provider, stub = stubbed
    stub.add_client_error(
        "converse",
        service_error_code="ValidationException",
        service_message="Input is too long for requested model.",
    )
    stub.add_client_error(
        "converse", service_error_code="AccessDeniedException", service_message="no access"
    )
    with pytest.raises(ContextWindowExceeded):
        provider.converse(REQUEST)
    with pytest.raises(ModelError, match="AccessDeniedException"):
        provider.converse(REQUEST)


def test_the_loop_retries_throttling_with_jittered_backoff(stubbed):
    provider, stub = stubbed
    stub.add_client_error("converse", service_error_code="ThrottlingException")
    stub.add_client_error("converse", service_error_code="ModelNotReadyException")
    stub.add_response("converse", converse_ok("finally"))
    sleeps = []
    backoff = Backoff(attempts=4, base_s=0.5, cap_s=8, sleep=sleeps.append, rng=random.Random(7))
    result = Agent(provider, backoff=backoff).run("hi")
    assert result.status == "completed" and result.final_text == "finally"
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0
    assert sleeps != [0.5, 1.0]  # jittered, not fixed


def test_retries_run_out_into_a_failed_result():
    errors = [RetryableModelError("ThrottlingException: x") for _ in range(3)]
    sleeps = []
    agent = Agent(ScriptedModel(errors), backoff=Backoff(attempts=3, sleep=sleeps.append))
    result = agent.run("hi")
    assert result.status == "failed"
    assert "ThrottlingException" in result.error
    assert len(sleeps) == 2


def test_backoff_delays_grow_and_stay_under_the_cap():
    delays = Backoff(attempts=8, base_s=1, cap_s=4, rng=random.Random(1)).delays()
    assert len(delays) == 7 and max(delays) <= 4 and all(d >= 0 for d in delays)


def test_client_is_built_lazily_with_adaptive_retries():
    provider = BedrockConverse(MODEL, region_name="us-east-1")
    assert provider._client.built is False
    client = provider.client
    assert client.meta.config.retries["mode"] == "adaptive"
    assert provider.client is client
    assert provider.min_cache_tokens == 1024
    assert BedrockConverse("meta.llama3-8b-instruct-v1:0").min_cache_tokens == 0


def test_registry_resolves_bedrock_and_reports_unknown_names():
    provider = create_model(f"bedrock:{MODEL}")
    assert isinstance(provider, BedrockConverse)
    assert provider.model_id == MODEL
    with pytest.raises(UnknownProviderError, match=r"available: .*bedrock"):
        create_model("nope:model")
    with pytest.raises(ValueError, match="provider"):
        create_model("no-colon")


def test_registry_accepts_new_providers_by_name():
    register_provider("echo-test", lambda mid: ScriptedModel([text_response(mid)], model_id=mid))
    assert "echo-test" in available_providers()
    provider = create_model("echo-test:my-model")
    # an unpriced model fails the USD budget closed unless allowed (or priced)
    assert Agent(provider).run("x").status == "budget_exceeded"
    allowed = Agent(provider, settings=Settings(budget_unpriced="allow"))
    assert allowed.run("x").final_text == "my-model"
    with pytest.raises(ValueError, match="already registered"):
        register_provider("echo-test", lambda mid: provider)


def test_scripted_provider_from_file(tmp_path):
    path = tmp_path / "script.json"
    path.write_text(
        '[{"output": {"message": {"role": "assistant", "content": [{"text": "from file"}]}},'
        ' "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1}}]'
    )
    provider = create_model(f"scripted:{path}")
    assert Agent(provider).run("x").final_text == "from file"
    assert Agent(provider).run("again").status == "failed"  # script exhausted: a clean failure

"""Model providers behind one protocol: Bedrock Converse, a scripted player, and plug-ins."""

from agentocore.models.base import (
    ContextWindowExceeded,
    ModelError,
    ModelProvider,
    RetryableModelError,
)
from agentocore.models.bedrock import BedrockConverse
from agentocore.models.registry import (
    UnknownProviderError,
    available_providers,
    create_model,
    register_provider,
)
from agentocore.models.scripted import ScriptedModel, text_response, tool_use_response

__all__ = [
    "BedrockConverse",
    "ContextWindowExceeded",
    "ModelError",
    "ModelProvider",
    "RetryableModelError",
    "ScriptedModel",
    "UnknownProviderError",
    "available_providers",
    "create_model",
    "register_provider",
    "text_response",
    "tool_use_response",
]

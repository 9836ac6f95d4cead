"""Model providers by name: ``AGENTOCORE_MODEL=<provider>:<model id>``.

Built in: ``bedrock:<model id or inference profile>``, ``local:<model>`` (a small open model on
the CPU; plain ``local`` means its default model), ``rules:v1`` (the offline deterministic model),
``scripted:<path to JSON script>`` and ``chaos:<rate>:<seed>:<inner spec>`` (any of them with
faults injected by seeded chance, see :mod:`agentocore.models.chaos`).
Other packages add providers with :func:`register_provider` or the entry-point group
``agentocore.model_providers`` (``name = "pkg.module:factory"``); a factory takes the model id
and returns a :class:`~agentocore.models.base.ModelProvider`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from agentocore.models.base import ModelProvider

ProviderFactory = Callable[[str], ModelProvider]
ENTRY_POINT_GROUP = "agentocore.model_providers"

_factories: dict[str, ProviderFactory] = {}
_default_models: dict[str, str] = {}
_lock = threading.Lock()
_entry_points_loaded = False


class UnknownProviderError(ValueError):
    """No provider is registered under the requested name."""


def register_provider(
    name: str,
    factory: ProviderFactory,
    *,
    replace: bool = False,
    default_model: str | None = None,
) -> None:
    """Make ``name:<model id>`` resolve to ``factory(model id)`` (and a bare ``name`` to
    ``factory(default_model)`` when one is given)."""
    with _lock:
        if name in _factories and not replace:
            raise ValueError(f"model provider {name!r} is already registered")
        _factories[name] = factory
        if default_model:
            _default_models[name] = default_model


def _bedrock(model_id: str) -> ModelProvider:
    from agentocore.models.bedrock import BedrockConverse

    return BedrockConverse(model_id)


def _scripted(path: str) -> ModelProvider:
    from agentocore.models.scripted import ScriptedModel

    return ScriptedModel.from_file(path, model_id=f"scripted:{path}")


def _rules(model_id: str) -> ModelProvider:
    from agentocore.models.rules import RulesModel

    return RulesModel(f"rules:{model_id}")


def _local(model_id: str) -> ModelProvider:
    from agentocore.models.local.provider import create

    return create(model_id)


def _chaos(spec: str) -> ModelProvider:
    from agentocore.models.chaos import from_spec

    return from_spec(spec)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _factories:
            _factories[ep.name] = ep.load()
    _entry_points_loaded = True


def available_providers() -> list[str]:
    """Names that :func:`create_model` accepts."""
    with _lock:
        _load_entry_points()
        return sorted(_factories)


def create_model(spec: str) -> ModelProvider:
    """Build the provider named by ``spec`` (``"<provider>:<model id>"``, or a bare provider
    name that has a default model)."""
    name, sep, model_id = spec.partition(":")
    if not sep and name in _default_models:
        sep, model_id = ":", _default_models[name]
    if not sep or not name or not model_id:
        raise ValueError(f"model spec must look like '<provider>:<model id>', got {spec!r}")
    with _lock:
        factory = _factories.get(name)
        if factory is None:
            _load_entry_points()
            factory = _factories.get(name)
    if factory is None:
        raise UnknownProviderError(
            f"unknown model provider {name!r}; available: {', '.join(available_providers())}"
        )
    return factory(model_id)


register_provider("bedrock", _bedrock)
register_provider("scripted", _scripted)
register_provider("rules", _rules)
register_provider("chaos", _chaos)
register_provider("local", _local, default_model="gemma3-270m")

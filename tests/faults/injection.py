"""Where the suite plugs the injectors in, without touching production code.

The clients the runtime builds (``agentocore.aws.LazyClient``: memory, outbox, approvals,
ledger, publishers) and Powertools' idempotency client are wrapped in
``agentocore.faults.FaultyClient`` as they are built; the model is
``create_model("chaos:<rate>:<seed>:rules:v1")``. Each wrapper sits behind a switch, so the
recovery phase (after the outage) runs the same objects without faults. Every model response
is recorded for the usage check (:class:`Ledger`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from agentocore.aws import LazyClient
from agentocore.budget.usage import Usage
from agentocore.models.registry import create_model
from agentocore.types import ConverseRequest, ConverseResponse

#: Services whose clients get a FaultyClient (what the injector supports).
FAULTY_SERVICES = ("dynamodb", "events")


def injectors_available() -> tuple[bool, bool]:
    """Whether ``agentocore.models.chaos`` / ``agentocore.faults`` exist yet."""
    import importlib.util

    return (
        importlib.util.find_spec("agentocore.models.chaos") is not None,
        importlib.util.find_spec("agentocore.faults") is not None,
    )


def derived_seed(seed: int, label: str) -> int:
    """A stable seed per (conversation seed, label): string seeds hash with SHA-512."""
    return random.Random(f"{seed}:{label}").getrandbits(32)


class Switch:
    """Forwards to the faulty object while faults are on, else to the plain one."""

    def __init__(self, faults: Faults, faulty: Any, plain: Any) -> None:
        self._faults = faults
        self._faulty = faulty
        self._plain = plain

    def __getattr__(self, name: str) -> Any:
        target = self._faulty if self._faults.enabled else self._plain
        return getattr(target, name)


class RecordingModel:
    """The model the runtime gets: chaos while faults are on, the inner model after; records
    the usage of every response it returns."""

    def __init__(self, faults: Faults, chaos: Any, plain: Any, on_usage: Callable[[Usage], None]):
        self._faults = faults
        self.chaos = chaos
        self.plain = plain
        self._on_usage = on_usage

    @property
    def model_id(self) -> str:
        return str(self.plain.model_id)

    @property
    def min_cache_tokens(self) -> int:
        return int(self.plain.min_cache_tokens)

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        model = self.chaos if self._faults.enabled and self.chaos is not None else self.plain
        response: ConverseResponse = model.converse(request)
        self._on_usage(Usage.from_converse(response.get("usage")))
        return response


class Faults:
    """The injectors of one conversation: one seed, rates for the model and the clients."""

    def __init__(
        self,
        seed: int,
        *,
        model_rate: float,
        client_rate: float,
        model_kinds: list[str] | None = None,
        client_kinds: list[str] | None = None,
        idempotency: bool = True,
        clients: list[str] | None = None,
    ) -> None:
        self.seed = seed
        self.model_rate = model_rate
        self.client_rate = client_rate
        self.model_kinds = model_kinds
        self.client_kinds = client_kinds
        self.idempotency = idempotency
        #: labels of the clients that get faults (dynamodb, events, idempotency; None: all)
        self.labels = clients
        self.enabled = True
        self.clients: list[tuple[str, Any]] = []
        self.models: list[Any] = []
        self._built: Counter[str] = Counter()

    # -- model ------------------------------------------------------------------------------

    def model(
        self,
        inner_spec: str,
        on_usage: Callable[[Usage], None],
        sleep: Callable[[float], None],
        slow_s: float,
    ) -> RecordingModel:
        """``chaos:<rate>:<seed>:<inner_spec>`` from the registry; its ``slow`` faults sleep
        through ``sleep`` (the suite's virtual clock)."""
        plain = create_model(inner_spec)
        chaos: Any = None
        if self.model_rate > 0:
            from agentocore.models.chaos import KINDS

            seed = derived_seed(self.seed, "model")
            chaos = create_model(f"chaos:{self.model_rate}:{seed}:{inner_spec}")
            if self.model_kinds is not None:
                unknown = set(self.model_kinds) - set(KINDS)
                if unknown:
                    raise ValueError(f"unknown chaos kinds {sorted(unknown)}; known: {KINDS}")
                chaos.kinds = tuple(k for k in KINDS if k in self.model_kinds)
            chaos.sleep = sleep
            chaos.slow_s = slow_s
            self.models.append(chaos)
        return RecordingModel(self, chaos, plain, on_usage)

    # -- clients ----------------------------------------------------------------------------

    def wrap(self, client: Any, label: str) -> Any:
        """``client`` behind a FaultyClient (the n-th client of ``label`` gets its own seed)."""
        if self.client_rate <= 0 or (self.labels is not None and label not in self.labels):
            return client
        from agentocore.faults import FaultyClient

        n = self._built[label]
        self._built[label] += 1
        faulty = FaultyClient(
            client,
            rate=self.client_rate,
            seed=derived_seed(self.seed, f"{label}#{n}"),
            kinds=self.client_kinds,
        )
        self.clients.append((label, faulty))
        return Switch(self, faulty, client)

    # -- what happened ----------------------------------------------------------------------

    def injected(self) -> Counter[str]:
        """Faults injected so far, by ``model:<kind>`` / ``<client label>:<kind>``."""
        out: Counter[str] = Counter()
        for chaos in self.models:
            for kind, count in getattr(chaos, "injected", {}).items():
                out[f"model:{kind}"] += count
        for label, faulty in self.clients:
            for kind, count in getattr(faulty, "injected", {}).items():
                out[f"{label}:{kind}"] += count
        return out


@contextmanager
def clients_wrapped(faults: Faults) -> Iterator[None]:
    """While active, clients built by LazyClient (and Powertools' idempotency layers) for
    DynamoDB and EventBridge come wrapped by ``faults``. Test-only patches, undone after."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    original_get = LazyClient.get
    original_init = DynamoDBPersistenceLayer.__init__

    def get(self: LazyClient) -> Any:
        if self._client is None and self.service in FAULTY_SERVICES:
            client = original_get(self)
            with self._lock:
                self._client = faults.wrap(client, self.service)
        return original_get(self)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if faults.idempotency:
            self.client = faults.wrap(self.client, "idempotency")

    LazyClient.get = get  # type: ignore[method-assign]
    DynamoDBPersistenceLayer.__init__ = init  # type: ignore[method-assign]
    try:
        yield
    finally:
        LazyClient.get = original_get  # type: ignore[method-assign]
        DynamoDBPersistenceLayer.__init__ = original_init  # type: ignore[method-assign]

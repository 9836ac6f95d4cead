"""Fault injection for boto3 clients: :class:`FaultyClient` fails calls by seeded chance.

It wraps a client (DynamoDB, EventBridge, or any other) and, with probability ``rate`` per API
call, injects one fault of a kind the operation can suffer. Errors are the client's own modeled
exceptions (``client.exceptions.from_code``, as botocore raises them, so ``except
client.exceptions.X`` and checks of ``Error.Code`` both work) or botocore's ``ReadTimeoutError``.
Same seed, same calls: same faults. Nothing here builds a client.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

#: Kinds by service (``client.meta.service_model.service_name``); others get GENERIC_KINDS.
GENERIC_KINDS = ("throttling", "internal_error", "timeout_before", "timeout_after_write")
SERVICE_KINDS: dict[str, tuple[str, ...]] = {
    "dynamodb": (
        "throttling",
        "provisioned_throughput",
        "transaction_conflict",
        "internal_error",
        "timeout_before",
        "timeout_after_write",
    ),
    "events": (*GENERIC_KINDS, "partial_failure"),
}
#: Kinds only one operation can suffer.
ONLY_FOR = {"transaction_conflict": "transact_write_items", "partial_failure": "put_events"}

#: (code, HTTP status, message) of the error kinds, by service ("*": any other service).
ERRORS: dict[str, dict[str, tuple[str, int, str]]] = {
    "dynamodb": {
        "throttling": (
            "ThrottlingException",
            400,
            "Rate of requests exceeds the allowed throughput.",
        ),
        "provisioned_throughput": (
            "ProvisionedThroughputExceededException",
            400,
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API.",
        ),
        "internal_error": ("InternalServerError", 500, "Internal server error"),
    },
    "events": {
        "throttling": ("ThrottlingException", 400, "Rate exceeded"),
        "internal_error": ("InternalException", 500, "Internal service failure."),
    },
    "*": {
        "throttling": ("ThrottlingException", 400, "Rate exceeded"),
        "internal_error": ("InternalFailure", 500, "The request processing has failed."),
    },
}
#: ErrorCode / ErrorMessage of a PutEvents entry that was not put (both retryable for AWS).
ENTRY_ERRORS = (
    ("InternalFailure", "Internal service failure."),
    ("ThrottlingException", "Request rate exceeded."),
)


class FaultyClient:
    """``client`` with faults: each call of an operation in ``operations`` (method or API names;
    all by default) fails with probability ``rate`` in one of ``kinds`` (the service's, by
    default) that applies to it (kinds another service's clients suffer are ignored here, so
    one list can serve every client).

    - ``throttling``, ``provisioned_throughput``, ``internal_error``: the service's error, nothing
      done.
    - ``transaction_conflict`` (``transact_write_items``): ``TransactionCanceledException`` whose
      ``CancellationReasons`` name one item ``TransactionConflict`` and the others ``None``.
    - ``timeout_before``: ``ReadTimeoutError``, nothing done.
    - ``timeout_after_write``: the call is performed, then ``ReadTimeoutError`` (whatever it
      returned or raised): the caller cannot tell whether it happened.
    - ``partial_failure`` (``put_events``): some entries (at least one) fail with an
      ``ErrorCode`` and were not put; the others were put; ``FailedEntryCount`` counts them.

    Other attributes (``exceptions``, ``meta``, paginators: not faulted) are the client's.
    ``injected`` counts faults by kind, ``calls`` the faultable calls, ``sequence`` holds
    ``(method, kind or None)`` per call. After ``max_faults`` faults (if given) it injects none.
    """

    def __init__(
        self,
        client: Any,
        *,
        rate: float,
        seed: int,
        kinds: Collection[str] | None = None,
        operations: Collection[str] | None = None,
        max_faults: int | None = None,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be within [0, 1], got {rate}")
        service = str(client.meta.service_model.service_name)
        offered = SERVICE_KINDS.get(service, GENERIC_KINDS)
        known = {k for ks in SERVICE_KINDS.values() for k in ks}
        unknown = set(kinds or ()) - known
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {sorted(known)}")
        mapping: dict[str, str] = dict(client.meta.method_to_api_mapping)
        names = set(mapping) if operations is None else set(operations)
        unknown_ops = names - set(mapping) - set(mapping.values())
        if unknown_ops:
            raise ValueError(f"{service} has no operations {sorted(unknown_ops)}")
        self._client = client
        self._service = service
        self._api = mapping
        self._ops = {m for m, api in mapping.items() if m in names or api in names}
        self.rate = rate
        self.seed = seed
        self.kinds = tuple(k for k in offered if kinds is None or k in kinds)
        self.max_faults = max_faults
        self.injected: Counter[str] = Counter()
        self.calls = 0
        self.sequence: list[tuple[str, str | None]] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        client = self.__dict__.get("_client")
        if client is None:
            raise AttributeError(name)
        attr = getattr(client, name)
        if name not in self._ops:
            return attr

        @functools.wraps(attr)
        def call(**kwargs: Any) -> Any:
            return self._call(name, attr, kwargs)

        return call

    def _applies(self, kind: str, method: str, kwargs: dict[str, Any]) -> bool:
        only = ONLY_FOR.get(kind)
        if only is not None and only != method:
            return False
        return kind != "partial_failure" or bool(kwargs.get("Entries"))

    def _draw(self, method: str, kwargs: dict[str, Any]) -> tuple[str | None, random.Random]:
        with self._lock:
            self.calls += 1
            kind = None
            room = self.max_faults is None or self.injected.total() < self.max_faults
            if self._rng.random() < self.rate and room:
                kinds = [k for k in self.kinds if self._applies(k, method, kwargs)]
                kind = self._rng.choice(kinds) if kinds else None
            detail = random.Random(self._rng.getrandbits(64))
            if kind is not None:
                self.injected[kind] += 1
            self.sequence.append((method, kind))
        return kind, detail

    def _call(self, method: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        from botocore.exceptions import ClientError, ReadTimeoutError

        kind, rng = self._draw(method, kwargs)
        if kind is None:
            return fn(**kwargs)
        timeout = ReadTimeoutError(endpoint_url=self._client.meta.endpoint_url)
        if kind == "timeout_before":
            raise timeout
        if kind == "timeout_after_write":
            with contextlib.suppress(ClientError):  # the answer is lost either way
                fn(**kwargs)
            raise timeout
        if kind == "partial_failure":
            return self._partial(fn, kwargs, rng)
        if kind == "transaction_conflict":
            items = len(kwargs.get("TransactItems") or ()) or 1
            conflicted = rng.randrange(items)
            reasons = [
                {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
                if i == conflicted
                else {"Code": "None"}
                for i in range(items)
            ]
            codes = ", ".join(r["Code"] for r in reasons)
            message = (
                f"Transaction cancelled, please refer cancellation reasons for specific reasons "
                f"[{codes}]"
            )
            code, status = "TransactionCanceledException", 400
            raise self._error(method, code, status, message, rng, CancellationReasons=reasons)
        errors = ERRORS.get(self._service, ERRORS["*"])
        code, status, message = errors.get(kind) or ERRORS["*"][kind]
        raise self._error(method, code, status, message, rng)

    def _error(
        self, method: str, code: str, status: int, message: str, rng: random.Random, **extra: Any
    ) -> Exception:
        """The client's modeled exception for ``code``, shaped as botocore parses it."""
        request_id = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(52))
        response = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "RequestId": request_id,
                "HTTPStatusCode": status,
                "HTTPHeaders": {"x-amzn-requestid": request_id, "x-amzn-errortype": code},
                "RetryAttempts": 0,
            },
            "message": message,
            **extra,
        }
        exc: Exception = self._client.exceptions.from_code(code)(response, self._api[method])
        return exc

    def _partial(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], rng: random.Random
    ) -> dict[str, Any]:
        """PutEvents where some entries (chosen by ``rng``, at least one) fail and are not put."""
        entries = list(kwargs["Entries"])
        failed = {i for i in range(len(entries)) if rng.random() < 0.5}
        failed = failed or {rng.randrange(len(entries))}
        kept = [e for i, e in enumerate(entries) if i not in failed]
        if kept:
            real: dict[str, Any] = fn(**{**kwargs, "Entries": kept})
        else:
            real = {
                "FailedEntryCount": 0,
                "Entries": [],
                "ResponseMetadata": {"HTTPStatusCode": 200},
            }
        put = iter(real.get("Entries") or [])
        results = []
        for i in range(len(entries)):
            if i in failed:
                code, message = rng.choice(ENTRY_ERRORS)
                results.append({"ErrorCode": code, "ErrorMessage": message})
            else:
                results.append(next(put))
        failures = int(real.get("FailedEntryCount") or 0) + len(failed)
        return {**real, "FailedEntryCount": failures, "Entries": results}

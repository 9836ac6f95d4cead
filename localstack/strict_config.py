"""Configurations AWS rejects, rejected by the emulator too (written against moto 5.2.x).

moto accepts them, so a mistake would only surface on the first real deployment. Each rule
raises AWS's error code with AWS's wording:

- Lambda ``Timeout`` 1..900 s and ``MemorySize`` 128..10240 MB (CreateFunction,
  UpdateFunctionConfiguration): ``ValidationException`` "1 validation error detected: Value '901'
  at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900".
  (Lambda Managed Instances functions, ``CapacityProviderConfig``, have other limits: skipped.)
- SQS event source mappings (Create/UpdateEventSourceMapping), ``InvalidParameterValueException``:
  "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds";
  "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than
  10"; "Batching window is not supported for FIFO queues"; and the API's ranges
  (``BatchSize`` <= 10000, ``MaximumBatchingWindowInSeconds`` <= 300) as ``ValidationException``.
  AWS checks the visibility timeout when a mapping is created or updated, not when the
  function's timeout changes later.
- Lambda ``AddPermission`` with a statement id the function's policy already has:
  ``ResourceConflictException`` (409) "The statement id (s3-inbox) provided already exists.
  Please provide a new statement id, or remove the existing statement." (moto appends a second
  statement with the same id; a RemovePermission then removes one, and Terraform waits five
  minutes for the other to go.)
- SQS ``RedrivePolicy`` (CreateQueue, SetQueueAttributes), ``InvalidParameterValue``: "Value
  {policy} for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: 0,
  valid values are from 1 to 1000 both inclusive." and "... Reason: Dead letter target does not
  exist."

Installed by ``emulator.apply_hooks()`` after its moto version check.
"""

from __future__ import annotations

import json
from typing import Any

# (API parameter, wire name, minimum, maximum)
FUNCTION_LIMITS = (("Timeout", "timeout", 1, 900), ("MemorySize", "memorySize", 128, 10240))
MAPPING_LIMITS = (
    ("BatchSize", "batchSize", 1, 10000),
    ("MaximumBatchingWindowInSeconds", "maximumBatchingWindowInSeconds", 0, 300),
)


def _check_ranges(spec: dict[str, Any], limits: tuple[tuple[str, str, int, int], ...]) -> None:
    """AWS's constraint validation: "N validation error(s) detected: Value 'v' at 'name' ..."."""
    from moto.awslambda.exceptions import LambdaClientError

    problems = []
    for key, wire, low, high in limits:
        value = spec.get(key)
        if value is None:
            continue
        if int(value) < low:
            bound = f"greater than or equal to {low}"
        elif int(value) > high:
            bound = f"less than or equal to {high}"
        else:
            continue
        problems.append(
            f"Value '{value}' at '{wire}' failed to satisfy constraint: Member must have value "
            + bound
        )
    if problems:
        count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''}"
        raise LambdaClientError("ValidationException", f"{count} detected: " + "; ".join(problems))


def _sqs_queue(account: str, arn: str) -> Any:
    """The queue an ``arn:aws:sqs:region:account:name`` ARN names, or None."""
    from moto.sqs.models import sqs_backends

    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs":
        return None
    return sqs_backends[parts[4] or account][parts[3]].queues.get(parts[5])


def _check_sqs_mapping(
    backend: Any, queue: Any, function: str, batch: Any, window: Any, fifo: bool
) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    batch_size = int(batch) if batch is not None else 10
    window_s = int(window or 0)
    if fifo and window_s > 0:
        raise InvalidParameterValueException("Batching window is not supported for FIFO queues")
    if batch_size > 10 and window_s == 0:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )
    fn = backend._lambdas.get_function_by_name_or_arn_with_qualifier(function)
    visibility = int(queue.visibility_timeout)
    if visibility < int(fn.timeout):
        raise InvalidParameterValueException(
            f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
            f"{int(fn.timeout)} seconds"
        )


def _conflict(message: str) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    class ResourceConflictException(LambdaClientError):
        code = 409

    return ResourceConflictException("ResourceConflictException", message)


def patch_lambda() -> None:
    from moto.awslambda.models import LambdaBackend

    add_permission = LambdaBackend.add_permission

    def add_permission_checked(self: Any, function_name: str, qualifier: str, raw: str) -> Any:
        sid = str((json.loads(raw or "{}") or {}).get("StatementId") or "")
        fn = self.get_function(function_name, qualifier)
        if sid and any(s.get("Sid") == sid for s in fn.policy.statements):
            raise _conflict(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        return add_permission(self, function_name, qualifier, raw)

    LambdaBackend.add_permission = add_permission_checked  # type: ignore[method-assign]
    create_function = LambdaBackend.create_function
    update_function = LambdaBackend.update_function_configuration
    create_mapping = LambdaBackend.create_event_source_mapping
    update_mapping = LambdaBackend.update_event_source_mapping

    def create_function_checked(self: Any, spec: dict[str, Any]) -> Any:
        if not spec.get("CapacityProviderConfig"):
            _check_ranges(spec, FUNCTION_LIMITS)
        return create_function(self, spec)

    def update_function_checked(
        self: Any, function_name: str, qualifier: str, body: dict[str, Any]
    ) -> Any:
        if not body.get("CapacityProviderConfig"):
            _check_ranges(body, FUNCTION_LIMITS)
        return update_function(self, function_name, qualifier, body)

    def create_mapping_checked(self: Any, spec: dict[str, Any]) -> Any:
        arn = str(spec.get("EventSourceArn") or "")
        queue = _sqs_queue(self.account_id, arn)
        if queue is not None and spec.get("FunctionName"):
            _check_ranges(spec, MAPPING_LIMITS)
            _check_sqs_mapping(
                self,
                queue,
                spec["FunctionName"],
                spec.get("BatchSize"),
                spec.get("MaximumBatchingWindowInSeconds"),
                arn.endswith(".fifo"),
            )
        return create_mapping(self, spec)

    def update_mapping_checked(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
        esm = self.get_event_source_mapping(uuid)
        queue = _sqs_queue(self.account_id, esm.event_source_arn) if esm else None
        if queue is not None:
            _check_ranges(spec, MAPPING_LIMITS)
            _check_sqs_mapping(
                self,
                queue,
                spec.get("FunctionName") or esm.function_arn,
                spec.get("BatchSize", esm.batch_size),
                spec.get("MaximumBatchingWindowInSeconds", esm.max_batch_window),
                esm.event_source_arn.endswith(".fifo"),
            )
        return update_mapping(self, uuid, spec)

    LambdaBackend.create_function = create_function_checked  # type: ignore[method-assign]
    LambdaBackend.update_function_configuration = update_function_checked  # type: ignore[method-assign]
    LambdaBackend.create_event_source_mapping = create_mapping_checked  # type: ignore[method-assign]
    LambdaBackend.update_event_source_mapping = update_mapping_checked  # type: ignore[method-assign]


def patch_sqs() -> None:
    from moto.sqs.exceptions import InvalidParameterValue
    from moto.sqs.models import Queue

    setup_dlq = Queue._setup_dlq

    def _setup_dlq(self: Any, policy: Any) -> None:
        parsed = policy
        if isinstance(policy, str) and policy:
            try:
                parsed = json.loads(policy)
            except ValueError:
                parsed = None  # moto reports the malformed JSON
        if isinstance(parsed, dict) and {"deadLetterTargetArn", "maxReceiveCount"} <= set(parsed):
            shown = policy if isinstance(policy, str) else json.dumps(policy, separators=(",", ":"))
            invalid = f"Value {shown} for parameter RedrivePolicy is invalid. Reason: "
            count = parsed["maxReceiveCount"]
            try:
                valid = 1 <= int(count) <= 1000
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise InvalidParameterValue(
                    f"{invalid}Invalid value for maxReceiveCount: {count}, valid values are "
                    "from 1 to 1000 both inclusive."
                )
            if _sqs_queue(self.account_id, str(parsed["deadLetterTargetArn"])) is None:
                raise InvalidParameterValue(f"{invalid}Dead letter target does not exist.")
        setup_dlq(self, policy)

    Queue._setup_dlq = _setup_dlq  # type: ignore[method-assign]


def install() -> None:
    """Patch moto (idempotent)."""
    from moto.awslambda.models import LambdaBackend

    if getattr(LambdaBackend, "_agentocore_strict", False):
        return
    patch_lambda()
    patch_sqs()
    LambdaBackend._agentocore_strict = True  # type: ignore[attr-defined]

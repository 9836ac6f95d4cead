"""Process-based Lambda execution for moto's server, and Lambda's asynchronous invocation.

moto 5.2 sends every invocation (Invoke, SQS event source mappings, SNS and S3 notifications)
through ``LambdaFunction._invoke_lambda``, which would start a Docker container. Here it runs
in a warm execution environment of the function (``lambda_environments.py``): a process that
imported the deployed zip, with its layers on the path, the function's environment and pointed
at the emulator, and serves invocations one at a time within the function's timeout.

What AWS invokes asynchronously (``InvocationType=Event``, EventBridge targets, S3 bucket
notifications, SNS subscriptions) goes through one mechanism, :func:`invoke_async`: queued, the
caller answered at once, retried per the function's event invoke config, then dead-lettered.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lambda_environments
from lambda_environments import Throttled

CACHE = Path(
    os.environ.get(
        "AGENTOCORE_LAMBDA_CACHE", Path(__file__).resolve().parents[1] / ".localstack" / "lambda"
    )
)
_unzip_lock = threading.Lock()
_unpacked: dict[int, tuple[bytes, Path]] = {}  # id(code) -> (code, its directory)
UNPACKED_MAX = 64
_async_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-async")
_async_idle = threading.Condition()
_async_outstanding = 0
_clock: Callable[[], float] = time.monotonic  # the age of queued async events (tests replace it)
_log = logging.getLogger("agentocore.emulator.lambda")
# Lambda's defaults for asynchronous invocation (event invoke config unset).
ASYNC_RETRIES = 2
ASYNC_MAX_AGE_S = 21600
# A throttled asynchronous event waits before its next try (AWS: 1 s doubling up to 5 min).
THROTTLE_BACKOFF_S = 1.0
THROTTLE_BACKOFF_MAX_S = 30.0


def unpack(code: bytes, kind: str) -> Path:
    """Unzip ``code`` once into the cache, keyed by its hash (hashed once per code object)."""
    with _unzip_lock:
        known = _unpacked.get(id(code))
        if known is not None and known[0] is code:
            return known[1]
        digest = hashlib.sha256(code).hexdigest()[:16]
        target = CACHE / f"{kind}-{digest}"
        if not target.exists():
            CACHE.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=CACHE))
            with zipfile.ZipFile(io.BytesIO(code)) as zf:
                zf.extractall(tmp)
            try:
                tmp.rename(target)
            except OSError:  # another process (a parallel test worker) unpacked it first
                shutil.rmtree(tmp, ignore_errors=True)
                if not target.exists():
                    raise
        if len(_unpacked) >= UNPACKED_MAX:
            _unpacked.pop(next(iter(_unpacked)))
        _unpacked[id(code)] = (code, target)
    return target


def layer_dirs(fn: Any) -> list[str]:
    from moto.awslambda.utils import get_backend

    backend = get_backend(fn.account_id, fn.region)
    dirs = []
    for layer in fn.layers or []:
        version = backend.layers_versions_by_arn(layer["Arn"])
        if version is not None and version.code_bytes:
            root = unpack(version.code_bytes, "layer")
            dirs.append(str(root / "python"))
    return dirs


def function_env(fn: Any, endpoint: str) -> dict[str, str]:
    """The environment of ``fn``'s execution environments (the same for all its invocations)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        "_HANDLER": fn.handler,
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_ENDPOINT_URL": endpoint,
        "AGENTOCORE_TIMEOUT_S": str(fn.timeout),
        # No X-Ray daemon runs locally; Powertools Tracer becomes a no-op instead of warning.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    env.setdefault("TIKTOKEN_CACHE_DIR", str(CACHE / "tiktoken"))
    if os.environ.get("AGENTOCORE_AWS_CALL_LOG"):  # localstack/aws_call_log.py
        env["AGENTOCORE_AWS_CALL_LOG"] = os.environ["AGENTOCORE_AWS_CALL_LOG"]
    if str(env.get("AGENTOCORE_MODEL", "")).partition(":")[0] == "local":
        # A local model is served once by localstack/llm_server.py, not loaded per invocation.
        env.setdefault(
            "AGENTOCORE_LOCAL_LLM_URL",
            os.environ.get("AGENTOCORE_LOCAL_LLM_URL", "http://127.0.0.1:4567"),
        )
    if str(env.get("AGENTOCORE_MODEL", "")).startswith("bedrock:"):
        # Bedrock is not emulated: its calls go to AWS with the credentials the emulator was
        # started with (moto accepts any credentials for everything else).
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = (
            f"https://bedrock-runtime.{fn.region}.amazonaws.com"
        )
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if os.environ.get(f"AGENTOCORE_REAL_{name}"):
                env[name] = os.environ[f"AGENTOCORE_REAL_{name}"]
    return env


def function_key(fn: Any) -> str:
    """Identifies a function (this object: a deleted and re-created function is another one)
    and version; its environments are kept under it."""
    identity = fn.__dict__.get("_agentocore_identity")
    if identity is None:
        identity = fn.__dict__.setdefault("_agentocore_identity", uuid.uuid4().hex)
    return f"{fn.function_arn}:{fn.version}#{identity}"


def spec_of(fn: Any, endpoint: str) -> lambda_environments.Spec:
    """The deployment ``fn`` is now: its code, layers, configuration and environment."""
    return lambda_environments.Spec(
        key=function_key(fn),
        code_dir=str(unpack(fn.code_bytes, "function")),
        layer_dirs=tuple(layer_dirs(fn)),
        env=tuple(sorted(function_env(fn, endpoint).items())),
        timeout_s=float(fn.timeout),
        memory_mb=int(fn.memory_size),
        log_group=fn.logs_group_name,
    )


def reserved_concurrency(fn: Any) -> int | None:
    """PutFunctionConcurrency's ReservedConcurrentExecutions, None when unset."""
    value = getattr(fn, "reserved_concurrency", None)
    return None if value in (None, "") else int(value)


def run_function(
    fn: Any, event: Any, endpoint: str, request_id: str | None = None
) -> tuple[str, bool, str]:
    """Execute one invocation in a warm execution environment of ``fn`` (started on demand);
    returns (payload JSON, errored, log text). ``request_id``: the invocation's (Lambda retries
    an asynchronous event under its first request id). Raises :class:`Throttled` when the
    function is at its concurrency limit."""
    request_id = request_id or str(uuid.uuid4())
    env, failed_init = lambda_environments.acquire(spec_of(fn, endpoint), reserved_concurrency(fn))
    outcome = None
    try:
        outcome = failed_init or env.invoke(request_id, event if event is not None else {})
    finally:
        lambda_environments.release(env, outcome is not None and outcome.reusable)
    logs = (
        f"START RequestId: {request_id} Version: $LATEST\n{outcome.logs}"
        f"END RequestId: {request_id}\n{report_line(request_id, outcome, env.spec.memory_mb)}\n"
    )
    _write_logs(fn, env.stream, logs)
    return json.dumps(outcome.payload, default=str), not outcome.ok, logs


def report_line(request_id: str, outcome: lambda_environments.Outcome, memory_mb: int) -> str:
    """Lambda's REPORT line; Init Duration on an environment's first invocation only."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {outcome.duration_ms:.2f} ms",
        f"Billed Duration: {math.ceil(outcome.duration_ms)} ms",
        f"Memory Size: {memory_mb} MB",
    ]
    if outcome.max_memory_mb is not None:
        fields.append(f"Max Memory Used: {outcome.max_memory_mb} MB")
    if outcome.init_ms is not None:
        fields.append(f"Init Duration: {outcome.init_ms:.2f} ms")
    return "\t".join(fields)


def _write_logs(fn: Any, stream: str, text: str) -> None:
    """Append to the environment's log stream (created on its first invocation)."""
    try:
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        with contextlib.suppress(Exception):  # exists: the environment's later invocations
            fn.logs_backend.create_log_stream(fn.logs_group_name, stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": line} for line in text.splitlines() if line]
        if events:
            fn.logs_backend.put_log_events(fn.logs_group_name, stream, events)
    except Exception:  # logging must never fail an invocation
        pass


def _send_to_dlq(
    account: str, region: str, dlq_arn: str, body: str, attributes: dict[str, str]
) -> None:
    from moto.sqs.models import sqs_backends

    queue = dlq_arn.rsplit(":", 1)[-1]
    sqs_backends[account][region].send_message(
        queue_name=queue,
        message_body=body,
        message_attributes={
            k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
        },
    )


def _async_settings(fn: Any) -> dict[str, Any]:
    """The function's event invoke config (MaximumRetryAttempts, MaximumEventAgeInSeconds,
    DestinationConfig), {} when none is set."""
    configs = getattr(fn, "event_invoke_config", None) or []
    return dict(configs[-1].config) if configs else {}


def _submit(work: Callable[[], None], delay_s: float = 0.0) -> None:
    """Run ``work`` on the async pool (after ``delay_s``), counted until it has finished."""
    global _async_outstanding
    with _async_idle:
        _async_outstanding += 1

    def tracked() -> None:
        global _async_outstanding
        try:
            work()
        except Exception:  # a background failure must not vanish silently
            _log.exception("asynchronous invocation")
        finally:
            with _async_idle:
                _async_outstanding -= 1
                _async_idle.notify_all()

    if delay_s > 0:
        timer = threading.Timer(delay_s, _async_pool.submit, (tracked,))
        timer.daemon = True
        timer.start()
    else:
        _async_pool.submit(tracked)


def wait_until_idle(timeout_s: float = 60.0) -> bool:
    """True once every queued asynchronous invocation has finished (retries and dead-lettering
    included), False if some are still going at the deadline."""
    with _async_idle:
        return _async_idle.wait_for(lambda: _async_outstanding == 0, timeout_s)


def invocation_record(
    fn: Any, event: Any, condition: str, attempts: int, payload: str | None
) -> dict[str, Any]:
    """AWS's record of an asynchronous invocation that failed, for an on-failure destination."""
    now = datetime.now(UTC)
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{fn.function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
    }
    if payload is not None:  # an event that aged out before any attempt has no response
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        }
        record["responsePayload"] = json.loads(payload) if payload else None
    return record


def _give_up(fn: Any, event: Any, condition: str, attempts: int, payload: str | None) -> None:
    """An asynchronous event Lambda stops trying: the function's dead-letter queue (the event,
    RequestID/ErrorCode/ErrorMessage attributes) and the on-failure destination (the record)."""
    dlq = (getattr(fn, "agentocore_config", {}).get("DeadLetterConfig") or {}).get("TargetArn")
    if dlq:
        error = json.loads(payload) if payload else {}
        message = (
            f"{error.get('errorType')}: {error.get('errorMessage')}"
            if isinstance(error, dict) and error
            else condition
        )
        _send_to_dlq(
            fn.account_id,
            fn.region,
            dlq,
            json.dumps(event),
            {"RequestID": str(uuid.uuid4()), "ErrorCode": "200", "ErrorMessage": message[:1000]},
        )
    destinations = _async_settings(fn).get("DestinationConfig") or {}
    on_failure = (destinations.get("OnFailure") or {}).get("Destination")
    if on_failure:
        from strict_streams import send_to_destination

        record = invocation_record(fn, event, condition, attempts, payload)
        send_to_destination(on_failure, json.dumps(record, default=str))
    if not dlq and not on_failure:
        _log.warning("%s: asynchronous event dropped (%s)", fn.function_name, condition)


def sns_event(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The event SNS hands a subscribed function: one record with the topic, the message id,
    the subject and the message attributes (``{"Type", "Value"}``) of the publish."""
    topic_arn = subscription.topic.arn
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.local/cert.pem",
                    "UnsubscribeUrl": f"https://sns.local/?Action=Unsubscribe&SubscriptionArn={subscription.arn}",
                    "MessageAttributes": dict(attributes or {}),
                },
            }
        ]
    }


def invoke_async(fn: Any, event: Any, endpoint: str) -> None:
    """Lambda's asynchronous invocation: the event is queued and the caller answered at once;
    it is tried, retried up to MaximumRetryAttempts times (default 2) while it is not older than
    MaximumEventAgeInSeconds (default 6 h), then goes to the function's dead-letter queue and
    its on-failure destination. Retries follow at once (AWS waits 1 then 2 minutes). A throttled
    attempt (the function at its concurrency limit) goes back to the queue with exponential
    backoff (THROTTLE_BACKOFF_S doubling up to THROTTLE_BACKOFF_MAX_S), using no retry
    attempt, until the event is too old, as on AWS."""
    settings = _async_settings(fn)
    retries = int(settings.get("MaximumRetryAttempts", ASYNC_RETRIES))
    max_age = float(settings.get("MaximumEventAgeInSeconds", ASYNC_MAX_AGE_S))
    queued = _clock()
    request_id = str(uuid.uuid4())  # the same for every attempt, as Lambda's retries keep it
    state: dict[str, Any] = {"attempts": 0, "payload": None, "throttles": 0}

    def work() -> None:
        while state["attempts"] <= retries:
            if _clock() - queued > max_age:
                _give_up(fn, event, "EventAgeExceeded", state["attempts"], state["payload"])
                return
            try:
                payload, errored, _logs = run_function(fn, event, endpoint, request_id)
            except Throttled:
                delay = THROTTLE_BACKOFF_S * 2 ** state["throttles"]
                state["throttles"] += 1
                _submit(work, min(delay, THROTTLE_BACKOFF_MAX_S))
                return
            state["attempts"] += 1
            state["payload"] = payload
            if not errored:
                return
        _give_up(fn, event, "RetriesExhausted", state["attempts"], state["payload"])

    _submit(work)


def deliver_event_to_lambda(
    rule: Any, target: dict[str, Any], event: dict[str, Any], endpoint: str
) -> None:
    """EventBridge -> Lambda target: hand the event to the function asynchronously; when the
    function cannot be invoked at all, retry per the target's policy, then its DLQ."""
    from moto.awslambda.utils import get_backend

    name = target["Arn"].split(":function:", 1)[1].split(":")[0]
    backend = get_backend(rule.account_id, rule.region_name)
    policy = target.get("RetryPolicy") or {}
    attempts = 1 + int(policy.get("MaximumRetryAttempts", 185))
    error = ""
    for _ in range(min(attempts, 3)):
        try:
            fn = backend.get_function(name)
        except Exception as exc:  # function missing: the target delivery fails
            error = f"{type(exc).__name__}: {exc}"
            continue
        invoke_async(fn, event, endpoint)
        return
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dlq:
        _send_to_dlq(
            rule.account_id,
            rule.region_name,
            dlq,
            json.dumps(event),
            {
                "ERROR_CODE": "ResourceNotFoundException",
                "ERROR_MESSAGE": error[:1000],
                "RULE_ARN": rule.arn,
                "TARGET_ARN": target["Arn"],
                "RETRY_ATTEMPTS": str(min(attempts, 3) - 1),
            },
        )


def _too_many_requests() -> type[Exception]:
    """Lambda's throttling error (HTTP 429), as moto's server renders errors."""
    from moto.core.exceptions import JsonRESTError

    class TooManyRequestsException(JsonRESTError):
        code = 429

        def __init__(self, reason: str) -> None:
            super().__init__("TooManyRequestsException", "Rate Exceeded.")
            self.description = json.dumps(
                {
                    "__type": "TooManyRequestsException",
                    "message": "Rate Exceeded.",
                    "Reason": reason,
                    "Type": "User",
                }
            )

    return TooManyRequestsException


def install(endpoint: str) -> None:
    """Patch moto: subprocess execution, async invoke semantics for Invoke (Event), EventBridge
    Lambda targets, S3 notifications and SNS subscriptions, SQS mapping records, event invoke
    configs."""
    from moto.awslambda.models import LambdaFunction
    from moto.events.models import EventTemplateParser, Rule

    if getattr(LambdaFunction, "_agentocore_executor", False):
        return
    TooManyRequests = _too_many_requests()

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        try:
            return run_function(self, event, endpoint)
        except Throttled as throttled:
            raise TooManyRequests(throttled.reason) from None

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    LambdaFunction._agentocore_executor = True  # type: ignore[attr-defined]

    original_invoke = LambdaFunction.invoke

    def invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> Any:
        if (request_headers or {}).get("x-amz-invocation-type") == "Event":
            invoke_async(self, json.loads(body) if body else {}, endpoint)
            return ""
        return original_invoke(self, body, request_headers, response_headers)

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]

    import moto.s3.notifications as s3_notifications

    def _invoke_awslambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        """S3 -> Lambda notification: asynchronous, as S3 invokes it (moto runs the function
        inside the PutObject request and drops its errors)."""
        from moto.awslambda.utils import get_backend

        try:
            fn = get_backend(account_id, region_name).get_function(fn_arn)
        except Exception:  # the function is gone: S3's delivery fails, the request does not
            _log.warning("S3 notification to %s dropped: no such function", fn_arn)
            return
        invoke_async(fn, event_body, endpoint)

    s3_notifications._invoke_awslambda = _invoke_awslambda

    from moto.sns.models import Subscription

    original_publish = Subscription.publish

    def publish(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        """SNS -> Lambda: asynchronous, with the real notification (moto invokes synchronously,
        drops the function's errors and sends a fixed TopicArn, MessageId and attributes)."""
        if self.protocol != "lambda":
            return original_publish(self, message, message_id, *args, **kwargs)
        subject = kwargs.get("subject", args[0] if args else None)
        attributes = kwargs.get("message_attributes", args[1] if len(args) > 1 else None)
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            attributes, message
        ):
            return None
        from moto.awslambda.utils import get_backend

        region = self.endpoint.split(":")[3]
        try:
            fn = get_backend(self.account_id, region).get_function(self.endpoint)
        except Exception:  # the function is gone: SNS's delivery fails, the publish does not
            _log.warning("SNS delivery to %s dropped: no such function", self.endpoint)
            return None
        invoke_async(fn, sns_event(self, message, message_id, subject, attributes), endpoint)
        return None

    Subscription.publish = publish  # type: ignore[method-assign]

    original_send = Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(original_event):
            return
        lambda_targets = [t for t in self.targets if ":lambda:" in t["Arn"]]
        others = [t for t in self.targets if ":lambda:" not in t["Arn"]]
        if others:
            saved, self.targets = self.targets, others
            try:
                original_send(self, original_event, transform_input)
            finally:
                self.targets = saved
        for target in lambda_targets:
            event = dict(original_event)
            if transform_input and target.get("Input"):
                event = json.loads(target["Input"])
            elif transform_input and target.get("InputTransformer"):
                transformer = target["InputTransformer"]
                event = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=original_event,
                )
            if isinstance(event.get("time"), float | int):
                event["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event["time"]))
            deliver_event_to_lambda(self, target, event, endpoint)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]

    from moto.awslambda.models import LambdaBackend

    def _send_sqs_message(self: Any, function_arn: str, message: Any, queue_arn: str) -> bool:
        """SQS event source mapping: the record carries the message attributes and receive
        count (moto sends none), and a reported batchItemFailure keeps the message queued."""
        from moto.sqs.models import sqs_backends

        # receive_message hands over a copy filtered to no attributes: read the stored message.
        queue = sqs_backends[self.account_id][self.region_name].get_queue(
            queue_arn.rsplit(":", 1)[-1]
        )
        stored = next((m for m in list(queue._messages) if m.id == message.id), message)
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "dataType": value.get("DataType", "String"),
                "stringListValues": [],
                "binaryListValues": [],
            }
            for name, value in (stored.message_attributes or {}).items()
        }
        record = {
            "messageId": message.id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {
                "ApproximateReceiveCount": str(getattr(message, "approximate_receive_count", 1)),
                "SentTimestamp": str(int(time.time() * 1000)),
            },
            "messageAttributes": attributes,
            "md5OfBody": message.body_md5,
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": self.region_name,
        }
        response_headers: dict[str, Any] = {}
        try:
            payload = self.invoke(
                function_name=function_arn,
                qualifier=None,
                body=json.dumps({"Records": [record]}),
                headers={},
                response_headers=response_headers,
            )
        except TooManyRequests:  # throttled: the message stays queued
            return False
        if "x-amz-function-error" in response_headers:
            return False
        try:
            failures = json.loads(payload or b"{}").get("batchItemFailures")
        except (ValueError, AttributeError):
            failures = None
        return not failures

    LambdaBackend._send_sqs_message = _send_sqs_message  # type: ignore[method-assign]

    from moto.awslambda.models import EventInvokeConfig

    def put_event_invoke_config(self: Any, function_name: str, config: dict[str, Any]) -> Any:
        """PutFunctionEventInvokeConfig replaces the function's config (moto appends, and keeps
        answering with the first one)."""
        fn = self.get_function(function_name)
        fn.event_invoke_config = [EventInvokeConfig(fn.function_arn, fn.last_modified, config)]
        return fn.event_invoke_config[0].response()

    def update_event_invoke_config(self: Any, function_name: str, config: dict[str, Any]) -> Any:
        """UpdateFunctionEventInvokeConfig changes only the settings it names."""
        return put_event_invoke_config(
            self, function_name, {**_async_settings(self.get_function(function_name)), **config}
        )

    backend: Any = LambdaBackend
    backend.put_function_event_invoke_config = put_event_invoke_config
    backend.update_function_event_invoke_config = update_event_invoke_config

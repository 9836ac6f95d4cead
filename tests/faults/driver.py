"""Delivers requests and events to the real handlers the way AWS and clients would.

- HTTP (API Gateway): a 5xx, an exception (API Gateway's bare 500) or a retryable 409 is sent
  again with the same ``Idempotency-Key``, at most ``http_attempts`` times.
- EventBridge -> Lambda (asynchronous invoke): 3 attempts, then the function's DLQ.
- The table's stream -> outbox_relay: a batch item failure is retried from that record on,
  6 attempts in all (``maximum_retry_attempts = 5``), then the on-failure record goes to the
  outbox DLQ.
- SQS DLQs -> dlq_handler: a failed record is received again, 5 receives, then the terminal
  queue (``unprocessable``).

No exception may escape an HTTP handler; an event handler may raise (that is the retry/DLQ
path) but not with a programming error (``KeyError``, ``TypeError``, ``ParamValidationError``...).
"""

from __future__ import annotations

import functools
import json
import random
import re
import sys
import uuid
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from moto.events.models import EventPattern

from agentocore.actions.routing import export
from agentocore.events.outbox import is_outbox_insert
from tests.faults.ledger import Answer, Ledger
from tests.faults.scenario import Message, Scenario
from tests.faults.stack import REGION, ROOT, IdempotencyClock, LambdaContext, Stack
from tests.unit.functions.conftest import http_event

ACCOUNT = "123456789012"
APPROVER = "approver-1"
HTTP_RETRYABLE_409 = {"turn_conflict", "idempotency_in_progress", "conversation_busy"}
#: How long a client waits after 409 idempotency_in_progress: longer than the in-progress
#: record lives (the Lambda context's remaining time, 60 s here).
IN_PROGRESS_WAIT_S = 61
LAMBDA_ATTEMPTS = 3
STREAM_ATTEMPTS = 6
DLQ_RECEIVES = 5
#: Programming errors: a handler must never fail with these, even on the DLQ path.
BUG_TYPES: tuple[type[BaseException], ...] = (
    LookupError,
    TypeError,
    AttributeError,
    AssertionError,
    NameError,
    ArithmeticError,
    UnicodeError,
    ParamValidationError,
)


def is_bug(exc: BaseException) -> bool:
    """An exception no handler should raise: a programming error, or a bare ValueError /
    RuntimeError (not a typed error of agentocore or the AWS SDK)."""
    if isinstance(exc, BUG_TYPES):
        return True
    if isinstance(exc, ClientError | BotoCoreError | OSError):
        return False
    return type(exc) in (ValueError, RuntimeError, Exception)


def describe(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {text[:300]}"


def origin(exc: BaseException) -> str:
    """The innermost frame of the project's code (shared/, functions/; not the injectors) that
    ``exc`` went through: ``path:function``."""
    import traceback

    injectors = ("agentocore/faults.py", "agentocore/models/chaos.py")
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if "/site-packages/" not in f.filename
        and "/tests/" not in f.filename
        and not f.filename.endswith(injectors)
    ]
    if not frames:
        return "?"
    path = frames[-1].filename.split("/shared/")[-1].split("/functions/")[-1]
    return f"{path}:{frames[-1].name}"


def signature(kind: str, exc: BaseException) -> str:
    return f"{kind} via {origin(exc)}"


class Router:
    """Which function an event on the bus goes to: the catalog's generated rules (matched as
    EventBridge matches them: moto's matcher made as strict as AWS, the emulator's
    ``localstack/strict_events``), ActionApproved -> standard_worker, AgentInvocationRequested
    -> agent_executor."""

    def __init__(self, catalog: Any) -> None:
        sys.path.insert(0, str(ROOT / "localstack"))
        try:
            import strict_events  # type: ignore[import-not-found]
        finally:
            sys.path.remove(str(ROOT / "localstack"))
        strict_events.install()
        content = export(catalog)
        self.rules: list[tuple[str, EventPattern]] = [
            ("dlq:unrouted", EventPattern(None, content["unrouted"]))
        ]
        for action in content["actions"].values():
            for worker, rule in action["rules"].items():
                self.rules.append((worker, EventPattern(None, rule["pattern"])))

    def targets(self, event: dict[str, Any]) -> list[str]:
        kind = event.get("detail-type")
        if kind == "AgentInvocationRequested":
            return ["agent_executor"]
        if kind == "ActionApproved":
            return ["standard_worker"]
        if event.get("source") != "agentocore.actions":
            return []
        return [name for name, pattern in self.rules if pattern.matches_event(event)]  # type: ignore[arg-type]


class Driver:
    def __init__(
        self,
        stack: Stack,
        modules: dict[str, Any],
        ledger: Ledger,
        router: Router,
        *,
        http_attempts: int = 4,
        clock: IdempotencyClock | None = None,
    ) -> None:
        self.stack = stack
        self.modules = modules
        self.ledger = ledger
        self.router = router
        self.http_attempts = http_attempts
        self.clock = clock
        self._streams = boto3.client(  # moto routes the classic endpoint only (as Stack does)
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        self._stream_arn = stack.dynamodb.describe_table(TableName=stack.table)["Table"][
            "LatestStreamArn"
        ]
        self._iterators: dict[str, str] = {}

    def stream_records(self) -> list[dict[str, Any]]:
        """New records of the table's stream (the Lambda event's shape), read on from where the
        last read stopped (Stack.stream_records reads every shard from the start)."""
        out = []
        shards = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        for shard in shards["Shards"]:
            shard_id = shard["ShardId"]
            iterator = (
                self._iterators.get(shard_id)
                or self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            )
            page = self._streams.get_records(ShardIterator=iterator)
            self._iterators[shard_id] = page["NextShardIterator"]
            out += [{**r, "eventSourceARN": self._stream_arn} for r in page["Records"]]
        return out

    # -- one invocation -----------------------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any]) -> tuple[Any, BaseException | None]:
        self.ledger.begin_invocation(function)
        try:
            return self.modules[function].handler(event, LambdaContext()), None
        except Exception as exc:
            self.ledger.invocation_errors[self.ledger.invocation] = (
                f"{function} raised {type(exc).__name__} via {origin(exc)}"
            )
            return None, exc

    def _http(self, function: str, event: dict[str, Any], tag: str) -> Answer:
        route = event["routeKey"]
        out, exc = self.invoke(function, event)
        if exc is not None:
            self.ledger.violation(
                "http_exception",
                f"{function} {route}: an exception escaped the handler (API Gateway answers a "
                f"bare 500): {describe(exc)} [{origin(exc)}]",
                signature("http_exception", exc),
            )
            return Answer(tag, route, None, error=describe(exc))
        status = int(out["statusCode"])
        try:
            body = json.loads(out["body"])
        except (TypeError, ValueError):
            self.ledger.violation(
                "http_not_json", f"{function} {route}: {status} with a body that is not JSON"
            )
            body = None
        answer = Answer(tag, route, status, body if isinstance(body, dict) else None)
        if status >= 500:  # why a save this invocation made may run again
            message = str(((answer.body or {}).get("error") or {}).get("message", ""))
            cause = re.search(r"\((\w+)\)", message)
            self.ledger.invocation_errors[self.ledger.invocation] = (
                f"{function} answered {status} {answer.code}"
                + (f" ({cause.group(1)})" if cause else "")
            )
        if status == 500 and answer.code == "internal_error":  # an unexpected exception
            self.ledger.violation(
                "http_internal_error",
                f"{function} {route}: 500 internal_error ({json.dumps(body)[:200]})",
            )
        return answer

    def _with_retries(
        self, function: str, make: Callable[[], dict[str, Any]], tag: str, channel: str
    ) -> Answer:
        answer = Answer(tag, "", None)
        for attempt in range(self.http_attempts):
            if attempt:
                self.ledger.retries[channel] += 1
            answer = self._http(function, make(), tag)
            self.ledger.answer(answer)
            body = json.dumps(answer.body)[:160] if answer.body else answer.error
            self.ledger.log(f"{function} {answer.route} [{tag}] -> {answer.status}: {body}")
            status = answer.status
            if status is None or status >= 500:
                continue
            if status == 409 and answer.code in HTTP_RETRYABLE_409:
                if answer.code == "idempotency_in_progress" and self.clock is not None:
                    self.clock.advance(IN_PROGRESS_WAIT_S)  # the client comes back later
                if answer.code == "conversation_busy":
                    self.pump()  # the client waits for the pending continuation
                continue
            break
        self.ledger.outcomes[f"{channel}:{answer.status or 'exception'}"] += 1
        if answer.status == 202 and (answer.body or {}).get("status") == "running":
            self.ledger.outcomes["http:202 deferred to a continuation"] += 1
        return answer

    # -- the user and the approver ----------------------------------------------------------

    def post(self, scenario: Scenario, message: Message) -> Answer:
        body: dict[str, Any] = {"message": message.text}
        if message.asynchronous:
            body["async"] = True
        path = f"/conversations/{scenario.conversation_id}/messages"
        return self._with_retries(
            "agent_executor",
            lambda: http_event(
                "POST",
                path,
                body=body,
                sub=scenario.user_id,
                headers={"Idempotency-Key": message.tag},
            ),
            message.tag,
            "http",
        )

    def poll(self, scenario: Scenario) -> Answer:
        """The user reads the conversation (GET; a stale continuation is published again)."""
        return self._with_retries(
            "agent_executor",
            functools.partial(
                http_event,
                "GET",
                f"/conversations/{scenario.conversation_id}",
                sub=scenario.user_id,
            ),
            "conversation:get",
            "poll",
        )

    def decide_pending(self, rng: random.Random, approve_chance: float) -> None:
        """The approver lists the pending approvals and decides each."""
        listing = self._with_retries(
            "approval_worker",
            lambda: http_event(
                "GET",
                "/approvals",
                sub=APPROVER,
                groups="[approvers]",
                query={"status": "pending"},
            ),
            "approvals:list",
            "approvals",
        )
        if listing.status != 200 or listing.body is None:
            return
        for approval in listing.body.get("approvals", []):
            approval_id = str(approval["approval_id"])
            approve = rng.random() < approve_chance
            body: dict[str, Any] = {"decision": "approve" if approve else "reject"}
            if not approve:
                body["reason"] = "not covered by the policy"
            decide = functools.partial(
                http_event,
                "POST",
                f"/approvals/{approval_id}",
                body=body,
                sub=APPROVER,
                groups="[approvers]",
            )
            self._with_retries("approval_worker", decide, f"decision:{approval_id}", "approvals")

    # -- events -------------------------------------------------------------------------------

    def pump(self, rounds: int = 50) -> None:
        """Relay new outbox inserts and deliver what reached the bus, until nothing moves."""
        for _ in range(rounds):
            moved = False
            records = [r for r in self.stream_records() if is_outbox_insert(r)]
            if records:  # the event source mapping's filter passes outbox inserts only
                self.relay(records)
                moved = True
            for event in self.stack.drain(self.stack.bus_queue):
                self.ledger.events.append(event)
                for target in self.router.targets(event):
                    if target == "dlq:unrouted":
                        self.dead_letter(event, "agentocore-faults-unrouted-dlq", {})
                    else:
                        self.deliver(target, event)
                moved = True
            if not moved:
                return
        self.ledger.violation("pump", f"events still moving after {rounds} rounds")

    def deliver(self, function: str, event: dict[str, Any]) -> Any:
        """An asynchronous invocation: retried twice, then the function's DLQ."""
        exc: BaseException | None = None
        for attempt in range(LAMBDA_ATTEMPTS):
            if attempt:
                self.ledger.retries[function] += 1
                if self.clock is not None:  # Lambda retries after about 1, then 2 minutes
                    self.clock.advance(60 * attempt)
            out, exc = self.invoke(function, event)
            what = f"{function} <- {event.get('detail-type')} {_ids(event)}"
            if exc is None:
                self.ledger.log(f"{what}: {json.dumps(out, default=str)[:160]}")
                return out
            self.ledger.log(f"{what}: raised {describe(exc)}")
            if is_bug(exc):
                self.ledger.violation(
                    "untyped_exception",
                    f"{function} on {event.get('detail-type')}: {describe(exc)} [{origin(exc)}]",
                    signature("untyped_exception", exc),
                )
        assert exc is not None
        attributes = {
            "ErrorCode": _attr("200"),
            "ErrorMessage": _attr(describe(exc)[:1000]),
            "RequestID": _attr(str(uuid.uuid4())),
        }
        self.dead_letter(event, f"agentocore-faults-{function}-dlq", attributes)
        return None

    def relay(self, records: list[dict[str, Any]]) -> None:
        batch = records
        for attempt in range(STREAM_ATTEMPTS):
            if attempt:
                self.ledger.retries["outbox_relay"] += 1
            out, exc = self.invoke("outbox_relay", {"Records": batch})
            self.ledger.log(
                f"outbox_relay <- {len(batch)} records: "
                + (json.dumps(out) if exc is None else f"raised {describe(exc)}")
            )
            if exc is None:
                failed = {f["itemIdentifier"] for f in out.get("batchItemFailures", [])}
                if not failed:
                    return
                first = next(
                    i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed
                )
                batch = batch[first:]
            elif is_bug(exc) and type(exc).__name__ != "BatchProcessingError":
                self.ledger.violation("untyped_exception", f"outbox_relay: {describe(exc)}")
        arn = str(batch[0].get("eventSourceARN", ""))
        info = {
            "shardId": "shardId-faults",
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(batch),
            "streamArn": arn,
        }
        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:outbox_relay",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": STREAM_ATTEMPTS,
            },
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "version": "1.0",
            "DDBStreamBatchInfo": info,
        }
        self.dead_letter(body, "agentocore-faults-outbox-dlq", {})

    def republish(self) -> None:
        """The operator's recovery: publish every outbox item still pending."""
        out, exc = self.invoke("outbox_relay", {"republish_older_than_s": -60})
        if exc is not None and is_bug(exc):
            self.ledger.violation("untyped_exception", f"outbox_relay republish: {describe(exc)}")
        elif exc is not None:
            self.ledger.outcomes["republish:exception"] += 1
        elif out.get("failed"):
            self.ledger.outcomes["republish:failed"] += len(out["failed"])

    def dead_letter(self, body: dict[str, Any], queue: str, attributes: dict[str, Any]) -> None:
        """A message on a DLQ: dlq_handler records it (5 receives, then unprocessable)."""
        self.ledger.log(f"dead letter on {queue}: {json.dumps(body, default=str)[:160]}")
        self.ledger.outcomes["dead_lettered"] += 1
        record = {
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "rh",
            "body": json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": attributes,
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
            "awsRegion": REGION,
        }
        for receive in range(1, DLQ_RECEIVES + 1):
            if receive > 1:
                self.ledger.retries["dlq_handler"] += 1
            record["attributes"] = {"ApproximateReceiveCount": str(receive)}
            out, exc = self.invoke("dlq_handler", {"Records": [record]})
            if exc is None and not out.get("batchItemFailures"):
                self.ledger.outcomes["failure_recorded"] += 1
                self.ledger.dead_letters.append(body)  # dlq_handler says: recorded
                return
            if exc is not None and type(exc).__name__ != "BatchProcessingError" and is_bug(exc):
                self.ledger.violation("untyped_exception", f"dlq_handler: {describe(exc)}")
        self.ledger.outcomes["unprocessable"] += 1


def _ids(event: dict[str, Any]) -> str:
    detail = event.get("detail") or {}
    return " ".join(
        f"{k}={detail[k]}" for k in ("action_id", "invocation_id", "action_type") if k in detail
    )


def _attr(value: str) -> dict[str, str]:
    return {"stringValue": value, "dataType": "String"}

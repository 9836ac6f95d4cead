"""DynamoDB Streams -> Lambda event source mappings as AWS runs them (written against moto 5.2.x).

moto hands every pending record of a shard to every mapping on each write, ignores the mapping's
settings, and drops the records once an invocation returns. Here each (mapping, shard) pair has
a consumer thread of its own, as AWS's pollers do:

- its own position in the shard: records read by one mapping are still there for another (and
  for GetRecords). TRIM_HORIZON starts at the shard's first record, LATEST at its end when the
  mapping is created. A disabled mapping (``Enabled`` false) receives nothing and resumes from
  its position when enabled again;
- ``FilterCriteria``: each Lambda event record (``eventName``, ``dynamodb.Keys.PK.S``...) is
  matched with EventBridge's matcher (moto's, made as strict as AWS by ``strict_events``), the
  filters ORed; a record no filter matches is skipped for good;
- batches of up to ``BatchSize`` (default 100) matching records, in order; the next batch
  starts only when this one is done;
- a function error (the invocation raised) retries the batch; with
  ``BisectBatchOnFunctionError`` a failing batch of more than one record is split in two and
  each half processed in turn (splitting uses no retry, as on AWS). With
  ``ReportBatchItemFailures``, a ``batchItemFailures`` response checkpoints before the lowest
  failed sequence number and retries from there; an identifier that is empty, missing or not in
  the batch fails the whole batch. Without it, the response is ignored;
- after ``MaximumRetryAttempts`` retries, or for records older than
  ``MaximumRecordAgeInSeconds``, the on-failure destination (SQS queue or SNS topic) gets AWS's
  invocation record (``requestContext`` / ``responseContext`` / ``DDBStreamBatchInfo``: where
  the records are, not the records) and the consumer moves on; -1 (the default) means no limit;
- retries back off on the consumer's thread (``RETRY_BACKOFF_S`` doubling up to
  ``RETRY_BACKOFF_MAX_S``); a consumer is woken by each write to its shard and otherwise polls
  it (``POLL_S``; AWS polls 4 times a second), so retries go on without new writes.

Records are read under the DynamoDB lock (``strict_dynamodb.LOCK``); the function runs outside
it, through ``LambdaFunction._invoke_lambda`` (``lambda_executor``'s subprocess). Installed by
``strict_dynamodb.install()``.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from strict_dynamodb import LOCK, STREAM_LISTENERS

POLL_S = 0.25
RETRY_BACKOFF_S = 0.5
RETRY_BACKOFF_MAX_S = 10.0
REPORT_BATCH_ITEM_FAILURES = "ReportBatchItemFailures"
_sleep = time.sleep  # the retry backoff (tests record it instead)

_log = logging.getLogger(__name__)
_consumers: dict[str, _Consumer] = {}  # mapping UUID -> its consumer
_changed = threading.Condition()  # notified whenever a consumer finishes a step


class _Stopped(Exception):
    """The mapping was deleted or disabled, or its stream is gone: stop where we are."""


@dataclass(frozen=True)
class Entry:
    """One stream record of a batch: its index in the shard and its Lambda event form."""

    index: int
    event: dict[str, Any]
    created: datetime

    @property
    def sequence(self) -> str:
        return str(self.event["dynamodb"]["SequenceNumber"])


@dataclass(frozen=True)
class Outcome:
    """One invocation: the parsed payload, AWS's ``functionError`` (None if it returned)."""

    payload: Any
    function_error: str | None
    executed_version: str


def stream_arn(table: Any) -> str:
    return f"{table.table_arn}/stream/{table.latest_stream_label}"


def lambda_record(record: Any, region: str, source_arn: str) -> dict[str, Any]:
    """A stream record as the function (and the filters) see it."""
    from moto.core.utils import unix_time

    data = record.to_json()
    dynamodb = dict(data["dynamodb"])
    if isinstance(dynamodb.get("ApproximateCreationDateTime"), datetime):
        dynamodb["ApproximateCreationDateTime"] = unix_time(dynamodb["ApproximateCreationDateTime"])
    return {
        "eventID": data["eventID"],
        "eventName": data["eventName"],
        "eventVersion": data["eventVersion"],
        "eventSource": data["eventSource"],
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": source_arn,
    }


@functools.lru_cache(maxsize=256)
def _pattern(text: str | None) -> Any:
    """A filter's parsed pattern (parsed once, not for every record it is tested against)."""
    from moto.events.models import EventPattern

    return EventPattern.load(text)


def matches(esm: Any, event: Any) -> bool:
    """Whether one of the mapping's filters matches (no filters: every record)."""
    filters = (esm.filter_criteria or {}).get("Filters") or []
    if not filters:
        return True
    for spec in filters:
        try:
            pattern = _pattern(spec.get("Pattern"))
        except Exception:  # AWS rejects such a pattern up front; here it matches nothing
            _log.error("mapping %s: invalid filter pattern %r", esm.uuid, spec.get("Pattern"))
            continue
        if pattern.matches_event(event):
            return True
    return False


def invoke(esm: Any, event: Any) -> Outcome:
    """Synchronous invocation of the mapping's function (version or alias if its ARN names one)."""
    from moto.awslambda.utils import get_backend

    backend = get_backend(esm.account_id, esm.region)
    fn = backend.get_function(esm.function_arn)
    qualifier = backend._lambdas.split_function_arn(esm.function_arn)[2]
    payload, errored, _logs = fn._invoke_lambda(event=event)
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        body = payload
    version = "$LATEST" if qualifier in (None, "$LATEST") else str(fn.version)
    return Outcome(body, "Unhandled" if errored else None, version)


def first_failure(esm: Any, payload: Any, batch: list[Entry]) -> int | None:
    """Index of the record to retry from (the lowest failed sequence number), None if the batch
    succeeded; 0 when the response is malformed (AWS then fails the whole batch)."""
    if REPORT_BATCH_ITEM_FAILURES not in (esm.function_response_types or []):
        return None
    if not isinstance(payload, dict) or not payload.get("batchItemFailures"):
        return None
    failures = payload["batchItemFailures"]
    where = {entry.sequence: i for i, entry in enumerate(batch)}
    if not isinstance(failures, list):
        return 0
    found = []
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(ident, str) or ident not in where:
            return 0
        found.append(where[ident])
    return min(found)


def _limit(value: Any) -> int | None:
    """A retry/age limit; None for AWS's -1 (and an unset one): no limit."""
    return None if value is None or int(value) < 0 else int(value)


def _iso(moment: datetime, millis: bool = False) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def failure_record(
    esm: Any, shard: Any, batch: list[Entry], condition: str, attempts: int, last: Outcome | None
) -> dict[str, Any]:
    """AWS's on-failure invocation record for a DynamoDB stream batch."""
    from moto.core.utils import utcnow

    record: dict[str, Any] = {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": esm.function_arn,
            "condition": condition,
            "approximateInvokeCount": attempts,
        }
    }
    if last is not None:  # records that aged out before any invocation have no response
        response: dict[str, Any] = {"statusCode": 200, "executedVersion": last.executed_version}
        if last.function_error:
            response["functionError"] = last.function_error
        record["responseContext"] = response
    record["version"] = "1.0"
    record["timestamp"] = _iso(utcnow(), millis=True)
    record["DDBStreamBatchInfo"] = {
        "shardId": shard.id,
        "startSequenceNumber": batch[0].sequence,
        "endSequenceNumber": batch[-1].sequence,
        "approximateArrivalOfFirstRecord": _iso(batch[0].created),
        "approximateArrivalOfLastRecord": _iso(batch[-1].created),
        "batchSize": len(batch),
        "streamArn": esm.event_source_arn,
    }
    return record


def send_to_destination(arn: str, body: str) -> None:
    """Deliver an on-failure record to an SQS queue or SNS topic ARN."""
    parts = arn.split(":")
    service, region, account = parts[2], parts[3], parts[4]
    if service == "sqs":
        from moto.sqs.models import sqs_backends

        sqs_backends[account][region].send_message(queue_name=parts[5], message_body=body)
    elif service == "sns":
        from moto.sns.models import sns_backends

        sns_backends[account][region].publish(message=body, arn=arn)
    else:
        raise ValueError(f"unsupported on-failure destination for a stream mapping: {arn}")


class _Consumer:
    """Reads one shard for one mapping, in order, on a thread of its own."""

    def __init__(self, esm: Any, shard: Any, position: int) -> None:
        self.esm = esm
        self.shard = shard
        self.position = position  # index in shard.items of the next record to read
        self.busy = False
        self.wake = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"ddb-stream-{esm.uuid[:8]}", daemon=True
        )

    # --- state --------------------------------------------------------------------------

    def mapping(self) -> Any | None:
        """The mapping if it still exists and still reads this shard, else None."""
        from moto.awslambda.utils import get_backend
        from moto.dynamodb.models import dynamodb_backends

        esm, table = self.esm, self.shard.table
        backend = get_backend(esm.account_id, esm.region)
        if backend.get_event_source_mapping(esm.uuid) is not self.esm:
            return None
        tables = dynamodb_backends[table.account_id][table.region_name].tables
        if tables.get(table.name) is not self.shard.table or table.stream_shard is not self.shard:
            return None
        return esm if esm.event_source_arn == stream_arn(table) else None

    def idle(self) -> bool:
        """Nothing to do: gone, disabled, or caught up with the shard."""
        esm = self.mapping()
        if esm is None or not esm.enabled:
            return True
        return not self.busy and self.position >= len(self.shard.items)

    def _live(self) -> Any:
        esm = self.mapping()
        if esm is None or not esm.enabled:
            raise _Stopped
        return esm

    def _advance(self, batch: list[Entry]) -> None:
        self.position = max(self.position, batch[-1].index + 1)

    # --- the loop -----------------------------------------------------------------------

    def _run(self) -> None:
        errors = 0
        try:
            while self.mapping() is not None:
                try:
                    self._step()
                    errors = 0
                except Exception:  # a bug must be seen, and must not silence the mapping
                    errors += 1
                    _log.exception("DynamoDB stream consumer of mapping %s", self.esm.uuid)
                    self.wake.wait(_backoff(errors))
        finally:
            with LOCK:
                if _consumers.get(self.esm.uuid) is self:
                    del _consumers[self.esm.uuid]
            with _changed:
                _changed.notify_all()

    def _step(self) -> None:
        """Deliver the next batch, or wait for records (a write or the next poll)."""
        batch, scanned = self._read()
        if not batch:
            with _changed:
                self.position = max(self.position, scanned)
                _changed.notify_all()
            self.wake.wait(POLL_S)
            self.wake.clear()
            return
        with _changed:
            self.busy = True
        try:
            self._process(batch)
            self.position = max(self.position, scanned)
        except _Stopped:
            pass
        finally:
            with _changed:
                self.busy = False
                _changed.notify_all()

    def _read(self) -> tuple[list[Entry], int]:
        """The next batch of matching records and the index just past what was scanned."""
        with LOCK:
            esm = self.mapping()
            if esm is None or not esm.enabled:
                return [], self.position
            start = self.position
            records = self.shard.items[start:]  # records are never changed once committed
            size = int(esm.batch_size or 100)
        region, source = self.shard.table.region_name, esm.event_source_arn
        batch: list[Entry] = []
        scanned = 0
        while scanned < len(records) and len(batch) < size:
            record = records[scanned]
            event = lambda_record(record, region, source)
            if matches(esm, event):
                created = record.to_json()["dynamodb"]["ApproximateCreationDateTime"]
                batch.append(Entry(start + scanned, event, created))
            scanned += 1
        return batch, start + scanned

    def _process(self, batch: list[Entry]) -> None:
        """Deliver one batch: retries, bisection, partial failures, on-failure destination."""
        attempts, last, unreachable = 0, None, 0
        while batch:
            esm = self._live()
            expired, batch = self._expired(esm, batch)
            if expired:
                self._give_up(esm, expired, "RecordAgeExceeded", attempts, last)
            if not batch:
                return
            try:
                outcome = invoke(esm, {"Records": [entry.event for entry in batch]})
            except Exception as exc:  # not invoked at all (function gone...): retried until
                unreachable += 1  # the records age out, using no retry attempt (as on AWS)
                _log.warning("mapping %s cannot invoke its function: %s", esm.uuid, exc)
                _sleep(_backoff(unreachable))
                continue
            attempts, last = attempts + 1, outcome
            if outcome.function_error is None:
                failed_at = first_failure(esm, outcome.payload, batch)
                if failed_at is None:
                    self._advance(batch)
                    return
                if failed_at:
                    self._advance(batch[:failed_at])
                    batch = batch[failed_at:]
            elif esm.bisect_on_error and len(batch) > 1:
                half = len(batch) // 2
                self._process(batch[:half])
                self._process(batch[half:])
                return
            retries = _limit(esm.max_retry_attempts)
            if retries is not None and attempts > retries:
                self._give_up(esm, batch, "RetryAttemptsExhausted", attempts, last)
                return
            _sleep(_backoff(attempts))

    def _expired(self, esm: Any, batch: list[Entry]) -> tuple[list[Entry], list[Entry]]:
        """Split off the leading records older than ``MaximumRecordAgeInSeconds``."""
        from moto.core.utils import utcnow

        max_age = _limit(esm.max_record_age)
        if max_age is None:
            return [], batch
        now = utcnow()
        old = 0
        while old < len(batch) and (now - batch[old].created).total_seconds() > max_age:
            old += 1
        return batch[:old], batch[old:]

    def _give_up(
        self, esm: Any, batch: list[Entry], condition: str, attempts: int, last: Outcome | None
    ) -> None:
        destination = ((esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        if destination:
            record = failure_record(esm, self.shard, batch, condition, attempts, last)
            try:
                send_to_destination(destination, json.dumps(record))
            except Exception:
                _log.exception("mapping %s: on-failure destination %s", esm.uuid, destination)
        self._advance(batch)


def _backoff(attempt: int) -> float:
    return float(min(RETRY_BACKOFF_S * 2 ** max(attempt - 1, 0), RETRY_BACKOFF_MAX_S))


def _shard_of(arn: str) -> Any | None:
    """The current shard of the stream ``arn`` names, or None."""
    from moto.dynamodb.models import dynamodb_backends

    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "dynamodb":
        return None
    resource = parts[5].split("/")
    if len(resource) != 4 or resource[0] != "table" or resource[2] != "stream":
        return None
    table: Any = dynamodb_backends[parts[4]][parts[3]].tables.get(resource[1])
    if table is None or table.stream_shard is None or stream_arn(table) != arn:
        return None
    return table.stream_shard


def start(esm: Any) -> None:
    """Give a stream mapping its consumer (idempotent); wake it if it exists."""
    with LOCK:
        current = _consumers.get(esm.uuid)
        if current is not None and current.esm is esm:
            current.wake.set()
            return
        shard = _shard_of(esm.event_source_arn)
        if shard is None:
            return
        position = len(shard.items) if esm.starting_position == "LATEST" else 0
        consumer = _consumers[esm.uuid] = _Consumer(esm, shard, position)
    consumer.thread.start()


def wake(shard: Any) -> None:
    """A record was added to ``shard``: its consumers read it now rather than at their poll."""
    for consumer in list(_consumers.values()):
        if consumer.shard is shard:
            consumer.wake.set()


def wait_until_idle(timeout_s: float = 60.0) -> bool:
    """Wait until every consumer is caught up (or disabled); False if ``timeout_s`` passed.
    For tests in the emulator's process."""
    deadline = time.monotonic() + timeout_s
    with _changed:
        while not all(consumer.idle() for consumer in list(_consumers.values())):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            _changed.wait(min(remaining, POLL_S))
    return True


def install() -> None:
    """Patch moto's Lambda backend so stream mappings get consumers (idempotent)."""
    import strict_events
    from moto.awslambda.models import LambdaBackend

    strict_events.install()
    if getattr(LambdaBackend, "_agentocore_streams", False):
        return
    create = LambdaBackend.create_event_source_mapping
    update = LambdaBackend.update_event_source_mapping
    delete = LambdaBackend.delete_event_source_mapping

    def create_mapping(self: Any, spec: dict[str, Any]) -> Any:
        esm = create(self, spec)
        if esm.event_source_arn.split(":")[2] == "dynamodb":
            start(esm)
        return esm

    def update_mapping(self: Any, uuid: str, spec: dict[str, Any]) -> Any:
        esm = update(self, uuid, spec)
        consumer = _consumers.get(uuid)
        if consumer is not None:
            consumer.wake.set()
        return esm

    def delete_mapping(self: Any, uuid: str) -> Any:
        esm = delete(self, uuid)
        consumer = _consumers.get(uuid)
        if consumer is not None:
            consumer.wake.set()
        return esm

    LambdaBackend.create_event_source_mapping = create_mapping  # type: ignore[method-assign]
    LambdaBackend.update_event_source_mapping = update_mapping  # type: ignore[method-assign]
    LambdaBackend.delete_event_source_mapping = delete_mapping  # type: ignore[method-assign]
    STREAM_LISTENERS.append(wake)
    LambdaBackend._agentocore_streams = True  # type: ignore[attr-defined]

"""dlq_handler: every message on the dead-letter queues becomes a failure item and an SNS alert.

Powertools batch processing with partial batch failures: a record that cannot be recorded stays
in the queue (reported in ``batchItemFailures``); a malformed one is recorded as it came.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from agentocore.config import Settings
from agentocore.lambda_support import Singleton
from agentocore.tracing import function_tracer
from agentocore.workers.failures import FailureRecorder
from agentocore.workers.notify import SnsNotifier

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SERVICE = "dlq_handler"
logger = Logger(service=SERVICE)
tracer = function_tracer(SERVICE)
processor = BatchProcessor(event_type=EventType.SQS)


def _build_recorder() -> FailureRecorder:
    settings = Settings.from_env()
    if not settings.alerts_topic_arn:
        raise RuntimeError("AGENTOCORE_ALERTS_TOPIC_ARN is not set")
    return FailureRecorder(settings.table_name, SnsNotifier(settings.alerts_topic_arn))


recorder = Singleton(_build_recorder)


@tracer.capture_method
def record(record: SQSRecord) -> dict[str, Any]:
    failure = recorder().record(record.raw_event)
    logger.warning(
        "failure recorded",
        extra={
            "event_id": failure.event_id,
            "detail_type": failure.detail_type,
            "error": failure.error,
            "attempts": failure.attempts,
            "malformed": failure.malformed,
        },
    )
    return {"event_id": failure.event_id}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record, processor=processor, context=context
    )

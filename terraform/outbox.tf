# The transactional outbox's relay: the table's stream -> outbox_relay -> the bus.
#
# A turn's save writes its action requests to an OUTBOX# item in the same transaction
# (shared/agentocore/events/outbox.py); this mapping hands the stream's outbox INSERTs to
# outbox_relay, which publishes them and marks the item published.
#
# starting_position TRIM_HORIZON: the mapping starts at the oldest record the stream retains
# (24 h), so outbox items written before the mapping was enabled (first deploy, a mapping
# re-created or disabled for a while) are still relayed; with LATEST they would be skipped and
# their actions never requested. Records of items already published are skipped by the relay.
resource "aws_lambda_event_source_mapping" "outbox" {
  event_source_arn  = module.memory_table.stream_arn
  function_name     = module.functions["outbox_relay"].arn
  starting_position = "TRIM_HORIZON"
  batch_size        = 10
  # A failing batch is split to isolate the bad record; each half is retried again.
  bisect_batch_on_function_error = true
  maximum_retry_attempts         = 5
  # Actions older than an hour go to the DLQ (failure record + alert) instead of blocking the
  # shard; the item stays unpublished and is republished once the cause is fixed.
  maximum_record_age_in_seconds = 3600
  function_response_types       = ["ReportBatchItemFailures"]

  # Only outbox INSERTs invoke the relay (turns, META updates and TTL deletions do not).
  filter_criteria {
    filter {
      pattern = jsonencode({
        eventName = ["INSERT"]
        dynamodb  = { Keys = { PK = { S = [{ prefix = "OUTBOX#" }] } } }
      })
    }
  }

  destination_config {
    on_failure {
      destination_arn = module.queues.arns["outbox"]
    }
  }
}

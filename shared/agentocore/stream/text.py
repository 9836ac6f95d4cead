"""A model call's streamed text across retries: what the client already has is not sent again.

A retried call may produce the same text (sent again only past what the client has) or
different text (the client is told to replace the step's text: ``TextReplaced``).
"""

from __future__ import annotations

from agentocore.stream.events import EventSink, TextDelta, TextReplaced


class StepText:
    """The text of one model call (``step``) as the client has it."""

    def __init__(self, step: int, sink: EventSink) -> None:
        self.step = step
        self.sink = sink
        self.sent = ""  # what the client has
        self.attempt = ""  # what the current attempt produced so far

    def new_attempt(self) -> None:
        self.attempt = ""

    def add(self, delta: str) -> None:
        if not delta:
            return
        self.attempt += delta
        if self.sent.startswith(self.attempt):
            return  # a retry repeating what the client has
        if self.attempt.startswith(self.sent):
            fresh, self.sent = self.attempt[len(self.sent) :], self.attempt
            self.sink.emit(TextDelta(self.step, fresh))
            return
        self.sent = self.attempt  # the retry went another way
        self.sink.emit(TextReplaced(self.step, self.attempt))

    def finish(self) -> None:
        """The call ended: what the client has must be exactly this attempt's text."""
        if self.sent != self.attempt:
            self.sent = self.attempt
            self.sink.emit(TextReplaced(self.step, self.attempt))

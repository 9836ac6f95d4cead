"""Locust user behaviour of the load test (benchmarks/load_test.py, `make load`).

Each Locust user is one customer with one conversation (a fresh conversation id): it posts a
mix of order-status, weather and refund messages (``behaviour.MESSAGES``, weighted 5:3:2) to
``POST /conversations/{id}/messages`` with an ``Idempotency-Key`` per request, waiting 1-3 s
between messages (the seed article's user; ``AGENTOCORE_LOAD_WAIT_S="min,max"`` changes it).

Identity: with ``AGENTOCORE_JWT`` set (a deployed stage), every request carries
``Authorization: Bearer <that JWT>``; otherwise the local API front's development identity,
``Authorization: Bearer <user id>``, one user id per Locust user. Failures: see
``behaviour.failure_reason`` (non-2xx, or a 200 whose run failed or hit a budget).
"""

from __future__ import annotations

import json
import uuid

from behaviour import (
    MESSAGES,
    authorization,
    failure_reason,
    wait_bounds,
)  # locust puts this dir on the path
from locust import FastHttpUser, between, task


class ConversationUser(FastHttpUser):
    """One customer, one conversation, a message 1-3 s after the previous answer."""

    wait_time = between(*wait_bounds())
    # The local front answers 503 after 30 s (API Gateway's limit): never cut a request first.
    network_timeout = 120.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        token = uuid.uuid4().hex[:16]
        self.conversation_id = f"load-{token}"
        self.auth = authorization(f"load-user-{token}")

    def post(self, name: str, message: str) -> None:
        headers = {
            "Authorization": self.auth,
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        with self.client.post(
            f"/conversations/{self.conversation_id}/messages",
            data=json.dumps({"message": message}),
            headers=headers,
            name=name,
            catch_response=True,
        ) as response:
            reason = failure_reason(response.status_code, response.content)
            if reason is None:
                response.success()
            else:
                response.failure(reason)

    @task(MESSAGES[0][2])
    def order_status(self) -> None:
        self.post(*MESSAGES[0][:2])

    @task(MESSAGES[1][2])
    def weather(self) -> None:
        self.post(*MESSAGES[1][:2])

    @task(MESSAGES[2][2])
    def refund(self) -> None:
        self.post(*MESSAGES[2][:2])

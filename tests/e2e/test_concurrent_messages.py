"""Concurrent messages on one conversation through the local API: every 200 is stored.

On plain moto this failed (2 runs out of 4): TransactWriteItems' snapshot-and-restore rollback
erased turns another request had committed, so a 200 answered a message that was never stored
and two requests got the same turn number. The emulator's DynamoDB is linearizable now.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .test_refund_story import item, turns

REQUESTS = 10


def test_ten_concurrent_messages_on_one_conversation_are_all_stored(api, aws, outputs):
    conversation = "e2e-concurrent"

    def send(i: int) -> tuple[int, dict, str]:
        message = f"What's the status of order C-{1000 + i}?"
        status, body = api.call(
            "POST", f"/conversations/{conversation}/messages", {"message": message}
        )
        return status, body, message

    with ThreadPoolExecutor(REQUESTS) as pool:
        results = list(pool.map(send, range(REQUESTS)))

    # A request may lose every retry against the others (409), never get a 200 for nothing.
    assert {status for status, _, _ in results} <= {200, 409}, results
    answered = [(body, message) for status, body, message in results if status == 200]
    assert answered, results
    stored = {int(t["SK"]["S"].removeprefix("TURN#")): t for t in turns(aws, outputs, conversation)}
    firsts = [body["turn"] for body, _ in answered]
    assert len(set(firsts)) == len(firsts), f"the same turn number answered twice: {firsts}"
    for body, message in answered:
        user_turn = stored.get(body["turn"])
        assert user_turn is not None, f"turn {body['turn']} answered but not stored"
        assert message in user_turn["content"]["S"]
    meta = item(aws, outputs, f"CONV#{conversation}")
    assert meta is not None, "the conversation's META item was erased"
    assert int(meta["turn_count"]["N"]) == len(stored) == max(stored)

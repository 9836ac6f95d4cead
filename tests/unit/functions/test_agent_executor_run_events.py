"""GET /conversations/{id}/events: a run's numbered events for its owner only, resumable after
any sequence number, written for the first run before the conversation's META exists."""

from __future__ import annotations

from agentocore.models.scripted import text_response, tool_use_response
from agentocore.stream.log import EventLog

from .conftest import LambdaContext, http_event, install_runtime, load_function, response_json

fn = load_function("agent_executor")


def call(event):
    return response_json(fn.handler(event, LambdaContext()))


def post(conversation_id, body, **kwargs):
    return call(
        http_event("POST", f"/conversations/{conversation_id}/messages", body=body, **kwargs)
    )


def events(conversation_id, **kwargs):
    query = kwargs.pop("query", None)
    return call(
        http_event("GET", f"/conversations/{conversation_id}/events", query=query, **kwargs)
    )


def script():
    return [
        tool_use_response(("t1", "get_order_status", {"order_id": "A-1001"}), text="Looking."),
        text_response("Order A-1001 was delivered."),
    ]


def test_a_run_is_logged_in_order_and_read_after_any_number(stack):
    install_runtime(fn, script())
    status, body = post("c1", {"message": "Where is A-1001?", "watch": True})
    assert status == 200
    status, page = events("c1")
    assert status == 200
    kinds = [e["type"] for e in page["events"]]
    assert kinds == ["text", "usage", "tool_use_start", "tool_use_end", "text", "usage", "result"]
    seqs = [e["seq"] for e in page["events"]]
    assert seqs == list(range(1, 8)) and page["next_after"] == 7 and page["more"] is False
    assert page["events"][-1]["text"] == body["reply"] == "Order A-1001 was delivered."
    assert {e["run_id"] for e in page["events"]} == {"c1#turn1"}
    status, rest = events("c1", query={"after": "4"})
    assert [e["seq"] for e in rest["events"]] == [5, 6, 7]
    status, page = events("c1", query={"after": "2", "limit": "2"})
    assert [e["seq"] for e in page["events"]] == [3, 4] and page["more"] is True
    status, none = events("c1", query={"after": "7"})
    assert none["events"] == [] and none["next_after"] == 7
    # the next run continues the numbering
    install_runtime(fn, [text_response("Anything else?")])
    post("c1", {"message": "thanks", "watch": True})
    status, more = events("c1", query={"after": "7"})
    assert [e["seq"] for e in more["events"]] == [8, 9, 10]


def test_a_synchronous_answer_carries_the_run_so_its_events_are_not_logged(stack, counter):
    install_runtime(fn, script())
    status, body = post("c1", {"message": "Where is A-1001?"})
    assert status == 200 and body["reply"] == "Order A-1001 was delivered."
    status, page = events("c1")
    assert status == 200 and page["events"] == [] and page["next_after"] == 0


def test_another_user_sees_nothing_of_it(stack):
    install_runtime(fn, script())
    post("c1", {"message": "Where is A-1001?"})
    assert events("c1", sub="user-b")[0] == 404
    assert events("c-unknown")[0] == 404


def test_a_first_run_is_readable_by_its_owner_before_the_conversation_is_saved(stack, dynamodb):
    """Records carry their owner: the META is written only when the first run saves."""
    log = EventLog(stack.table, client=dynamodb)
    writer = log.writer("c9", owner="user-a", run_id="r1")
    from agentocore.stream.events import TextDelta, UsageReport

    writer.emit(TextDelta(1, "Hel"))
    writer.emit(TextDelta(1, "lo"))
    writer.emit(UsageReport(1, 10, 2, 0.0))
    writer.flush()
    status, page = events("c9")
    assert status == 200
    assert [(e["type"], e.get("delta")) for e in page["events"]] == [
        ("text", "Hello"),
        ("usage", None),
    ]
    assert events("c9", sub="user-b")[0] == 404


def test_bad_cursors_are_400(stack):
    install_runtime(fn, script())
    post("c1", {"message": "Where is A-1001?"})
    for after in ("-1", "x", "1" * 13):
        status, err = events("c1", query={"after": after})
        assert (status, err["error"]["code"]) == (400, "invalid_after")


def test_a_run_whose_save_fails_logs_no_result(stack):
    """The turn could not be stored (409 after the conflict retries): its tool calls happened
    and are logged, but no `result` claims an outcome that was not kept."""

    def sneak(request):
        fn.runtime().memory.append(
            "c1",
            [
                {"role": "user", "content": [{"text": "other"}]},
                {"role": "assistant", "content": [{"text": "other"}]},
            ],
            expected_turn_count=fn.runtime().memory.get_meta("c1").turn_count,
            user_id="user-a",
        )
        return text_response("mine")

    install_runtime(fn, [sneak])
    fn.runtime().runner("default").conflict_retries = 0
    status, err = post("c1", {"message": "mine", "watch": True})
    assert (status, err["error"]["code"]) == (409, "turn_conflict")
    status, page = events("c1")
    assert status == 200 and "result" not in {e["type"] for e in page["events"]}
    # its retry runs again and is logged, numbered after whatever was written
    install_runtime(fn, [text_response("mine, again")])
    status, body = post("c1", {"message": "mine", "watch": True})
    assert status == 200 and body["reply"] == "mine, again"
    status, page = events("c1")
    results = [e for e in page["events"] if e["type"] == "result"]
    assert [r["text"] for r in results] == ["mine, again"]

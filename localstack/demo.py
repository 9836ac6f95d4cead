"""The refund story, narrated, through the deployed local stack (make demo / make up).

    python localstack/demo.py [--serve]

Needs the emulator running and workspace "local" deployed (make deploy-local). Serves the HTTP
API on 127.0.0.1:$AGENTOCORE_API_PORT (default 3000) while it runs; with --serve it keeps serving.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from emulator import endpoint  # noqa: E402
from fronts import start_fronts  # noqa: E402

ROOT = HERE.parent
BOLD, DIM, GREEN, YELLOW, RESET = "\033[1m", "\033[2m", "\033[32m", "\033[33m", "\033[0m"
if not sys.stdout.isatty():
    BOLD = DIM = GREEN = YELLOW = RESET = ""


def say(text: str = "") -> None:
    print(text, flush=True)


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {user}")
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=300) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def aws(service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint(),
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def wait_item(
    table: str, pk: str, timeout_s: float = 60, sk: str = "META"
) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        item = (
            aws("dynamodb")
            .get_item(TableName=table, Key={"PK": {"S": pk}, "SK": {"S": sk}})
            .get("Item")
        )
        if item:
            return dict(item)
        time.sleep(0.5)
    return None


def show_turn(client: Client, conversation: str, user: str, message: str) -> dict[str, Any]:
    say(f"\n{BOLD}{user}:{RESET} {message}")
    started = time.monotonic()
    status, body = client.call(
        "POST", f"/conversations/{conversation}/messages", user, {"message": message}
    )
    took = time.monotonic() - started
    if status != 200:
        say(f"  HTTP {status}: {body}")
        return {}
    _, history = client.call("GET", f"/conversations/{conversation}?after={body['turn'] - 1}", user)
    for turn in history.get("turns", [])[1:]:
        for block in turn["content"]:
            if "text" in block and turn["role"] == "assistant" and block["text"] != body["reply"]:
                say(f"  {DIM}reasoning:{RESET} {block['text']}")
            elif "toolUse" in block:
                tu = block["toolUse"]
                say(f"  {DIM}tool call:{RESET} {tu['name']}({json.dumps(tu['input'])})")
            elif "toolResult" in block:
                tr = block["toolResult"]
                content = tr["content"][0]
                shown = json.dumps(content.get("json", content.get("text")))
                say(f"  {DIM}tool result ({tr.get('status', 'success')}):{RESET} {shown[:160]}")
    say(f"{BOLD}agent:{RESET} {GREEN}{body['reply']}{RESET}")
    u = body["usage"]
    say(
        f"  {DIM}{body['status']} / {body['stop_reason']}, {body['iterations']} iterations, "
        f"{u['input_tokens']} in + {u['output_tokens']} out tokens, ${u['cost_usd']:.6f}, "
        f"{took * 1000:.0f} ms through API Gateway -> Lambda{RESET}"
    )
    return dict(body)


def no_action(body: dict[str, Any]) -> None:
    if not body.get("actions"):
        say(f"  {YELLOW}the model requested no action, so this part of the story stops here{RESET}")


def approve(client: Client, action_id: str, reason: str) -> None:
    status, decided = client.call(
        "POST", f"/approvals/{action_id}", "approver", {"decision": "approve", "reason": reason}
    )
    say(f"{BOLD}approver:{RESET} approve -> HTTP {status}, {decided.get('status')}")


def story(client: Client, outputs: dict[str, Any]) -> None:
    table = outputs["table_name"]
    model = os.environ.get("AGENTOCORE_MODEL", "rules:v1")
    say(
        f"{BOLD}AgentoCore demo{RESET} - refunds and a cancellation on the local AWS "
        f"emulator ({endpoint()})"
    )
    if model.startswith("rules"):
        say(
            f"{YELLOW}Model: AgentoCore's offline rules model (deterministic, no AWS account). "
            f"`make local-llm` installs a real small model; the demo then runs on it.{RESET}"
        )
    elif model.partition(":")[0] == "local":
        say(
            f"{YELLOW}Model: {model} - a small open model on this CPU (llama.cpp, served by "
            f"localstack/llm_server.py); tool calls by JSON-Schema-constrained decoding.{RESET}"
        )
    else:
        say(f"Model: {model}")

    # Fresh conversations on every run: a rerun on the same stack does not continue old ones.
    run = time.strftime("%H%M%S")
    first, second = f"demo-{run}-1", f"demo-{run}-2"
    show_turn(client, first, "alice", "What's the status of order A-1001?")

    body = show_turn(client, first, "alice", "Refund order A-1001, it arrived broken")
    no_action(body)
    for action in body.get("actions", []):
        say(
            f"  {DIM}event:{RESET} ActionRequested {action['type']} {action['action_id']}: saved "
            f"with the turn (outbox) -> outbox_relay -> bus {outputs['event_bus_name']}"
        )
        refund = wait_item(table, f"REFUND#{action['action_id']}")
        if refund:
            say(
                f"  {DIM}routed:{RESET} amount {refund['amount']['N']} <= 1000 and not high risk "
                f"-> standard_worker performed refund {refund['refund_id']['S']} "
                "(ActionCompleted published)"
            )

    body = show_turn(client, second, "alice", "Refund order A-2002, it arrived broken")
    no_action(body)
    for action in body.get("actions", []):
        approval = wait_item(table, f"APPROVAL#{action['action_id']}")
        if approval:
            say(
                f"  {DIM}routed:{RESET} {approval['summary']['S']}: amount > 1000 -> "
                "approval_worker: "
                f"approval {action['action_id']} is {approval['status']['S']}; SNS notice sent to "
                f"{outputs['approvals_topic_arn'].rsplit(':', 1)[-1]}"
            )
        status, pending = client.call("GET", "/approvals?status=pending", "approver")
        say(
            f"\n{BOLD}approver:{RESET} GET /approvals?status=pending -> "
            f"{[a['approval_id'] for a in pending.get('approvals', [])]}"
        )
        approve(client, action["action_id"], "photos confirm the damage")
        refund = wait_item(table, f"REFUND#{action['action_id']}")
        if refund:
            say(
                f"  {DIM}routed:{RESET} ActionApproved -> standard_worker performed refund "
                f"{refund['refund_id']['S']} approved by {refund['approved_by']['S']}"
            )
        status, again = client.call(
            "POST", f"/approvals/{action['action_id']}", "approver", {"decision": "reject"}
        )
        say(f"{BOLD}approver:{RESET} decide again -> HTTP {status} ({again['error']['code']})")

    third = f"demo-{run}-3"
    body = show_turn(client, third, "alice", "Please cancel subscription S-1001, too expensive")
    no_action(body)
    for action in body.get("actions", []):
        approval = wait_item(table, f"APPROVAL#{action['action_id']}")
        if approval:
            say(
                f"  {DIM}routed:{RESET} CancelSubscription always needs approval -> "
                f"approval_worker: {approval['summary']['S']} is {approval['status']['S']}"
            )
        approve(client, action["action_id"], "customer confirmed by phone")
        cancelled = wait_item(table, "SUBSCRIPTION#S-1001", sk="CANCELLATION")
        if cancelled and cancelled["action_id"]["S"] == action["action_id"]:
            say(
                f"  {DIM}routed:{RESET} ActionApproved -> standard_worker cancelled S-1001 "
                f"({cancelled['effective']['S']}), approved by {cancelled['approved_by']['S']}"
            )
        elif cancelled:
            say(
                f"  {DIM}routed:{RESET} S-1001 was already cancelled by an earlier request: "
                "the handler declined (ActionFailed), nothing cancelled twice"
            )

    for conversation in (first, second, third):
        _, c = client.call("GET", f"/conversations/{conversation}", "alice")
        u = c["usage"]
        say(
            f"\n{conversation}: {c['turn_count']} turns stored, {u['input_tokens']} input + "
            f"{u['output_tokens']} output tokens, cost ${u['cost_usd']:.6f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help="keep serving the API afterwards")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("AGENTOCORE_API_PORT", "3000"))
    )
    parser.add_argument(
        "--ws-port", type=int, default=int(os.environ.get("AGENTOCORE_WS_PORT", "3001"))
    )
    args = parser.parse_args()
    outputs = {
        k: v["value"]
        for k, v in json.loads((ROOT / ".localstack" / "local-outputs.json").read_text()).items()
    }
    fronts = start_fronts(
        outputs, endpoint(), api_port=args.port, ws_port=args.ws_port, quiet=not args.serve
    )
    base = fronts.api_url
    story(Client(base), outputs)
    if args.serve:
        say(
            f"\n{BOLD}The console and the API are on {base}{RESET}, the WebSocket API on "
            f"{fronts.ws_url} (Ctrl-C stops them; make localstack-down stops the emulator).\n"
            f"Open {base}/ and sign in as alice (a user) or approver (the approvers group). Or:"
        )
        say(
            f"  curl -s -X POST {base}/conversations/mine/messages "
            "-H 'Authorization: Bearer alice' "
            "-H 'Content-Type: application/json' -d '{\"message\": \"Where is order A-3003?\"}'"
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    fronts.stop()


if __name__ == "__main__":
    main()

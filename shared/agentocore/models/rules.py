"""An offline, deterministic model that follows transparent rules (the local default).

It speaks the Converse shapes (toolUse blocks, stopReasons, usage) so the whole system runs
with no AWS account and no model weights:

- a user text naming a subscription (``S-1001``) and "cancel"   -> ``cancel_subscription``
- a user text naming an order id (``A-1001``) and "refund"      -> ``trigger_refund``
- a user text naming an order id and "track"/"tracking"          -> ``track_shipment``
- a user text naming an order id (status/where/order/...)        -> ``get_order_status``
- a user text asking for the weather "in <City>"                 -> ``get_weather``
- tool results in the last user message                          -> an answer written from them
- a summarization request (compaction)                           -> a clipped transcript
- anything else                                                  -> a short help text

Only tools present in the request's ``toolConfig`` are called. Usage is a tiktoken estimate of
the request and the reply (there is no real model to report it). ``AGENTOCORE_MODEL=rules:v1``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from agentocore.budget import tokens
from agentocore.models.scripted import response
from agentocore.types import ContentBlock, ConverseRequest, ConverseResponse, Message

ORDER_ID = re.compile(r"\b([A-Z]-\d{4})\b")
CITY = re.compile(r"\bweather\b.*?\bin\s+([A-Z][A-Za-z .'-]{1,60}?)(?:[?.!,]|$)", re.IGNORECASE)
REFUND = re.compile(r"\brefund", re.IGNORECASE)
SUBSCRIPTION_ID = re.compile(r"\b(S-\d{4})\b")
CANCEL = re.compile(r"\b(cancel|stop|unsubscribe)", re.IGNORECASE)
TRACK = re.compile(r"\btrack(ing)?\b", re.IGNORECASE)
STATUS = re.compile(r"\b(status|where|track|order|shipped|delivered)\b", re.IGNORECASE)
HELP = (
    "I'm AgentoCore's offline rules model. I can check an order ('What's the status of order "
    "A-1001?'), request a refund ('Refund order A-1001, it arrived broken'), cancel a "
    "subscription ('Cancel subscription S-1001, too expensive'), track a parcel ('Track order "
    "A-3003') and report the weather ('What's the weather in Paris?')."
)


def _texts(message: Message) -> str:
    return " ".join(str(b["text"]) for b in message.get("content", []) if "text" in b)


def _tool_names(request: ConverseRequest) -> set[str]:
    tools = (request.get("toolConfig") or {}).get("tools", [])
    return {t["toolSpec"]["name"] for t in tools if "toolSpec" in t}


def _result_value(block: ContentBlock) -> Any:
    for c in block["toolResult"].get("content", []):
        if "json" in c:
            return c["json"]
        if "text" in c:
            return c["text"]
    return None


class RulesModel:
    """Deterministic rules behind the model-provider protocol."""

    def __init__(self, model_id: str = "rules:v1") -> None:
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def min_cache_tokens(self) -> int:
        return 0

    def converse(self, request: ConverseRequest) -> ConverseResponse:
        messages: list[Message] = request.get("messages", [])
        system = " ".join(b.get("text", "") for b in request.get("system", []))
        if "compress conversations" in system and not request.get("toolConfig"):
            content: list[ContentBlock] = [{"text": self._summary(messages)}]
            return self._respond(request, content, "end_turn")
        last: Message = messages[-1] if messages else {"role": "user", "content": []}
        results: list[ContentBlock] = [b for b in last.get("content", []) if "toolResult" in b]
        if results:
            return self._respond(request, [{"text": self._answer(messages, results)}], "end_turn")
        calls = self._plan(_texts(last), _tool_names(request), len(messages))
        if calls:
            return self._respond(request, calls, "tool_use")
        return self._respond(request, [{"text": HELP}], "end_turn")

    def _plan(self, text: str, tools: set[str], position: int) -> list[ContentBlock]:
        order = ORDER_ID.search(text)
        city = CITY.search(text)
        subscription = SUBSCRIPTION_ID.search(text)
        call: tuple[str, dict[str, Any]] | None = None
        if subscription and CANCEL.search(text) and "cancel_subscription" in tools:
            sub_id = subscription.group(1)
            call = (
                "cancel_subscription",
                {"subscription_id": sub_id, "reason": text.strip()[:500]},
            )
        elif order and REFUND.search(text) and "trigger_refund" in tools:
            call = ("trigger_refund", {"order_id": order.group(1), "reason": text.strip()[:500]})
        elif order and TRACK.search(text) and "track_shipment" in tools:
            call = ("track_shipment", {"order_id": order.group(1)})
        elif order and "get_order_status" in tools and (STATUS.search(text) or not city):
            call = ("get_order_status", {"order_id": order.group(1)})
        elif city and "get_weather" in tools:
            units = "fahrenheit" if "fahrenheit" in text.lower() else "celsius"
            call = ("get_weather", {"location": city.group(1).strip(), "units": units})
        if call is None:
            return []
        # Unique per conversation position and input, so action ids never collide.
        seed = f"{position}:{call[0]}:{json.dumps(call[1], sort_keys=True)}"
        tool_use_id = "rules_" + hashlib.sha1(seed.encode()).hexdigest()[:20]
        named = call[1].get("order_id") or call[1].get("subscription_id") or call[1].get("location")
        reasoning = f"Rule: the message names {named}"
        return [
            {"text": f"{reasoning}; calling {call[0]}."},
            {"toolUse": {"toolUseId": tool_use_id, "name": call[0], "input": call[1]}},
        ]

    def _answer(self, messages: list[Message], results: list[ContentBlock]) -> str:
        calls = {}
        if len(messages) >= 2:
            for b in messages[-2].get("content", []):
                if "toolUse" in b:
                    calls[b["toolUse"]["toolUseId"]] = b["toolUse"]
        parts = []
        for block in results:
            tr = block["toolResult"]
            name = calls.get(tr["toolUseId"], {}).get("name", "the tool")
            value = _result_value(block)
            if tr.get("status") == "error":
                parts.append(f"I couldn't complete {name}: {str(value).removeprefix('Error: ')}")
            elif name == "get_order_status" and isinstance(value, dict):
                parts.append(
                    f"Order {value['order_id']} ({value.get('item')}) is {value['status']}; "
                    f"it was {value['amount']:,.2f} {value['currency']}."
                )
            elif name == "trigger_refund" and isinstance(value, dict):
                parts.append(
                    f"I've requested the refund (action {value['action_id']}). It completes "
                    "asynchronously; refunds above 1,000 wait for a human approver first."
                )
            elif name == "cancel_subscription" and isinstance(value, dict):
                parts.append(
                    f"I've requested the cancellation (action {value['action_id']}). A human "
                    "approves every cancellation before it happens."
                )
            elif name == "track_shipment" and isinstance(value, dict):
                parts.append(
                    f"Order {value['order_id']} ({value['status']}) travels with "
                    f"{value['carrier']}, tracking code {value['tracking_code']}."
                )
            elif name == "get_weather" and isinstance(value, dict):
                unit = "°C" if value.get("units") == "celsius" else "°F"
                parts.append(
                    f"In {value['location']} it is {value['temperature']}{unit} and "
                    f"{value['conditions']}, humidity {value['humidity']}%."
                )
            else:
                parts.append(f"{name} returned: {json.dumps(value, default=str)[:300]}")
        return " ".join(parts)

    @staticmethod
    def _summary(messages: list[Message]) -> str:
        text = " ".join(_texts(m) for m in messages)
        return ("Earlier: " + text)[:1500]

    def _respond(
        self, request: ConverseRequest, content: list[ContentBlock], stop: str
    ) -> ConverseResponse:
        system_tokens = sum(
            tokens.count_text(b["text"]) for b in request.get("system", []) if "text" in b
        )
        tools = (request.get("toolConfig") or {}).get("tools", [])
        input_tokens = (
            system_tokens
            + tokens.count_messages(request.get("messages", []))
            + (tokens.count_json(tools) if tools else 0)
        )
        output_tokens = tokens.count_message({"role": "assistant", "content": content})
        return response(content, stop, input_tokens, output_tokens)

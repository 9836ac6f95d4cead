"""ConverseStream events <-> a Converse response.

:func:`assemble` reads ``bedrock-runtime.converse_stream`` events (``messageStart``,
``contentBlockStart`` / ``Delta`` / ``Stop``, ``messageStop``, ``metadata``) into the response
``converse`` would have returned, handing each text delta to ``on_text`` as it arrives.
:func:`events_of` plays a finished response as such a stream, for providers that do not stream
(rules, scripted, local), so every provider runs the streamed loop the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from agentocore.types import ContentBlock, ConverseRequest, ConverseResponse

#: The key a toolUse input that is not a JSON object is kept under (the tool's validation then
#: fails and the model is told, as for any invalid input).
UNPARSED_INPUT = "_unparsed_input"


def _tool_input(raw: str) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {UNPARSED_INPUT: raw}
    return value if isinstance(value, dict) else {UNPARSED_INPUT: raw}


def assemble(
    events: Iterable[dict[str, Any]], on_text: Callable[[str], None] = lambda _: None
) -> ConverseResponse:
    """The Converse response a ConverseStream's ``events`` make up."""
    blocks: dict[int, dict[str, Any]] = {}
    raw_inputs: dict[int, str] = {}
    response: dict[str, Any] = {"stopReason": "", "usage": {}}
    for event in events:
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if use is not None:
                index = int(start.get("contentBlockIndex", 0))
                blocks[index] = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
                raw_inputs[index] = ""
        elif "contentBlockDelta" in event:
            body = event["contentBlockDelta"]
            index, delta = int(body.get("contentBlockIndex", 0)), body.get("delta") or {}
            if "text" in delta:
                block = blocks.setdefault(index, {"text": ""})
                block["text"] = block.get("text", "") + delta["text"]
                on_text(delta["text"])
            elif "toolUse" in delta:
                raw_inputs[index] = raw_inputs.get(index, "") + str(
                    delta["toolUse"].get("input", "")
                )
            elif "reasoningContent" in delta:
                part = delta["reasoningContent"]
                block = blocks.setdefault(index, {"reasoningContent": {"reasoningText": {}}})
                text = block["reasoningContent"]["reasoningText"]
                if "text" in part:
                    text["text"] = text.get("text", "") + part["text"]
                if "signature" in part:
                    text["signature"] = part["signature"]
        elif "messageStop" in event:
            stop = event["messageStop"]
            response["stopReason"] = stop.get("stopReason", "")
            if "additionalModelResponseFields" in stop:
                response["additionalModelResponseFields"] = stop["additionalModelResponseFields"]
        elif "metadata" in event:
            meta = event["metadata"]
            response["usage"] = dict(meta.get("usage") or {})
            if "metrics" in meta:
                response["metrics"] = dict(meta["metrics"])
    for index, raw in raw_inputs.items():
        blocks[index]["toolUse"]["input"] = _tool_input(raw)
    content: list[ContentBlock] = [blocks[i] for i in sorted(blocks)]
    response["output"] = {"message": {"role": "assistant", "content": content}}
    return response


def events_of(response: ConverseResponse) -> Iterator[dict[str, Any]]:
    """A finished response played as ConverseStream events (one delta per text block)."""
    yield {"messageStart": {"role": "assistant"}}
    message = (response.get("output") or {}).get("message") or {}
    for index, block in enumerate(message.get("content") or []):
        if "text" in block:
            yield {
                "contentBlockDelta": {"contentBlockIndex": index, "delta": {"text": block["text"]}}
            }
        elif "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            yield {"contentBlockStart": {"contentBlockIndex": index, "start": start}}
            raw = json.dumps(use.get("input", {}), separators=(",", ":"), default=str)
            yield {
                "contentBlockDelta": {
                    "contentBlockIndex": index,
                    "delta": {"toolUse": {"input": raw}},
                }
            }
        elif "reasoningContent" in block:
            text = (block["reasoningContent"] or {}).get("reasoningText") or {}
            yield {
                "contentBlockDelta": {
                    "contentBlockIndex": index,
                    "delta": {"reasoningContent": dict(text)},
                }
            }
        else:
            continue
        yield {"contentBlockStop": {"contentBlockIndex": index}}
    stop: dict[str, Any] = {"stopReason": response.get("stopReason", "")}
    if "additionalModelResponseFields" in response:
        stop["additionalModelResponseFields"] = response["additionalModelResponseFields"]
    yield {"messageStop": stop}
    meta: dict[str, Any] = {"usage": dict(response.get("usage") or {})}
    if "metrics" in response:
        meta["metrics"] = dict(response["metrics"])
    yield {"metadata": meta}


def stream_of(model: Any, request: ConverseRequest) -> Iterable[dict[str, Any]]:
    """``model``'s ConverseStream events for ``request``: its own stream when it has one."""
    converse_stream = getattr(model, "converse_stream", None)
    if converse_stream is not None:
        events: Iterable[dict[str, Any]] = converse_stream(request)
        return events
    return events_of(model.converse(request))

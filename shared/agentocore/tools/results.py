"""``toolResult`` content blocks, including the error results that let a model correct itself.

Whatever a tool returns is made JSON-safe here (:func:`jsonable`) before it becomes a block:
Converse (botocore's validator, then Bedrock) accepts only str, int, float, bool, None, list and
dict in a ``json`` block, and the turn is stored as JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import math
import uuid
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError, to_jsonable_python

from agentocore.types import ContentBlock

_MAX_SHOWN_VALUE = 120
#: Deeper structures are refused (Converse documents and the stored turn are nested JSON).
MAX_DEPTH = 64
#: Integral Decimals up to this many digits stay integers (DynamoDB numbers have 38).
_MAX_INT_DIGITS = 40


class OutputError(ValueError):
    """A tool's return value cannot be sent to the model (the message says where and why)."""


def success(tool_use_id: str, output: Any) -> ContentBlock:
    """A successful ``toolResult``: text for strings, JSON for anything else (made JSON-safe).

    Raises :class:`OutputError` when the output cannot be represented as JSON."""
    if isinstance(output, str):
        content: list[ContentBlock] = [{"text": _text(output)}]
    else:
        doc = jsonable(output)
        content = [{"json": doc if isinstance(doc, dict) else {"result": doc}}]
    try:
        json.dumps(content, allow_nan=False)
    except (TypeError, ValueError) as exc:  # e.g. an int too long to print
        raise OutputError(f"not JSON-serializable: {exc}") from exc
    return {"toolResult": {"toolUseId": tool_use_id, "content": content, "status": "success"}}


def error(tool_use_id: str, message: str) -> ContentBlock:
    """An error ``toolResult``. The text block carries the message because some models ignore
    ``status``."""
    return {
        "toolResult": {
            "toolUseId": tool_use_id,
            "content": [{"text": _text(f"Error: {message}")}],
            "status": "error",
        }
    }


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (str, int, float, bool, None, list, dict with str keys).

    Decimal -> int or float (a string when no float holds it), datetime/date/time -> ISO 8601,
    UUID -> str, set -> sorted list, tuple/iterator -> list, bytes -> base64 text, Enum -> its
    value, dataclass -> object, pydantic model -> its JSON form, NaN/inf -> "NaN"/"Infinity"/
    "-Infinity", lone surrogates in text -> U+FFFD, non-str keys -> their JSON text; other types
    as pydantic serializes them (timedelta, Path, ...). Raises :class:`OutputError`, naming the
    path, for anything else, cycles and nesting deeper than :data:`MAX_DEPTH`."""
    return _convert(value, "result", 0, set())


def _convert(value: Any, path: str, depth: int, seen: set[int]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int) and not isinstance(value, enum.Enum):
        return int(value)
    if isinstance(value, float) and not isinstance(value, enum.Enum):
        return _float(float(value))
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return _convert(value.value, path, depth, seen)
    if depth >= MAX_DEPTH:
        raise OutputError(f"{_at(path)}: nested deeper than {MAX_DEPTH} levels")
    if id(value) in seen:
        raise OutputError(f"{_at(path)}: circular reference")
    seen.add(id(value))
    try:
        return _container(value, path, depth + 1, seen)
    finally:
        seen.discard(id(value))


def _container(value: Any, path: str, depth: int, seen: set[int]) -> Any:
    if isinstance(value, Mapping):
        return {_key(k, path): _convert(v, f"{path}.{k}", depth, seen) for k, v in value.items()}
    if isinstance(value, Sequence | Iterator):  # list, tuple, deque, generator (str is done)
        return [_convert(v, f"{path}[{i}]", depth, seen) for i, v in enumerate(value)]
    if isinstance(value, AbstractSet):
        items = [_convert(v, f"{path}[]", depth, seen) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, BaseModel):
        try:
            dumped = value.model_dump(mode="json")  # the model's own JSON form
        except PydanticSerializationError:
            dumped = value.model_dump()
        return _convert(dumped, path, depth, seen)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _convert(fields, path, depth, seen)
    try:
        plain = to_jsonable_python(value)  # timedelta, Path, IP addresses, iterators, ...
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        msg = f"{_at(path)}: {type(value).__name__} is not JSON-serializable"
        raise OutputError(msg) from exc
    return _convert(plain, path, depth, seen)


def _at(path: str) -> str:
    return path if len(path) <= _MAX_SHOWN_VALUE else "..." + path[-_MAX_SHOWN_VALUE:]


def _key(key: Any, path: str) -> str:
    """An object key: strings as they are, scalars as JSON spells them (``1``, ``true``)."""
    if isinstance(key, str):
        return _text(key)
    plain = _convert(key, f"{path}.<key>", 0, set())
    return plain if isinstance(plain, str) else json.dumps(plain, sort_keys=True)


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decimal(value: Decimal) -> int | float | str:
    if value.is_nan():
        return "NaN"
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    if value == value.to_integral_value() and value.adjusted() < _MAX_INT_DIGITS:
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else str(value)


def _text(value: str) -> str:
    """``value`` as valid Unicode: lone surrogates (unencodable in UTF-8) become U+FFFD."""
    if value.isascii():
        return str.__str__(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return str.__str__(value)


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[:_MAX_SHOWN_VALUE] + "..."


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message (got: value)``."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(input)"
        line = f"- {loc}: {err.get('msg', 'invalid')}"
        if err.get("type") != "missing" and "input" in err:
            line += f" (got: {_shown(err['input'])})"
        lines.append(line)
    return "\n".join(lines)


def schema_text(schema: dict[str, Any]) -> str:
    """Compact JSON of a schema, for error messages."""
    return json.dumps(schema, separators=(",", ":"), sort_keys=True)

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
#: Longer ints become text (json refuses ints of more than 4300 digits by default).
_MAX_INT_BITS = 4096


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
    try:
        return _convert(value, 0, set())
    except _Unusable as exc:
        path = "result" + "".join(reversed(exc.path))
        if len(path) > _MAX_SHOWN_VALUE:
            path = "..." + path[-_MAX_SHOWN_VALUE:]
        raise OutputError(f"{path}: {exc.problem}") from exc.__cause__


class _Unusable(Exception):
    """A value that cannot be converted; ``path`` is filled in (innermost first) on the way
    out, so a successful conversion builds no paths."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []


def _convert(value: Any, depth: int, seen: set[int]) -> Any:
    kind = type(value)
    if kind is str:
        return _text(value)
    if value is None or kind is bool:
        return value
    if kind is int:
        return value if value.bit_length() <= _MAX_INT_BITS else _long(value)
    if kind is float:
        return _float(value)
    if kind is dict or kind is list:
        return _nested(value, depth, seen)
    return _other(value, depth, seen)


def _other(value: Any, depth: int, seen: set[int]) -> Any:
    if isinstance(value, str):  # a str subclass (StrEnum): its text
        return _text(str.__str__(value))
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int | float) and not isinstance(value, enum.Enum):
        return _convert(int(value) if isinstance(value, int) else float(value), depth, seen)
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, enum.Enum):
        return _convert(value.value, depth, seen)
    return _nested(value, depth, seen)


def _nested(value: Any, depth: int, seen: set[int]) -> Any:
    if depth >= MAX_DEPTH:
        raise _Unusable(f"nested deeper than {MAX_DEPTH} levels")
    if id(value) in seen:
        raise _Unusable("circular reference")
    seen.add(id(value))
    try:
        return _container(value, depth + 1, seen)
    finally:
        seen.discard(id(value))


def _container(value: Any, depth: int, seen: set[int]) -> Any:
    if type(value) is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            try:
                out[_key(k)] = _convert(v, depth, seen)
            except _Unusable as exc:
                exc.path.append(f".{k}")
                raise
        return out
    if type(value) is list or isinstance(value, Sequence | Iterator):  # tuple, generator, ...
        items: list[Any] = []
        for i, v in enumerate(value):
            try:
                items.append(_convert(v, depth, seen))
            except _Unusable as exc:
                exc.path.append(f"[{i}]")
                raise
        return items
    if isinstance(value, AbstractSet):
        try:
            members = [_convert(v, depth, seen) for v in value]
        except _Unusable as exc:
            exc.path.append("[]")
            raise
        return sorted(members, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, BaseModel):
        try:
            dumped = value.model_dump(mode="json")  # the model's own JSON form
        except PydanticSerializationError:
            dumped = value.model_dump()
        return _convert(dumped, depth, seen)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _convert(fields, depth, seen)
    try:
        plain = to_jsonable_python(value)  # timedelta, Path, IP addresses, ...
    except (PydanticSerializationError, TypeError, ValueError) as exc:
        raise _Unusable(f"{type(value).__name__} is not JSON-serializable") from exc
    return _convert(plain, depth, seen)


def _key(key: Any) -> str:
    """An object key: strings as they are, scalars as JSON spells them (``1``, ``true``)."""
    if type(key) is str:
        return _text(key)
    plain = _convert(key, MAX_DEPTH - 1, set())
    return plain if isinstance(plain, str) else json.dumps(plain, sort_keys=True)


def _long(value: int) -> str:
    try:
        return str(value)
    except ValueError as exc:  # longer than Python prints (sys.get_int_max_str_digits)
        raise _Unusable(f"an integer of {value.bit_length()} bits is too long") from exc


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

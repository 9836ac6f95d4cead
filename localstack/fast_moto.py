"""Two costs of moto 5.2's server that grow with use, removed without changing any answer.

- ``Table.query`` starts from ``Table.all_items()``, which collects every item of the table and
  sorts them all, on every Query, and only then keeps the queried partition: a Query costs
  O(n log n) in the table's size, and the local stack slows down as tests and load tests fill
  the table. Here a base-table Query reads its own partition only, and with a string sort key
  (no condition or ``BETWEEN``) and no filter only the items moto's loop would reach: those in
  range, after the ExclusiveStartKey, ``Limit`` + 1 of them in the Query's order (a window of
  60 turns reads 61 items whatever the conversation's length, as DynamoDB does). An index Query
  gets the items unsorted (moto sorts what it keeps by the index's keys afterwards). Scan keeps the
  sorted ``all_items`` (its pages depend on that order).
- The server's dispatcher calls ``backends.list_of_moto_modules()`` (a directory listing plus a
  ``stat`` per entry) on every request to recognise service hosts; the list never changes.
- werkzeug logs an access line per request (formatted, locked, written): 15 % of the server's
  CPU under load. Only 5xx answers are logged unless ``AGENTOCORE_EMULATOR_ACCESS_LOG=1``.
- Every UpdateExpression's validator starts with ``copy.deepcopy`` of the parsed expression (14 %
  of the server's CPU under load, more than parsing it): the validator parses the expression's
  text again instead, which gives the same fresh tree.
- The JSON response serializer walks each DynamoDB ``AttributeValue`` through the service model
  with a generic attribute picker, member by member (the items of a Query or GetItem: ~14 % of
  the CPU). An ``AttributeValue`` is written here directly with the same rules (strings as
  ``str``, binaries base64-encoded, maps and lists recursively); anything else, or any key the
  shape does not know, goes the generic way.

Measured with ``benchmarks/local_cpu.py``. Installed by ``emulator.apply_hooks()``.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from typing import Any

_scope = threading.local()
#: positional indexes in ``Table.query(hash_key, *args)``
_COMPARISON, _BOUNDS, _LIMIT, _START, _FORWARD, _INDEX_NAME, _FILTER = 0, 1, 2, 3, 4, 6, 8


@dataclass(frozen=True)
class _Read:
    """What a base-table Query needs of its partition: the items moto's own loop would reach
    (it checks them again and pages them as it always does)."""

    hash_key: Any
    comparison: str | None = None
    bounds: tuple[Any, ...] = ()
    limit: int | None = None
    start: str | None = None
    forward: bool = True
    filtered: bool = True

    def items(self, table: Any) -> list[Any]:
        if not table.range_key_attr:
            item = table.items.get(self.hash_key)
            return [item] if item is not None else []
        items = list(table.items.get(self.hash_key, {}).values())
        between = (self.comparison or "").upper() == "BETWEEN"
        if not (self.comparison is None or between) or any(b.type != "S" for b in self.bounds):
            return items
        if any(i.range_key is None or i.range_key.type != "S" for i in items):
            return items
        if between:  # UTF-8 orders strings as their code points: Python's order is DynamoDB's
            low, high = self.bounds[0].value, self.bounds[1].value
            items = [i for i in items if low <= i.range_key.value <= high]
        items.sort(key=lambda i: i.range_key.value, reverse=not self.forward)
        if self.start is not None:
            start = self.start
            items = [i for i in items if (i.range_key.value > start) == self.forward]
            items = [i for i in items if i.range_key.value != start]
        if not self.filtered and self.limit:
            items = items[: self.limit + 1]  # one more: moto's loop then sets LastEvaluatedKey
        return items


def _read_of(table: Any, hash_key: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Read:
    def arg(position: int, name: str) -> Any:
        return kwargs.get(name, args[position] if len(args) > position else None)

    bounds = tuple(arg(_BOUNDS, "range_objs") or ())
    start = arg(_START, "exclusive_start_key")
    start_sk = None
    if start:
        try:
            start_sk = str(start[table.range_key_attr]["S"])
        except (KeyError, TypeError):  # not a string sort key: read the whole partition
            return _Read(hash_key)
    if len(bounds) not in (0, 2):
        return _Read(hash_key)
    return _Read(
        hash_key,
        comparison=arg(_COMPARISON, "range_comparison"),
        bounds=bounds,
        limit=arg(_LIMIT, "limit"),
        start=start_sk,
        forward=arg(_FORWARD, "scan_index_forward") is not False,
        filtered=_filters(arg(_FILTER, "filter_expression"))
        or any(k not in _NAMED for k in kwargs),
    )


def _filters(expression: Any) -> bool:
    """Whether a FilterExpression may drop items (moto's "no filter" is an ``OpDefault``)."""
    return expression is not None and getattr(expression, "OP", None) != "NONE"


#: keyword arguments of ``Table.query`` that are not filters
_NAMED = frozenset(
    {
        "range_comparison",
        "range_objs",
        "limit",
        "exclusive_start_key",
        "scan_index_forward",
        "projection_expressions",
        "index_name",
        "consistent_read",
        "filter_expression",
        "hash_key_conditions",
        "range_key_conditions",
    }
)


def _index_items(table: Any) -> list[Any]:
    """Every item, unsorted (moto sorts what an index Query keeps by the index's keys)."""
    if table.range_key_attr:
        return [item for hash_set in table.items.values() for item in hash_set.values()]
    return list(table.items.values())


_access_log = None  # werkzeug's own WSGIRequestHandler.log_request


def _no_access_log(self: Any, code: int | str = "-", size: int | str = "-") -> None:
    """werkzeug's access line, written only for a 5xx answer (and its errors, as ever)."""
    status = getattr(code, "value", code)
    if _access_log is not None and str(status).startswith("5"):
        _access_log(self, code, size)


#: AttributeValue's members by how the JSON serializer writes them.
_STRING, _BLOB, _STRINGS, _BLOBS, _KEEP = {"S", "N"}, {"B"}, {"SS", "NS"}, {"BS"}, {"NULL", "BOOL"}


def _string(value: Any) -> Any:
    """moto's ``_serialize_type_string``."""
    return str(value) if value not in (None, {}, []) else value


def attribute_value(serializer: Any, value: dict[str, Any]) -> dict[str, Any] | None:
    """An ``AttributeValue`` as moto's JSON serializer writes it, or None when ``value`` holds
    anything this does not know (the caller then serializes it the generic way)."""
    out: dict[str, Any] = {}
    for key, member in value.items():
        if member is None:
            continue
        if key in _STRING:
            out[key] = _string(member)
        elif key in _BLOB:
            out[key] = serializer._base64(member)
        elif key in _STRINGS and isinstance(member, list):
            out[key] = [_string(m) for m in member]
        elif key in _BLOBS and isinstance(member, list):
            out[key] = [serializer._base64(m) for m in member]
        elif key in _KEEP:
            out[key] = member
        elif key == "M" and isinstance(member, dict):
            inner = {}
            for name, sub in member.items():
                got = attribute_value(serializer, sub) if type(sub) is dict else None
                if got is None:
                    return None
                inner[name] = got
            out[key] = inner
        elif key == "L" and isinstance(member, list):
            items = []
            for sub in member:
                got = attribute_value(serializer, sub) if type(sub) is dict else None
                if got is None:
                    return None
                items.append(got)
            out[key] = items
        else:
            return None
    return out


#: moto's own functions, as they were before :func:`install` (for tests).
GENERIC: dict[str, Any] = {}


def _fast_serializers() -> None:
    """AttributeValues written directly; update validators given a fresh parse, not a copy."""
    from moto.core.serialize import BaseJSONSerializer
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import Validator

    serialize, make, validator_init = (
        BaseJSONSerializer._serialize,
        UpdateExpressionParser.make.__func__,  # type: ignore[attr-defined]
        Validator.__init__,
    )
    GENERIC.update(serialize=serialize, make=make, validator_init=validator_init)

    def fast_serialize(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if key and type(value) is dict and shape.name == "AttributeValue":
            written = attribute_value(self, value)
            if written is not None:
                serialized[self.get_serialized_name(shape, key)] = written
                return
        serialize(self, serialized, value, shape, key)

    def tagged_make(cls: Any, expression: str) -> Any:
        tree = make(cls, expression)
        tree._agentocore_source = expression
        return tree

    def fresh_init(
        self: Any,
        expression: Any,
        expression_attribute_names: Any,
        expression_attribute_values: Any,
        item: Any,
        table: Any,
    ) -> None:
        source = getattr(expression, "_agentocore_source", None)
        if source is None:
            validator_init(
                self,
                expression,
                expression_attribute_names,
                expression_attribute_values,
                item,
                table,
            )
            return
        # moto 5.2's Validator.__init__, with a new parse where it had deepcopy(expression)
        self.expression_attribute_names = expression_attribute_names
        self.expression_attribute_values = expression_attribute_values
        self.item = item
        self.table = table
        self.processors = self.get_ast_processors()
        self.node_to_validate = make(UpdateExpressionParser, source)

    BaseJSONSerializer._serialize = fast_serialize  # type: ignore[method-assign]
    UpdateExpressionParser.make = classmethod(tagged_make)  # type: ignore[method-assign,assignment]
    Validator.__init__ = fresh_init  # type: ignore[method-assign]


def install() -> None:
    """Patch moto (idempotent)."""
    from moto import backends
    from moto.dynamodb.models.table import Table

    if getattr(Table, "_agentocore_fast", False):
        return
    all_items, query = Table.all_items, Table.query

    def scoped_all_items(self: Any) -> list[Any]:
        scope = getattr(_scope, "table", None)
        if scope is None or scope[0] is not self:
            return all_items(self)
        read = scope[1]
        return _index_items(self) if read is None else read.items(self)

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[_INDEX_NAME] if len(args) > _INDEX_NAME else None
        index_name = kwargs.get("index_name", index_name)
        previous = getattr(_scope, "table", None)
        read = None if index_name else _read_of(self, hash_key, args, kwargs)
        _scope.table = (self, read)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _scope.table = previous

    if os.environ.get("AGENTOCORE_EMULATOR_ACCESS_LOG") != "1":
        from werkzeug.serving import WSGIRequestHandler

        global _access_log
        _access_log = WSGIRequestHandler.log_request
        WSGIRequestHandler.log_request = _no_access_log  # type: ignore[method-assign]
    _fast_serializers()
    modules = tuple(backends.list_of_moto_modules())
    Table.all_items = scoped_all_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]
    backends.list_of_moto_modules = functools.cache(lambda: modules)  # type: ignore[assignment]
    Table._agentocore_fast = True  # type: ignore[attr-defined]

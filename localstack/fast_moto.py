"""Two costs of moto 5.2's server that grow with use, removed without changing any answer.

- ``Table.query`` starts from ``Table.all_items()``, which collects every item of the table and
  sorts them all, on every Query, and only then keeps the queried partition: a Query costs
  O(n log n) in the table's size, and the local stack slows down as tests and load tests fill
  the table. Here a base-table Query reads its own partition only, and an index Query gets the
  items unsorted (moto sorts what it keeps by the index's keys afterwards). Scan keeps the
  sorted ``all_items`` (its pages depend on that order).
- The server's dispatcher calls ``backends.list_of_moto_modules()`` (a directory listing plus a
  ``stat`` per entry) on every request to recognise service hosts; the list never changes.
- werkzeug logs an access line per request (formatted, locked, written): 15 % of the server's
  CPU under load. Off unless ``AGENTOCORE_EMULATOR_ACCESS_LOG=1``.

Measured with ``benchmarks/local_cpu.py``. Installed by ``emulator.apply_hooks()``.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

_scope = threading.local()
#: positional index of ``index_name`` in ``Table.query(hash_key, *args)``
_INDEX_NAME_ARG = 6


def _query_items(table: Any, hash_key: Any) -> list[Any]:
    """What ``all_items`` must yield for a Query of ``hash_key`` (None: an index Query)."""
    if hash_key is None:
        if table.range_key_attr:
            return [item for hash_set in table.items.values() for item in hash_set.values()]
        return list(table.items.values())
    if table.range_key_attr:
        return list(table.items.get(hash_key, {}).values())
    item = table.items.get(hash_key)
    return [item] if item is not None else []


def _no_access_log(self: Any, code: int | str = "-", size: int | str = "-") -> None:
    """werkzeug's access line, not written (errors are still logged)."""


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
        return _query_items(self, scope[1])

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[_INDEX_NAME_ARG] if len(args) > _INDEX_NAME_ARG else None
        index_name = kwargs.get("index_name", index_name)
        previous = getattr(_scope, "table", None)
        _scope.table = (self, None if index_name else hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _scope.table = previous

    if os.environ.get("AGENTOCORE_EMULATOR_ACCESS_LOG") != "1":
        from werkzeug.serving import WSGIRequestHandler

        WSGIRequestHandler.log_request = _no_access_log  # type: ignore[method-assign]
    modules = tuple(backends.list_of_moto_modules())
    Table.all_items = scoped_all_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]
    backends.list_of_moto_modules = functools.cache(lambda: modules)  # type: ignore[assignment]
    Table._agentocore_fast = True  # type: ignore[attr-defined]

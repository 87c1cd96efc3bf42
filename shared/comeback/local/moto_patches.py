"""Two fixes to moto's DynamoDB, so the emulator behaves like DynamoDB where we rely on it.

1. Atomic requests. DynamoDB applies each request (and each transaction) atomically; moto takes no
   lock, so two threads can interleave inside one conditional write. Every DynamoDB request of the
   emulator is serialised behind one lock. Requests still interleave with each other, which is the
   concurrency the engine has to be correct under.
2. Cheap transactions. moto deep-copies every table a transaction touches, before each
   transaction, to be able to roll back: the cost grows with the table, and replaying a shop's
   year (tens of thousands of items) becomes quadratic. Here only the items the transaction names
   are saved and restored; the outcome is the same.
3. Queries that read what they query. moto answers every Query by sorting the whole table and
   testing each item; with 25k items one Query of the due index took half a second here. A
   Query of the table now looks at its partition only, and a Query of an index at the items
   carrying the index's partition value (a plain comparison first); moto's own code then does
   the rest (range conditions, order, pages, filters), so answers are unchanged.

Applied once per process by `apply()`; both the local runtime and the integration tests use it.
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_applied = False
_lock = threading.RLock()

MUTATING = ("put_item", "update_item", "delete_item", "batch_write_item", "get_item", "query", "scan")


class _NoTableCopies:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not copied."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if isinstance(value, self._table_type):
            return value  # our wrapper restores the touched items instead
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash key, range key, saved item or None) for every item a transaction names."""
    saved = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op.get("Key") or {
            name: op["Item"][name]
            for name in (table.hash_key_attr, table.range_key_attr)
            if name and name in op.get("Item", {})
        }
        hash_value = key.get(table.hash_key_attr)
        range_value = key.get(table.range_key_attr) if table.range_key_attr else None
        if hash_value is None:
            continue
        from moto.dynamodb.models.dynamo_type import DynamoType

        hash_key = DynamoType(hash_value)
        range_key = DynamoType(range_value) if range_value is not None else None
        current = table.get_item(hash_key, range_key)
        saved.append((table, hash_key, range_key, copy.deepcopy(current) if current else None))
    return saved


def _restore(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_key, range_key, item in reversed(saved):
        if item is None:
            table.delete_item(hash_key, range_key)  # the transaction created it: it goes
        elif table.range_key_attr:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item


def _candidates(table: Any, hash_key: Any, index_name: str | None, conditions: Any) -> list[Any] | None:
    """The items a Query can possibly return, found cheaply; None when we cannot tell."""
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    if not conditions:
        return None
    name, value = conditions[0]
    wanted_type, wanted_value = value.type, value.value
    every = (
        (item for partition in table.items.values() for item in partition.values())
        if table.range_key_attr
        else iter(table.items.values())
    )
    found = []
    for item in every:
        attribute = item.attrs.get(name)
        if attribute is not None and attribute.type == wanted_type and attribute.value == wanted_value:
            found.append(item)
    return found


def apply() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    dynamodb_models.copy = _NoTableCopies(Table)  # type: ignore[assignment]
    original_transact = DynamoDBBackend.transact_write_items

    @functools.wraps(original_transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            saved = _touched(self, transact_items)
            try:
                original_transact(self, transact_items)
            except Exception:
                _restore(saved)
                raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    original_query = Table.query

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes (hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name, ...) positionally
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        with _lock:  # every DynamoDB request runs under the lock: swapping all_items is safe
            candidates = _candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
            if candidates is None:
                return original_query(self, *args, **kwargs)
            self.all_items = lambda: candidates
            try:
                return original_query(self, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query  # type: ignore[method-assign]

    for name in MUTATING:
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))
    _applied = True

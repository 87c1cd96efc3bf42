"""Fixes to moto, so the emulator behaves like AWS where we rely on it, at a speed a laptop can use.

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
   carrying the index's partition value (items grouped by that value in one pass, new items
   joining their group as they are stored, deleted or replaced items left out); moto's own code
   then does the rest (range conditions, order, pages, filters), so answers are unchanged.
4. EventBridge input paths parsed once. moto delivers each event to a target by parsing the
   same JSONPath expressions again with a freshly generated parser (tens of ms per event); the
   parsed expressions are immutable, so they are cached.
5. Update expressions parsed once. moto parses every UpdateExpression twice per request; the
   engine sends the same few shapes over and over (values travel separately). The parsed tree is
   cached, and the private copy moto's validator takes of it is made by unpickling a pickled
   image of it (six times faster than deepcopy on these trees); the result is the same tree.
6. The service list read once. moto's server lists its own package directory (one stat per
   service) on every request to find which backend answers it; the list never changes.
7. Received messages copied shallowly. moto deep-copies every message it hands out, only to
   replace its attribute map on the copy; a shallow copy does the same.
8. SQS reads the clock cheaply. moto's queues ask "visible? delayed?" of every message on every
   send and receive, each time building naive datetimes to get the Unix time in milliseconds;
   `time.time()` gives the same number for a fraction of the cost.
9. DynamoDB answers sent as written. moto builds DynamoDB answers (items, and errors with the
   items a failed condition returns) already in DynamoDB's JSON wire form, then walks each again
   through its generic, shape-driven serialiser: a quarter of the emulator's time in a demo run.
   For the item operations the ready JSON is sent as it is.
10. Item size checked once per large value. moto re-measures the whole item (every attribute,
   recursively) each time one attribute is set, to refuse items over 400 KB: quadratic in the
   attributes, 6 % of the emulator's time. The whole-item check now runs only when the value
   being set is itself large (over 32 KB), where an item can come near the limit at all.
11. SQS requests one at a time. moto's queues are plain Python lists and sets changed by every
   receive, delete and send; two pollers receiving from one queue at once could mark a batch in
   flight that neither got back, stalling it for a whole visibility timeout. Receives, deletes,
   visibility changes and sends are serialised (the local pollers short-poll, so nothing waits
   inside the lock).
12. Queues that pickle. A queue keeps a `threading.Condition`, which cannot be pickled, so
   `--data` could not snapshot SQS; the condition is left out of the pickle and a new one made
   when the queue is loaded (nobody can be waiting on a queue that is being loaded).

Applied once per process by `apply()`; both the local runtime and the integration tests use it.
"""

from __future__ import annotations

import copy
import functools
import pickle
import threading
import time
from typing import Any, TypeVar

_applied = False
_lock = threading.RLock()

LOCKED = ("put_item", "update_item", "delete_item", "batch_write_item", "get_item", "query", "scan")
WRITES = frozenset({"put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"})
# Index groupings (items by the value of an index's partition key) are kept up to date as items
# land: every item a put stores joins its group (`_group_put`). Only an update expression that
# names the attribute can move an existing item to another group; such a write regroups (a new
# version). A write that removes the attribute leaves a stale member behind, which moto's own key
# check drops; a deleted or replaced item is left out by `_alive`.
_versions: dict[str, int] = {}
_groupings: dict[tuple[int, str], tuple[int, dict[Any, list[Any]]]] = {}


def _note_write(request: Any, action: str) -> None:
    if not _versions or action in ("put_item", "delete_item", "batch_write_item"):
        return  # puts join their groups as they land; deleted items are left out when read
    if action == "transact_write_items":
        request = [entry for entry in request if "Update" in entry]
    text = repr(request)
    for name in _versions:
        if name in text:
            _versions[name] += 1


def _group_put(table: Any, item: Any) -> None:
    for (table_id, name), (_, groups) in _groupings.items():
        if table_id != id(table):
            continue
        attribute = item.attrs.get(name)
        if attribute is not None and not isinstance(attribute.value, dict | list):
            groups.setdefault((attribute.type, attribute.value), []).append(item)


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
    for name in _versions:  # restored items are new objects: regroup them
        _versions[name] += 1
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
    version = _versions.setdefault(name, 0)
    cached = _groupings.get((id(table), name))
    if cached is None or cached[0] != version:
        # one pass groups every item by this attribute; the sweep's next shards reuse it
        groups: dict[Any, list[Any]] = {}
        every = (
            (item for partition in table.items.values() for item in partition.values())
            if table.range_key_attr
            else iter(table.items.values())
        )
        for item in every:
            attribute = item.attrs.get(name)
            if attribute is not None and not isinstance(attribute.value, dict | list):
                groups.setdefault((attribute.type, attribute.value), []).append(item)
        cached = (version, groups)
        _groupings[(id(table), name)] = cached
    members = cached[1].get((value.type, value.value), [])
    alive = [item for item in members if _alive(table, item)]
    if len(alive) < len(members) // 2:
        members[:] = alive  # replaced items pile up in a busy group: let them go
    return alive


def _alive(table: Any, item: Any) -> bool:
    """Is this still the table's item (not deleted, not replaced by a put)?"""
    partition = table.items.get(item.hash_key)
    if partition is None:
        return False
    if table.range_key_attr:
        return partition.get(item.range_key) is item  # type: ignore[no-any-return]
    return partition is item  # type: ignore[no-any-return]


_STRING_COMPARISONS = {
    **dict.fromkeys(("EQ", "="), lambda a, b: a == b),
    **dict.fromkeys(("LE", "<="), lambda a, b: a <= b),
    **dict.fromkeys(("LT", "<"), lambda a, b: a < b),
    **dict.fromkeys(("GE", ">="), lambda a, b: a >= b),
    **dict.fromkeys(("GT", ">"), lambda a, b: a > b),
}


def _in_range(attribute: Any, comparison: str, bounds: list[Any]) -> bool:
    if attribute is None:
        return False
    test = _STRING_COMPARISONS.get(comparison)
    if test and attribute.type == "S" and len(bounds) == 1 and bounds[0].type == "S":
        return bool(test(attribute.value, bounds[0].value))  # what moto's compare does, minus its casts
    return bool(attribute.compare(comparison, bounds))


def _index_range_key(table: Any, index_name: str) -> str | None:
    for index in table.all_indexes():
        if index.name == index_name:
            ranges = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
            return ranges[0] if len(ranges) == 1 else None
    return None


def apply() -> None:
    """Apply every fix, once per process."""
    global _applied
    with _lock:
        if _applied:
            return
        _atomic_requests_and_cheap_transactions()
        _answers_as_written()
        _cheap_item_sizes()
        _sqs_one_at_a_time()
        _picklable_queues()
        _partition_queries()
        _parse_once()
        _applied = True


_ITEM_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchWriteItem", "BatchGetItem",
     "TransactWriteItems", "TransactGetItems"}
)  # fmt: skip


def _answers_as_written() -> None:
    import json

    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    original = DynamoHandler.serialized

    @functools.wraps(original)
    def serialized(self: Any, action_result: Any) -> Any:
        result = getattr(action_result, "result", None)
        if isinstance(result, DynamodbException) and getattr(result, "description", None):
            headers: dict[str, Any] = dict(result.get_headers())
            headers.update(self.response_headers)
            return result.code, headers, result.description
        if (
            isinstance(action_result, DynamoResult)
            and isinstance(result, dict)
            and self._get_action() in _ITEM_OPERATIONS
        ):
            body = json.dumps({k: v for k, v in result.items() if v is not None})
            return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body
        return original(self, action_result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]


_sqs_lock = threading.RLock()
SQS_LOCKED = (
    "receive_message", "delete_message", "delete_message_batch", "change_message_visibility",
    "change_message_visibility_batch", "send_message", "send_message_batch", "get_queue_attributes",
)  # fmt: skip


def _sqs_one_at_a_time() -> None:
    from moto.sqs.models import SQSBackend

    for name in SQS_LOCKED:
        original = getattr(SQSBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with _sqs_lock:
                return __original(self, *args, **kwargs)

        setattr(SQSBackend, name, functools.wraps(original)(locked))


def _picklable_queues() -> None:
    from moto.sqs.models import Queue

    def __getstate__(self: Any) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_messages_lock"}

    def __setstate__(self: Any, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._messages_lock = threading.Condition()

    Queue.__getstate__ = __getstate__  # type: ignore[method-assign]
    Queue.__setstate__ = __setstate__  # type: ignore[attr-defined]


def _cheap_item_sizes() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    original = LimitedSizeDict.__setitem__

    def __setitem__(self: Any, key: str, value: Any) -> None:
        if type(value) is DynamoType and value.size() > 32_768:
            original(self, key, value)
        else:
            dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = __setitem__  # type: ignore[method-assign]


def _atomic_requests_and_cheap_transactions() -> None:
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    dynamodb_models.copy = _NoTableCopies(Table)  # type: ignore[assignment]
    original_transact = DynamoDBBackend.transact_write_items

    @functools.wraps(original_transact)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _lock:
            _note_write(transact_items, "transact_write_items")
            saved = _touched(self, transact_items)
            try:
                original_transact(self, transact_items)
            except Exception:
                _restore(saved)
                raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

    for name in LOCKED:
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, __original: Any = original, __op: str = name, **kwargs: Any) -> Any:
            with _lock:
                if __op in WRITES:
                    _note_write((args, kwargs), __op)
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(original)(locked))


def _partition_queries() -> None:
    from moto.dynamodb.models.table import Table

    original_put = Table.put_item

    @functools.wraps(original_put)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        if item is not None and _groupings:
            _group_put(self, item)
        return item

    Table.put_item = put_item  # type: ignore[method-assign]

    original_query = Table.query

    @functools.wraps(original_query)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes (hash_key, range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name, ...) positionally
        hash_key = args[0] if args else kwargs.get("hash_key")
        index_name = args[7] if len(args) > 7 else kwargs.get("index_name")
        with _lock:  # every DynamoDB request runs under the lock: swapping all_items is safe
            candidates = _candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
            if candidates is not None and index_name and len(args) > 2 and args[1]:
                # moto sizes every candidate before it applies the range condition: apply it first
                range_name = _index_range_key(self, index_name)
                if range_name:
                    candidates = [
                        item
                        for item in candidates
                        if item.attrs.get(range_name) is not None
                        and item.attrs[range_name].compare(args[1], args[2])
                    ]
            if candidates is None:
                return original_query(self, *args, **kwargs)
            self.all_items = lambda: candidates
            try:
                return original_query(self, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query  # type: ignore[method-assign]


_T = TypeVar("_T")


def _parse_once() -> None:
    import importlib

    import jsonpath_ng.ext
    from moto import backends
    from moto.dynamodb.parsing import validators

    # imported by name: mypy's reading of this moto module stops short of the parser classes
    UpdateExpressionParser = importlib.import_module(
        "moto.dynamodb.parsing.expressions"
    ).UpdateExpressionParser
    parse_update = UpdateExpressionParser.make.__func__
    images: dict[int, bytes] = {}

    @functools.lru_cache(maxsize=2048)
    def parsed_update(expression: str) -> Any:
        tree = parse_update(UpdateExpressionParser, expression)
        images[id(tree)] = pickle.dumps(tree)  # the cache keeps `tree` alive, so its id stays its own
        return tree

    # deepcopy's own signature, parameter names included: it stands in for deepcopy
    def private_copy(x: _T, memo: dict[int, Any] | None = None, _nil: Any = None) -> _T:
        image = images.get(id(x))
        return pickle.loads(image) if image is not None else copy.deepcopy(x, memo)  # type: ignore[no-any-return]  # noqa: S301 - our own bytes

    UpdateExpressionParser.make = classmethod(lambda cls, expression: parsed_update(expression))
    validators.deepcopy = private_copy

    from moto.sqs import models as sqs_models

    def message_copy(x: _T, memo: dict[int, Any] | None = None, _nil: Any = None) -> _T:
        return copy.copy(x) if isinstance(x, sqs_models.Message) else copy.deepcopy(x, memo)

    sqs_models.deepcopy = message_copy
    original_millis = sqs_models.unix_time_millis

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else original_millis(dt)

    sqs_models.unix_time_millis = unix_time_millis  # type: ignore[assignment]

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=256)(jsonpath_ng.ext.parse)

"""The daily RFM segmentation on a big shop: buyers index items read per buyer, the bytes each
one costs, the unit's wall time here, and what one run costs at 1M buyers on paper.

The table is seeded as `bench/sweep.py` seeds it (the engine's own profiles, copied under other
ids through `ContactStore.profile_item`, which puts every profile on the buyers index); then one
segments unit runs for the shop, as the sweep queue hands it to the sweep function.
"""

from __future__ import annotations

import math
import time
from typing import Any

from bench.support import engine
from bench.sweep import _fill, item_bytes
from comeback.app.segments import SegmentJob
from comeback.aws import keys, segment_store
from comeback.aws.segment_store import DynamoSegmentStore
from comeback.domain import segments
from comeback.domain.clock import isoformat

SIZES = (20_000,)
MILLION = 1_000_000
PAGE_BYTES = 1024 * 1024  # a Query page stops at 1 MB
RRU_USD = 0.125 / MILLION  # on-demand, per read request unit (bench/cost.py)


def _index_bytes(e: Any) -> float:
    """Bytes of a buyers index item (keys and the projected attributes), averaged over one shard."""
    ddb = e.runtime.client("dynamodb")
    shard = keys.all_buyer_shards("demo", e.settings.due_shards)[0]
    items = ddb.query(
        TableName="comeback",
        IndexName=keys.BUYER_INDEX,
        KeyConditionExpression="#b = :s",
        ExpressionAttributeNames={"#b": keys.BUYER_PK},
        ExpressionAttributeValues={":s": {"S": shard}},
    )["Items"]
    return sum(item_bytes(i) for i in items) / len(items)


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in SIZES:
        with engine() as e:
            _fill(e, size, 0.01, activity=False)
            ddb = e.runtime.client("dynamodb")
            store = DynamoSegmentStore(ddb, "comeback", e.settings.due_shards)
            job = SegmentJob(store, e.clock, None)
            e.ddb_calls.reset()
            parsed: list[Any] = []
            parse_seconds = 0.0
            original = segment_store._buyer

            def timed(item: dict[str, Any], original: Any = original, parsed: list[Any] = parsed) -> Any:
                nonlocal parse_seconds
                began = time.perf_counter()
                found = original(item)
                parse_seconds += time.perf_counter() - began
                parsed.append(found)
                return found

            segment_store._buyer = timed  # type: ignore[assignment]
            try:
                started = time.perf_counter()
                report = job.run_unit({"job": "segments", "shop": "demo", "now": isoformat(e.clock.now())})
                seconds = time.perf_counter() - started
            finally:
                segment_store._buyer = original  # type: ignore[assignment]
            began = time.perf_counter()
            segments.segmentation([b for b in parsed if b is not None], e.clock.now())
            rank_seconds = time.perf_counter() - began
            requests = dict(e.ddb_calls.calls)
            per_item = _index_bytes(e)
        assert report.segmentation is not None
        # eventually consistent Query: 0.5 RRU per 4 KB of the page's summed item sizes
        rru_per_buyer = per_item / 4096 / 2
        pages_at_million = math.ceil(MILLION * per_item / PAGE_BYTES)
        out[str(size)] = {
            "buyers": report.buyers,
            "index_items_read": store.items_read,
            "index_items_read_per_buyer": round(store.items_read / report.buyers, 3),
            "dynamodb_requests": requests,
            "index_item_bytes": round(per_item),
            # moto answers each page of a GSI Query by walking the whole table: its time is no
            # measure of DynamoDB's; our own code's is (reading an index item, then ranking)
            "unit_seconds_on_moto": round(seconds, 2),
            "our_code_us_per_buyer": round(1e6 * (parse_seconds + rank_seconds) / report.buyers, 1),
            "cut_points": report.segmentation.model_dump(exclude={"computed_at"}),
        }
        out["at_1M_buyers_on_paper"] = {
            "rru": round(MILLION * rru_per_buyer),
            "usd_per_run": round(MILLION * rru_per_buyer * RRU_USD, 4),
            "usd_per_month_daily": round(30 * MILLION * rru_per_buyer * RRU_USD, 3),
            "query_pages": pages_at_million,
            "our_code_seconds": round(MILLION * (parse_seconds + rank_seconds) / report.buyers, 1),
        }
    return out

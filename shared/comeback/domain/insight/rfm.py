"""The shop's RFM segments as a report: how many customers each holds and what they are worth.

Every buyer is scored against the shop's quintile cut points (`comeback.domain.segments`: the
daily job's, or computed here from the same records when none is given), exactly as the contact
view and the recipes score one contact, so the report and a contact's `rfm_segment` agree.
Per segment: customers, their share of all buyers, their lifetime net spend in the shop's
currency (`revenue_minor`, and its share), the average spend and the average days since the last
order. Every one of the eleven segments is listed, empty ones too, in the order of `segments.SEGMENTS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comeback.domain import segments
from comeback.domain.clock import isoformat
from comeback.domain.insight.records import CustomerRecord, ratio, shop_currency
from comeback.domain.segments import SEGMENTS, Buyer, Segmentation


@dataclass(frozen=True)
class SegmentSummary:
    segment: str
    customers: int
    share: float | None  # of the shop's buyers
    revenue_minor: int
    revenue_share: float | None
    average_spent_minor: int | None
    average_recency_days: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "customers": self.customers,
            "share": self.share,
            "revenue_minor": self.revenue_minor,
            "revenue_share": self.revenue_share,
            "average_spent_minor": self.average_spent_minor,
            "average_recency_days": self.average_recency_days,
        }


@dataclass(frozen=True)
class RfmReport:
    shop_id: str
    at: str  # the instant recency is measured at
    currency: str | None
    buyers: int
    segmentation: Segmentation | None  # the cut points used (None: no buyer)
    segments: tuple[SegmentSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "shop_id": self.shop_id,
            "at": self.at,
            "currency": self.currency,
            "buyers": self.buyers,
            "segmentation": self.segmentation.model_dump(mode="json") if self.segmentation else None,
            "segments": [s.to_dict() for s in self.segments],
        }


def buyer_of_record(r: CustomerRecord) -> Buyer | None:
    return segments.buyer(r.orders, r.spent, r.last_order_at, gone=False, first_order_at=r.first_order_at)


def rfm_report(
    records: Iterable[CustomerRecord],
    now: datetime,
    *,
    shop_id: str = "",
    cuts: Segmentation | None = None,
    currency: str | None = None,
) -> RfmReport:
    shop = [(r, b) for r in records if (b := buyer_of_record(r)) is not None]
    currency = currency or shop_currency(r for r, _ in shop)
    cuts = cuts or segments.segmentation((b for _, b in shop), now)
    tally = {name: [0, 0, 0] for name in SEGMENTS}  # customers, revenue, recency days
    for r, b in shop:
        if cuts is None:
            break
        row = tally[segments.scores_of(b, cuts, now).segment]
        row[0] += 1
        row[1] += max(0, r.spent.get(currency, 0)) if currency else 0
        row[2] += segments.days_since(b.last_order_at, now)
    total_revenue = sum(row[1] for row in tally.values())
    summaries = tuple(
        SegmentSummary(
            segment=name,
            customers=n,
            share=ratio(n, len(shop)),
            revenue_minor=revenue,
            revenue_share=ratio(revenue, total_revenue),
            average_spent_minor=round(revenue / n) if n else None,
            average_recency_days=ratio(days, n),
        )
        for name, (n, revenue, days) in tally.items()
    )
    return RfmReport(shop_id, isoformat(now), currency, len(shop), cuts, summaries)

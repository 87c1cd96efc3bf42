"""The daily segmentation job: each shop's RFM cut points and its prediction model, from all its buyers.

The schedule fans out one unit per shop on the sweep queue (the sweep function runs both jobs);
a unit reads the shop's buyers through the buyers index once, stores the cut points and refits
the shop's BG/NBD and Gamma-Gamma (`comeback.domain.predictions`), which every function then sees
with the shop's playbook (`ShopDirectory.playbook`). Running a unit twice stores the same figures
again: nothing else depends on how many times it ran. A shop with too few repeat customers to fit
keeps no model (or the last one it had).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from comeback.app.observability import count, logger
from comeback.domain import predictions, segments
from comeback.domain.clock import Clock, isoformat, parse_iso
from comeback.domain.prediction_model import FittedModel
from comeback.domain.segments import Buyer, Segmentation

JOB = "segments"


class SegmentStore(Protocol):
    def shops(self) -> list[str]: ...

    def buyers(self, shop_id: str) -> Iterator[Buyer]: ...

    def save(self, shop_id: str, segmentation: Segmentation) -> None: ...

    def save_predictions(self, shop_id: str, model: FittedModel) -> None: ...


class Work(Protocol):
    def send(self, bodies: list[dict[str, Any]]) -> None: ...


@dataclass
class SegmentReport:
    shop_id: str
    buyers: int
    segmentation: Segmentation | None
    model: FittedModel | None = None


class SegmentJob:
    def __init__(self, store: SegmentStore, clock: Clock, work: Work | None) -> None:
        self._store = store
        self._clock = clock
        self._work = work
        self.observers: list[Callable[[SegmentReport], None]] = []

    def fan_out(self) -> dict[str, Any]:
        """The schedule's job: one unit per shop, all with the same `now`."""
        if self._work is None:
            raise RuntimeError("the segments job needs its work queue to fan out")
        now = isoformat(self._clock.now())
        shops = self._store.shops()
        self._work.send([{"job": JOB, "shop": shop, "now": now} for shop in shops])
        logger.info("segments fanned out", extra={"shops": len(shops), "now": now})
        return {"job": JOB, "units": len(shops), "now": now}

    def run_unit(self, unit: dict[str, Any]) -> SegmentReport:
        shop_id = str(unit["shop"])
        now = parse_iso(unit["now"]) if unit.get("now") else self._clock.now()
        buyers = list(self._store.buyers(shop_id))  # read once, for both
        found = segments.segmentation(buyers, now)
        if found is not None:  # a shop without buyers keeps nothing: there is nobody to rank
            self._store.save(shop_id, found)
        model = predictions.fit_buyers(buyers, now)
        if model is not None:
            self._store.save_predictions(shop_id, model)
            count("ShopModelsFitted", 1)
        report = SegmentReport(shop_id, found.buyers if found else 0, found, model)
        count("BuyersSegmented", report.buyers)
        logger.info(
            "shop segmented",
            extra={
                "shop_id": shop_id,
                "buyers": report.buyers,
                "repeat_customers": model.repeat_customers if model else 0,
                "predictions_qualify": bool(model and model.qualifies),
            },
        )
        for observe in self.observers:
            observe(report)
        return report


def is_segments_unit(unit: dict[str, Any]) -> bool:
    return unit.get("job") == JOB and isinstance(unit.get("shop"), str)

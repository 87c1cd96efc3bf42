"""The sweep bench's Scan figures: walking moto's table reads what a paged Scan reads."""

from __future__ import annotations

from bench import sweep
from bench.support import engine


def test_walking_the_table_counts_the_items_and_bytes_a_paged_scan_reads() -> None:
    with engine() as e:
        seeded = sweep._fill(e, 300, 0.05, activity=True)
        pages = sweep.scan_by_pages(e)
        walked = sweep.scan_by_walk()
    assert pages == walked
    assert walked[0] == seeded["items_written"] + 2  # and the shop's config item and its entry in the list
    assert walked[1] > 300 * 1000  # whole profiles, not keys only

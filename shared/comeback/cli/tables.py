"""Aligned plain-text columns, the one table layout every `--format table` of the CLI prints."""

from __future__ import annotations

from collections.abc import Container, Sequence


def columns(rows: Sequence[Sequence[object]], right: Container[int] = (), gap: str = "  ") -> list[str]:
    """Each row as one line, its cells padded to their column's width (left-aligned, or right-aligned
    for the column indexes in `right`), joined by `gap`, without trailing spaces."""
    texts = [[str(cell) for cell in row] for row in rows]
    if not texts:
        return []
    widths = [max(len(row[i]) if i < len(row) else 0 for row in texts) for i in range(max(map(len, texts)))]
    return [
        gap.join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ).rstrip()
        for row in texts
    ]

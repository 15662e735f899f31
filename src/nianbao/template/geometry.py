"""Column widths and row heights from the label texts, and whether a table fits a page."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping

from ..layout import Box, TableLayout
from .base import LINE_PT


def text_width(s: str) -> float:
    """Approximate width of ``s`` in Excel column units (CJK characters count double)."""
    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in s)


# ---------------------------------------------------------------- geometry
def column_widths(tl: TableLayout, target: float = 110.0) -> list[float]:
    """Column widths (Excel units) from the label lengths of a table layout.

    Label columns get what their labels need (long row labels wrap at 44 units, vertical group
    labels take one or two lines); value columns at least 9 units, widened up to 20 when the
    whole table would otherwise look cramped on a landscape page.
    """
    c0 = tl.title.col
    widths = [0.0] * tl.width
    for b in tl.boxes:
        if b.ncols != 1 or b.role not in ("rowhead", "colhead", "corner"):
            continue
        w = text_width(b.text)
        if b.role == "rowhead" and b.nrows == 1:
            want = min(w + 3, 44)
        elif b.role == "rowhead":  # a vertical group label: one line if short, else two
            want = w + 2 if w <= 16 else min(math.ceil(w / 2) + 2, 16)
        else:  # column heads wrap onto two lines
            want = min(math.ceil(w / 2) + 2, 16)
        widths[b.col - c0] = max(widths[b.col - c0], want)
    value_cols = sorted({c - c0 for b in tl.values.values() for c in range(b.col, b.last_col + 1)})
    for i in range(tl.width):
        widths[i] = max(widths[i], 9.0 if i in value_cols or widths[i] == 0 else 6.0)
    spare = target - sum(widths)
    if spare > 0 and value_cols:
        for i in value_cols:
            widths[i] = min(widths[i] + spare / len(value_cols), 20.0)
    return widths


def row_heights(boxes: Iterable[Box], widths: Mapping[int, float], base: float = 18.0) -> dict[int, float]:
    """Row heights (points) so that wrapped labels show in full (LibreOffice does not autofit)."""
    heights: dict[int, float] = {}
    boxes = list(boxes)

    def lines(b: Box) -> int:
        usable = max(sum(widths.get(c, 9.0) for c in range(b.col, b.last_col + 1)) - 1.5, 2.0)
        return max(1, math.ceil(text_width(b.text) / usable))

    for b in boxes:
        heights.setdefault(b.row, base)
        if b.nrows == 1 and b.text:
            heights[b.row] = max(heights[b.row], lines(b) * LINE_PT + 4)
    for b in boxes:
        if b.nrows > 1 and b.text:
            rows = range(b.row, b.last_row + 1)
            need = lines(b) * LINE_PT + 4
            have = sum(heights.get(r, base) for r in rows)
            if have < need:
                for r in rows:
                    heights[r] = heights.get(r, base) + (need - have) / b.nrows
    return heights


def fits_one_page(widths: list[float], height_pt: float, shrink: float = 0.75) -> bool:
    """Whether a table of these column widths and height fits one A4 landscape page when
    scaled to the page width and then shrunk by at most ``shrink`` (so text stays legible)."""
    width_pt = sum(w * 7 + 5 for w in widths) * 0.75
    page_w, page_h = 842 - 0.8 * 72, 595 - 1.2 * 72 - 30
    scale = min(1.0, page_w / width_pt)
    return height_pt * scale * shrink <= page_h

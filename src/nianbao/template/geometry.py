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


# ---------------------------------------------------------------- printing
def page_setup(ws, area: tuple[int, int, int, int], *, landscape=True, pages_tall=0, header="") -> None:
    """A4, fit to the page width (and ``pages_tall`` pages, 0: as many as needed), centred,
    page numbers in the footer, ``header`` (the unit) top left; ``area`` = (r0, c0, r1, c1)."""
    if landscape:
        ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, pages_tall)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.print_area(*area)
    ws.set_footer("&C第 &P 页，共 &N 页")
    if header:
        ws.set_header("&L" + header.replace("&", "&&"))


def table_page_setup(
    ws, tl: TableLayout, widths: list[float], heights: Mapping[int, float], header=""
) -> None:
    """An official table printed on its own: one page when it fits legibly, else page after page
    with its header rows repeated (and frozen on screen)."""
    total = sum(heights.get(r, 15.0) for r in range(tl.title.row, tl.last_row + 1))
    tall = 1 if fits_one_page(widths, total) else 0
    c0 = tl.title.col
    page_setup(ws, (tl.title.row, c0, tl.last_row, c0 + tl.width - 1), pages_tall=tall, header=header)
    hdr = sorted(tl.header_rows)
    if hdr and hdr == list(range(hdr[0], hdr[-1] + 1)):
        ws.repeat_rows(hdr[0], hdr[-1])
        first_value_col = min(b.col for b in tl.values.values())
        ws.freeze_panes(hdr[-1] + 1, first_value_col)

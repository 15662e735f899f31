"""Styles, names and small helpers shared by the template writer and its formulas; the
hidden meta sheet (also written into aggregates)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from .. import __version__
from ..layout import Box, col_letter
from ..spec import Spec
from ..vocab import Status

FONT, TITLE_FONT = "宋体", "黑体"
LABEL_FILL, VALUE_FILL = "#E7E6E6", "#FFF7D6"
RED = {"bg_color": "#FFC7CE", "font_color": "#9C0006", "bold": True}
YELLOW = {"bg_color": "#FFEB9C", "font_color": "#9C5700"}
GREEN = {"font_color": "#006100", "bold": True}
PASS = Status.PASSED.zh  # what a live check shows when its relations hold
UNFILLED = Status.EMPTY.zh  # status of a table none of whose value cells is filled
PROP_PREFIX = "nianbao_"  # custom document properties: nianbao_form_id, nianbao_version, ...
META_KEYS = ("form_id", "form", "version", "spec_digest", "unit", "year", "generator", "created")
COVER_NAME = "nb_cover_{}"
LINE_PT = 14.0  # height of one wrapped line of a 10-11 pt label


def abs_ref(box: Box) -> str:
    return f"${col_letter(box.col)}${box.row + 1}"


def quote_sheet(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def str_lit(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def box_ranges(boxes: list[Box]) -> list[str]:
    """Compress top-left cells of ``boxes`` into as few absolute A1 ranges as is simple."""
    cells = sorted({(b.row, b.col) for b in boxes})
    rows: list[list[tuple[int, int]]] = []  # horizontal runs
    for r, c in cells:
        if rows and rows[-1][-1][0] == r and rows[-1][-1][1] == c - 1:
            rows[-1].append((r, c))
        else:
            rows.append([(r, c)])
    singles = sorted((run[0] for run in rows if len(run) == 1), key=lambda rc: (rc[1], rc[0]))
    out = [
        f"${col_letter(run[0][1])}${run[0][0] + 1}:${col_letter(run[-1][1])}${run[-1][0] + 1}"
        for run in rows
        if len(run) > 1
    ]
    cols: list[list[tuple[int, int]]] = []  # vertical runs of the remaining single cells
    for r, c in singles:
        if cols and cols[-1][-1][1] == c and cols[-1][-1][0] == r - 1:
            cols[-1].append((r, c))
        else:
            cols.append([(r, c)])
    for run in cols:
        first = f"${col_letter(run[0][1])}${run[0][0] + 1}"
        out.append(first if len(run) == 1 else f"{first}:${col_letter(run[-1][1])}${run[-1][0] + 1}")
    return out


def box_rects(boxes: list[Box]) -> list[tuple[int, int, int, int]]:
    """Cover the top-left cells of ``boxes`` with rectangles (r0, c0, r1, c1): horizontal runs,
    stacked when consecutive rows span the same columns."""
    runs: list[list[int]] = []  # [row, c0, c1]
    for r, c in sorted({(b.row, b.col) for b in boxes}):
        if runs and runs[-1][0] == r and runs[-1][2] == c - 1:
            runs[-1][2] = c
        else:
            runs.append([r, c, c])
    rects: list[list[int]] = []
    for r, c0, c1 in runs:
        if rects and rects[-1][2] == r - 1 and (rects[-1][1], rects[-1][3]) == (c0, c1):
            rects[-1][2] = r
        else:
            rects.append([r, c0, r, c1])
    return [tuple(x) for x in rects]


def meta_rows(spec: Spec, unit: str | None, year: int | None, **extra: str) -> dict[str, str]:
    """The key/value rows of the hidden meta sheet (our template, our aggregates)."""
    rows = {
        "form_id": spec.form_id,
        "form": spec.form,
        "version": spec.version,
        "spec_digest": spec.digest,
        "unit": unit or "",
        "year": "" if year is None else str(year),
    }
    rows.update(extra)
    rows.update(generator=f"nianbao {__version__}", created=datetime.now().isoformat(timespec="seconds"))
    return rows


def write_meta_sheet(ws, rows: dict[str, str]) -> None:
    ws.set_column(0, 0, 16)
    ws.set_column(1, 1, 40)
    for i, (k, v) in enumerate(rows.items()):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
    ws.hide()


def as_decimal(v) -> Decimal | None:
    """Numeric value of a cell as a spreadsheet would sum it (text and blanks are None)."""
    if v is None or isinstance(v, (str, bool)):
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None

"""Compute where every label and value cell of a spec goes on the workbook grid.

The template writer, the fast reader, the annotator and the aggregate writer all use this
layout; only ``templates/*.yaml`` says what the labels and origins are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from .spec import Cell, Node, Section, Spec, Table

_A1 = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


def col_letter(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        s = chr(65 + rem) + s
    return s


def a1(row: int, col: int) -> str:
    """0-based (row, col) to ``B7``."""
    return f"{col_letter(col)}{row + 1}"


def parse_a1(ref: str) -> tuple[int, int]:
    m = _A1.match(ref.upper())
    if not m:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


@dataclass(frozen=True)
class Box:
    """A rectangle on the grid: a label (possibly merged) or a value cell."""

    role: str  # title | section | corner | colhead | rowhead | value
    row: int
    col: int
    nrows: int = 1
    ncols: int = 1
    text: str = ""
    key: str = ""  # node key for heads, cell key for values

    @property
    def merged(self) -> bool:
        return self.nrows > 1 or self.ncols > 1

    @property
    def last_row(self) -> int:
        return self.row + self.nrows - 1

    @property
    def last_col(self) -> int:
        return self.col + self.ncols - 1

    @property
    def ref(self) -> str:
        return a1(self.row, self.col)


@dataclass
class TableLayout:
    table: Table
    sheet: str
    width: int
    title: Box
    status: Box  # the live-check status cell
    status_label: Box
    boxes: list[Box] = field(default_factory=list)  # every box of the official table
    values: dict[str, Box] = field(default_factory=dict)  # cell key -> value box
    header_rows: set[int] = field(default_factory=set)

    @property
    def first_row(self) -> int:
        return min(b.row for b in self.boxes)

    @property
    def last_row(self) -> int:
        return max(b.last_row for b in self.boxes)


@dataclass
class WorkbookLayout:
    spec: Spec
    tables: list[TableLayout]
    cover_sheet: str
    cover: dict[str, tuple[Box, Box]]  # field key -> (label box, value box)

    def cell(self, key: str) -> tuple[str, Box]:
        for tl in self.tables:
            if key in tl.values:
                return tl.sheet, tl.values[key]
        raise KeyError(key)

    def table(self, key: str) -> TableLayout:
        return next(t for t in self.tables if t.table.key == key)


def _place_columns(
    sec: Section,
    top: int,
    left: int,
    depth: int,
    extra: int,
    out: list[Box],
    col_of: dict[str, tuple[int, int]],
) -> None:
    last_leaf = sec.leaf_columns()[-1]

    def place(node: Node, col: int) -> int:
        width = node.width + (extra if last_leaf in node.leaves() else 0)
        nrows = depth - node.depth if node.is_leaf else 1
        out.append(Box("colhead", top + node.depth, col, nrows, width, node.label, node.key))
        if node.is_leaf:
            col_of[node.key] = (col, width)
        c = col
        for ch in node.children:
            c = place(ch, c)
        return col + width

    c = left
    for n in sec.columns:
        c = place(n, c)


def _place_rows(sec: Section, top: int, left: int, depth: int, out: list[Box], row_of: dict[str, int]) -> int:
    def place(node: Node, row: int) -> int:
        n = len(node.leaves())
        if depth:
            ncols = depth - node.depth if node.is_leaf else 1
            out.append(Box("rowhead", row, left + node.depth, n, ncols, node.label, node.key))
        if node.is_leaf:
            row_of[node.key] = row
        r = row
        for ch in node.children:
            r = place(ch, r)
        return row + n

    r = top
    for n in sec.rows:
        r = place(n, r)
    return r


def table_layout(table: Table) -> TableLayout:
    r0, c0 = parse_a1(table.origin)
    width = table.width
    title = Box("title", max(r0 - 3, 0), c0, 1, width, table.title)
    status_label = Box("status_label", max(r0 - 2, 0), c0, 1, 1, "自动校验")
    status = Box("status", max(r0 - 2, 0), c0 + 1, 1, max(width - 1, 1))
    tl = TableLayout(
        table=table, sheet=table.sheet, width=width, title=title, status=status, status_label=status_label
    )
    row = r0
    for sec in table.sections:
        if sec.title:
            tl.boxes.append(Box("section", row, c0, 1, width, sec.title, sec.key))
            tl.header_rows.add(row)
            row += 1
        rdepth, cdepth = sec.row_depth, sec.col_depth
        extra = width - rdepth - sec.value_width
        if sec.corner is not None and rdepth:
            tl.boxes.append(Box("corner", row, c0, cdepth, rdepth, sec.corner, sec.key))
        col_of: dict[str, tuple[int, int]] = {}
        _place_columns(sec, row, c0 + rdepth, cdepth, extra, tl.boxes, col_of)
        tl.header_rows.update(range(row, row + cdepth))
        row_of: dict[str, int] = {}
        end = _place_rows(sec, row + cdepth, c0, rdepth, tl.boxes, row_of)
        for cell in table.cells:
            if cell.section is sec:
                col, ncols = col_of[cell.col.key]
                box = Box("value", row_of[cell.row.key], col, 1, ncols, "", cell.key)
                tl.boxes.append(box)
                tl.values[cell.key] = box
        row = end
    return tl


@cache
def _layout(spec_id: int, spec: Spec) -> WorkbookLayout:
    cov = spec.workbook["cover"]
    r0, c0 = parse_a1(cov["origin"])
    cover = {}
    for i, f in enumerate(spec.cover):
        cover[f.key] = (
            Box("cover_label", r0 + i, c0, 1, 1, f.label, f.key),
            Box("cover_value", r0 + i, c0 + 1, 1, 1, "", f.key),
        )
    return WorkbookLayout(
        spec=spec, tables=[table_layout(t) for t in spec.tables], cover_sheet=cov["sheet"], cover=cover
    )


def workbook_layout(spec: Spec) -> WorkbookLayout:
    return _layout(id(spec), spec)


def cell_of(layout: WorkbookLayout, cell: Cell) -> tuple[str, str]:
    sheet, box = layout.cell(cell.key)
    return sheet, box.ref

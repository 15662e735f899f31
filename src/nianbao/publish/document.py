"""The report as a neutral document: title, notice, six parts, paragraphs and table grids.

Both writers (Word and HTML) render this model, so the two outputs always say the same thing.
Table grids come from ``layout.workbook_layout`` boxes, shifted so that the table starts at (0, 0).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from ..findings import fmt_number
from ..layout import TableLayout, workbook_layout
from ..spec import Spec, templates_dir
from .texts import FILE, PublishTexts, read_texts

BODY, SUB, GENERATED, PLACEHOLDER = "body", "sub", "generated", "placeholder"


@lru_cache(maxsize=1)
def texts() -> PublishTexts:
    """The publishing texts (title, notice, sentences…) from templates/publish-sentences.yaml,
    validated at load (TextsError: a Chinese message naming the file and the entry)."""
    return read_texts(templates_dir() / FILE)


@dataclass
class Para:
    text: str
    kind: str = BODY  # body | sub (a sub-heading) | generated | placeholder


@dataclass(frozen=True)
class GridCell:
    role: str  # section | corner | colhead | rowhead | value
    row: int
    col: int
    nrows: int
    ncols: int
    text: str
    key: str = ""

    @property
    def is_header(self) -> bool:
        return self.role in ("section", "colhead", "rowhead")


@dataclass
class Grid:
    key: str  # t2 | t3 | t4
    name: str  # 表二 …
    title: str
    caption: str
    nrows: int
    ncols: int
    cells: list[GridCell]
    header_rows: set[int]
    weights: list[float]  # relative column widths

    def groups(self) -> list[list[int]]:
        """Row groups: a new group starts where header rows follow data rows (表二's blocks)."""
        out: list[list[int]] = []
        prev_header = False
        for r in range(self.nrows):
            is_header = r in self.header_rows
            if not out or (is_header and not prev_header):
                out.append([])
            out[-1].append(r)
            prev_header = is_header
        return out

    def top_header_rows(self) -> int:
        """How many rows at the top are header rows (repeated on each page)."""
        n = 0
        while n in self.header_rows:
            n += 1
        return n


@dataclass
class Part:
    heading: str
    paras: list[Para] = field(default_factory=list)
    table: Grid | None = None


@dataclass
class Doc:
    title: str
    unit: str
    year: int | None
    form: str
    notice: str | None
    parts: list[Part]
    placeholder: str
    footer_page: tuple[str, str]
    preamble: list[Para] = field(default_factory=list)  # the user's text before part 一


def _number(value: Decimal | None) -> str:
    return fmt_number(value) if value is not None else ""


def _weights(tl: TableLayout, top: int, left: int, ncols: int) -> list[float]:
    """Relative column widths from the labels each column has to hold.

    A label may wrap onto about two lines per grid row it spans (three in column headers);
    label columns are at least 4 characters wide, value columns 3. Results are in characters.
    """
    need = [0.0] * ncols
    is_label = [False] * ncols
    for b in tl.boxes:
        if b.role == "rowhead" or b.role == "corner":
            for c in range(b.col - left, b.col - left + b.ncols):
                is_label[c] = True
    for b in tl.boxes:
        if b.ncols != 1 or b.role not in ("rowhead", "colhead", "corner"):
            continue
        lines = b.nrows * (3 if b.role == "colhead" else 2)
        chars = math.ceil(len(b.text) / lines) if b.text else 0
        c = b.col - left
        need[c] = max(need[c], min(chars, 14))
    return [max(n, 4 if is_label[c] else 3) for c, n in enumerate(need)]


def table_grid(spec: Spec, key: str, report_values: dict) -> Grid:
    tl = workbook_layout(spec).table(key)
    top = min(b.row for b in tl.boxes)
    left = min(b.col for b in tl.boxes)
    nrows = tl.last_row - top + 1
    ncols = max(b.last_col for b in tl.boxes) - left + 1
    cells = []
    for b in sorted(tl.boxes, key=lambda b: (b.row, b.col)):
        text = _number(report_values.get(b.key)) if b.role == "value" else b.text
        cells.append(GridCell(b.role, b.row - top, b.col - left, b.nrows, b.ncols, text, b.key))
    t = tl.table
    subject = re.sub(r"^[一二三四五六七八九十]+、", "", t.title)
    caption = texts().caption.format(name=t.name, title=t.title, subject=subject)
    return Grid(
        key=key,
        name=t.name,
        title=t.title,
        caption=caption,
        nrows=nrows,
        ncols=ncols,
        cells=cells,
        header_rows={r - top for r in tl.header_rows},
        weights=_weights(tl, top, left, ncols),
    )

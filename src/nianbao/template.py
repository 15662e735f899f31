"""Write the official template workbook (xlsxwriter), entirely driven by the spec and its layout.

Sheets: cover (填报信息) → one sheet per table → notes (填报说明) → hidden meta sheet. Value cells
are unlocked, tinted, validated and named after their cell key; totals turn red through
conditional formatting and each table shows a live status cell computed by formulas that
Excel, WPS and LibreOffice all evaluate.
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from . import __version__
from .fileio import OutputError, atomic_path
from .layout import Box, TableLayout, WorkbookLayout, col_letter, workbook_layout
from .spec import Rule, Spec

FONT, TITLE_FONT = "宋体", "黑体"
LABEL_FILL, VALUE_FILL = "#E7E6E6", "#FFF7D6"
RED = {"bg_color": "#FFC7CE", "font_color": "#9C0006", "bold": True}
YELLOW = {"bg_color": "#FFEB9C", "font_color": "#9C5700"}
GREEN = {"font_color": "#006100", "bold": True}
PASS = "通过"
PROP_PREFIX = "nianbao_"  # custom document properties: nianbao_form_id, nianbao_version, ...
META_KEYS = ("form_id", "form", "version", "spec_digest", "unit", "year", "generator", "created")
COVER_NAME = "nb_cover_{}"
LINE_PT = 14.0  # height of one wrapped line of a 10-11 pt label


def text_width(s: str) -> float:
    """Approximate width of ``s`` in Excel column units (CJK characters count double)."""
    return sum(2.0 if unicodedata.east_asian_width(ch) in "WF" else 1.1 for ch in s)


def _abs(box: Box) -> str:
    return f"${col_letter(box.col)}${box.row + 1}"


def _quote(sheet: str) -> str:
    return "'" + sheet.replace("'", "''") + "'"


def _str_lit(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _ranges(boxes: list[Box]) -> list[str]:
    """Compress top-left cells of ``boxes`` into as few absolute A1 ranges as is simple."""
    cells = sorted({(b.row, b.col) for b in boxes})
    rows: list[list[tuple[int, int]]] = []  # horizontal runs
    for r, c in cells:
        if rows and rows[-1][-1][0] == r and rows[-1][-1][1] == c - 1:
            rows[-1].append((r, c))
        else:
            rows.append([(r, c)])
    singles = sorted((run[0] for run in rows if len(run) == 1), key=lambda rc: (rc[1], rc[0]))
    out = [f"${col_letter(run[0][1])}${run[0][0] + 1}:${col_letter(run[-1][1])}${run[-1][0] + 1}"
           for run in rows if len(run) > 1]
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


def _rects(boxes: list[Box]) -> list[tuple[int, int, int, int]]:
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
    rows = {"form_id": spec.form_id, "form": spec.form, "version": spec.version,
            "spec_digest": spec.digest, "unit": unit or "", "year": "" if year is None else str(year)}
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


def _num(v) -> Decimal | None:
    """Numeric value of a cell as a spreadsheet would sum it (text and blanks are None)."""
    if v is None or isinstance(v, (str, bool)):
        return None
    try:
        return Decimal(str(v))
    except InvalidOperation:
        return None


# ---------------------------------------------------------------- rule formulas
class RuleFormula:
    """Spreadsheet formula and Python evaluation of one rule's failure condition."""

    def __init__(self, rule: Rule, tl: TableLayout):
        self.rule = rule
        pos, neg = [], []
        for t in rule.lhs:
            (pos if t.sign > 0 else neg).append(tl.values[t.cell])
        for t in rule.rhs:
            (neg if t.sign > 0 else pos).append(tl.values[t.cell])
        self.pos, self.neg = pos, neg
        diff = self._sum(pos) + (f"-{self._sum(neg)}" if neg else "")
        cmp = {"eq": "<>0", "le": ">0", "ge": "<0"}[rule.op]
        self.condition = f"ROUND({diff},6){cmp}"

    @staticmethod
    def _sum(boxes: list[Box]) -> str:
        return f"SUM({','.join(_ranges(boxes))})" if boxes else "0"

    def fails(self, values: Mapping[str, object]) -> bool:
        def total(boxes):
            return sum((_num(values.get(b.key)) or Decimal(0) for b in boxes), Decimal(0))

        d = round(total(self.pos) - total(self.neg), 6)
        return {"eq": d != 0, "le": d > 0, "ge": d < 0}[self.rule.op]


def live_rules(spec: Spec, tl: TableLayout, severity: str) -> list[RuleFormula]:
    """Rules of one table that a formula can check (no last-year terms)."""
    return [RuleFormula(r, tl) for r in spec.rules
            if r.table.key == tl.table.key and r.severity == severity and not r.uses_previous]


def _invalid_condition(ref: str, kind: dict) -> str:
    """Formula true when the cell at ``ref`` holds something other than a valid number."""
    checks = []
    if "min" in kind:
        checks.append(f"{ref}<{kind['min']}")
    if kind.get("type") == "integer":
        checks.append(f"{ref}<>INT({ref})")
    elif kind.get("places") is not None:
        checks.append(f"ROUND({ref},{int(kind['places'])})<>{ref}")
    numeric = f"OR({','.join(checks)})" if checks else "FALSE"
    return f"IF(ISBLANK({ref}),FALSE,IF(ISNUMBER({ref}),{numeric},TRUE))"


def _invalid_count_formula(spec: Spec, tl: TableLayout) -> str:
    """Formula counting value cells holding text, negatives, fractions or too many decimals."""
    parts: list[str] = []
    by_section: dict[str, list[Box]] = {}
    for cell in tl.table.cells:
        by_section.setdefault(cell.section.key, []).append(tl.values[cell.key])
    for boxes in by_section.values():
        for rng in _ranges(boxes):
            parts.append(f"COUNTA({rng})-COUNT({rng})")
    by_kind: dict[str, list[Box]] = {}
    for cell in tl.table.cells:
        by_kind.setdefault(cell.kind, []).append(tl.values[cell.key])
    for kind_name, boxes in by_kind.items():
        kind = spec.kinds[kind_name]
        for rng in _ranges(boxes):
            if "min" in kind:
                parts.append(f'COUNTIF({rng},"<{kind["min"]}")')
            if kind.get("type") == "integer":
                parts.append(f"IFERROR(SUMPRODUCT(--({rng}<>INT({rng}))),0)")
            elif kind.get("places") is not None:
                p = int(kind["places"])
                parts.append(f"IFERROR(SUMPRODUCT(--(ROUND({rng},{p})<>{rng})),0)")
    return "+".join(parts) if parts else "0"


def invalid_count(spec: Spec, tl: TableLayout, values: Mapping[str, object]) -> int:
    """Python twin of :func:`_invalid_count_formula` (for cached formula results)."""
    n = 0
    for cell in tl.table.cells:
        v = values.get(cell.key)
        if v is None:
            continue
        d = _num(v)
        if d is None:
            n += 1
            continue
        kind = spec.kinds[cell.kind]
        if "min" in kind and d < Decimal(str(kind["min"])):
            n += 1
        if kind.get("type") == "integer":
            n += d != d.to_integral_value(rounding="ROUND_FLOOR")
        elif kind.get("places") is not None:
            n += round(d, int(kind["places"])) != d
    return n


def status_text(relations: int, invalid: int) -> str:
    if relations == 0 and invalid == 0:
        return PASS
    parts = []
    if relations:
        parts.append(f"有{relations}处勾稽关系不符")
    if invalid:
        parts.append(f"有{invalid}格填写有误")
    return "，".join(parts)


def _status_formula(n_ref: str, m_ref: str) -> str:
    return (f'=IF(AND({n_ref}=0,{m_ref}=0),"{PASS}",'
            f'IF({n_ref}>0,"有"&{n_ref}&"处勾稽关系不符","")'
            f'&IF(AND({n_ref}>0,{m_ref}>0),"，","")'
            f'&IF({m_ref}>0,"有"&{m_ref}&"格填写有误",""))')


# ---------------------------------------------------------------- validation texts
def validation_for(kind: dict, ref: str) -> tuple[dict, str]:
    """xlsxwriter data-validation options and a Chinese hint for a cell kind."""
    lo = kind.get("min")
    if kind.get("type") == "integer":
        if lo is not None:
            return {"validate": "integer", "criteria": ">=", "value": lo}, f"请填写不小于 {lo} 的整数"
        return ({"validate": "integer", "criteria": "between", "minimum": -10**9, "maximum": 10**9},
                "请填写整数，减少时填负数（如 -3）")
    places = kind.get("places")
    if places is not None:
        cond = [f"ISNUMBER({ref})", f"ROUND({ref},{int(places)})={ref}"]
        if lo is not None:
            cond.insert(1, f"{ref}>={lo}")
        hint = (f"请填写不小于 {lo} 的数字" if lo is not None else "请填写数字") + f"，最多 {places} 位小数"
        return {"validate": "custom", "value": f"=AND({','.join(cond)})"}, hint
    if lo is not None:
        return {"validate": "decimal", "criteria": ">=", "value": lo}, f"请填写不小于 {lo} 的数字"
    return ({"validate": "decimal", "criteria": "between", "minimum": -1e12, "maximum": 1e12},
            "请填写数字")


def _cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


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


# ---------------------------------------------------------------- writer
class _Writer:
    def __init__(self, wb, spec: Spec, layout: WorkbookLayout, unit, year, password, deadline,
                 values, cover):
        self.wb, self.spec, self.layout = wb, spec, layout
        self.unit, self.year, self.password, self.deadline = unit, year, password, deadline
        self.values: dict = dict(values or {})
        self.cover: dict = dict(cover or {})
        self._formats: dict = {}
        self.status_refs: dict[str, tuple[str, str, str]] = {}  # table key -> (sheet, ref, cached)

    def fmt(self, name: str, **extra):
        key = (name, tuple(sorted(extra.items())))
        if key not in self._formats:
            base = {"font_name": FONT, "font_size": 10, "valign": "vcenter", "text_wrap": True}
            styles = {
                "title": {"font_name": TITLE_FONT, "font_size": 16, "align": "center", "text_wrap": False},
                "label": {"border": 1, "align": "center", "bg_color": LABEL_FILL},
                "label_left": {"border": 1, "align": "left", "bg_color": LABEL_FILL, "indent": 0},
                "value": {"border": 1, "align": "center", "bg_color": VALUE_FILL, "locked": False,
                          "font_size": 11},
                "value_locked": {"border": 1, "align": "left", "font_size": 11, "bold": True},
                "status": {"border": 1, "align": "left", "bold": True, "font_size": 11},
                "text": {},
                "heading": {"bold": True, "font_size": 12, "text_wrap": False},
                "helper": {"hidden": True},
            }
            self._formats[key] = self.wb.add_format({**base, **styles[name], **extra})
        return self._formats[key]

    # -- generic cell writing
    def box(self, ws, b: Box, value, fmt, *, formula_value=None) -> None:
        if b.merged:
            ws.merge_range(b.row, b.col, b.last_row, b.last_col, "", fmt)
        self.put(ws, b.row, b.col, value, fmt, formula_value=formula_value)

    @staticmethod
    def put(ws, row: int, col: int, value, fmt, *, formula_value=None) -> None:
        if formula_value is not None:
            ws.write_formula(row, col, value, fmt, formula_value)
        elif value is None or value == "":
            ws.write_blank(row, col, None, fmt)
        elif isinstance(value, str):
            ws.write_string(row, col, value, fmt)
        elif isinstance(value, bool):
            ws.write_boolean(row, col, value, fmt)
        else:
            d = Decimal(str(value))
            ws.write_number(row, col, int(d) if d == d.to_integral_value() else float(d), fmt)

    def protect(self, ws) -> None:
        ws.protect(self.password or "", {"format_columns": True, "format_rows": True,
                                          "select_locked_cells": True, "select_unlocked_cells": True})

    def print_setup(self, ws, first_row: int, first_col: int, last_row: int, last_col: int,
                    landscape: bool = True, pages_tall: int = 0) -> None:
        if landscape:
            ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, pages_tall)
        ws.center_horizontally()
        ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        ws.print_area(first_row, first_col, last_row, last_col)
        ws.set_footer("&C第 &P 页，共 &N 页")
        if self.unit:
            ws.set_header("&L" + self.unit.replace("&", "&&"))

    # -- sheets
    def build(self) -> None:
        cover_ws = self.wb.add_worksheet(self.layout.cover_sheet)
        table_ws = [(tl, self.wb.add_worksheet(tl.sheet)) for tl in self.layout.tables]
        notes_ws = self.wb.add_worksheet(self.spec.workbook["notes_sheet"])
        meta_ws = self.wb.add_worksheet(self.spec.workbook["meta_sheet"])
        for tl, ws in table_ws:
            self.write_table(tl, ws)
        self.write_cover(cover_ws)
        self.write_notes(notes_ws)
        self.write_meta(meta_ws)
        cover_ws.activate()
        self.write_properties()

    def title_text(self) -> tuple[str, str]:
        pre, _, post = self.spec.workbook["title"].partition("{year}")
        return pre, post

    def write_cover(self, ws) -> None:
        boxes = [b for pair in self.layout.cover.values() for b in pair]
        c0 = min(b.col for b in boxes)
        r_top = min(b.row for b in boxes)
        ws.set_column(c0, c0, 14)
        ws.set_column(c0 + 1, c0 + 1, 44)
        year_box = self.layout.cover["year"][1] if "year" in self.layout.cover else None
        pre, post = self.title_text()
        year_val = self.year if self.year is not None else self.cover.get("year")
        shown = str(year_val) if year_val not in (None, "") else "    "
        title_row = max(r_top - 2, 0)
        ws.merge_range(title_row, c0, title_row, c0 + 1, "", self.fmt("title"))
        if year_box is not None and "{year}" in self.spec.workbook["title"]:
            ref = _abs(year_box)
            formula = f'={_str_lit(pre)}&IF(ISBLANK({ref}),"    ",{ref})&{_str_lit(post)}'
            ws.write_formula(title_row, c0, formula, self.fmt("title"), pre + shown + post)
        else:
            ws.write_string(title_row, c0, pre + shown + post, self.fmt("title"))
        ws.set_row(title_row, 30)
        for key, (lab, val) in self.layout.cover.items():
            label = lab.text
            self.box(ws, lab, label, self.fmt("label"))
            prefilled = {"unit": self.unit, "year": self.year}.get(key)
            value = prefilled if prefilled is not None else self.cover.get(key)
            if key == "year" and isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            fmt = self.fmt("value_locked") if prefilled is not None else self.fmt(
                "value", align="left", num_format="@" if key != "year" else "General")
            self.box(ws, val, value, fmt)
            ws.set_row(lab.row, 24)
            if prefilled is None:
                msg = f"请填写{label}"
                opts = {"validate": "any"}
                if key == "year":
                    opts = {"validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2100,
                            "error_title": "填写有误", "error_message": "报告年度请填写四位年份，如 2025"}
                self.wb_validation(ws, val, {**opts, "input_title": label, "input_message": msg})
            self.wb.define_name(COVER_NAME.format(key), f"={_quote(ws.name)}!{_abs(val)}")
        # overview of the tables' live checks
        r = max(b.last_row for b in boxes) + 2
        ws.merge_range(r, c0, r, c0 + 1, "各表自动校验结果（随填写即时更新）", self.fmt("heading"))
        for tl in self.layout.tables:
            r += 1
            sheet, ref, cached = self.status_refs[tl.table.key]
            ws.write_string(r, c0, tl.table.name, self.fmt("label"))
            ws.write_formula(r, c0 + 1, f"={_quote(sheet)}!{ref}", self.fmt("status"), cached)
            self._status_cf(ws, r, c0 + 1)
            ws.set_row(r, 22)
        r += 2
        notes = self.spec.workbook["notes_sheet"]
        ws.merge_range(r, c0, r, c0 + 1, f"填写前请先阅读“{notes}”工作表。", self.fmt("text"))
        self.protect(ws)
        self.print_setup(ws, title_row, c0, r, c0 + 1, landscape=False)

    def dxf(self, style: dict):
        """A (cached) conditional-format style."""
        key = ("dxf", tuple(sorted(style.items())))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format(style)
        return self._formats[key]

    def wb_validation(self, ws, b: Box, opts: dict) -> None:
        ws.data_validation(b.row, b.col, b.row, b.col, opts)

    def _status_cf(self, ws, row: int, col: int) -> None:
        ref = f"{col_letter(col)}{row + 1}"
        ws.conditional_format(ref, {"type": "cell", "criteria": "==", "value": _str_lit(PASS),
                                    "format": self.dxf(GREEN)})
        ws.conditional_format(ref, {"type": "cell", "criteria": "!=", "value": _str_lit(PASS),
                                    "format": self.dxf({"font_color": "#C00000", "bold": True})})

    def write_table(self, tl: TableLayout, ws) -> None:
        spec, values = self.spec, self.values
        c0 = tl.title.col
        widths = column_widths(tl)
        for i, w in enumerate(widths):
            ws.set_column(c0 + i, c0 + i, w)
        wmap = {c0 + i: w for i, w in enumerate(widths)}
        self.box(ws, tl.title, tl.title.text, self.fmt("title"))
        ws.set_row(tl.title.row, 32)
        self.box(ws, tl.status_label, tl.status_label.text, self.fmt("label"))
        ws.set_row(tl.status.row, 22)
        for b in tl.boxes:
            if b.role == "value":
                continue
            left = b.role == "rowhead" and b.nrows == 1
            self.box(ws, b, b.text, self.fmt("label_left" if left else "label"))
        heights = row_heights(tl.boxes, wmap)
        for key, h in heights.items():
            ws.set_row(key, h)
        for cell in tl.table.cells:
            b = tl.values[cell.key]
            self.box(ws, b, values.get(cell.key), self.fmt("value"))
            kind = spec.kinds[cell.kind]
            opts, hint = validation_for(kind, b.ref)
            where = _cut(f"{cell.row_label} / {cell.col_label}", 150)
            opts.update(input_title=_cut(str(kind.get("label", "填写")), 32),
                        input_message=_cut(f"{where}\n{hint}；没有发生的请填 0。", 255),
                        error_title="填写有误",
                        error_message=_cut(f"{hint}。不能填写文字（如“无”“—”）或留空格；没有发生的请填 0。", 255))
            self.wb_validation(ws, b, opts)
            self.wb.define_name(cell.key, f"={_quote(tl.sheet)}!{_abs(b)}")
        # invalid input turns red: one rule per rectangle of same-kind cells (relative reference)
        by_kind: dict[str, list[Box]] = {}
        for cell in tl.table.cells:
            by_kind.setdefault(cell.kind, []).append(tl.values[cell.key])
        for kind_name, boxes in by_kind.items():
            for r0, c0_, r1, c1 in _rects(boxes):
                ws.conditional_format(r0, c0_, r1, c1, {
                    "type": "formula", "format": self.dxf(RED),
                    "criteria": "=" + _invalid_condition(f"{col_letter(c0_)}{r0 + 1}",
                                                         spec.kinds[kind_name])})
        self._live_checks(tl, ws)
        self.protect(ws)
        total = sum(heights.get(r, 15.0) for r in range(tl.title.row, tl.last_row + 1))
        tall = 1 if fits_one_page(widths, total) else 0
        self.print_setup(ws, tl.title.row, c0, tl.last_row, c0 + tl.width - 1, pages_tall=tall)
        hdr = sorted(tl.header_rows)
        if hdr and hdr == list(range(hdr[0], hdr[-1] + 1)):
            ws.repeat_rows(hdr[0], hdr[-1])
            first_value_col = min(b.col for b in tl.values.values())
            ws.freeze_panes(hdr[-1] + 1, first_value_col)

    def _live_checks(self, tl: TableLayout, ws) -> None:
        errors, warnings = live_rules(self.spec, tl, "error"), live_rules(self.spec, tl, "warning")
        for rules, style in ((errors, RED), (warnings, YELLOW)):
            by_target: dict[str, list[RuleFormula]] = {}
            for rf in rules:
                by_target.setdefault(rf.rule.target, []).append(rf)
            for target, rfs in by_target.items():
                b = tl.values[target]
                conds = [rf.condition for rf in rfs]
                crit = conds[0] if len(conds) == 1 else f"OR({','.join(conds)})"
                ws.conditional_format(b.row, b.col, b.row, b.col,
                                      {"type": "formula", "criteria": "=" + crit,
                                       "format": self.dxf(style)})
        # hidden helper cells right of the table: failing relations, invalid cells
        hc = tl.title.col + tl.width + 1
        hr = tl.status.row
        n_cached = sum(rf.fails(self.values) for rf in errors)
        m_cached = invalid_count(self.spec, tl, self.values)
        n_formula = "=" + ("+".join(f"({rf.condition})*1" for rf in errors) or "0")
        ws.write_formula(hr, hc, n_formula, self.fmt("helper"), n_cached)
        ws.write_formula(hr, hc + 1, "=" + _invalid_count_formula(self.spec, tl), self.fmt("helper"),
                         m_cached)
        ws.set_column(hc, hc + 1, None, None, {"hidden": True})
        cached = status_text(n_cached, m_cached)
        n_ref, m_ref = f"${col_letter(hc)}${hr + 1}", f"${col_letter(hc + 1)}${hr + 1}"
        self.box(ws, tl.status, _status_formula(n_ref, m_ref), self.fmt("status"), formula_value=cached)
        self._status_cf(ws, tl.status.row, tl.status.col)
        self.status_refs[tl.table.key] = (tl.sheet, _abs(tl.status), cached)

    def write_notes(self, ws) -> None:
        ws.set_column(0, 0, 84)
        ws.write_string(0, 0, self.spec.workbook["notes_sheet"], self.fmt("title", align="left"))
        ws.set_row(0, 30)
        lines = [f"{i}. {t}" for i, t in enumerate(self.spec.instructions, 1)]
        lines.append(f"{len(lines) + 1}. 报送截止时间：{self.deadline or '按上级通知要求'}。")
        r = 2
        for line in lines:
            ws.write_string(r, 0, line, self.fmt("text", font_size=11))
            ws.set_row(r, max(1, math.ceil(text_width(line) / 76)) * 16 + 4)
            r += 1
        r += 1
        ws.write_string(r, 0, "填报时须满足的关系（“必须满足”的不符时总计格变红；“提示”类请核实）：",
                        self.fmt("heading"))
        seen = set()
        for rule in self.spec.rules:
            if (rule.code, rule.name) in seen:
                continue
            seen.add((rule.code, rule.name))
            r += 1
            tag = "必须满足" if rule.severity == "error" else "提示，请核实"
            ws.write_string(r, 0, f"{rule.code}  {rule.name}（{tag}）", self.fmt("text", font_size=11))
            ws.set_row(r, 18)
        self.protect(ws)
        self.print_setup(ws, 0, 0, r, 0, landscape=False)

    def meta(self) -> dict[str, str]:
        return meta_rows(self.spec, self.unit, self.year)

    def write_meta(self, ws) -> None:
        write_meta_sheet(ws, self.meta())
        self.protect(ws)

    def write_properties(self) -> None:
        s = self.spec
        pre, post = self.title_text()
        self.wb.set_properties({"title": pre + (str(self.year) if self.year else "") + post,
                                "subject": f"{s.name}（{s.basis}）", "author": "nianbao",
                                "company": self.unit or "", "keywords": s.form_id,
                                "comments": f"由 nianbao {__version__} 生成"})
        m = self.meta()
        for k in ("form_id", "form", "version", "spec_digest", "unit", "year"):
            if k == "year" and self.year is not None:
                self.wb.set_custom_property(PROP_PREFIX + k, int(self.year), "number_int")
            elif m[k]:
                self.wb.set_custom_property(PROP_PREFIX + k, m[k], "text")


def write_template(path: Path | str, spec: Spec, *, unit: str | None = None, year: int | None = None,
                   password: str | None = None, deadline: str | None = None,
                   values: Mapping[str, object] | None = None, cover: Mapping[str, str] | None = None,
                   force: bool = True) -> None:
    """Write the template workbook for ``spec`` to ``path`` (atomically).

    ``unit``/``year`` are pre-filled and locked; ``values`` (cell key -> number, text or None)
    and ``cover`` (cover field key -> text) produce a filled copy with the same writer.
    """
    import xlsxwriter

    layout = workbook_layout(spec)
    unknown = set(values or {}) - set(spec.cells)
    if unknown:
        raise KeyError(f"unknown cell keys: {sorted(unknown)[:5]}")
    with atomic_path(path, force=force) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False})
        try:
            _Writer(wb, spec, layout, unit, year, password, deadline, values, cover).build()
        finally:
            wb.close()


# ---------------------------------------------------------------- command
def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _error(msg: str) -> int:
    _console().print(f"[bold red]错误：[/]{msg}")
    return 2


def template_command(output, form, year, unit, roster, out_dir, password, deadline, force) -> int:
    """``nianbao template``: one workbook (-o) or one per unit of a roster (--roster/--out-dir)."""
    from rich.markup import escape

    from .roster import NAME, RosterError, read_roster, safe_filename
    from .spec import SpecError, get_spec

    if year is not None and not 2000 <= year <= 2100:
        return _error(f"报告年度应为 2000 至 2100 之间的四位年份，如 2025（收到的是 {year}）")
    if roster is None and output is None:
        return _error("请用 -o 指定输出文件（如 -o 模板.xlsx），或用 --roster 和 --out-dir 按单位名单批量生成")
    if roster is not None and output is not None:
        return _error("-o 与 --roster 不能同时使用：按名单生成时请用 --out-dir 指定输出文件夹")
    if roster is not None and out_dir is None:
        return _error("使用 --roster 时请用 --out-dir 指定输出文件夹")
    try:
        spec = get_spec(form)
    except (KeyError, SpecError) as e:
        return _error(f"无法加载 {form} 表式：{e}")
    con = _console()
    if year is not None and not (spec.years.get("first", 0) <= year <= spec.years.get("last", 9999)):
        con.print(f"[yellow]注意：[/]{year} 年度一般不使用 {form} 表式，请确认 --form 是否正确")
    jobs: list[tuple[Path, str | None]] = []
    if roster is not None:
        try:
            units = read_roster(roster)
        except RosterError as e:
            return _error(escape(str(e)))
        names: dict[str, str] = {}
        for u in units:
            fname = safe_filename(u[NAME]) + ".xlsx"
            if fname.lower() in names:
                return _error(escape(f"单位名单 {roster} 中“{names[fname.lower()]}”与“{u[NAME]}”"
                                     f"的文件名相同（{fname}），请修改名称"))
            names[fname.lower()] = u[NAME]
            jobs.append((Path(out_dir) / fname, u[NAME]))
    else:
        if Path(output).suffix.lower() != ".xlsx":
            return _error(escape(f"输出文件应以 .xlsx 结尾：{output}"))
        jobs.append((Path(output), unit))
    if not force:
        existing = [str(p) for p, _ in jobs if p.exists()]
        if existing:
            shown = "、".join(existing[:5]) + ("等" if len(existing) > 5 else "")
            return _error(escape(f"输出文件已存在：{shown}（如需覆盖请加 --force）"))
    for path, who in jobs:
        try:
            write_template(path, spec, unit=who, year=year, password=password, deadline=deadline,
                           force=force)
        except OutputError as e:
            return _error(escape(str(e)))
        except OSError as e:
            return _error(escape(f"无法写入 {path}：{e.strerror or e}"))
        except Exception as e:  # never show a traceback to the user
            return _error(escape(f"生成 {path} 时出错：{e}"))
    extra = "".join(f"，{k}：{v}" for k, v in (("年度", year), ("单位", unit)) if v and roster is None)
    if roster is not None:
        con.print(f"已按单位名单生成 {len(jobs)} 个模板（{spec.basis} 表式"
                  f"{f'，年度：{year}' if year else ''}），保存在 {escape(str(out_dir))}：")
        for path, _ in jobs[:50]:
            con.print(f"  {escape(path.name)}")
        if len(jobs) > 50:
            con.print(f"  ……共 {len(jobs)} 个")
    else:
        con.print(f"已生成模板：{escape(str(jobs[0][0]))}（{spec.basis} 表式{escape(extra)}）")
    return 0

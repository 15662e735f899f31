"""The template workbook itself: every sheet, box, validation, name and property."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from .. import __version__
from ..fileio import atomic_path
from ..guard import YEAR_MAX, YEAR_MIN
from ..layout import Box, TableLayout, WorkbookLayout, col_letter, workbook_layout
from ..spec import Spec
from ..vocab import Severity
from .base import (
    COVER_NAME,
    FONT,
    GREEN,
    LABEL_FILL,
    PASS,
    PROP_PREFIX,
    RED,
    TITLE_FONT,
    UNFILLED,
    VALUE_FILL,
    YELLOW,
    abs_ref,
    box_rects,
    meta_rows,
    quote_sheet,
    str_lit,
    write_meta_sheet,
)
from .formulas import (
    RuleFormula,
    blank_count,
    blank_count_formula,
    cut_text,
    invalid_condition,
    invalid_count,
    invalid_count_formula,
    live_rules,
    status_formula,
    status_text,
    validation_for,
)
from .geometry import column_widths, page_setup, row_heights, table_page_setup, text_width


# ---------------------------------------------------------------- writer
class _Writer:
    def __init__(self, wb, spec: Spec, layout: WorkbookLayout, unit, year, password, deadline, values, cover):
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
                "value": {
                    "border": 1,
                    "align": "center",
                    "bg_color": VALUE_FILL,
                    "locked": False,
                    "font_size": 11,
                },
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
        ws.protect(
            self.password or "",
            {
                "format_columns": True,
                "format_rows": True,
                "select_locked_cells": True,
                "select_unlocked_cells": True,
            },
        )

    def print_setup(
        self,
        ws,
        first_row: int,
        first_col: int,
        last_row: int,
        last_col: int,
        landscape: bool = True,
    ) -> None:
        area = (first_row, first_col, last_row, last_col)
        page_setup(ws, area, landscape=landscape, header=self.unit or "")

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
            ref = abs_ref(year_box)
            formula = f'={str_lit(pre)}&IF(ISBLANK({ref}),"    ",{ref})&{str_lit(post)}'
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
            fmt = (
                self.fmt("value_locked")
                if prefilled is not None
                else self.fmt("value", align="left", num_format="@" if key != "year" else "General")
            )
            self.box(ws, val, value, fmt)
            ws.set_row(lab.row, 24)
            if prefilled is None:
                msg = f"请填写{label}"
                opts = {"validate": "any"}
                if key == "year":
                    opts = {
                        "validate": "integer",
                        "criteria": "between",
                        "minimum": YEAR_MIN,
                        "maximum": YEAR_MAX,
                        "error_title": "填写有误",
                        "error_message": "报告年度请填写四位年份，如 2025",
                    }
                self.wb_validation(ws, val, {**opts, "input_title": label, "input_message": msg})
            self.wb.define_name(COVER_NAME.format(key), f"={quote_sheet(ws.name)}!{abs_ref(val)}")
        # overview of the tables' live checks
        r = max(b.last_row for b in boxes) + 2
        ws.merge_range(r, c0, r, c0 + 1, "各表自动校验结果（随填写即时更新）", self.fmt("heading"))
        for tl in self.layout.tables:
            r += 1
            sheet, ref, cached = self.status_refs[tl.table.key]
            ws.write_string(r, c0, tl.table.name, self.fmt("label"))
            ws.write_formula(r, c0 + 1, f"={quote_sheet(sheet)}!{ref}", self.fmt("status"), cached)
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
        """通过 green; untouched or only incomplete amber; anything else red (first matching rule wins)."""
        ref = f"{col_letter(col)}{row + 1}"
        amber = self.dxf({"font_color": "#9C5700", "bold": True})
        ws.conditional_format(
            ref, {"type": "cell", "criteria": "==", "value": str_lit(PASS), "format": self.dxf(GREEN)}
        )
        only_blank = f'OR({ref}={str_lit(UNFILLED)},AND(LEFT({ref},2)="尚有",ISERROR(FIND("，",{ref}))))'
        ws.conditional_format(
            ref, {"type": "formula", "criteria": "=" + only_blank, "format": amber, "stop_if_true": True}
        )
        ws.conditional_format(
            ref,
            {
                "type": "cell",
                "criteria": "!=",
                "value": str_lit(PASS),
                "format": self.dxf({"font_color": "#C00000", "bold": True}),
            },
        )

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
            where = cut_text(f"{cell.row_label} / {cell.col_label}", 150)
            opts.update(
                input_title=cut_text(kind.label, 32),
                input_message=cut_text(f"{where}\n{hint}；没有发生的请填 0。", 255),
                error_title="填写有误",
                error_message=cut_text(f"{hint}。不能填写文字（如“无”“—”）或留空格；没有发生的请填 0。", 255),
            )
            self.wb_validation(ws, b, opts)
            self.wb.define_name(cell.key, f"={quote_sheet(tl.sheet)}!{abs_ref(b)}")
        # invalid input turns red: one rule per rectangle of same-kind cells (relative reference)
        by_kind: dict[str, list[Box]] = {}
        for cell in tl.table.cells:
            by_kind.setdefault(cell.kind, []).append(tl.values[cell.key])
        for kind_name, boxes in by_kind.items():
            for r0, c0_, r1, c1 in box_rects(boxes):
                ws.conditional_format(
                    r0,
                    c0_,
                    r1,
                    c1,
                    {
                        "type": "formula",
                        "format": self.dxf(RED),
                        "criteria": "="
                        + invalid_condition(f"{col_letter(c0_)}{r0 + 1}", spec.kinds[kind_name]),
                    },
                )
        self._live_checks(tl, ws)
        self.protect(ws)
        table_page_setup(ws, tl, widths, heights, header=self.unit or "")

    def _live_checks(self, tl: TableLayout, ws) -> None:
        errors = live_rules(self.spec, tl, Severity.ERROR)
        warnings = live_rules(self.spec, tl, Severity.WARNING)
        for rules, style in ((errors, RED), (warnings, YELLOW)):
            by_target: dict[str, list[RuleFormula]] = {}
            for rf in rules:
                by_target.setdefault(rf.rule.target, []).append(rf)
            for target, rfs in by_target.items():
                b = tl.values[target]
                conds = [rf.condition for rf in rfs]
                crit = conds[0] if len(conds) == 1 else f"OR({','.join(conds)})"
                ws.conditional_format(
                    b.row,
                    b.col,
                    b.row,
                    b.col,
                    {"type": "formula", "criteria": "=" + crit, "format": self.dxf(style)},
                )
        # hidden helper cells right of the table: failing relations, invalid cells
        hc = tl.title.col + tl.width + 1
        hr = tl.status.row
        n_cached = sum(rf.fails(self.values) for rf in errors)
        m_cached = invalid_count(self.spec, tl, self.values)
        b_cached = blank_count(tl, self.values)
        n_formula = "=" + ("+".join(f"({rf.condition})*1" for rf in errors) or "0")
        ws.write_formula(hr, hc, n_formula, self.fmt("helper"), n_cached)
        ws.write_formula(hr, hc + 1, "=" + invalid_count_formula(self.spec, tl), self.fmt("helper"), m_cached)
        ws.write_formula(hr, hc + 2, "=" + blank_count_formula(tl), self.fmt("helper"), b_cached)
        ws.set_column(hc, hc + 2, None, None, {"hidden": True})
        cached = status_text(n_cached, m_cached, b_cached, len(tl.values))
        n_ref, m_ref, b_ref = (f"${col_letter(hc + i)}${hr + 1}" for i in range(3))
        formula = status_formula(n_ref, m_ref, b_ref, len(tl.values))
        self.box(ws, tl.status, formula, self.fmt("status"), formula_value=cached)
        self._status_cf(ws, tl.status.row, tl.status.col)
        self.status_refs[tl.table.key] = (tl.sheet, abs_ref(tl.status), cached)

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
        ws.write_string(
            r, 0, "填报时须满足的关系（“必须满足”的不符时总计格变红；“提示”类请核实）：", self.fmt("heading")
        )
        seen = set()
        for rule in self.spec.rules:
            if (rule.code, rule.name) in seen:
                continue
            seen.add((rule.code, rule.name))
            r += 1
            tag = "必须满足" if rule.severity == Severity.ERROR else "提示，请核实"
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
        self.wb.set_properties(
            {
                "title": pre + (str(self.year) if self.year else "") + post,
                "subject": f"{s.name}（{s.basis}）",
                "author": "nianbao",
                "company": self.unit or "",
                "keywords": s.form_id,
                "comments": f"由 nianbao {__version__} 生成",
            }
        )
        m = self.meta()
        for k in ("form_id", "form", "version", "spec_digest", "unit", "year"):
            if k == "year" and self.year is not None:
                self.wb.set_custom_property(PROP_PREFIX + k, int(self.year), "number_int")
            elif m[k]:
                self.wb.set_custom_property(PROP_PREFIX + k, m[k], "text")


def write_template(
    path: Path | str,
    spec: Spec,
    *,
    unit: str | None = None,
    year: int | None = None,
    password: str | None = None,
    deadline: str | None = None,
    values: Mapping[str, object] | None = None,
    cover: Mapping[str, str] | None = None,
    force: bool = True,
) -> None:
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
        wb = xlsxwriter.Workbook(
            str(tmp), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
        )
        try:
            _Writer(wb, spec, layout, unit, year, password, deadline, values, cover).build()
        finally:
            wb.close()

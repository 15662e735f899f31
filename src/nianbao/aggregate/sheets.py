"""The aggregate workbook's sheet names, columns and colours, where the county sums sit on
汇总, and the cell writers shared by its sheets."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import cache

from ..findings import CSV_HEADER, fmt_number
from ..guard import OUTPUT_AGGREGATE
from ..layout import a1, workbook_layout
from ..spec import Spec
from .status import (
    DUPLICATE,
    EMPTY,
    FAILED,
    MISSING,
    NOT_IN_ROSTER,
    PASSED,
    UNREADABLE,
    WARNINGS,
    WRONG_FORM,
    WRONG_YEAR,
)

SUMMARY, STATUS_SHEET, DETAIL, FINDINGS, CATEGORIES = "汇总", "报送情况", "明细", "问题清单", "分类汇总"
OUTPUT_KIND = OUTPUT_AGGREGATE  # the nianbao_output property of an aggregate (see guard)
HEAD_ROWS = 4  # title, note, list of summed units, blank; the tables start below
MAX_URLS = 65_000  # xlsxwriter/Excel limit of hyperlinks per sheet is 65,530
MAX_NAMES_TEXT = 3000
STATUS_COLUMNS = [
    "单位名称",
    "类别",
    "状态",
    "错误数",
    "警告数",
    "填报人",
    "联系电话",
    "填报日期",
    "文件",
    "批注副本",
    "计入汇总",
    "说明",
]
# 问题清单: a finding row of findings.CSV_HEADER, the unit first
FINDING_COLUMNS = ["单位", "文件", *CSV_HEADER[2:]]
DETAIL_LEAD = ["单位名称", "类别", "状态", "计入汇总", "文件", "填报日期"]  # 填报日期 as written
LABEL_ROWS = ("表", "行", "列")  # Chinese labels above the cell-key header of 明细/分类汇总
STATUS_COLOURS = {
    MISSING: ("#FFC7CE", "#9C0006"),
    UNREADABLE: ("#FFC7CE", "#9C0006"),
    FAILED: ("#FFC7CE", "#9C0006"),
    EMPTY: ("#F8CBAD", "#833C0B"),
    WRONG_FORM: ("#F8CBAD", "#833C0B"),
    WRONG_YEAR: ("#F8CBAD", "#833C0B"),
    DUPLICATE: ("#E4DFEC", "#5B3F86"),
    NOT_IN_ROSTER: ("#E4DFEC", "#5B3F86"),
    WARNINGS: ("#FFEB9C", "#9C5700"),
    PASSED: ("#C6EFCE", "#006100"),
}


# ---------------------------------------------------------------- where the county sums are
def county_where(spec: Spec) -> dict[str, tuple[str, str]]:
    """cell key -> (sheet, A1) of the county sums: each table on its own sheet, as in the template."""
    return {k: (tl.sheet, b.ref) for tl in workbook_layout(spec).tables for k, b in tl.values.items()}


@cache
def stacked_where(spec: Spec) -> dict[str, tuple[str, str]]:
    """Where aggregates of earlier versions put the county sums: the tables stacked on 汇总
    below ``HEAD_ROWS`` rows (read back as last year's data)."""
    out, row = {}, HEAD_ROWS
    for tl in workbook_layout(spec).tables:
        off = row - tl.title.row
        out.update({k: (SUMMARY, a1(b.row + off, b.col)) for k, b in tl.values.items()})
        row = tl.last_row + off + 2
    return out


def _num(v):
    if v is None:
        return None
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


EXCEL_MAX = 9.99999999999999e307  # the largest number a cell can hold
SAFE_INT = 2**53  # whole numbers a cell holds exactly


def write_number(ws, r: int, c: int, v, fmt=None) -> None:
    """A number cell; a value no spreadsheet can hold (1e400 typed by someone) is shown as text."""
    n = _num(v)
    try:
        fits = math.isfinite(float(n)) and abs(float(n)) <= EXCEL_MAX
    except OverflowError:
        fits = False
    if fits:
        ws.write_number(r, c, n, fmt)
    else:
        ws.write_string(r, c, fmt_number(v)[:32767], fmt)


class Formats:
    def __init__(self, wb):
        self.wb, self._c = wb, {}

    def __call__(self, **kw):
        key = tuple(sorted(kw.items()))
        if key not in self._c:
            self._c[key] = self.wb.add_format(
                {"font_name": "宋体", "font_size": 10, "valign": "vcenter", **kw}
            )
        return self._c[key]


def streaming_sheet(wb, name: str):
    """A worksheet in constant-memory mode (rows flushed to disk as they are written).

    xlsxwriter sets the mode per workbook; the 汇总 sheet needs random access for its merged
    headers, so only the row-by-row sheets are switched on (an attribute xlsxwriter reads when a
    sheet is added; without it the sheet is simply kept in memory)."""
    if not hasattr(wb, "constant_memory"):
        return wb.add_worksheet(name)
    wb.constant_memory = True
    try:
        return wb.add_worksheet(name)
    finally:
        wb.constant_memory = False


def write_text(ws, r: int, c: int, value, fmt=None) -> None:
    s = "" if value is None else str(value)
    if s:
        ws.write_string(r, c, s[:32767], fmt)
    elif fmt is not None:
        ws.write_blank(r, c, None, fmt)


def print_setup(ws, header: str = "") -> None:
    """A list printed landscape, fit to the page width, its header row on every page."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.repeat_rows(0)
    ws.set_footer("&C第 &P 页，共 &N 页")
    if header:
        ws.set_header("&L" + header.replace("&", "&&"))


# 明细 and 分类汇总 have a column per value cell (about 200): no page shows them legibly, so they
# are for the screen; printed, they give this note only (in their empty top-left cells).
SCREEN_ONLY = ("仅供屏幕查看，不打印", "合计见“表二”“表三”“表四”", "各单位情况见“报送情况”")


def screen_only(ws, row: int, fmt_first, fmt_rest) -> None:
    """Row ``row`` (0, 1, 2: written in order, as the sheet streams) of the screen-only note in
    column A; the note is the print area."""
    ws.write_string(row, 0, SCREEN_ONLY[row], fmt_first if row == 0 else fmt_rest)
    if row == 0:
        ws.print_area(0, 0, len(SCREEN_ONLY) - 1, 0)
        ws.set_paper(9)

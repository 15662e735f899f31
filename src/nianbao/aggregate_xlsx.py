"""The aggregate workbook: 汇总, 报送情况, 明细, 问题清单 (+ 分类汇总), written with xlsxwriter.

The 汇总 sheet stacks the three official tables (boxes from ``layout.workbook_layout``) with
the county sums; every summed cell also gets its cell key as a defined name. The big sheets are
written row by row in xlsxwriter's constant-memory mode, so a province's 100,000 units do not
have to fit in memory. The workbook is marked as a nianbao output (custom property) so that a
re-run skips it, and carries a hidden meta sheet so that it can serve as last year's data.
"""
from __future__ import annotations

import io
import math
import os
import zipfile
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path

from . import __version__
from .aggregate import (
    COUNTY,
    DUPLICATE,
    EMPTY,
    FAILED,
    MISSING,
    NOT_IN_ROSTER,
    PASSED,
    STATUS_ZH,
    UNCATEGORISED,
    UNREADABLE,
    WARNINGS,
    WRONG_FORM,
    WRONG_YEAR,
    Previous,
    Result,
    prev_cells,
)
from .fileio import AtomicOutput, OutputError, atomic_path
from .findings import fmt_number
from .layout import Box, TableLayout, a1, col_letter, parse_a1, workbook_layout
from .model import Report
from .spec import Spec, get_spec
from .template import meta_rows, write_meta_sheet

SUMMARY, STATUS_SHEET, DETAIL, FINDINGS, CATEGORIES = "汇总", "报送情况", "明细", "问题清单", "分类汇总"
OUTPUT_KIND = "aggregate"
HEAD_ROWS = 4  # title, note, list of summed units, blank; the tables start below
MAX_URLS = 65_000  # xlsxwriter/Excel limit of hyperlinks per sheet is 65,530
MAX_NAMES_TEXT = 3000
STATUS_COLUMNS = ["单位名称", "类别", "状态", "错误数", "警告数", "填报人", "联系电话", "填报日期",
                  "文件", "批注副本", "计入汇总", "说明"]
FINDING_COLUMNS = ["单位", "文件", "代码", "级别", "表", "行", "列", "工作表", "单元格", "应为", "实为", "说明"]
DETAIL_LEAD = ["单位名称", "类别", "状态", "计入汇总", "文件"]
LABEL_ROWS = ("表", "行", "列")  # Chinese labels above the cell-key header of 明细/分类汇总
STATUS_COLOURS = {
    MISSING: ("#FFC7CE", "#9C0006"), UNREADABLE: ("#FFC7CE", "#9C0006"),
    FAILED: ("#FFC7CE", "#9C0006"), EMPTY: ("#F8CBAD", "#833C0B"),
    WRONG_FORM: ("#F8CBAD", "#833C0B"), WRONG_YEAR: ("#F8CBAD", "#833C0B"),
    DUPLICATE: ("#E4DFEC", "#5B3F86"), NOT_IN_ROSTER: ("#E4DFEC", "#5B3F86"),
    WARNINGS: ("#FFEB9C", "#9C5700"), PASSED: ("#C6EFCE", "#006100"),
}
MAX_UNZIPPED = 256 * 1024 * 1024  # refuse to inflate an absurd "last year's aggregate"


# ---------------------------------------------------------------- geometry of 汇总
@cache
def _stack(spec: Spec) -> tuple[tuple[TableLayout, int], ...]:
    """Each table's layout with the row offset that places it on the 汇总 sheet."""
    out, row = [], HEAD_ROWS
    for tl in workbook_layout(spec).tables:
        off = row - tl.title.row
        out.append((tl, off))
        row = tl.last_row + off + 2
    return tuple(out)


def county_where(spec: Spec) -> dict[str, tuple[str, str]]:
    """cell key -> (sheet, A1) of the county sums on the 汇总 sheet."""
    return {k: (SUMMARY, a1(b.row + off, b.col)) for tl, off in _stack(spec) for k, b in tl.values.items()}


def _num(v):
    if v is None:
        return None
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v


EXCEL_MAX = 9.99999999999999e307  # the largest number a cell can hold
SAFE_INT = 2 ** 53  # whole numbers a cell holds exactly


def _number(ws, r: int, c: int, v, fmt=None) -> None:
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


class _Formats:
    def __init__(self, wb):
        self.wb, self._c = wb, {}

    def __call__(self, **kw):
        key = tuple(sorted(kw.items()))
        if key not in self._c:
            self._c[key] = self.wb.add_format({"font_name": "宋体", "font_size": 10,
                                               "valign": "vcenter", **kw})
        return self._c[key]


def _streaming_sheet(wb, name: str):
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


def _text(ws, r: int, c: int, value, fmt=None) -> None:
    s = "" if value is None else str(value)
    if s:
        ws.write_string(r, c, s[:32767], fmt)
    elif fmt is not None:
        ws.write_blank(r, c, None, fmt)


def _print_setup(ws) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)


# ---------------------------------------------------------------- writer
class _Writer:
    """Writes the sheets. They are added up front (their order is the workbook's): 明细 can
    then be filled while the files are still being read (see :class:`EarlyBook`); the others
    need every file and are written by :meth:`finish`."""

    def __init__(self, wb, spec: Spec, out: Path, categories: bool):
        self.wb, self.spec, self.out, self.f = wb, spec, out, _Formats(wb)
        self.res: Result | None = None
        self.summary = wb.add_worksheet(SUMMARY)
        self.status = _streaming_sheet(wb, STATUS_SHEET)
        self.detail = _streaming_sheet(wb, DETAIL)
        self.issues = _streaming_sheet(wb, FINDINGS)
        self.cats = _streaming_sheet(wb, CATEGORIES) if categories else None
        self.meta_ws = wb.add_worksheet(spec.workbook["meta_sheet"])
        self.keys = self._key_header(self.detail, DETAIL_LEAD)
        self.detail_row_no = HEAD_ROWS  # next row of 明细 (below the key header)

    def finish(self, res: Result, detail_written: bool) -> None:
        self.res = res
        self.write_summary(self.summary)
        self.write_status(self.status)
        if not detail_written:
            self.write_detail()
        self.detail.autofilter(3, 0, max(self.detail_row_no - 1, 3), len(DETAIL_LEAD) + len(self.keys) - 1)
        self.write_findings(self.issues)
        if self.cats is not None:
            self.write_categories(self.cats)
        self.write_meta(self.meta_ws)
        self.summary.activate()
        self.write_properties()

    # -- 汇总
    def _note(self) -> tuple[str, str]:
        res = self.res
        c = res.counts()
        summed = res.summed
        parts = [f"{STATUS_ZH[s]} {sum(1 for e in summed if e.status == s)} 个"
                 for s in (PASSED, WARNINGS, FAILED) if any(e.status == s for e in summed)]
        left = [f"{STATUS_ZH[s]} {n}" for s, n in c.items() if n and s not in (PASSED, WARNINGS)
                and not (s == FAILED and res.include_failed)]
        note = f"本表为 {len(summed)} 个单位的合计（{'、'.join(parts) or '无'}）"
        if res.include_failed and c[FAILED]:
            note += "，其中有错误的单位也已计入"
        note += "；未计入：" + ("、".join(left) if left else "无") + "。"
        note += f"各单位报送情况见“{STATUS_SHEET}”，逐单位数据见“{DETAIL}”，问题见“{FINDINGS}”。"
        names, total = [], 0
        for e in summed:
            total += len(e.name) + 1
            if total > MAX_NAMES_TEXT:
                names.append(f"……等 {len(summed)} 个")
                break
            names.append(e.name)
        return note, "计入汇总的单位：" + ("、".join(names) if names else "无")

    def write_summary(self, ws) -> None:
        from .template import column_widths, row_heights, text_width

        spec, res, f = self.spec, self.res, self.f
        stack = _stack(spec)
        width = max(tl.width for tl, _ in stack)
        widths: dict[int, float] = {}
        for tl, _ in stack:
            for i, w in enumerate(column_widths(tl)):
                widths[tl.title.col + i] = max(widths.get(tl.title.col + i, 0), w)
        for c, w in widths.items():
            ws.set_column(c, c, w)
        title = spec.workbook["title"].replace("{year}", str(res.year) if res.year else "    ")
        ws.merge_range(0, 0, 0, width - 1, f"{title}（{SUMMARY}）",
                       f(font_name="黑体", font_size=16, align="center"))
        ws.set_row(0, 32)
        note, names = self._note()
        for r, text in ((1, note), (2, names)):
            ws.merge_range(r, 0, r, width - 1, "", f(text_wrap=True))
            ws.write_string(r, 0, text, f(text_wrap=True))
            usable = max(sum(widths.get(c, 9.0) for c in range(width)) - 2, 20)
            ws.set_row(r, min(14 * math.ceil(text_width(text) / usable) + 6, 409))
        label = f(border=1, align="center", text_wrap=True, bg_color="#E7E6E6")
        label_left = f(border=1, align="left", text_wrap=True, bg_color="#E7E6E6")
        for tl, off in stack:
            boxes = [replace(b, row=b.row + off) for b in tl.boxes]
            self._box(ws, replace(tl.title, row=tl.title.row + off), tl.title.text,
                      f(font_name="黑体", font_size=13, align="center"))
            ws.set_row(tl.title.row + off, 26)
            srow = tl.status.row + off
            ws.write_string(srow, tl.status_label.col, "汇总校验", label)
            errs = [x for x in res.county.findings if x.table == tl.table.name and x.is_error]
            warns = [x for x in res.county.findings if x.table == tl.table.name and not x.is_error]
            text = "通过" if not errs else f"{len(errs)} 处不相符（见“{FINDINGS}”）"
            if warns:
                text += f"；{len(warns)} 项提示"
            colour = "#006100" if not errs else "#C00000"
            self._box(ws, replace(tl.status, row=srow), text,
                      f(border=1, bold=True, font_color=colour, align="left"))
            for b in boxes:
                if b.role == "value":
                    continue
                left = b.role == "rowhead" and b.nrows == 1 or b.role == "corner"
                self._box(ws, b, b.text, label_left if left else label)
            for r, h in row_heights(boxes, widths).items():
                ws.set_row(r, h)
            for key, b in tl.values.items():
                kind = spec.kinds[spec.cells[key].kind]
                fmt = f(border=1, align="center", font_size=11,
                        num_format="0.00##" if kind.get("type") == "decimal" else "0")
                bb = replace(b, row=b.row + off)
                if bb.merged:
                    ws.merge_range(bb.row, bb.col, bb.last_row, bb.last_col, "", fmt)
                _number(ws, bb.row, bb.col, res.sums.get(key, Decimal(0)), fmt)
                self.wb.define_name(key, f"='{SUMMARY}'!${col_letter(bb.col)}${bb.row + 1}")
        last = max(tl.last_row + off for tl, off in stack)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.print_area(0, 0, last, width - 1)

    @staticmethod
    def _box(ws, b: Box, text: str, fmt) -> None:
        if b.merged:
            ws.merge_range(b.row, b.col, b.last_row, b.last_col, "", fmt)
        _text(ws, b.row, b.col, text, fmt)

    # -- 报送情况
    def write_status(self, ws) -> None:
        res, f = self.res, self.f
        extra = res.roster.extra_columns if res.roster else []
        head = f(bold=True, border=1, bg_color="#E7E6E6", align="center", text_wrap=True)
        cols = STATUS_COLUMNS + extra
        widths = [24, 10, 11, 7, 7, 10, 14, 12, 40, 30, 10, 50] + [14] * len(extra)
        for c, w in enumerate(widths):
            ws.set_column(c, c, w)
        for c, h in enumerate(cols):
            ws.write_string(0, c, h, head)
        cell = f(border=1)
        num = f(border=1, align="center")
        link = f(border=1, font_color="blue", underline=1)
        urls = 0
        for r, e in enumerate(res.entries, start=1):
            bg, fg = STATUS_COLOURS[e.status]
            summed = ("是（含错误）" if e.status == FAILED else "是") if e.summed else "否"
            row = [e.name, e.category, None, e.errors, e.warnings, e.filler, e.phone, e.date,
                   e.file, None, summed, e.note]
            for c, v in enumerate(row):
                if isinstance(v, int):
                    ws.write_number(r, c, v, num)
                elif v is not None:
                    _text(ws, r, c, v, cell)
            ws.write_string(r, 2, e.status_zh, f(border=1, bold=True, align="center",
                                                   bg_color=bg, font_color=fg))
            if e.annotated:
                target = self._relative(e.annotated)
                if urls < MAX_URLS and len(target) < 2000:
                    ws.write_url(r, 9, "external:" + target, link, Path(e.annotated).name)
                    urls += 1
                else:
                    _text(ws, r, 9, target, cell)
            else:
                ws.write_blank(r, 9, None, cell)
            if extra and e.roster is not None:
                unit = res.roster.units[e.roster]
                for c, h in enumerate(extra, start=len(STATUS_COLUMNS)):
                    _text(ws, r, c, unit.get(h, ""), cell)
        ws.freeze_panes(1, 1)
        ws.autofilter(0, 0, max(len(res.entries), 1), len(cols) - 1)
        _print_setup(ws)

    def _relative(self, path: str) -> str:
        try:
            return os.path.relpath(Path(path).resolve(), self.out.resolve().parent)
        except ValueError:  # another drive on Windows
            return str(Path(path).resolve())

    # -- 明细 and 分类汇总 share the header: labels above, cell keys as the header row
    def _key_header(self, ws, lead: list[str]) -> list[str]:
        spec, f = self.spec, self.f
        keys = list(spec.cells)
        n = len(lead)
        lab = f(bg_color="#E7E6E6", text_wrap=True, border=1, align="center")
        ws.set_column(0, 0, 24)
        ws.set_column(1, n - 1, 11)
        ws.set_column(n, n + len(keys) - 1, 14)
        for i, name in enumerate(LABEL_ROWS):
            _text(ws, i, n - 1, name, f(bold=True, align="right"))
            for j, k in enumerate(keys):
                cell = spec.cells[k]
                text = (cell.table.name, cell.row_label, cell.col_label)[i]
                _text(ws, i, n + j, text, lab)
        ws.set_row(1, 45)
        ws.set_row(2, 30)
        head = f(bold=True, border=1, bg_color="#D9E1F2")
        for c, h in enumerate(lead + keys):
            ws.write_string(3, c, h, head)
        ws.freeze_panes(4, 1)
        return keys

    def write_detail(self) -> None:
        """明细 from the spool: one row per file read, in input order."""
        res = self.res
        for e in res.rows_in_input_order():
            if e.spool >= 0 and not e.empty and not e.unreadable:
                self.detail_row(e.name, e.category, e.status_zh, e.summed, e.file, e.form,
                                res.value_tuple(e))

    def detail_row(self, name: str, category: str, status_zh: str, summed: bool, file: str,
                   form: str | None, vals: tuple | None) -> None:
        """One row of 明细: who, then the values (of another form's cells: by key)."""
        if not vals:
            return
        ws, r, n = self.detail, self.detail_row_no, len(DETAIL_LEAD)
        for c, v in enumerate((name, category, status_zh, "是" if summed else "否", file)):
            _text(ws, r, c, v)
        if form != self.spec.version:
            by_key = dict(zip(get_spec(form).cells, vals))
            vals = tuple(map(by_key.get, self.keys))
        write = ws.write_number
        for c, v in enumerate(vals, n):  # 200,000 cells for 1,000 units: the common case inline
            if type(v) is int and -SAFE_INT < v < SAFE_INT:
                write(r, c, v)
            elif v is not None:
                _number(ws, r, c, v)
        self.detail_row_no = r + 1

    def write_categories(self, ws) -> None:
        res = self.res
        lead = ["类别", "计入汇总单位数"]
        keys = self._key_header(ws, lead)
        order = [c for c in res.categories if c != UNCATEGORISED]
        order.sort(key=lambda c: min((e.roster for e in res.entries
                                      if e.category == c and e.roster is not None), default=1 << 30))
        if UNCATEGORISED in res.categories:
            order.append(UNCATEGORISED)
        rows = [(c, *res.categories[c]) for c in order] + [("合计", len(res.summed), res.sums)]
        bold = self.f(bold=True)
        for r, (name, count, sums) in enumerate(rows, start=4):
            fmt = bold if name == "合计" else None
            _text(ws, r, 0, name, fmt)
            ws.write_number(r, 1, count, fmt)
            for j, k in enumerate(keys):
                _number(ws, r, 2 + j, sums.get(k, Decimal(0)), fmt)

    # -- 问题清单
    def write_findings(self, ws) -> None:
        res, f = self.res, self.f
        head = f(bold=True, border=1, bg_color="#E7E6E6", align="center")
        for c, (h, w) in enumerate(zip(FINDING_COLUMNS, [24, 30, 8, 6, 6, 28, 18, 8, 8, 10, 10, 80])):
            ws.set_column(c, c, w)
            ws.write_string(0, c, h, head)
        err = f(font_color="#9C0006", bg_color="#FFC7CE", align="center")
        warn = f(font_color="#9C5700", bg_color="#FFEB9C", align="center")
        r = 1

        def put(unit: str, file: str, x) -> None:
            nonlocal r
            row = [unit, file, x.code, None, x.table, x.row, x.column, x.sheet, x.cell,
                   x.expected, x.actual, x.message]
            for c, v in enumerate(row):
                _text(ws, r, c, v)
            ws.write_string(r, 3, x.severity_zh, err if x.is_error else warn)
            r += 1

        for x in res.county.findings:
            put(COUNTY, self.out.name, x)
        for e in res.entries:
            for x in res.findings(e):
                put(e.name, e.file, x)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(r - 1, 1), len(FINDING_COLUMNS) - 1)
        _print_setup(ws)

    # -- machine-readable marks
    def meta(self) -> dict[str, str]:
        res = self.res
        return {"kind": OUTPUT_KIND, **meta_rows(
            self.spec, COUNTY, res.year, units_summed=str(len(res.summed)),
            include_failed="1" if res.include_failed else "0")}

    def write_meta(self, ws) -> None:
        write_meta_sheet(ws, self.meta())

    def write_properties(self) -> None:
        m = self.meta()
        self.wb.set_properties({"title": f"{m['year']}年度汇总", "author": "nianbao",
                                "keywords": m["form_id"],
                                "comments": f"由 nianbao {__version__} 生成的汇总表"})
        self.wb.set_custom_property("nianbao_output", OUTPUT_KIND, "text")
        for k in ("form_id", "form", "version", "unit"):
            self.wb.set_custom_property("nianbao_" + k, m[k], "text")
        if self.res.year is not None:
            self.wb.set_custom_property("nianbao_year", int(self.res.year), "number_int")


def _workbook(path: Path):
    import xlsxwriter

    return xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                           "strings_to_numbers": False})


def _close(wb, out: Path) -> None:
    from xlsxwriter.exceptions import FileCreateError

    try:
        wb.close()
    except FileCreateError as e:  # xlsxwriter wraps the OSError (a full disk…)
        cause = e.__cause__ or e.__context__ or (e.args[0] if e.args else e)
        raise OutputError(f"无法写入 {out}：{getattr(cause, 'strerror', None) or cause}") from None


def write_aggregate(res: Result, out: Path | str, force: bool = False, early: EarlyBook | None = None) -> None:
    """Write the aggregate workbook atomically; OutputError (Chinese) when it cannot be written.
    With ``early`` (opened before the files were read): its 明细 is used when the result
    confirms every row it holds, else it is discarded and the workbook written afresh."""
    out = Path(out)
    if early is not None and early.finish(res):
        return
    with atomic_path(out, force=force) as tmp:
        wb = _workbook(tmp)
        try:
            _Writer(wb, res.spec, out, _has_categories(res.roster)).finish(res, detail_written=False)
        finally:
            _close(wb, out)


def _has_categories(roster) -> bool:
    return roster is not None and roster.has_category


class EarlyBook:
    """The aggregate workbook opened before the files are read, so that 明细 (the big sheet)
    is written while the worker processes read: :func:`aggregate.aggregate` hands it the rows
    in input order with the status each file has when it is read. Only the end can tell
    duplicates and files of another form or year; when any row turns out different (or the
    form differs from the first file's), this book is discarded and the workbook is written
    afresh from the spool, so the output is the same either way."""

    def __init__(self, out: Path | str, force: bool, roster=None):
        self.out, self.force, self.roster = Path(out), force, roster
        self.target: AtomicOutput | None = None
        self.wb = self.writer = None
        self.spec: Spec | None = None
        self.broken = False  # a row could not be written as it will finally read

    def row(self, name: str, category: str, status_zh: str, summed: bool, file: str, form: str,
            vals: tuple) -> bool:
        """Write one row of 明细; False once this book cannot be the output (then no more rows)."""
        if self.broken:
            return False
        spec = get_spec(form)
        if self.writer is None:
            self.spec = spec
            try:
                self.target = AtomicOutput(self.out, self.force)
                self.wb = _workbook(self.target.path)
                self.writer = _Writer(self.wb, spec, self.out, _has_categories(self.roster))
            except OutputError:  # reported when the workbook is written the usual way
                self.discard()
                return False
        if spec is not self.spec:
            self.discard()
            return False
        self.writer.detail_row(name, category, status_zh, summed, file, form, vals)
        return True

    def finish(self, res: Result) -> bool:
        """Write the other sheets and put the workbook in place, when ``res`` confirms every
        row of 明细 written so far (``res.early_detail``); False: nothing was written."""
        if self.writer is None or self.broken or not res.early_detail or res.spec is not self.spec:
            self.discard()
            return False
        try:
            try:
                self.writer.finish(res, detail_written=True)
            finally:
                _close(self.wb, self.out)
            self.target.commit()
        finally:
            self.target.discard()
        return True

    def discard(self) -> None:
        self.broken = True
        if self.target is not None:
            self.target.discard()  # the workbook is never closed: xlsxwriter writes nothing
        self.wb = self.writer = None


# ---------------------------------------------------------------- reading it back
def _sheet_rows(wb, name: str, nrows: int | None = None) -> list[list] | None:
    if name not in wb.sheet_names:
        return None
    return wb.get_sheet_by_name(name).to_python(nrows=nrows) if nrows else wb.get_sheet_by_name(name).to_python()


def is_aggregate(data: bytes) -> bool:
    """Is this package an aggregate written here (custom property nianbao_output=aggregate)?"""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNZIPPED:
                return False
            info = z.getinfo("docProps/custom.xml")
            return info.file_size < 1 << 20 and OUTPUT_KIND.encode() in z.read(info)
    except (KeyError, OSError, zipfile.BadZipFile, ValueError, RuntimeError, EOFError,
            NotImplementedError):
        return False


def read_aggregate(src: Path | str | bytes, display: str = "") -> Previous | None:
    """Last year's county sums and per-unit values from an aggregate workbook written here.

    ``src`` is a path or the workbook's bytes. None when it is not such a workbook."""
    from python_calamine import CalamineWorkbook

    from .normalize import parse_number

    if not isinstance(src, bytes):
        display = display or str(src)
        try:
            src = Path(src).read_bytes()
        except OSError:
            return None
    path = display
    if not is_aggregate(src):
        return None
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(src))
    except Exception:
        return None
    try:
        meta_rows = _sheet_rows(wb, get_spec().workbook["meta_sheet"], 50) or []
        meta = {str(r[0]): str(r[1]) for r in meta_rows if len(r) >= 2}
        if meta.get("kind") != OUTPUT_KIND:
            return None
        try:
            spec = get_spec(meta.get("version", ""))
        except KeyError:
            return None
        year = int(meta["year"]) if meta.get("year", "").isdigit() else None
        rows = _sheet_rows(wb, SUMMARY) or []
        values = {}
        for key, (_, ref) in county_where(spec).items():
            r, c = parse_a1(ref)
            raw = rows[r][c] if r < len(rows) and c < len(rows[r]) else None
            v, _why = parse_number(raw if raw != "" else None)
            values[key] = v
        county = Report(path=str(path), form=spec.version, unit=COUNTY, year=year, values=values,
                        where=county_where(spec), source="aggregate")
        units: dict[str, dict[str, Decimal]] = {}
        detail = _sheet_rows(wb, DETAIL) or []
        if len(detail) > 4:
            header = [str(h) for h in detail[3]]
            keep = prev_cells()
            cols = {h: i for i, h in enumerate(header)}
            name_c, status_c = cols.get(DETAIL_LEAD[0]), cols.get(DETAIL_LEAD[2])
            used = {STATUS_ZH[s] for s in (PASSED, WARNINGS, FAILED)}
            if name_c is not None and status_c is not None:
                for row in detail[4:]:
                    if len(row) <= max(name_c, status_c) or str(row[status_c]) not in used:
                        continue
                    vals = {}
                    for k in keep:
                        i = cols.get(k)
                        if i is not None and i < len(row):
                            v, _why = parse_number(row[i] if row[i] != "" else None)
                            if v is not None:
                                vals[k] = v
                    units[str(row[name_c])] = vals
        return Previous(county=county, units=units, source=str(path))
    finally:
        wb.close()



def read_aggregate_report(item) -> Report | None:
    """The county sums of an aggregate as a Report (unit （汇总）), for readers of any input.

    ``item`` is an ``inputs.Input``; None when it is not an aggregate written here."""
    try:
        data = item.read_bytes()
    except OSError:
        return None
    prev = read_aggregate(data, item.display)
    if prev is None or prev.county is None:
        return None
    r = prev.county
    r.mtime = getattr(item, "mtime", 0.0) or 0.0
    r.where = county_where(get_spec(r.form))
    return r

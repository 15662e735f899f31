"""The aggregate workbook: 汇总, 报送情况, 明细, 问题清单 (+ 分类汇总), written with xlsxwriter.

The 汇总 sheet stacks the three official tables (boxes from ``layout.workbook_layout``) with
the county sums; every summed cell also gets its cell key as a defined name. The big sheets are
written row by row in xlsxwriter's constant-memory mode, so a province's 100,000 units do not
have to fit in memory. The workbook is marked as a nianbao output (custom property) so that a
re-run skips it, and carries a hidden meta sheet so that it can serve as last year's data.
"""

from __future__ import annotations

import math
import os
from decimal import Decimal
from pathlib import Path

from .. import __version__
from ..fileio import AtomicOutput, OutputError, atomic_path
from ..guard import OUTPUT_PROPERTY
from ..layout import Box, col_letter, workbook_layout
from ..spec import Spec, get_spec
from ..template import meta_rows, quote_sheet, write_meta_sheet
from .core import Result
from .sheets import (
    CATEGORIES,
    DETAIL,
    DETAIL_LEAD,
    FINDING_COLUMNS,
    FINDINGS,
    HEAD_ROWS,
    LABEL_ROWS,
    MAX_NAMES_TEXT,
    MAX_URLS,
    OUTPUT_KIND,
    SAFE_INT,
    STATUS_COLOURS,
    STATUS_COLUMNS,
    STATUS_SHEET,
    SUMMARY,
    Formats,
    print_setup,
    screen_only,
    streaming_sheet,
    write_number,
    write_text,
)
from .status import (
    COUNTY,
    FAILED,
    PASSED,
    UNCATEGORISED,
    WARNINGS,
    date_key,
)


# ---------------------------------------------------------------- writer
class _Writer:
    """Writes the sheets. They are added up front (their order is the workbook's): 明细 can
    then be filled while the files are still being read (see :class:`EarlyBook`); the others
    need every file and are written by :meth:`finish`."""

    def __init__(self, wb, spec: Spec, out: Path, categories: bool):
        self.wb, self.spec, self.out, self.f = wb, spec, out, Formats(wb)
        self.res: Result | None = None
        self.summary = wb.add_worksheet(SUMMARY)
        self.tables = [wb.add_worksheet(tl.sheet) for tl in workbook_layout(spec).tables]
        self.status = streaming_sheet(wb, STATUS_SHEET)
        self.detail = streaming_sheet(wb, DETAIL)
        self.issues = streaming_sheet(wb, FINDINGS)
        self.cats = streaming_sheet(wb, CATEGORIES) if categories else None
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
        parts = [
            f"{s.zh} {sum(1 for e in summed if e.status == s)} 个"
            for s in (PASSED, WARNINGS, FAILED)
            if any(e.status == s for e in summed)
        ]
        left = [
            f"{s.zh} {n}"
            for s, n in c.items()
            if n and s not in (PASSED, WARNINGS) and not (s == FAILED and res.include_failed)
        ]
        cov = res.coverage()
        note = f"计入 {cov.summed}/{cov.expected} 个单位（{'、'.join(parts) or '无'}）"
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

    def _table_status(self, tl) -> tuple[str, str]:
        """(text, colour) of a table's check on the county sums."""
        errs = [x for x in self.res.county.findings if x.table == tl.table.name and x.is_error]
        warns = [x for x in self.res.county.findings if x.table == tl.table.name and not x.is_error]
        text = PASSED.zh if not errs else f"{len(errs)} 处不相符（见“{FINDINGS}”）"
        if warns:
            text += f"；{len(warns)} 项提示"
        return text, "#006100" if not errs else "#C00000"

    def write_summary(self, ws) -> None:
        """汇总: whose aggregate, which units it covers, and each table's check with a link to
        the table's own sheet (printed like the template's)."""
        from ..template import page_setup, text_width

        spec, res, f = self.spec, self.res, self.f
        widths = (14.0, 36.0, 60.0)
        for c, w in enumerate(widths):
            ws.set_column(c, c, w)
        title = res.unit + spec.workbook["title"].replace("{year}", str(res.year) if res.year else "    ")
        ws.merge_range(0, 0, 0, 2, f"{title}（{SUMMARY}）", f(font_name="黑体", font_size=16, align="center"))
        ws.set_row(0, 32)
        note, names = self._note()
        for r, text in ((1, note), (2, names)):
            ws.merge_range(r, 0, r, 2, "", f(text_wrap=True))
            ws.write_string(r, 0, text, f(text_wrap=True))
            ws.set_row(r, min(14 * math.ceil(text_width(text) / (sum(widths) - 2)) + 6, 409))
        head = f(bold=True, border=1, bg_color="#E7E6E6", align="center")
        for c, h in enumerate(("表", "汇总校验", "内容（每张表一个工作表，与模板相同，可单独打印）")):
            ws.write_string(4, c, h, head)
        link = f(border=1, font_color="blue", underline=1, align="center")
        r = 4
        for tl, sheet in zip(workbook_layout(spec).tables, self.tables, strict=True):
            r += 1
            ws.write_url(r, 0, f"internal:{quote_sheet(sheet.name)}!A1", link, tl.table.name)
            text, colour = self._table_status(tl)
            ws.write_string(r, 1, text, f(border=1, bold=True, font_color=colour))
            ws.write_string(r, 2, tl.title.text, f(border=1, text_wrap=True))
            self.write_table(sheet, tl)
        page_setup(ws, (0, 0, r, 2), landscape=False, header=res.unit)

    def write_table(self, ws, tl) -> None:
        """One official table with the county sums, where the template has it."""
        from ..template import column_widths, row_heights, table_page_setup

        spec, res, f = self.spec, self.res, self.f
        widths = column_widths(tl)
        wmap = {tl.title.col + i: w for i, w in enumerate(widths)}
        for c, w in wmap.items():
            ws.set_column(c, c, w)
        self._box(ws, tl.title, tl.title.text, f(font_name="黑体", font_size=16, align="center"))
        ws.set_row(tl.title.row, 32)
        label = f(border=1, align="center", text_wrap=True, bg_color="#E7E6E6")
        label_left = f(border=1, align="left", text_wrap=True, bg_color="#E7E6E6")
        ws.write_string(tl.status_label.row, tl.status_label.col, "汇总校验", label)
        text, colour = self._table_status(tl)
        self._box(ws, tl.status, text, f(border=1, bold=True, font_color=colour, align="left"))
        ws.set_row(tl.status.row, 22)
        for b in tl.boxes:
            if b.role != "value":
                left = (b.role == "rowhead" and b.nrows == 1) or b.role == "corner"
                self._box(ws, b, b.text, label_left if left else label)
        heights = row_heights(tl.boxes, wmap)
        for r, h in heights.items():
            ws.set_row(r, h)
        for key, b in tl.values.items():
            kind = spec.kinds[spec.cells[key].kind]
            decimal = not kind.integer
            fmt = f(border=1, align="center", font_size=11, num_format="0.00##" if decimal else "0")
            if b.merged:
                ws.merge_range(b.row, b.col, b.last_row, b.last_col, "", fmt)
            write_number(ws, b.row, b.col, res.sums.get(key, Decimal(0)), fmt)
            self.wb.define_name(key, f"={quote_sheet(ws.name)}!${col_letter(b.col)}${b.row + 1}")
        table_page_setup(ws, tl, widths, heights, header=res.unit)

    @staticmethod
    def _box(ws, b: Box, text: str, fmt) -> None:
        if b.merged:
            ws.merge_range(b.row, b.col, b.last_row, b.last_col, "", fmt)
        write_text(ws, b.row, b.col, text, fmt)

    # -- 报送情况
    def _unit_note(self, e) -> str:
        """The row's remark, and for a unit with errors where error localisation puts them."""
        if e.status != FAILED:
            return e.note
        from ..localize.explain import unit_note

        where = unit_note(self.res.findings(e))
        return "；".join(x for x in (e.note, where) if x)

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
            row = [
                e.name,
                e.category,
                None,
                e.errors,
                e.warnings,
                e.filler,
                e.phone,
                _day(e.date),
                e.file,
                None,
                summed,
                self._unit_note(e),
            ]
            for c, v in enumerate(row):
                if isinstance(v, int):
                    ws.write_number(r, c, v, num)
                elif v is not None:
                    write_text(ws, r, c, v, cell)
            ws.write_string(
                r, 2, e.status_zh, f(border=1, bold=True, align="center", bg_color=bg, font_color=fg)
            )
            if e.annotated:
                target = self._relative(e.annotated)
                if urls < MAX_URLS and len(target) < 2000:
                    ws.write_url(r, 9, "external:" + target, link, Path(e.annotated).name)
                    urls += 1
                else:
                    write_text(ws, r, 9, target, cell)
            else:
                ws.write_blank(r, 9, None, cell)
            if extra and e.roster is not None:
                unit = res.roster.units[e.roster]
                for c, h in enumerate(extra, start=len(STATUS_COLUMNS)):
                    write_text(ws, r, c, unit.get(h, ""), cell)
        ws.freeze_panes(1, 1)
        ws.autofilter(0, 0, max(len(res.entries), 1), len(cols) - 1)
        print_setup(ws, self.res.unit)

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
            screen_only(ws, i, f(bold=True, font_color="#C00000"), f(text_wrap=True, valign="top"))
            write_text(ws, i, n - 1, name, f(bold=True, align="right"))
            for j, k in enumerate(keys):
                cell = spec.cells[k]
                text = (cell.table.name, cell.row_label, cell.col_label)[i]
                write_text(ws, i, n + j, text, lab)
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
                vals = res.value_tuple(e)
                self.detail_row(e.name, e.category, e.status_zh, e.summed, e.file, e.form, vals, e.date)

    def detail_row(
        self,
        name: str,
        category: str,
        status_zh: str,
        summed: bool,
        file: str,
        form: str | None,
        vals: tuple | None,
        date: str = "",
    ) -> None:
        """One row of 明细: who (填报日期 as typed), then the values (of another form's cells: by key)."""
        if not vals:
            return
        ws, r, n = self.detail, self.detail_row_no, len(DETAIL_LEAD)
        for c, v in enumerate((name, category, status_zh, "是" if summed else "否", file, date)):
            write_text(ws, r, c, v)
        if form != self.spec.version:
            by_key = dict(zip(get_spec(form).cells, vals, strict=False))
            vals = tuple(map(by_key.get, self.keys))
        write = ws.write_number
        for c, v in enumerate(vals, n):  # 200,000 cells for 1,000 units: the common case inline
            if type(v) is int and -SAFE_INT < v < SAFE_INT:
                write(r, c, v)
            elif v is not None:
                write_number(ws, r, c, v)
        self.detail_row_no = r + 1

    def write_categories(self, ws) -> None:
        res = self.res
        lead = ["类别", "计入汇总单位数"]
        keys = self._key_header(ws, lead)
        order = [c for c in res.categories if c != UNCATEGORISED]
        order.sort(
            key=lambda c: min(
                (e.roster for e in res.entries if e.category == c and e.roster is not None), default=1 << 30
            )
        )
        if UNCATEGORISED in res.categories:
            order.append(UNCATEGORISED)
        rows = [(c, *res.categories[c]) for c in order] + [("合计", len(res.summed), res.sums)]
        bold = self.f(bold=True)
        for r, (name, count, sums) in enumerate(rows, start=4):
            fmt = bold if name == "合计" else None
            write_text(ws, r, 0, name, fmt)
            ws.write_number(r, 1, count, fmt)
            for j, k in enumerate(keys):
                write_number(ws, r, 2 + j, sums.get(k, Decimal(0)), fmt)

    # -- 问题清单
    def write_findings(self, ws) -> None:
        res, f = self.res, self.f
        head = f(bold=True, border=1, bg_color="#E7E6E6", align="center")
        for c, (h, w) in enumerate(
            zip(FINDING_COLUMNS, [24, 30, 8, 6, 6, 28, 18, 8, 8, 10, 10, 80], strict=False)
        ):
            ws.set_column(c, c, w)
            ws.write_string(0, c, h, head)
        err = f(font_color="#9C0006", bg_color="#FFC7CE", align="center")
        warn = f(font_color="#9C5700", bg_color="#FFEB9C", align="center")
        r = 1

        def put(unit: str, file: str, x) -> None:
            nonlocal r
            row = [
                unit,
                file,
                x.code,
                None,
                x.table,
                x.row,
                x.column,
                x.sheet,
                x.cell,
                x.expected,
                x.actual,
                x.message,
            ]
            for c, v in enumerate(row):
                write_text(ws, r, c, v)
            ws.write_string(r, 3, x.severity_zh, err if x.is_error else warn)
            r += 1

        for x in res.county.findings:
            put(COUNTY, self.out.name, x)
        from ..localize.explain import suggestions_first

        for e in res.entries:
            for x in suggestions_first(res.findings(e)):
                put(e.name, e.file, x)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(r - 1, 1), len(FINDING_COLUMNS) - 1)
        print_setup(ws, self.res.unit)

    # -- machine-readable marks
    def meta(self) -> dict[str, str]:
        res = self.res
        return {
            "kind": OUTPUT_KIND,
            **meta_rows(
                self.spec,
                res.unit or COUNTY,
                res.year,
                include_failed="1" if res.include_failed else "0",
                **res.coverage().to_meta(),
            ),
        }

    def write_meta(self, ws) -> None:
        write_meta_sheet(ws, self.meta())

    def write_properties(self) -> None:
        m = self.meta()
        self.wb.set_properties(
            {
                "title": f"{self.res.unit}{m['year']}年度汇总",
                "company": self.res.unit,
                "author": "nianbao",
                "keywords": m["form_id"],
                "comments": f"由 nianbao {__version__} 生成的汇总表",
            }
        )
        self.wb.set_custom_property(OUTPUT_PROPERTY, OUTPUT_KIND, "text")
        for k in ("form_id", "form", "version", "unit"):
            self.wb.set_custom_property("nianbao_" + k, m[k], "text")
        if self.res.year is not None:
            self.wb.set_custom_property("nianbao_year", int(self.res.year), "number_int")


def _day(text: str) -> str:
    """填报日期 as 2026-01-12 however it was typed (2026.1.12, 2026年1月12日…); 明细 keeps it as typed."""
    day = date_key(text)
    return day.isoformat() if day else text


def _workbook(path: Path):
    import xlsxwriter

    return xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )


def _close(wb, out: Path) -> None:
    from xlsxwriter.exceptions import FileCreateError

    try:
        wb.close()
    except FileCreateError as e:  # xlsxwriter wraps the OSError (a full disk…)
        cause = e.__cause__ or e.__context__ or (e.args[0] if e.args else e)
        raise OutputError(f"无法写入 {out}：{getattr(cause, 'strerror', None) or cause}") from None


def write_aggregate(
    res: Result, out: Path | str, force: bool = False, early: EarlyBook | None = None
) -> None:
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

    def row(
        self,
        name: str,
        category: str,
        status_zh: str,
        summed: bool,
        file: str,
        form: str,
        vals: tuple,
        date: str = "",
    ) -> bool:
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
        self.writer.detail_row(name, category, status_zh, summed, file, form, vals, date)
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

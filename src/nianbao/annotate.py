"""Annotated copies: the department's own workbook with its findings marked cell by cell.

Error cells are filled red and warning cells yellow (only the fill changes), each with a
comment; a first sheet 审核结果 lists every finding with a link to its cell. The input is read
once into memory and never written. Drawings (shapes, text boxes, pictures, charts) are carried
over from the original package unchanged; whatever still cannot be kept is stated on the
审核结果 sheet and returned to the caller.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from datetime import datetime
from pathlib import Path, PurePath

from . import guard, xlsxpkg
from .fileio import OutputError, atomic_path
from .findings import Finding
from .layout import a1, parse_a1
from .model import Report
from .vocab import Mark, Severity, Status

SUMMARY_SHEET = "审核结果"
OUTPUT_PROPERTY = (guard.OUTPUT_PROPERTY, guard.OUTPUT_ANNOTATED)  # marks the copy as nianbao's own
AUTHOR = "nianbao"
ERROR_FILL, WARNING_FILL, PASS_FILL = "FFFF8F8F", "FFFFE966", "FFC6EFCE"
CANDIDATE_FILL = "FFFFC000"  # orange: one of several equally small changes (error localisation)
ROW_ERROR_FILL, ROW_WARNING_FILL = "FFFFD7D7", "FFFFF5C2"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_XLS_CELLS = 2_000_000
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
HEADERS = ["序号", "代码", "级别", "表", "行", "列", "单元格", "应为", "实为", "说明"]
WIDTHS = [14, 8, 6, 7, 26, 14, 16, 9, 9, 50]


class AnnotateError(OutputError):
    """The annotated copy cannot be made; the message is Chinese and names the file."""


def output_name(src_name: str) -> str:
    """``表.xlsx`` -> ``表_审核.xlsx``; ``.xlsm`` stays ``.xlsm``; ``.xls``, ``.et``, ``.ods``…
    become ``.xlsx``."""
    base = re.split(r"[\\/]", src_name)[-1]
    p = PurePath(base)
    ext = ".xlsm" if p.suffix.lower() == ".xlsm" else ".xlsx"
    stem = p.stem if p.suffix.lower() in guard.SPREADSHEET_SUFFIXES else p.name
    return f"{stem}_审核{ext}"


def annotate_workbook(
    src: Path | bytes, src_name: str, report: Report, out_path: Path, *, force: bool = False
) -> list[str]:
    """Write the annotated copy of ``src`` to ``out_path``; return what could not be carried over.

    ``src`` is the input's path or its bytes (read once, never written). The returned Chinese
    notes are also written on the 审核结果 sheet. For an unreadable report
    (``report.unreadable``) nothing is written and ``[]`` is returned: the caller reports the
    file as unreadable. Raises :class:`AnnotateError` (a Chinese message naming the file) when
    the workbook cannot be opened for annotation, and ``fileio.OutputError`` when the output
    exists and ``force`` is false or cannot be written. Macros are kept when ``out_path`` ends
    in ``.xlsm`` (see :func:`output_name`); an .xls input is rebuilt from its values.
    """
    if report.unreadable:
        return []
    out_path = Path(out_path)
    if out_path.exists() and not force:
        raise OutputError(f"输出文件已存在：{out_path}（如需覆盖请加 --force）")
    try:
        data = src if isinstance(src, bytes) else Path(src).read_bytes()
    except OSError as e:
        raise AnnotateError(f"无法读取 {src_name}：{e.strerror or e}") from None
    macro = out_path.suffix.lower() == ".xlsm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fmt = _rebuilt_format(data, src_name)
            if fmt:
                out, notes = _annotate_xls(data, report, src_name, fmt)
            else:
                out, notes = _annotate_xlsx(data, report, src_name, macro, _format_note(src_name))
        except (OutputError, MemoryError):
            raise
        except xlsxpkg.PackageError as e:
            raise AnnotateError(f"无法为 {src_name} 生成审核副本：{e}") from None
        except Exception as e:
            raise AnnotateError(
                f"无法为 {src_name} 生成审核副本：文件内容无法解析（技术信息：{type(e).__name__}）"
            ) from None
    with atomic_path(out_path, force) as tmp:
        tmp.write_bytes(out)
    return notes


# --- the two kinds of input ---------------------------------------------------------------
_FORMAT_ZH = {".et": "WPS 表格（.et）", ".ett": "WPS 表格模板（.ett）", ".ods": "OpenDocument 表格（.ods）"}


def _format_zh(src_name: str) -> str:
    suffix = PurePath(re.split(r"[\\/]", src_name)[-1]).suffix.lower()
    return _FORMAT_ZH.get(suffix, f"{suffix or '无扩展名'}")


def _rebuilt_format(data: bytes, src_name: str) -> str:
    """The format named in the note when the copy is rebuilt from the values (BIFF, OpenDocument,
    .xlsb: what openpyxl cannot open); '' for an OOXML package, annotated in place."""
    if data[:8] == OLE_MAGIC:
        return _format_zh(src_name)
    from .reader import open_package

    with contextlib.suppress(Exception):
        kind = open_package(data).kind
        return {"ods": "OpenDocument 表格（.ods）", "xlsb": "Excel 二进制工作簿（.xlsb）"}.get(kind, "")
    return ""


def _format_note(src_name: str) -> list[str]:
    """An OOXML package under another name (a WPS .et saved as OOXML): say the copy is .xlsx."""
    suffix = PurePath(re.split(r"[\\/]", src_name)[-1]).suffix.lower()
    if suffix in (".xlsx", ".xlsm", ""):
        return []
    return [f"原文件为{_format_zh(src_name)}，审核副本为 .xlsx 格式，可用 WPS 或 Excel 打开"]


def _annotate_xlsx(
    data: bytes, report: Report, src_name: str, macro: bool, first: list[str]
) -> tuple[bytes, list[str]]:
    src = xlsxpkg.Package(data)
    notes: list[str] = xlsxpkg.drop_empty_rows(src)  # a used range of a million rows
    if notes:
        data = xlsxpkg.package_bytes(src)
    before = xlsxpkg.inventory(src)
    before.pop(("", xlsxpkg.VBA_LABEL), None)  # compared byte for byte below
    vba = src.parts.get(xlsxpkg.VBA_PART)
    if vba is not None and not macro:
        notes.append(f"原文件含宏（{xlsxpkg.VBA_PART}），审核副本为 .xlsx 格式，宏未保留")
    drawings = True
    try:
        out = _render(xlsxpkg.without_drawings(src), report, src_name, macro, notes, src, True)
    except xlsxpkg.PackageError:  # drawings could not be carried over: openpyxl alone
        drawings = False
        out = _render(data, report, src_name, macro, notes, src, False)
    result = xlsxpkg.Package(out)
    missing = xlsxpkg.lost(before, xlsxpkg.inventory(result))
    if vba is not None and macro and result.parts.get(xlsxpkg.VBA_PART) != vba:
        missing.append(f"原文件中的宏（{xlsxpkg.VBA_PART}）未能保留")
    if missing or first:
        notes = first + notes + missing
        out = _render(
            xlsxpkg.without_drawings(src) if drawings else data, report, src_name, macro, notes, src, drawings
        )
    return out, notes


def _render(
    data: bytes,
    report: Report,
    src_name: str,
    macro: bool,
    notes: list[str],
    src: xlsxpkg.Package,
    drawings: bool,
) -> bytes:
    """Load ``data`` with openpyxl, mark it, add the summary and save; then carry over from
    ``src`` the formulas' cached results and, with ``drawings``, the drawing parts."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), keep_vba=macro, rich_text=True, data_only=False, keep_links=True)
    drop_live_checks(wb)
    links = mark_cells(wb, report.findings, proposals(report))
    _summary(wb, report, src_name, notes, links)
    buf = io.BytesIO()
    wb.save(buf)
    out = xlsxpkg.Package(buf.getvalue())
    if drawings:
        xlsxpkg.carry_drawings(src, out)
    with contextlib.suppress(Exception):
        xlsxpkg.carry_cached_values(src, out)
    return out.to_bytes()


def _annotate_xls(data: bytes, report: Report, src_name: str, fmt: str = ".xls") -> tuple[bytes, list[str]]:
    from openpyxl import Workbook
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    wb = Workbook()
    wb.remove(wb.active)
    notes = [
        f"原文件为 {fmt} 格式，审核副本为 .xlsx 格式，只保留了各工作表的数值、文字和合并单元格；"
        "原有的格式（字体、边框、列宽等）、公式、图片和形状未能保留"
    ]
    for meta in book.sheets_metadata:
        if "WorkSheet" not in str(meta.typ):
            notes.append(f"原文件中的工作表“{meta.name}”不是普通工作表（如图表工作表），未能保留")
            continue
        sheet = book.get_sheet_by_name(meta.name)
        if sheet.height * sheet.width > MAX_XLS_CELLS:
            raise AnnotateError(f"无法为 {src_name} 生成审核副本：工作表“{meta.name}”过大")
        ws = wb.create_sheet(meta.name[:31])
        if "Visible" not in str(meta.visible):
            ws.sheet_state = "hidden"
        for r, row in enumerate(sheet.to_python(skip_empty_area=False)):
            for c, v in enumerate(row):
                if v != "" and v is not None:
                    put(ws.cell(r + 1, c + 1), v)
        for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or []:
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    links = mark_cells(wb, report.findings, proposals(report))
    _summary(wb, report, src_name, notes, links)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), notes


# --- marking cells ------------------------------------------------------------------------


def _refs(f: Finding) -> list[tuple[str, bool]]:
    """The cells a finding marks: (A1, whether it is about that cell itself)."""
    refs = [(f.cell, True)] if f.cell else []
    if f.code == "NB101":
        refs += [(r, False) for r in f.related]
    elif f.mark == Mark.CANDIDATE:  # every candidate cell of an ambiguous localisation
        refs += [(r, True) for r in f.related]
    return refs


def _fill_of(items: list[tuple[Finding, bool]]) -> str | None:
    """Red for a cell to change (or any other error at it), orange for a candidate, yellow for a
    warning; none for a cell whose relation fails only because of another cell."""
    own = [f for f, main in items if main]
    if any(f.mark == Mark.FIX or (f.is_error and f.mark == Mark.NONE) for f in own):
        return ERROR_FILL
    if any(f.mark == Mark.CANDIDATE for f in own):
        return CANDIDATE_FILL
    if any(f.mark == Mark.NONE for f, _ in items):
        return WARNING_FILL
    return None


def _suggestions_first(findings: list[Finding]) -> list[Finding]:
    from .localize.explain import suggestions_first

    return suggestions_first(findings)


def proposals(report: Report) -> dict[tuple[str, str], list[str]]:
    """(sheet, A1) -> the values the cell takes in the report's minimum sets of changes."""
    from .localize.explain import correction_text

    out: dict[tuple[str, str], list[str]] = {}
    for s in report.corrections:
        for c in s["cells"]:
            text = correction_text(c)
            out.setdefault((c["sheet"], c["cell"]), [])
            if text not in out[(c["sheet"], c["cell"])]:
                out[(c["sheet"], c["cell"])].append(text)
    return out


def _comment_text(items: list[tuple[Finding, bool]], values: list[str]) -> str:
    head = []
    fix = next((f for f, main in items if main and f.mark == Mark.FIX and f.expected), None)
    if fix is not None:
        head.append(f"应改为 {fix.expected}")
    elif any(main and f.mark == Mark.CANDIDATE for f, main in items):
        to = f"改为 {'或'.join(values)}" if values else "改正"
        head.append(f"可能需要{to}（另有其他改法，见下，请核对原始台账）")
    texts = [f.comment() if main else f.comment().split("\n")[0] for f, main in items]
    return "\n\n".join(dict.fromkeys(head + texts))


def mark_cells(wb, findings: list[Finding], values: dict | None = None) -> dict[int, str]:
    """Fill and comment every cell a finding points at; return id(finding) -> link location.
    ``values``: (sheet, A1) -> values proposed by error localisation (see :func:`proposals`)."""
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    targets: dict[tuple[str, str], list[tuple[Finding, bool]]] = {}
    links: dict[int, str] = {}
    for f in findings:
        if not f.sheet or f.sheet not in wb.sheetnames:
            continue
        ws = wb[f.sheet]
        for ref, main in _refs(f):
            cell = _cell(ws, ref)
            if cell is None:
                continue
            targets.setdefault((f.sheet, cell.coordinate), []).append((f, main))
            links.setdefault(id(f), f"{_quote_sheet(f.sheet)}!{cell.coordinate}")
    for (sheet, coord), items in targets.items():
        cell = wb[sheet][coord]
        colour = _fill_of(items)
        if colour is not None:
            cell.fill = PatternFill(fill_type="solid", start_color=colour, end_color=colour)
        text = _comment_text(items, (values or {}).get((sheet, coord), []))
        if cell.comment is not None and cell.comment.author != AUTHOR:
            text += "\n\n—— 原批注 ——\n" + cell.comment.text
        text = clean(text)
        lines = sum(max(1, len(line) // 18 + 1) for line in text.split("\n"))
        cell.comment = Comment(text, AUTHOR, height=min(600, 20 + 17 * lines), width=300)
    return links


def _live_check_re() -> re.Pattern:
    """A template's live relation check: Op.formula of one rule, or OR(...) of several."""
    from .relations import OPS

    fails = "|".join(re.escape(op.fails_when) for op in OPS.values())
    return re.compile(rf"^(?:OR\()?ROUND\(.*\)(?:{fails})\)?$", re.S)


def drop_live_checks(wb) -> int:
    """Remove the template's live relation checks (conditional formats that turn a total red
    while its relation fails) from the copy: a spreadsheet's SUM skips text, so they can paint
    a cell that the findings do not name. The copy's colours are the findings'. Input checks
    (text, negative numbers in a cell) stay: they agree with the findings. Returns how many."""
    from openpyxl.formatting.formatting import ConditionalFormattingList

    live, dropped = _live_check_re(), 0
    for ws in wb.worksheets:
        kept = ConditionalFormattingList()
        for cf in ws.conditional_formatting:
            for rule in cf.rules:
                if rule.type == "expression" and rule.formula and live.match(rule.formula[0]):
                    dropped += 1
                else:
                    kept.add(str(cf.sqref), rule)
        ws.conditional_formatting = kept
    return dropped


def _cell(ws, ref: str):
    """The cell at ``ref`` (first cell of a range); the top-left cell of a merged range."""
    from openpyxl.cell.cell import MergedCell

    try:
        row, col = parse_a1(ref.split(":")[0])
    except ValueError:
        return None
    if row >= 1048576 or col >= 16384:
        return None
    cell = ws.cell(row + 1, col + 1)
    if isinstance(cell, MergedCell):
        for rng in ws.merged_cells.ranges:
            if cell.coordinate in rng:
                return ws.cell(rng.min_row, rng.min_col)
    return cell


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def clean(text) -> str:
    """Text safe for a cell or comment: no XML-illegal control characters, within Excel's limit."""
    return _ILLEGAL.sub("", str(text))[:32767]


def put(cell, value) -> None:
    """Write a value; text always stays text (a leading ``=`` never becomes a formula)."""
    if isinstance(value, str):
        cell.value = clean(value)
        cell.data_type = "s"
    else:
        cell.value = value


# --- the 审核结果 sheet ---------------------------------------------------------------------

_STATUS_LOOK = {  # fill of the status cell and the hint beside it
    Status.FAILED: (ERROR_FILL, "请按下表逐项核对并修改红色单元格后重新报送。"),
    Status.WARNINGS: (WARNING_FILL, "未发现错误；请核实黄色单元格是否确实如此。"),
    Status.PASSED: (PASS_FILL, "未发现任何错误或警告。"),
}


def _form_text(report: Report) -> str:
    from .spec import get_spec

    if not report.form:
        return "未识别"
    try:
        return f"{report.form} 年版（{get_spec(report.form).basis}）"
    except Exception:
        return str(report.form)


def _cover_labels(report: Report) -> tuple[str, str]:
    from .spec import get_spec

    spec = get_spec(report.form)  # no form known: the newest
    return spec.cover_label("unit"), spec.cover_label("year")


LINE_PT = 16.0  # one line of 11 pt text, with room for the CJK fallback fonts of WPS and LibreOffice


def fit_height(cells: list[tuple[object, float]]) -> float:
    """Row height (points) showing every line of wrapped texts in cells of the given widths
    (Excel units): no spreadsheet program grows a row by itself when a file is opened."""
    import math

    from .template import text_width

    def lines(text, width: float) -> int:
        usable = max(width - 1.5, 2.0)
        parts = str("" if text is None else text).split("\n")
        return sum(max(1, math.ceil(text_width(part) * 1.1 / usable)) for part in parts)

    return min(409.0, max(18.0, max((lines(t, w) for t, w in cells), default=1) * LINE_PT + 4))


def _summary(wb, report: Report, src_name: str, notes: list[str], links: dict[int, str]) -> None:
    """The 审核结果 sheet, first and selected: what was checked, the outcome, every finding."""
    from openpyxl.packaging.custom import StringProperty
    from openpyxl.worksheet.properties import PageSetupProperties

    ws = _summary_sheet(wb)
    _summary_head(ws, report, src_name, notes)
    _summary_findings(ws, report, links, top=11)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = 9
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)

    props = wb.custom_doc_props
    if OUTPUT_PROPERTY[0] in props.names:
        del props[OUTPUT_PROPERTY[0]]
    props.append(StringProperty(name=OUTPUT_PROPERTY[0], value=OUTPUT_PROPERTY[1]))


def _fill(colour: str):
    from openpyxl.styles import PatternFill

    return PatternFill(fill_type="solid", start_color=colour, end_color=colour)


def _summary_sheet(wb):
    """A new first sheet (under a free name), the only one selected, with the summary's widths."""
    title = SUMMARY_SHEET
    n = 2
    while title in wb.sheetnames:
        title, n = f"{SUMMARY_SHEET}({n})", n + 1
    ws = wb.create_sheet(title, 0)
    for other in wb.worksheets:
        other.sheet_view.tabSelected = False
    for chart in wb.chartsheets:
        for view in chart.sheetViews.sheetView:
            view.tabSelected = False
    wb.active = 0
    if wb.views:
        wb.views[0].firstSheet = 0
    ws.sheet_view.tabSelected = True
    for i, w in enumerate(WIDTHS):
        ws.column_dimensions[a1(0, i)[:-1]].width = w
    return ws


def _summary_head(ws, report: Report, src_name: str, notes: list[str]) -> None:
    """Rows 1–9: title, how the copy was made, unit, year, form, status, counts, what was lost."""
    from openpyxl.styles import Alignment, Font

    last = a1(0, len(HEADERS) - 1)[:-1]
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top", horizontal="left")

    def line(row: int, label: str, value, merge_from: int = 2) -> None:
        put(ws.cell(row, 1), label)
        ws.cell(row, 1).font = bold
        put(ws.cell(row, 2), value)
        ws.cell(row, 2).alignment = wrap
        ws.merge_cells(f"{a1(row - 1, merge_from - 1)}:{last}{row}")
        ws.row_dimensions[row].height = fit_height([(value, sum(WIDTHS[merge_from - 1 :]))])

    put(ws["A1"], f"审核结果：{src_name}")
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells(f"A1:{last}1")
    put(
        ws["A2"],
        f"由 nianbao 于 {datetime.now():%Y-%m-%d %H:%M} 生成；原文件未作任何修改。"
        "红色单元格为需要改正的错误，橙色单元格为几种可能的改法之一，黄色单元格为警告，"
        "点击下表“单元格”一列可跳转到该单元格；建议的改正列在最前。",
    )
    ws["A2"].font = Font(color="FF666666")
    ws["A2"].alignment = wrap
    ws.merge_cells(f"A2:{last}2")
    ws.row_dimensions[2].height = fit_height([(ws["A2"].value, sum(WIDTHS))])
    unit_label, year_label = _cover_labels(report)
    line(3, unit_label, report.unit or "（未填写）")
    line(4, year_label, str(report.year) if report.year else "（未填写）")
    line(5, "表式", _form_text(report))
    status = report.outcome
    put(ws.cell(6, 1), "审核状态")
    ws.cell(6, 1).font = bold
    put(ws.cell(6, 2), status.zh)
    colour, hint = _STATUS_LOOK.get(status, (ERROR_FILL, ""))
    ws.cell(6, 2).fill = _fill(colour)
    ws.cell(6, 2).font = Font(bold=True, size=12)
    put(ws.cell(6, 3), hint)
    ws.row_dimensions[6].height = fit_height([(hint, sum(WIDTHS[2:]))])
    ws.merge_cells(f"C6:{last}6")
    line(7, Severity.ERROR.zh, f"{report.errors} 条")
    line(8, Severity.WARNING.zh, f"{report.warnings} 条")
    note_text = "\n".join(f"{i}. {n}" for i, n in enumerate(notes, 1)) if notes else "无"
    line(9, "未能保留的内容", note_text)
    if notes:
        ws.cell(9, 2).font = Font(color="FFC00000")


def _summary_findings(ws, report: Report, links: dict[int, str], top: int) -> None:
    """The findings from row ``top`` (suggested changes first), each linked to its cell; a big
    通过 when there are none."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.hyperlink import Hyperlink

    last = a1(0, len(HEADERS) - 1)[:-1]
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top", horizontal="left")
    if not report.findings:
        put(ws.cell(top, 1), "通过：本文件未发现任何错误或警告。")
        ws.cell(top, 1).font = Font(bold=True, size=16, color="FF006100")
        ws.cell(top, 1).fill = _fill(PASS_FILL)
        ws.merge_cells(f"A{top}:{last}{top}")
        ws.row_dimensions[top].height = 30
    else:
        for c, h in enumerate(HEADERS, 1):
            put(ws.cell(top, c), h)
            ws.cell(top, c).font = bold
            ws.cell(top, c).fill = _fill("FFD9D9D9")
        for i, f in enumerate(_suggestions_first(report.findings), 1):
            r = top + i
            where = f"{f.sheet}!{f.cell}" if f.sheet and f.cell else (f.sheet or f.cell)
            row = [
                i,
                f.code,
                f.severity_zh,
                f.table,
                f.row,
                f.column,
                where,
                f.expected or "",
                f.actual or "",
                f.message,
            ]
            for c, v in enumerate(row, 1):
                put(ws.cell(r, c), v)
                ws.cell(r, c).alignment = wrap
            ws.row_dimensions[r].height = fit_height(
                [(ws.cell(r, c).value, w) for c, w in enumerate(WIDTHS, 1)]
            )
            ws.cell(r, 3).fill = _fill(ROW_ERROR_FILL if f.is_error else ROW_WARNING_FILL)
            ws.cell(r, 10).fill = _fill(ROW_ERROR_FILL if f.is_error else ROW_WARNING_FILL)
            loc = links.get(id(f))
            if loc:
                link = ws.cell(r, 7)
                if not where:
                    put(link, loc.replace("'", ""))
                link.hyperlink = Hyperlink(ref=link.coordinate, location=loc, display=link.value)
                link.font = Font(color="FF0563C1", underline="single")
        ws.auto_filter.ref = f"A{top}:{last}{top + len(report.findings)}"
        ws.print_title_rows = f"{top}:{top}"

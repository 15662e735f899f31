"""Annotated copies: marks, 审核结果 sheet, everything else kept, input untouched."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.utils import get_column_letter
from PIL import Image
from typer.testing import CliRunner

from nianbao import annotate as ann
from nianbao import guard, xlsxpkg
from nianbao.annotate import AnnotateError, annotate_workbook, output_name
from nianbao.cli import app
from nianbao.fileio import OutputError
from nianbao.findings import Finding
from nianbao.layout import a1, workbook_layout
from nianbao.model import Report
from nianbao.spec import get_spec

LAYOUT = workbook_layout(get_spec("2021"))
T3 = LAYOUT.table("t3")
NATURAL = T3.values["nb_t3_new_natural"].ref  # D7
COMMERCIAL = T3.values["nb_t3_new_commercial"].ref  # E7
TOTAL = T3.values["nb_t3_new_total"].ref
CARRIED = T3.values["nb_t3_carried_natural"].ref
CARRIED_2 = T3.values["nb_t3_carried_commercial"].ref
CARRIED_3 = T3.values["nb_t3_carried_research"].ref
TITLE_TOP_LEFT = a1(T3.title.row, T3.title.col)
INSIDE_TITLE = a1(T3.title.row, T3.title.col + 2)  # a cell covered by the merged title
assert T3.title.merged and T3.title.last_col >= T3.title.col + 2


def png_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (24, 12), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def build_workbook(
    path: Path, *, vba: bytes | None = None, sparkline: bool = False, summary_clash: bool = False
) -> None:
    """Our layout with a few values, plus the extras a department adds."""
    wb = xlsxwriter.Workbook(str(path))
    bold_num = wb.add_format({"bold": True, "num_format": "#,##0", "border": 1})
    label = wb.add_format({"text_wrap": True})
    cover = wb.add_worksheet(LAYOUT.cover_sheet)
    for _key, (lab, _val) in LAYOUT.cover.items():
        cover.write(lab.row, lab.col, lab.text)
    unit_box = LAYOUT.cover["unit"][1]
    cover.write(unit_box.row, unit_box.col, "某某县教育局")
    for tl in LAYOUT.tables:
        ws = wb.add_worksheet(tl.sheet)
        for b in [*tl.boxes, tl.title]:
            if b.role == "value":
                continue
            if b.merged:
                ws.merge_range(b.row, b.col, b.last_row, b.last_col, b.text, label)
            else:
                ws.write(b.row, b.col, b.text, label)
        for n, box in enumerate(tl.values.values()):
            ws.write_number(box.row, box.col, n % 5, bold_num)
        ws.set_column(0, 0, 33)
        if tl.table.key == "t3":
            ws.insert_textbox(2, 12, "本表由办公室填报，如有疑问请来电", {"width": 260, "height": 60})
            ws.write_comment(CARRIED, "部门原有的批注")
            if sparkline:
                ws.add_sparkline("L7", {"range": f"'{tl.sheet}'!D7:I7"})
    extra = wb.add_worksheet("备注")
    extra.write("A1", "补充说明")
    extra.merge_range("B2:D3", "合并的说明文字")
    extra.set_column("A:A", 41)
    extra.write_formula("A5", "=SUM(1,2)", None, 3)
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"values": "='备注'!$A$5:$A$5"})
    extra.insert_chart("F12", chart)
    extra.insert_image("F2", "logo.png", {"image_data": io.BytesIO(png_bytes())})
    if summary_clash:
        wb.add_worksheet(ann.SUMMARY_SHEET).write("A1", "部门自己的审核结果")
    if vba is not None:
        vba_path = path.with_name("vbaProject.bin")
        vba_path.write_bytes(vba)
        wb.add_vba_project(str(vba_path))
    wb.close()


def findings() -> list[Finding]:
    return [
        Finding(
            code="NB201",
            severity="error",
            table="表三",
            row="一、本年新收政府信息公开申请数量",
            column="总计",
            sheet=T3.sheet,
            cell=TOTAL,
            expected="5",
            actual="4",
            message="表三 “一、本年新收 / 总计” 应为 5（各申请人之和），实为 4",
            related=[NATURAL, COMMERCIAL],
        ),
        Finding(
            code="NB101",
            severity="warning",
            table="表三",
            sheet=T3.sheet,
            cell=CARRIED,
            expected="0",
            actual="",
            message="表三有 3 个空白格按 0 计",
            related=[CARRIED_2, CARRIED_3],
        ),
        # also an error on a cell that already has a warning: error colour wins
        Finding(
            code="NB102",
            severity="error",
            table="表三",
            sheet=T3.sheet,
            cell=CARRIED_2,
            actual="无",
            message="表三 “二、上年结转 / 商业企业” 不是有效数字：无",
        ),
        # inside the merged title: goes to its top-left cell
        Finding(code="NB107", severity="warning", sheet=T3.sheet, cell=INSIDE_TITLE, message="数值格被合并"),
        Finding(code="NB003", severity="error", message="未找到表四“（七）总计”行"),
    ]


def report(fs=None, unit="某某县教育局") -> Report:
    return Report(path="x.xlsx", form="2021", unit=unit, year=2024, findings=findings() if fs is None else fs)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def values(ws) -> dict:
    return {c.coordinate: c.value for row in ws.iter_rows() for c in row if c.value is not None}


def rgb(cell) -> str:
    return cell.fill.fgColor.rgb if cell.fill and cell.fill.fill_type == "solid" else ""


@pytest.fixture
def annotated(tmp_path):
    src = tmp_path / "教育局 报表.xlsx"
    build_workbook(src)
    before = sha(src)
    out = tmp_path / "out" / output_name(src.name)
    notes = annotate_workbook(src, src.name, report(), out)
    assert sha(src) == before
    return src, out, notes


def test_output_name():
    assert output_name("a.xlsx") == "a_审核.xlsx"
    assert output_name("报表.XLSM") == "报表_审核.xlsm"
    assert output_name("旧表.xls") == "旧表_审核.xlsx"
    assert output_name("dir/sub\\单位 一.xlsx") == "单位 一_审核.xlsx"


def test_cells_marked_and_commented(annotated):
    _src, out, _notes = annotated
    assert out.name == "教育局 报表_审核.xlsx" and out.exists()
    ws = openpyxl.load_workbook(out)[T3.sheet]
    assert rgb(ws[TOTAL]) == ann.ERROR_FILL
    assert rgb(ws[CARRIED]) == ann.WARNING_FILL
    assert rgb(ws[CARRIED_3]) == ann.WARNING_FILL  # NB101 related blank cell
    assert rgb(ws[CARRIED_2]) == ann.ERROR_FILL  # warning + error: error wins
    assert rgb(ws[NATURAL]) == ""  # parts of a sum are named, not filled
    text = ws[TOTAL].comment.text
    assert "NB201" in text and "应为：5" in text and "实为：4" in text
    assert NATURAL in text and COMMERCIAL in text
    assert ws[TOTAL].comment.author == "nianbao"
    both = ws[CARRIED_2].comment.text
    assert "NB102" in both and "NB101" in both
    assert "部门原有的批注" in ws[CARRIED].comment.text and "NB101" in ws[CARRIED].comment.text
    assert rgb(ws[TITLE_TOP_LEFT]) == ann.WARNING_FILL and "NB107" in ws[TITLE_TOP_LEFT].comment.text
    # only the fill changed: font, number format and border kept
    assert ws[TOTAL].font.b and ws[TOTAL].number_format == "#,##0"
    assert ws[TOTAL].border.left.style == "thin"


def test_summary_sheet(annotated):
    _, out, _notes = annotated
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "审核结果" and wb.active.title == "审核结果"
    assert [ws.title for ws in wb.worksheets if ws.sheet_view.tabSelected] == ["审核结果"]
    ws = wb["审核结果"]
    col = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(3, 10)}
    assert col["填报单位"] == "某某县教育局" and col["报告年度"] == "2024"
    assert col["审核状态"] == "有错误" and col["错误"] == "3 条" and col["警告"] == "2 条"
    assert "2021" in col["表式"]
    head = next(r for r in range(1, 30) if ws.cell(r, 1).value == "序号")
    assert [c.value for c in ws[head]] == ann.HEADERS
    rows = list(ws.iter_rows(min_row=head + 1, values_only=True))
    assert len(rows) == len(findings()) and [r[1] for r in rows] == [f.code for f in findings()]
    links = {ws.cell(head + i, 2).value: ws.cell(head + i, 7).hyperlink for i in range(1, 6)}
    assert links["NB201"].location == f"'{T3.sheet}'!{TOTAL}"
    assert links["NB107"].location == f"'{T3.sheet}'!{TITLE_TOP_LEFT}"  # merged: top-left cell
    assert links["NB003"] is None
    assert ws.cell(head + 1, 8).value == "5" and ws.cell(head + 1, 9).value == "4"
    assert ws.page_setup.orientation == "landscape"
    assert wb.custom_doc_props["nianbao_output"].value == "annotated"


def test_rest_of_workbook_preserved(annotated):
    src, out, notes = annotated
    a, b = openpyxl.load_workbook(src), openpyxl.load_workbook(out)
    assert b.sheetnames[1:] == a.sheetnames
    for name in a.sheetnames:
        wa, wb_ = a[name], b[name]
        assert values(wa) == values(wb_) and values(wa)
        assert sorted(map(str, wa.merged_cells.ranges)) == sorted(map(str, wb_.merged_cells.ranges))
        for letter, dim in wa.column_dimensions.items():
            assert wb_.column_dimensions[letter].width == dim.width
    assert b["备注"].column_dimensions["A"].width == a["备注"].column_dimensions["A"].width
    assert "B2:D3" in map(str, b["备注"].merged_cells.ranges)
    with zipfile.ZipFile(out) as z:
        media = [n for n in z.namelist() if n.startswith("xl/media/")]
        assert [z.read(n) for n in media] == [png_bytes()]
        drawings = b"".join(z.read(n) for n in z.namelist() if re.match(r"xl/drawings/[^/]+\.xml$", n))
    assert "本表由办公室填报".encode() in drawings  # the text box came through
    assert b["备注"]["A5"].value == "=SUM(1,2)"  # formula kept, and its cached result too:
    from python_calamine import CalamineWorkbook

    assert CalamineWorkbook.from_path(str(out)).get_sheet_by_name("备注").to_python()[4][0] == 3
    assert notes == []


def test_output_package_consistent(annotated):
    _, out, _ = annotated
    pkg = xlsxpkg.Package(out.read_bytes())
    pkg.check_links()
    inv = xlsxpkg.inventory(pkg)
    assert inv[(T3.sheet, "形状/文本框")][0] == 1 and inv[("备注", "图片")][0] == 1
    assert inv[("备注", "图表")][0] == 1
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(out))
    assert book.sheet_names[0] == "审核结果"
    rows = book.get_sheet_by_name(T3.sheet).to_python(skip_empty_area=False)
    assert rows[0][0] == T3.title.text


def test_lost_drawing_is_reported(tmp_path, monkeypatch):
    src = tmp_path / "a.xlsx"
    build_workbook(src)

    def refuse(*a, **k):
        raise xlsxpkg.PackageError("test")

    monkeypatch.setattr(xlsxpkg, "carry_drawings", refuse)
    notes = annotate_workbook(src, src.name, report(), tmp_path / "a_审核.xlsx")
    shape = [n for n in notes if "形状/文本框" in n]
    assert len(shape) == 1 and T3.sheet in shape[0] and "xl/drawings/drawing" in shape[0]
    ws = openpyxl.load_workbook(tmp_path / "a_审核.xlsx")["审核结果"]
    row = next(r for r in range(1, 20) if ws.cell(r, 1).value == "未能保留的内容")
    assert "形状/文本框" in ws.cell(row, 2).value and "未能保留" in ws.cell(row, 2).value
    assert not any("图片" in n for n in notes)  # openpyxl keeps pictures (Pillow installed)
    with zipfile.ZipFile(tmp_path / "a_审核.xlsx") as z:
        assert [z.read(n) for n in z.namelist() if n.startswith("xl/media/")] == [png_bytes()]


def test_sparkline_loss_is_reported(tmp_path):
    src = tmp_path / "a.xlsx"
    build_workbook(src, sparkline=True)
    notes = annotate_workbook(src, src.name, report(), tmp_path / "a_审核.xlsx")
    assert any("迷你图" in n and T3.sheet in n for n in notes)
    assert not any("形状" in n for n in notes)


def test_xlsm_keeps_macros(tmp_path):
    vba = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8
    src = tmp_path / "宏.xlsm"
    build_workbook(src, vba=vba)
    before = sha(src)
    out = tmp_path / output_name(src.name)
    assert out.suffix == ".xlsm"
    notes = annotate_workbook(src.read_bytes(), src.name, report(), out)
    assert sha(src) == before and notes == []
    with zipfile.ZipFile(out) as z:
        assert z.read("xl/vbaProject.bin") == vba
        assert b"macroEnabled" in z.read("[Content_Types].xml")
    # the same file annotated to .xlsx says the macros were not kept
    notes = annotate_workbook(src, src.name, report(), tmp_path / "x.xlsx")
    assert any("宏" in n for n in notes)
    with zipfile.ZipFile(tmp_path / "x.xlsx") as z:
        assert "xl/vbaProject.bin" not in z.namelist()


def test_clean_report_says_passed(tmp_path):
    src = tmp_path / "a.xlsx"
    build_workbook(src)
    annotate_workbook(src, src.name, report([]), tmp_path / "o.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "o.xlsx")["审核结果"]
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c]
    assert "通过" in values and any(str(v).startswith("通过：") for v in values)
    assert "序号" not in values


def test_existing_output_needs_force(tmp_path):
    src = tmp_path / "a.xlsx"
    build_workbook(src)
    out = tmp_path / "a_审核.xlsx"
    out.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="已存在"):
        annotate_workbook(src, src.name, report(), out)
    assert out.read_bytes() == b"keep me"
    annotate_workbook(src, src.name, report(), out, force=True)
    assert zipfile.is_zipfile(out)


def test_user_text_never_becomes_formula(tmp_path):
    src = tmp_path / "a.xlsx"
    build_workbook(src)
    unit = '=HYPERLINK("http://example.invalid","点我")'
    fs = [
        Finding(
            code="NB102",
            severity="error",
            sheet=T3.sheet,
            cell=NATURAL,
            actual="=1+1",
            message="=1+1 不是有效数字\x07",
        )
    ]
    annotate_workbook(src, src.name, report(fs, unit=unit), tmp_path / "o.xlsx")
    with zipfile.ZipFile(tmp_path / "o.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    assert b"HYPERLINK" in sheet and re.search(rb"<f[\s>]", sheet) is None
    ws = openpyxl.load_workbook(tmp_path / "o.xlsx")["审核结果"]
    cells = [c for row in ws.iter_rows() for c in row]
    unit_cell = next(c for c in cells if c.value == unit)
    assert unit_cell.data_type == "s"
    assert any(c.value == "=1+1 不是有效数字" and c.data_type == "s" for c in cells)


def test_existing_summary_sheet_name(tmp_path):
    src = tmp_path / "a.xlsx"
    build_workbook(src, summary_clash=True)
    annotate_workbook(src, src.name, report(), tmp_path / "o.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "o.xlsx")
    assert wb.sheetnames[0] == "审核结果(2)" and wb["审核结果"]["A1"].value == "部门自己的审核结果"


def test_xls_input(tmp_path):
    import xlwt  # a declared test dependency: never a reason to skip

    book = xlwt.Workbook()
    ws = book.add_sheet(T3.sheet)
    ws.write_merge(0, 0, 0, T3.width - 1, T3.title.text)
    r, c = T3.values["nb_t3_new_total"].row, T3.values["nb_t3_new_total"].col
    ws.write(r, c, 4)
    book.add_sheet("备注").write(1, 1, "=不是公式")
    src = tmp_path / "旧表.xls"
    book.save(str(src))
    before = sha(src)
    out = tmp_path / output_name(src.name)
    notes = annotate_workbook(src, src.name, report(findings()[:1]), out)
    assert sha(src) == before and out.suffix == ".xlsx"
    assert any(".xls" in n and "格式" in n for n in notes)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["审核结果", T3.sheet, "备注"]
    assert wb[T3.sheet][TOTAL].value == 4 and rgb(wb[T3.sheet][TOTAL]) == ann.ERROR_FILL
    assert {str(r) for r in wb[T3.sheet].merged_cells.ranges} == {f"A1:{get_column_letter(T3.width)}1"}
    assert wb["备注"]["B2"].value == "=不是公式" and wb["备注"]["B2"].data_type == "s"
    summary = [c for row in wb["审核结果"].iter_rows(values_only=True) for c in row if c]
    assert any(".xls" in str(v) for v in summary)


def test_unreadable_report_writes_nothing(tmp_path):
    rep = report([])
    rep.unreadable = True
    out = tmp_path / "o.xlsx"
    assert annotate_workbook(b"garbage", "a.xlsx", rep, out) == []
    assert not out.exists()


def test_broken_or_oversized_input(tmp_path, monkeypatch):
    out = tmp_path / "o.xlsx"
    with pytest.raises(AnnotateError, match=r"坏\.xlsx"):
        annotate_workbook(b"PK\x03\x04 not really a zip", "坏.xlsx", report(), out)
    src = tmp_path / "a.xlsx"
    build_workbook(src)
    monkeypatch.setattr(guard, "MAX_XML_BYTES", 1000)
    with pytest.raises(AnnotateError, match="过大"):
        annotate_workbook(src, src.name, report(), out)
    assert not out.exists() and not list(tmp_path.glob(".~nianbao-*"))


def test_far_cell_and_long_text(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = T3.sheet
    ws["XFD1048576"] = 1
    ws[TOTAL] = "长" * 10_000
    src = tmp_path / "远.xlsx"
    wb.save(src)
    fs = [
        Finding(
            code="NB102",
            severity="error",
            sheet=T3.sheet,
            cell=TOTAL,
            actual="长" * 10_000,
            message="不是有效数字：" + "长" * 10_000,
        ),
        Finding(code="NB102", severity="error", sheet=T3.sheet, cell="XFD1048576", message="远"),
    ]
    annotate_workbook(src, src.name, report(fs), tmp_path / "o.xlsx")
    out = openpyxl.load_workbook(tmp_path / "o.xlsx")
    assert out[T3.sheet]["XFD1048576"].value == 1 and rgb(out[T3.sheet]["XFD1048576"]) == ann.ERROR_FILL
    assert out[T3.sheet][TOTAL].value == "长" * 10_000 and rgb(out[T3.sheet][TOTAL]) == ann.ERROR_FILL


def test_ole_that_is_not_xls(tmp_path):
    with pytest.raises(AnnotateError, match=r"加密\.xlsx"):
        annotate_workbook(ann.OLE_MAGIC + bytes(4096), "加密.xlsx", report(), tmp_path / "o.xlsx")
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------- 审核结果 shows every line
def _annotated_with_long_explanations(tmp_path: Path) -> list[Path]:
    from nianbao.samples import ERROR_CASES, build_samples

    build_samples(tmp_path / "in")
    srcs = [tmp_path / "in" / f"{stem}.xlsx" for stem in ERROR_CASES]
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["annotate", *map(str, srcs), "--out-dir", str(out)])
    assert res.exit_code == 1, res.output
    return sorted(out.iterdir())


@pytest.mark.slow
def test_result_rows_are_as_tall_as_their_wrapped_text(tmp_path):
    """Rows of default height clip wrapped explanations (…应为 359（六类申): every row of
    审核结果 is given the height of its longest text at the column's width."""
    import math

    copies = _annotated_with_long_explanations(tmp_path)
    checked = 0
    for path in copies:
        ws = openpyxl.load_workbook(path)[ann.SUMMARY_SHEET]
        top = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == ann.HEADERS[0])
        width = ws.column_dimensions[get_column_letter(len(ann.HEADERS))].width
        for r in range(top + 1, ws.max_row + 1):
            message = str(ws.cell(r, len(ann.HEADERS)).value or "")
            lines = math.ceil(len(message) * 2 / width)  # CJK characters take two units
            height = ws.row_dimensions[r].height
            assert height is not None and height >= 14 * lines, (path.name, r, height, message)
            checked += lines > 1
    assert checked, "the fixture must have explanations longer than one line"


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="需要 LibreOffice")
def test_result_explanations_print_in_full_in_libreoffice(tmp_path):
    """LibreOffice prints (PDF) every explanation of 审核结果 whole: no line is clipped."""
    copies = _annotated_with_long_explanations(tmp_path)
    cmd = ["soffice", f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless"]
    cmd += ["--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), *map(str, copies)]
    assert subprocess.run(cmd, capture_output=True, timeout=180).returncode == 0
    for path in copies:
        pdf = tmp_path / "pdf" / f"{path.stem}.pdf"
        raw = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True).stdout
        printed = re.sub(r"\s+", "", raw)
        ws = openpyxl.load_workbook(path)[ann.SUMMARY_SHEET]
        top = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == ann.HEADERS[0])
        for r in range(top + 1, ws.max_row + 1):
            message = re.sub(r"\s+", "", str(ws.cell(r, len(ann.HEADERS)).value or ""))
            assert message in printed, (path.name, message)

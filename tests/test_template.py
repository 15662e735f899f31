"""The template workbook, reopened with openpyxl and checked against the spec and its layout."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from typer.testing import CliRunner

from conftest import consistent_values
from nianbao import __version__
from nianbao.checks import evaluate
from nianbao.cli import app
from nianbao.layout import Box, a1, workbook_layout
from nianbao.model import Report
from nianbao.roster import NAME, RosterError, read_roster, safe_filename
from nianbao.spec import get_spec
from nianbao.template import PASS, PROP_PREFIX, write_template

UNIT = "绥阳县司法局"


def wrong_values(spec, seed: int = 0) -> dict:
    """A consistent report with the target of the first error rule of each table raised by 1."""
    values = consistent_values(spec, seed)
    done = set()
    for rule in spec.rules:
        if rule.severity == "error" and not rule.uses_previous and rule.table.key not in done:
            values[rule.target] += 1
            done.add(rule.table.key)
    return values


def failing_relations(spec, values: dict, table_key: str) -> int:
    """Independent count (nianbao.checks) of the error rules of a table that fail."""
    report = Report(path="x", values={k: Decimal(str(v)) for k, v in values.items()})
    return sum(
        1
        for r in spec.rules
        if r.table.key == table_key
        and r.severity == "error"
        and not r.uses_previous
        and not evaluate(r, report)[2]
    )


def _range(b: Box) -> str:
    return a1(b.row, b.col) if not b.merged else f"{a1(b.row, b.col)}:{a1(b.last_row, b.last_col)}"


def _dv_for(ws, ref: str):
    found = [dv for dv in ws.data_validations.dataValidation if ref in dv.sqref]
    assert len(found) == 1, f"{ws.title}!{ref}: {len(found)} validations"
    return found[0]


def _cf_rules(ws, ref: str) -> list:
    return [r for cf in ws.conditional_formatting if ref in cf.sqref for r in cf.rules]


@pytest.fixture
def book(spec, tmp_path):
    path = tmp_path / "模板.xlsx"
    write_template(path, spec, unit=UNIT, year=2025)
    return spec, openpyxl.load_workbook(path)


@pytest.mark.slow
def test_sheet_order_and_meta_sheet(book):
    spec, wb = book
    lay = workbook_layout(spec)
    wbk = spec.workbook
    assert wb.sheetnames == (
        [lay.cover_sheet] + [t.sheet for t in lay.tables] + [wbk["notes_sheet"], wbk["meta_sheet"]]
    )
    meta_ws = wb[wbk["meta_sheet"]]
    assert meta_ws.sheet_state == "hidden"
    assert all(wb[n].sheet_state == "visible" for n in wb.sheetnames[:-1])
    meta = {r[0]: r[1] for r in meta_ws.iter_rows(values_only=True)}
    assert meta["form_id"] == spec.form_id and meta["version"] == spec.version
    assert meta["form"] == spec.form and meta["spec_digest"] == spec.digest
    assert meta["unit"] == UNIT and meta["year"] == "2025"
    assert meta["generator"] == f"nianbao {__version__}" and meta["created"]
    props = {p.name: p.value for p in wb.custom_doc_props.props}
    assert props[PROP_PREFIX + "form_id"] == spec.form_id
    assert props[PROP_PREFIX + "version"] == spec.version
    assert props[PROP_PREFIX + "spec_digest"] == spec.digest
    assert props[PROP_PREFIX + "unit"] == UNIT and props[PROP_PREFIX + "year"] == 2025


def _spec_labels(table) -> set[str]:
    """Every label the spec's header trees, section titles and corner notes hold for ``table``."""
    return table.labels()


def test_labels_and_merges_follow_layout(book):
    spec, wb = book
    for tl in workbook_layout(spec).tables:
        ws = wb[tl.sheet]
        # the layout places every label of the spec, and nothing else, on the sheet
        assert {b.text for b in tl.boxes if b.role != "value" and b.text} == _spec_labels(tl.table)
        assert tl.title.text == tl.table.title
        written = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
        assert _spec_labels(tl.table) <= written
        expected_merges = set()
        for b in [*tl.boxes, tl.title, tl.status_label, tl.status]:
            if b.role not in ("value", "status"):
                assert ws.cell(b.row + 1, b.col + 1).value == b.text, (tl.sheet, b)
            if b.merged:
                expected_merges.add(_range(b))
        assert {str(r) for r in ws.merged_cells.ranges} == expected_merges
        # explicit row heights and column widths leave room for every label (LibreOffice does
        # not autofit): lines available x width per line >= width of the label
        for b in tl.boxes:
            if not b.text:
                continue
            height = sum(ws.row_dimensions[r + 1].height or 0 for r in range(b.row, b.last_row + 1))
            width = sum(_width(ws, c) for c in range(b.col, b.last_col + 1))
            lines = int(height // 13)
            assert lines >= 1, (tl.sheet, b)
            units = sum(2 if ord(ch) >= 0x2E80 else 1 for ch in b.text)  # CJK glyphs are double
            assert lines * (width - 1.5) >= units, (tl.sheet, b, height, width)


def _width(ws, col: int) -> float:
    """Width of 0-based column ``col`` (openpyxl keeps grouped <col min max> under the first)."""
    for dim in ws.column_dimensions.values():
        if dim.min and dim.max and dim.min <= col + 1 <= dim.max and dim.customWidth:
            return dim.width
    raise AssertionError(f"{ws.title}: column {col} has no explicit width")


@pytest.mark.slow
def test_value_cells_unlocked_validated_named(book):
    spec, wb = book
    lay = workbook_layout(spec)
    for tl in lay.tables:
        ws = wb[tl.sheet]
        assert ws.protection.sheet and ws.protection.password is None
        assert ws.protection.formatColumns is False  # False = formatting allowed
        for b in tl.boxes:
            cell = ws.cell(b.row + 1, b.col + 1)
            if b.role != "value":
                assert cell.protection.locked, (tl.sheet, b)
                continue
            assert not cell.protection.locked, (tl.sheet, b)
            assert cell.fill.fgColor.rgb not in (None, "00000000")
            kind = spec.kinds[spec.cells[b.key].kind]
            dv = _dv_for(ws, b.ref)
            assert dv.showErrorMessage and dv.errorTitle and dv.error and dv.prompt
            if kind.integer and kind.min is not None:
                assert (dv.type, dv.operator, dv.formula1) == (
                    "whole",
                    "greaterThanOrEqual",
                    str(kind.min),
                )
            elif kind.integer:
                assert dv.type == "whole" and dv.operator in (None, "between")
                assert int(dv.formula1) < 0 < int(dv.formula2)
            else:
                assert dv.type == "custom"
                assert f"ROUND({b.ref},{kind.places})" in dv.formula1
                assert f"{b.ref}>={kind.min}" in dv.formula1
            dest = list(wb.defined_names[b.key].destinations)
            assert dest == [(tl.sheet, "$" + "$".join(_split(b.ref)))]
    names = {n for n in wb.defined_names}
    assert set(spec.cells) <= names
    assert {f"nb_cover_{k}" for k in lay.cover} <= names
    for n in wb.sheetnames:
        assert wb[n].protection.sheet


def _split(ref: str) -> tuple[str, str]:
    i = next(i for i, ch in enumerate(ref) if ch.isdigit())
    return ref[:i], ref[i:]


@pytest.mark.slow
def test_live_checks_formulas(book):
    spec, wb = book
    for tl in workbook_layout(spec).tables:
        ws = wb[tl.sheet]
        status = ws.cell(tl.status.row + 1, tl.status.col + 1).value
        assert status.startswith("=IF(") and PASS in status
        for rule in spec.rules:
            if rule.table.key != tl.table.key or rule.uses_previous:
                continue
            ref = tl.values[rule.target].ref
            formulas = [f for r in _cf_rules(ws, ref) for f in r.formula]
            assert any("ROUND(SUM(" in f for f in formulas), (rule.code, ref)
        for b in tl.values.values():
            assert any("ISNUMBER" in f for r in _cf_rules(ws, b.ref) for f in r.formula)


@pytest.mark.slow
def test_print_setup(book):
    spec, wb = book
    for tl in workbook_layout(spec).tables:
        ws = wb[tl.sheet]
        assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert (ws.page_setup.fitToWidth or 1) == 1
        assert ws.print_options.horizontalCentered
        hdr = sorted(tl.header_rows)
        if hdr == list(range(hdr[0], hdr[-1] + 1)):
            assert ws.print_title_rows == f"${hdr[0] + 1}:${hdr[-1] + 1}"
            assert ws.freeze_panes == a1(hdr[-1] + 1, min(b.col for b in tl.values.values()))
        else:  # header rows between blocks (表二) cannot repeat: the table prints on one page
            assert int(ws.page_setup.fitToHeight or 1) == 1 and ws.print_title_rows is None
        c = ws.cell(tl.boxes[0].row + 1, tl.boxes[0].col + 1)
        assert c.font.name == "宋体"


@pytest.mark.slow
def test_cover_block(book, tmp_path):
    spec, wb = book
    lay = workbook_layout(spec)
    ws = wb[lay.cover_sheet]
    cells = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    unit_label = cells[spec.cover_label("unit")]
    right = ws.cell(unit_label.row, unit_label.column + 1)
    assert right.value == UNIT and right.protection.locked
    year_label = cells[spec.cover_label("year")]
    right = ws.cell(year_label.row, year_label.column + 1)
    assert right.value == 2025 and right.protection.locked
    for key, (lab, val) in lay.cover.items():
        assert ws.cell(lab.row + 1, lab.col + 1).value == spec.cover_label(key)
        if key not in ("unit", "year"):
            assert not ws.cell(val.row + 1, val.col + 1).protection.locked
    # without a pre-filled unit the value cell is open for typing
    path = tmp_path / "blank.xlsx"
    write_template(path, spec)
    ws2 = openpyxl.load_workbook(path)[lay.cover_sheet]
    lab, val = lay.cover["unit"]
    assert ws2.cell(val.row + 1, val.col + 1).value is None
    assert not ws2.cell(val.row + 1, val.col + 1).protection.locked


@pytest.mark.slow
def test_filled_values_and_cached_status(spec, tmp_path):
    lay = workbook_layout(spec)
    good, bad = consistent_values(spec, 3), wrong_values(spec, 3)
    for name, values in (("good", good), ("bad", bad)):
        path = tmp_path / f"{name}.xlsx"
        write_template(path, spec, values=values, cover={"filler": "张三"})
        wb = openpyxl.load_workbook(path, data_only=True)
        for tl in lay.tables:
            ws = wb[tl.sheet]
            for key, b in tl.values.items():
                assert Decimal(str(ws.cell(b.row + 1, b.col + 1).value)) == Decimal(str(values[key]))
            n = failing_relations(spec, values, tl.table.key)
            status = ws.cell(tl.status.row + 1, tl.status.col + 1).value
            assert status == (PASS if n == 0 else f"有{n}处勾稽关系不符")
            if name == "bad" and any(
                r.severity == "error" for r in spec.rules if r.table.key == tl.table.key
            ):
                assert n >= 1


@pytest.mark.slow
def test_blank_and_partly_filled_templates_do_not_read_pass(spec, tmp_path):
    """An untouched table says 未填写 (not 通过); a partly filled one says how many cells are left."""
    lay = workbook_layout(spec)
    path = tmp_path / "t.xlsx"
    write_template(path, spec)
    wb = openpyxl.load_workbook(path, data_only=True)
    for tl in lay.tables:
        assert wb[tl.sheet].cell(tl.status.row + 1, tl.status.col + 1).value == "未填写"
    values = consistent_values(spec, 2)
    t = lay.tables[-1]
    left = sorted(t.values)[:3]
    for key in left:
        values[key] = None
    path = tmp_path / "partly.xlsx"
    write_template(path, spec, values=values)
    wb = openpyxl.load_workbook(path, data_only=True)
    status = wb[t.sheet].cell(t.status.row + 1, t.status.col + 1).value
    assert status.startswith("尚有3格未填"), status
    formula = openpyxl.load_workbook(path)[t.sheet].cell(t.status.row + 1, t.status.col + 1).value
    assert "未填写" in formula and "格未填" in formula and PASS in formula


def test_text_value_counts_as_invalid(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, 1)
    key = next(c.key for c in spec.table("t2").cells)
    values[key] = "无"
    path = tmp_path / "t.xlsx"
    write_template(path, spec, values=values)
    wb = openpyxl.load_workbook(path, data_only=True)
    tl = workbook_layout(spec).table("t2")
    assert wb[tl.sheet].cell(tl.status.row + 1, tl.status.col + 1).value == "有1格填写有误"


def test_password_and_unknown_key(tmp_path):
    spec = get_spec("2021")
    path = tmp_path / "p.xlsx"
    write_template(path, spec, password="abc")
    wb = openpyxl.load_workbook(path)
    assert wb[spec.tables[0].sheet].protection.password
    with pytest.raises(KeyError):
        write_template(tmp_path / "q.xlsx", spec, values={"nb_nope": 1})


# ---------------------------------------------------------------- roster
ROSTER_UNITS = ["绥阳县司法局", "县委办/县政府办", "绥阳县教育局"]


def _xlsx_roster(path: Path, header_row: int = 1) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名单")
    ws.write_row(0, 0, ["绥阳县 2025 年单位名单"])
    ws.write_row(header_row, 0, ["序号", NAME, "别名", "类别"])
    for i, u in enumerate(ROSTER_UNITS):
        ws.write_row(header_row + 1 + i, 0, [i + 1, u, "", "部门"])
    ws.write_row(header_row + 1 + len(ROSTER_UNITS), 0, [None, None])
    wb.close()
    return path


def test_read_roster_xlsx_and_csv(tmp_path):
    units = read_roster(_xlsx_roster(tmp_path / "名单.xlsx"))
    assert [u[NAME] for u in units] == ROSTER_UNITS
    assert units[0]["序号"] == "1" and units[0]["类别"] == "部门"
    for enc in ("utf-8-sig", "gbk"):
        p = tmp_path / f"名单-{enc}.csv"
        with p.open("w", encoding=enc, newline="") as f:
            w = csv.writer(f)
            w.writerow([NAME, "类别"])
            for u in ROSTER_UNITS:
                w.writerow([u, "乡镇"])
        assert [u[NAME] for u in read_roster(p)] == ROSTER_UNITS


def test_read_roster_errors(tmp_path):
    p = tmp_path / "坏名单.csv"
    p.write_text("名称,类别\n甲,乙\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"坏名单\.csv.*单位名称"):
        read_roster(p)
    with pytest.raises(RosterError, match="找不到"):
        read_roster(tmp_path / "nope.xlsx")
    q = tmp_path / "x.txt"
    q.write_text("单位名称\n甲\n", encoding="utf-8")
    with pytest.raises(RosterError, match="格式不支持"):
        read_roster(q)
    d = tmp_path / "dup.csv"
    d.write_text("单位名称\n甲\n甲\n", encoding="utf-8")
    with pytest.raises(RosterError, match="重复"):
        read_roster(d)


def test_safe_filename():
    assert safe_filename("县委办/县政府办") == "县委办_县政府办"
    assert safe_filename('a<b>c:d"e\\f|g?h*') == "a_b_c_d_e_f_g_h_"
    assert safe_filename("CON") == "_CON"
    assert safe_filename("名称. ") == "名称"


# ---------------------------------------------------------------- CLI
runner = CliRunner()


@pytest.mark.slow
def test_cli_single_file(tmp_path):
    out = tmp_path / "模板.xlsx"
    args = ["template", "-o", str(out), "--year", "2025", "--unit", UNIT]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert out.exists() and "已生成模板" in r.output
    before = out.read_bytes()
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "已存在" in r.output and "--force" in r.output
    assert out.read_bytes() == before
    r = runner.invoke(app, [*args, "--force"])
    assert r.exit_code == 0
    wb = openpyxl.load_workbook(out)
    assert {p.name: p.value for p in wb.custom_doc_props.props}[PROP_PREFIX + "version"] == "2021"


def test_cli_form_2019_and_usage_errors(tmp_path):
    out = tmp_path / "t19.xlsx"
    r = runner.invoke(app, ["template", "-o", str(out), "--form", "2019", "--deadline", "2026年1月15日"])
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    spec = get_spec("2019")
    meta = {row[0]: row[1] for row in wb[spec.workbook["meta_sheet"]].iter_rows(values_only=True)}
    assert meta["version"] == "2019"
    notes = [c.value for row in wb[spec.workbook["notes_sheet"]].iter_rows() for c in row if c.value]
    assert any("2026年1月15日" in str(v) for v in notes)
    assert runner.invoke(app, ["template"]).exit_code == 2
    r = runner.invoke(app, ["template", "-o", str(tmp_path / "a.txt")])
    assert r.exit_code == 2 and ".xlsx" in r.output
    assert runner.invoke(app, ["template", "-o", str(tmp_path / "b.xlsx"), "--year", "25"]).exit_code == 2
    r = runner.invoke(app, ["template", "--roster", str(tmp_path / "名单.xlsx")])
    assert r.exit_code == 2 and "--out-dir" in r.output


@pytest.mark.slow
def test_cli_roster(tmp_path):
    roster = _xlsx_roster(tmp_path / "名单.xlsx")
    out_dir = tmp_path / "模板"
    r = runner.invoke(app, ["template", "--roster", str(roster), "--out-dir", str(out_dir), "--year", "2025"])
    assert r.exit_code == 0, r.output
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == sorted(safe_filename(u) + ".xlsx" for u in ROSTER_UNITS)
    spec = get_spec("2021")
    _lab, val = workbook_layout(spec).cover["unit"]
    for u in ROSTER_UNITS:
        ws = openpyxl.load_workbook(out_dir / (safe_filename(u) + ".xlsx"))[spec.workbook["cover"]["sheet"]]
        assert ws.cell(val.row + 1, val.col + 1).value == u
        assert ws.cell(val.row + 1, val.col + 1).protection.locked
    # second run refuses to overwrite, names the files
    r = runner.invoke(app, ["template", "--roster", str(roster), "--out-dir", str(out_dir)])
    assert r.exit_code == 2 and "已存在" in r.output


def test_cli_roster_csv_and_bad_roster(tmp_path):
    p = tmp_path / "名单.csv"
    p.write_text(NAME + "\n" + "\n".join(ROSTER_UNITS) + "\n", encoding="gbk")
    r = runner.invoke(app, ["template", "--roster", str(p), "--out-dir", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "o").glob("*.xlsx"))) == len(ROSTER_UNITS)
    bad = tmp_path / "坏名单.xlsx"
    bad.write_bytes(b"not a workbook")
    r = runner.invoke(app, ["template", "--roster", str(bad), "--out-dir", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "坏名单.xlsx" in r.output and "Traceback" not in r.output

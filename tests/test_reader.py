"""Reading returned workbooks: our template (fast path), hand-made layouts (label search),
the 2019 form, .xls, numbers typed as text, bad values, formulas, and hostile files."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import FORMS, consistent_values, report_year
from nianbao.checks import run_checks
from nianbao.inputs import collect
from nianbao.layout import a1, workbook_layout
from nianbao.normalize import label_matches, norm_label, parse_number
from nianbao.reader import (
    MAX_PART_BYTES,
    MAX_ROWS,
    read_report,
    read_workbook,
    shift_formula,
    unit_from_filename,
)
from nianbao.spec import get_spec
from nianbao.template import write_template

S21, S19 = get_spec("2021"), get_spec("2019")


def read(path: Path):
    col = collect([path])
    assert len(col.items) == 1, (col.skipped, col.unsupported)
    before = path.read_bytes()
    report = read_report(col.items[0])
    assert path.read_bytes() == before  # inputs are never modified
    return report


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


def layout_refs(spec) -> dict[str, tuple[str, str]]:
    lay = workbook_layout(spec)
    return {k: (tl.sheet, b.ref) for tl in lay.tables for k, b in tl.values.items()}


# ---- a hand-made workbook: ASCII punctuation, spaces, own sheets, inserted row/column ----

ASCII = str.maketrans({"（": "(", "）": ")", "：": ":", "，": ","})


def mangle(text: str) -> str:
    t = text.translate(ASCII)
    return t[:2] + " " + t[2:] if len(t) > 3 else t


def handmade(
    spec, values: dict, *, one_sheet: bool = False, order=None, cover=None, drop_labels=(), formulas=None
):
    """Cells of a workbook rebuilt by hand from the published format.

    Returns (sheets: name -> {(row, col): value}, merges: name -> [(r0, c0, r1, c1)],
    where: cell key -> (sheet, A1)). The tables go on their own sheets in reverse order (or on
    one sheet), labels use ASCII punctuation with a stray space, and every table gets an extra
    blank row (after its second row) and an extra blank column B. No metadata.
    """
    lay = workbook_layout(spec)
    sheets: dict[str, dict] = {"封面": {}}
    merges: dict[str, list] = {"封面": []}
    for i, (k, v) in enumerate((cover or {}).items()):
        sheets["封面"][(i, 0)] = spec.cover_label(k) + "："
        sheets["封面"][(i, 1)] = v
    tables = list(lay.tables)[::-1] if order is None else [lay.table(k) for k in order]
    where, base = {}, 0
    for tl in tables:
        name = "数据" if one_sheet else f"Sheet{len(sheets)}"
        cells = sheets.setdefault(name, {})
        ml = merges.setdefault(name, [])
        top = tl.first_row

        def R(r, base=base, top=top):
            return base + 2 + (r - top) + (1 if r - top >= 2 else 0)

        def C(c):
            return c + (1 if c >= 1 else 0)

        cells[(base, 0)] = mangle(tl.table.title)
        for b in tl.boxes:
            if b.role == "value" or b.text in drop_labels:
                continue
            cells[(R(b.row), C(b.col))] = mangle(b.text)
            if b.merged:
                ml.append((R(b.row), C(b.col), R(b.last_row), C(b.last_col)))
        for key, b in tl.values.items():
            pos = (R(b.row), C(b.col))
            where[key] = (name, a1(*pos))
            if values.get(key) is not None:
                cells[pos] = values[key]
        if formulas:
            for key, text in formulas.items():
                if key in tl.values:
                    b = tl.values[key]
                    cells[(R(b.row), C(b.col))] = "=" + re.sub(
                        r"\{(\w+)\}", lambda m: where[m.group(1)][1], text
                    )
        if one_sheet:
            base = R(tl.last_row) + 3
    return sheets, merges, where


def save_openpyxl(path: Path, sheets: dict, merges: dict) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cells in sheets.items():
        ws = wb.create_sheet(name)
        for (r, c), v in cells.items():
            ws.cell(r + 1, c + 1, float(v) if isinstance(v, Decimal) else v)
        for r0, c0, r1, c1 in merges.get(name, []):
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
    wb.save(path)
    return path


def save_xlwt(path: Path, sheets: dict, merges: dict) -> Path:
    import xlwt  # a declared test dependency: never a reason to skip

    wb = xlwt.Workbook(encoding="utf-8")
    for name, cells in sheets.items():
        ws = wb.add_sheet(name)
        covered = set()
        for r0, c0, r1, c1 in merges.get(name, []):
            v = cells.get((r0, c0), "")
            ws.write_merge(r0, r1, c0, c1, v)
            covered.update((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1))
        for (r, c), v in cells.items():
            if (r, c) not in covered:
                ws.write(r, c, float(v) if isinstance(v, Decimal) else v)
    wb.save(str(path))
    return path


def numbered(spec) -> dict:
    """Distinct numbers in every value cell (decimals where the kind allows them)."""
    out = {}
    for i, (k, cell) in enumerate(spec.cells.items()):
        integer = spec.kinds[cell.kind].integer
        out[k] = i + 1 if integer else Decimal(f"{i + 1}.25")
    return out


# ---- the fast path -----------------------------------------------------------------------


@pytest.mark.parametrize("version", FORMS)
def test_template_fast_path_exact_values_and_cells(tmp_path, version):
    spec = get_spec(version)
    year = report_year(spec)
    vals = numbered(spec)
    p = tmp_path / "某某局.xlsx"
    write_template(
        p,
        spec,
        unit="某某县财政局",
        year=year,
        values=vals,
        cover={"filler": "张三", "phone": "0851-1234567", "date": "2026-01-10"},
    )
    r = read(p)
    assert r.status == "passed" and r.form == version and r.source == "template"
    assert r.values == {k: Decimal(str(v)) for k, v in vals.items()}
    assert r.where == layout_refs(spec)
    assert (r.unit, r.filler, r.phone, r.date) == ("某某县财政局", "张三", "0851-1234567", "2026-01-10")
    assert r.year == year
    assert r.findings == [] and r.blank == [] and not r.invalid and not r.empty


def test_round_trip_consistent_report_has_no_findings(tmp_path, spec):
    vals = consistent_values(spec, seed=4)
    p = tmp_path / "r.xlsx"
    write_template(p, spec, unit="某局", year=2025, values=vals)
    r = read(p)
    run_checks(r, spec)
    assert r.findings == [] and r.status == "passed"


def test_all_blank_is_empty(tmp_path):
    p = tmp_path / "blank.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    r = read(p)
    assert r.empty and len(r.blank) == len(S21.cells) and not r.invalid
    run_checks(r, S21)
    assert "NB001" in codes(r) and r.status == "failed"


def test_renamed_table_sheet_falls_back_to_labels(tmp_path):
    import openpyxl

    vals = numbered(S21)
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=vals)
    wb = openpyxl.load_workbook(p)
    wb["表三"].title = "申请情况"
    q = tmp_path / "renamed.xlsx"
    wb.save(q)
    r = read(q)
    assert r.source == "labels" and r.form == "2021"
    assert r.values == {k: Decimal(str(v)) for k, v in vals.items()}
    assert r.where["nb_t3_r_total_natural"] == ("申请情况", layout_refs(S21)["nb_t3_r_total_natural"][1])
    assert {k: ref for k, (_, ref) in r.where.items()} == {k: ref for k, (_, ref) in layout_refs(S21).items()}


def test_deleted_table_sheet_is_reported(tmp_path):
    import openpyxl

    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=numbered(S21))
    wb = openpyxl.load_workbook(p)
    del wb["表四"]
    q = tmp_path / "deleted.xlsx"
    wb.save(q)
    r = read(q)
    nb003 = [f for f in r.findings if f.code == "NB003"]
    t4 = S21.table("t4")
    assert [f.message for f in nb003] == [f"未找到{t4.name}（{t4.title}）"]
    assert all(r.values[k] is None for k in S21.cells if k.startswith("nb_t4_"))
    assert r.values["nb_t3_new_natural"] is not None and r.status == "failed"


# ---- the fallback: hand-made layouts ----------------------------------------------------


@pytest.mark.parametrize("version,one_sheet", [("2021", False), ("2019", False), ("2021", True)])
def test_handmade_layout_found_by_labels(tmp_path, version, one_sheet):
    spec = get_spec(version)
    vals = numbered(spec)
    sheets, merges, where = handmade(
        spec, vals, one_sheet=one_sheet, cover={"unit": "某某镇人民政府", "year": "2025年"}
    )
    p = save_openpyxl(tmp_path / "hand.xlsx", sheets, merges)
    r = read(p)
    assert r.form == version and r.source == "labels"
    assert r.values == {k: Decimal(str(v)) for k, v in vals.items()}
    assert r.where == where
    assert (r.unit, r.year) == ("某某镇人民政府", 2025)
    assert r.findings == []


def test_form_detected_from_labels_not_year(tmp_path):
    # a 2019-form workbook for report year 2022 is still the 2019 form
    sheets, merges, _ = handmade(S19, numbered(S19), cover={"unit": "某局", "year": 2022})
    r = read(save_openpyxl(tmp_path / "h.xlsx", sheets, merges))
    assert r.form == "2019" and r.year == 2022


def test_2019_row_wording_under_2021_columns(tmp_path):
    vals = numbered(S21)
    sheets, merges, _ = handmade(S21, vals)
    for cells in sheets.values():
        for pos, v in cells.items():
            if v == mangle(S21.cells["nb_t2_normative_valid"].row_label):
                cells[pos] = S19.cells["nb_t2_normative_made"].row_label
    r = read(save_openpyxl(tmp_path / "h.xlsx", sheets, merges))
    assert r.form == "2021" and codes(r) == ["NB004"]  # no cover in this one
    assert r.values["nb_t2_normative_valid"] == vals["nb_t2_normative_valid"]


def test_numbers_typed_as_text(tmp_path):
    typed = {
        "nb_t3_new_natural": "12",
        "nb_t3_new_commercial": "１２",
        "nb_t3_new_research": "4.0",
        "nb_t3_new_nonprofit": " 5 ",
        "nb_t3_new_legal": "1,234",
        "nb_t3_new_other_org": "+3",
        "nb_t2_fee_amount": "96171.6",
    }
    sheets, merges, _ = handmade(S21, typed)
    r = read(save_openpyxl(tmp_path / "h.xlsx", sheets, merges))
    assert {k: r.values[k] for k in typed} == {
        "nb_t3_new_natural": 12,
        "nb_t3_new_commercial": 12,
        "nb_t3_new_research": 4,
        "nb_t3_new_nonprofit": 5,
        "nb_t3_new_legal": 1234,
        "nb_t3_new_other_org": 3,
        "nb_t2_fee_amount": Decimal("96171.6"),
    }
    assert not r.invalid and "NB102" not in codes(r)


@pytest.mark.parametrize(
    "text,shown",
    [
        ("无", "无"),
        ("—", "—"),
        ("3件", "3件"),
        ("abc", "abc"),
        ("#DIV/0!", "#DIV/0!"),
        ("#REF!", "#REF!"),
        ("很" * 10_000, "很" * 29 + "…"),
    ],
)
def test_bad_value_reported_at_its_cell(tmp_path, text, shown):
    vals = numbered(S21)
    vals["nb_t3_r_total_natural"] = text  # openpyxl stores #DIV/0! / #REF! as error cells
    sheets, merges, where = handmade(S21, vals)
    r = read(save_openpyxl(tmp_path / "h.xlsx", sheets, merges))
    bad = [f for f in r.findings if f.code == "NB102"]
    assert len(bad) == 1
    f = bad[0]
    sheet, cell = where["nb_t3_r_total_natural"]
    c = S21.cells["nb_t3_r_total_natural"]
    assert (f.sheet, f.cell, f.table, f.row, f.column) == (
        sheet,
        cell,
        c.table.name,
        c.row_label,
        c.col_label,
    )
    assert f.message.startswith(
        f"{c.table.name}“{c.row_label} / {c.col_label}”（{sheet}!{cell}）填写了“{shown}”"
    )
    assert "nb_t3_r_total_natural" in r.invalid and r.values["nb_t3_r_total_natural"] is None
    assert r.status == "failed"


def test_missing_row_label_is_named(tmp_path):
    c = S21.cells["nb_t3_r_total_natural"]
    sheets, merges, _ = handmade(S21, numbered(S21), drop_labels=(c.row_label,))
    r = read(save_openpyxl(tmp_path / "h.xlsx", sheets, merges))
    assert [f.message for f in r.findings if f.code == "NB003"] == [f"未找到{c.table.name}“{c.row_label}”行"]
    keys = [k for k in S21.cells if k.startswith("nb_t3_r_total_")]
    assert all(r.values[k] is None and k in r.invalid for k in keys)
    assert r.values["nb_t3_carry_next_natural"] is not None
    run_checks(r, S21)  # relations with the missing row are not evaluated (no bogus totals)
    assert not [f for f in r.findings if f.code in ("NB202", "NB203")]


def test_merged_value_cells_warned(tmp_path):
    vals = numbered(S21)
    sheets, merges, where = handmade(S21, vals)
    sheet, ref = where["nb_t2_rules_issued"]
    from nianbao.layout import parse_a1

    r0, c0 = parse_a1(ref)
    merges[sheet].append((r0, c0, r0, c0 + 1))  # issued and repealed under one merge
    del sheets[sheet][(r0, c0 + 1)]
    r = read(save_openpyxl(tmp_path / "h.xlsx", sheets, merges))
    warned = [f for f in r.findings if f.code == "NB107"]
    assert [(f.sheet, f.cell) for f in warned] == [(sheet, ref), where["nb_t2_rules_repealed"]]
    assert all(f.severity == "warning" for f in warned)


def test_xls_input(tmp_path):
    vals = numbered(S21)
    sheets, merges, where = handmade(S21, vals, cover={"unit": "某局", "year": 2025})
    p = save_xlwt(tmp_path / "old.XLS", sheets, merges)
    r = read(p)
    assert r.form == "2021" and r.status == "passed"
    assert r.values == {k: Decimal(str(v)) for k, v in vals.items()}
    assert r.where == where and r.unit == "某局"


# ---- formulas -----------------------------------------------------------------------------


def test_formulas_without_cached_values_are_evaluated(tmp_path):
    vals = numbered(S21)
    f = {
        "nb_t3_new_total": "SUM({nb_t3_new_natural}:{nb_t3_new_other_org})",
        "nb_t3_carried_total": "{nb_t3_carried_natural}+{nb_t3_carried_commercial}-{nb_t3_carried_research}",
        "nb_t4_review_total": "SUM({nb_t4_review_upheld},{nb_t4_review_corrected})*2+(1)",
    }
    sheets, merges, _ = handmade(S21, vals, formulas=f)
    r = read(save_openpyxl(tmp_path / "f.xlsx", sheets, merges))
    new = sum(
        vals[f"nb_t3_new_{c}"]
        for c in ("natural", "commercial", "research", "nonprofit", "legal", "other_org")
    )
    assert r.values["nb_t3_new_total"] == new
    assert r.values["nb_t3_carried_total"] == (
        vals["nb_t3_carried_natural"] + vals["nb_t3_carried_commercial"] - vals["nb_t3_carried_research"]
    )
    assert (
        r.values["nb_t4_review_total"]
        == (vals["nb_t4_review_upheld"] + vals["nb_t4_review_corrected"]) * 2 + 1
    )
    assert "NB105" not in codes(r)


def test_unevaluable_formula_reported(tmp_path):
    f = {"nb_t3_new_total": "AVERAGE({nb_t3_new_natural}:{nb_t3_new_other_org})"}
    sheets, merges, where = handmade(S21, numbered(S21), formulas=f)
    r = read(save_openpyxl(tmp_path / "f.xlsx", sheets, merges))
    bad = [x for x in r.findings if x.code == "NB105"]
    assert [(x.sheet, x.cell) for x in bad] == [where["nb_t3_new_total"]]
    assert "AVERAGE" in bad[0].message and "nb_t3_new_total" in r.invalid


def _rewrite(src: Path, dst: Path, edit) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))
    return dst


def test_cached_value_trusted_when_saved_by_spreadsheet_program(tmp_path):
    f = {"nb_t3_new_total": "AVERAGE({nb_t3_new_natural}:{nb_t3_new_other_org})"}
    sheets, merges, where = handmade(S21, numbered(S21), formulas=f)
    p = save_openpyxl(tmp_path / "f.xlsx", sheets, merges)
    ref = where["nb_t3_new_total"][1]

    def edit(name, data):
        if name == "docProps/app.xml":
            return re.sub(
                rb"<Application>[^<]*</Application>", b"<Application>LibreOffice/7.4</Application>", data
            )
        if name.startswith("xl/worksheets/"):
            return re.sub(
                rb'(<c r="' + ref.encode() + rb'"[^>]*>\s*<f>[^<]*</f>)<v\s*/?>(?:</v>)?',
                rb"\1<v>7</v>",
                data,
            )
        return data

    r = read(_rewrite(p, tmp_path / "lo.xlsx", edit))
    assert r.values["nb_t3_new_total"] == 7 and "NB105" not in codes(r)


def test_shared_formula_translation():
    assert shift_formula("SUM(D7:I7)+$A$1+B$2", 2, 1) == "SUM(E9:J9)+$A$1+C$2"
    assert shift_formula('"D7"&D7', 1, 0) == '"D7"&D8'


# ---- hostile and broken files ------------------------------------------------------------


@pytest.mark.parametrize(
    "name,content,needle",
    [
        ("empty.xlsx", b"", "文件是空的"),
        ("text.xlsx", "这不是表格\n".encode(), "文本文件"),
        ("pdf.xlsx", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF"),
        ("page.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>", "网页"),
    ],
)
def test_not_a_workbook(tmp_path, name, content, needle):
    p = tmp_path / name
    p.write_bytes(content)
    r = read(p)
    assert r.status == "unreadable" and codes(r) == ["NB002"]
    assert needle in r.findings[0].message and name in r.findings[0].message


def test_truncated_zip(tmp_path):
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    q = tmp_path / "truncated.xlsx"
    q.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    r = read(q)
    assert r.status == "unreadable" and "截断" in r.findings[0].message


def test_docx_renamed(tmp_path):
    p = tmp_path / "report.xlsx"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    r = read(p)
    assert r.status == "unreadable" and "Word" in r.findings[0].message


def test_zip_bomb_refused_without_inflating(tmp_path, monkeypatch):
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    big = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(p) as zin, zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet3.xml":
                with zout.open(info.filename, "w", force_zip64=True) as w:
                    w.write(data.replace(b"<sheetData>", b"<sheetData>", 1))
                    chunk = b" " * (1 << 20)
                    for _ in range(MAX_PART_BYTES // len(chunk) + 2):
                        w.write(chunk)
            else:
                zout.writestr(info.filename, data)
    assert big.stat().st_size < 1_000_000
    from nianbao import reader

    inflated = []
    real_open, real_inflate = zipfile.ZipFile.open, reader.Package._inflate

    def spy(self, name, *a, **k):
        inflated.append(getattr(name, "filename", name))
        return real_open(self, name, *a, **k)

    def spy_inflate(self, info):
        inflated.append(info.filename)
        return real_inflate(self, info)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    monkeypatch.setattr(reader.Package, "_inflate", spy_inflate)
    r = read(big)
    assert r.status == "unreadable" and "上限" in r.findings[0].message
    assert "xl/worksheets/sheet3.xml" not in inflated


def test_entity_declaration_refused(tmp_path):
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'

    def edit(name, data):
        if name == "xl/sharedStrings.xml" or name == "xl/worksheets/sheet3.xml":
            return dtd + data.split(b"?>", 1)[1]
        return data

    r = read(_rewrite(p, tmp_path / "dtd.xlsx", edit))
    assert r.status == "unreadable" and "实体" in r.findings[0].message


@pytest.mark.parametrize("part", ["docProps/core.xml", "xl/worksheets/sheet3.xml", "xl/workbook.xml"])
def test_entity_declaration_after_a_long_prolog_is_refused(tmp_path, part):
    """A DOCTYPE after 10 KB of comments, in a part nobody parses, one read in part and the
    workbook part: still found."""
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    pad = b"<!--" + b" " * 10_000 + b"-->"
    dtd = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'

    def edit(name, data):
        if name == part:
            head, rest = data.split(b"?>", 1)
            return head + b"?>" + pad + dtd + rest
        return data

    r = read(_rewrite(p, tmp_path / "dtd.xlsx", edit))
    assert r.status == "unreadable" and "实体" in r.findings[0].message and part in r.findings[0].message


def _far_cell_workbook(tmp_path: Path, ref: str, name: str) -> Path:
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=numbered(S21))
    row = re.match(r"[A-Z]+(\d+)", ref).group(1)
    extra = f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>x</t></is></c></row>'.encode()

    def edit(n, data):
        if n == "xl/worksheets/sheet3.xml":
            return data.replace(b"</sheetData>", extra + b"</sheetData>")
        return data

    return _rewrite(p, tmp_path / name, edit)


def _read_in_child(p: Path) -> tuple:
    """(status, source, [(code, cell, message)], 表三 （七）总计/自然人 as text) of a workbook read in a
    child process: if a guard failed, python-calamine would abort the interpreter."""
    import json

    code = (
        "import sys, json; from nianbao.inputs import collect; from nianbao.reader import read_report;"
        "r = read_report(collect([__import__('pathlib').Path(sys.argv[1])]).items[0]);"
        "print(json.dumps([r.status, r.source, [(f.code, f.cell, f.message) for f in r.findings],"
        " str(r.values.get('nb_t3_r_total_natural'))]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return tuple(json.loads(out.stdout))


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["XFD1048576", "A1000000"])
def test_far_away_cell_does_not_kill_the_process(tmp_path, ref):
    p = _far_cell_workbook(tmp_path, ref, "far.xlsx")
    status, source, findings, total = _read_in_child(p)
    assert status == "passed" and source == "template"
    assert [(c, cell) for c, cell, _ in findings] == [("NB006", ref)]
    assert str(MAX_ROWS) in findings[0][2]
    assert total == str(numbered(S21)["nb_t3_r_total_natural"])


def test_password_protected_workbook(tmp_path):
    from msoffcrypto.format.ooxml import OOXMLFile  # a declared test dependency

    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    q = tmp_path / "secret.xlsx"
    with open(p, "rb") as src, open(q, "wb") as dst:
        OOXMLFile(src).encrypt("pw", dst)
    r = read(q)
    assert r.status == "unreadable" and "密码" in r.findings[0].message


@pytest.mark.slow
def test_xlsm_with_macros_is_read(tmp_path):
    p = tmp_path / "t.xlsx"
    vals = numbered(S21)
    write_template(p, S21, unit="某局", year=2025, values=vals)

    def edit(name, data):
        return data

    q = _rewrite(p, tmp_path / "macro.XLSM", edit)
    with zipfile.ZipFile(q, "a") as z:
        z.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 60)
    r = read(q)
    assert r.status == "passed" and r.values["nb_t3_new_natural"] == vals["nb_t3_new_natural"]


def test_internal_error_gives_reference_and_no_traceback(tmp_path, monkeypatch):
    from nianbao import reader

    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025)
    monkeypatch.setattr(reader, "read_cover", lambda *a: 1 / 0)
    r = read(p)
    assert r.status == "unreadable" and codes(r) == ["NB005"]
    assert re.search(r"参考编号 [0-9a-f]{8}", r.findings[0].message)


def test_zip_member_is_read_from_memory(tmp_path):
    p = tmp_path / "t.xlsx"
    vals = numbered(S21)
    write_template(p, S21, unit="某局", year=2025, values=vals)
    z = tmp_path / "批量.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(p, "各单位/某局.xlsx")
    col = collect([z])
    assert [i.display for i in col.items] == [f"{z}!各单位/某局.xlsx"]
    r = read_report(col.items[0])
    assert r.values["nb_t3_new_natural"] == vals["nb_t3_new_natural"] and r.path.endswith("某局.xlsx")


def test_report_files_go_to_the_importer(tmp_path, monkeypatch):
    from nianbao import importers
    from nianbao.model import Report

    p = tmp_path / "报告.txt"
    p.write_text("一、总体情况", encoding="utf-8")
    item = collect([p]).items[0]
    assert item.kind == "report"
    monkeypatch.setattr(importers, "read_report_file", lambda it: Report(path="imported:" + it.name))
    assert read_report(item).path == "imported:报告.txt"

    def boom(it):
        raise ValueError("x")

    monkeypatch.setattr(importers, "read_report_file", boom)
    r = read_report(item)  # a failing importer is an internal error, not a crash
    assert r.status == "unreadable" and codes(r) == ["NB005"]


def test_read_workbook_never_raises_on_garbage():
    from nianbao.inputs import Input

    for blob in (b"PK\x03\x04garbage", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, b"\x00\x01\x02"):
        r = read_workbook(Input(display="x.xlsx", name="x.xlsx", suffix=".xlsx", data=blob))
        assert r.status == "unreadable" and [f.code for f in r.findings] == ["NB002"]  # never NB005
        assert r.findings[0].message.startswith("x.xlsx：")


# ---- cover and normalisation ------------------------------------------------------------


def test_cover_inline_and_file_name_fallback(tmp_path):
    sheets, merges, _ = handmade(S21, numbered(S21))
    sheets["封面"][(0, 0)] = "填报单位：某某街道办事处"
    sheets["封面"][(1, 0)] = "报告年度"
    sheets["封面"][(1, 2)] = 2025.0  # one empty cell between label and value
    sheets["封面"][(2, 0)] = "填报日期"
    sheets["封面"][(2, 1)] = 46032  # an Excel date serial typed as a number
    r = read(save_openpyxl(tmp_path / "x.xlsx", sheets, merges))
    assert (r.unit, r.year, r.date) == ("某某街道办事处", 2025, "2026-01-10") and "NB004" not in codes(r)

    import datetime

    sheets["封面"][(2, 1)] = datetime.datetime(2026, 1, 9)
    sheets["封面"][(3, 0)] = "填报人"  # the next label is not taken for an empty value
    sheets["封面"][(3, 1)] = "联系电话"
    sheets["封面"][(3, 2)] = "0851-1"
    r = read(save_openpyxl(tmp_path / "y.xlsx", sheets, merges))
    assert (r.date, r.filler, r.phone) == ("2026-01-09", "", "0851-1")

    sheets, merges, _ = handmade(S21, numbered(S21))
    r = read(save_openpyxl(tmp_path / "某某县水务局2025年政府信息公开年报.xlsx", sheets, merges))
    assert r.unit == "某某县水务局" and r.year is None
    nb004 = [f for f in r.findings if f.code == "NB004"]
    assert len(nb004) == 1 and "报告年度" in nb004[0].message


def test_unit_from_filename():
    assert unit_from_filename("某某县教育局2025年政府信息公开工作年度报告_审核.xlsx") == "某某县教育局"
    assert unit_from_filename("绥阳县司法局-2022.xlsx") == "绥阳县司法局"


def test_normalisation():
    assert norm_label(" 第二十条第(一)项 |") == "第二十条第(一)项"
    assert norm_label("“三安全一稳定”") == norm_label('"三安全一稳定"')
    assert label_matches(
        "(二)部分公开(区分处理的,只计这一情况,不计其他情形)",
        "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
    )
    assert label_matches("5.属于三类内容事务信息", "5.属于三类内部事务信息")
    assert label_matches("现行有效件", "现行有效件数")
    assert label_matches("现行有效件数 (历史累计)", "现行有效件数")
    assert label_matches("商业 企业", "商业企业")
    assert not label_matches("其他", "3.其他") and not label_matches("总计", "（七）总计")
    assert parse_number(4.0) == (Decimal(4), None) and str(parse_number(0.1)[0]) == "0.1"
    assert parse_number("") == (None, None) and parse_number("  ") == (None, None)
    assert parse_number("-2") == (Decimal(-2), None) and parse_number("１，２３４")[0] == 1234
    assert parse_number(True)[1] and parse_number("3件")[1] and parse_number("#N/A")[1]


def test_spec_labels_do_not_collide():
    """Within each header tree, no two labels match each other after normalisation."""
    for spec in (S21, S19):
        for t in spec.tables:
            for sec in t.sections:
                for tree in (sec.rows, sec.columns):
                    labels = [n.label for root in tree for n in root.walk() if n.label]
                    for i, a in enumerate(labels):
                        for b in labels[i + 1 :]:
                            assert a == b or not label_matches(a, b), (a, b)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["second", "after_empty"])
def test_far_cell_in_another_sheet_data_element(tmp_path, layout):
    """The guards scan a sheet up to the end of its first <sheetData> (what python-calamine
    reads): a far cell in a later <sheetData>, or after an empty <sheetData/>, never reaches it."""
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=numbered(S21))
    extra = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'

    def edit(n, data):
        if n != "xl/worksheets/sheet3.xml":
            return data
        if layout == "second":
            return data.replace(b"</sheetData>", b"</sheetData><sheetData>" + extra + b"</sheetData>", 1)
        data = data.replace(b"<sheetData>", b"<sheetData/><sheetData>", 1)
        return data.replace(b"</sheetData>", extra + b"</sheetData>", 1)

    status, _, found, total = _read_in_child(_rewrite(p, tmp_path / f"{layout}.xlsx", edit))
    findings = [[code, cell] for code, cell, _ in found]
    if layout == "second":  # never read: the table is read as written
        assert status == "passed" and findings == []
        assert total == str(numbered(S21)["nb_t3_r_total_natural"])
    else:  # the guard saw it and dropped it (calamine takes the empty element for the sheet)
        assert ["NB006", "XFD1048576"] in findings


@pytest.mark.slow
@pytest.mark.parametrize("step", [1, 5, 11, 12, 13, 700, 4096, 1 << 20])
def test_read_until_stops_right_after_the_marker(tmp_path, step):
    """A part inflated up to a marker is exactly the start of the whole part, however the
    inflating is cut into steps (the marker may straddle two steps); without the marker: all."""
    from nianbao.reader import open_package

    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=numbered(S21))
    data = p.read_bytes()
    pkg = open_package(data)
    for part in [*pkg.sheet_parts.values(), "xl/workbook.xml"]:
        for end in (b"</sheetData>", b"</sheets>", b"<never-there>"):
            whole = open_package(data).read(part)
            at = whole.find(end)
            expected = whole if at < 0 else whole[: at + len(end)]
            assert open_package(data).read_until(part, end, step) == expected, (part, end)


@pytest.mark.parametrize("where", ["start", "middle"])
def test_garbled_sheet_stream_is_reported_not_read(tmp_path, where):
    """Bytes overwritten inside 表三's compressed data (a bad USB stick): the file is reported
    as damaged (or the sheet as unreadable), never read as if nothing happened."""
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=numbered(S21))
    data = bytearray(p.read_bytes())
    info = zipfile.ZipFile(p).getinfo("xl/worksheets/sheet3.xml")
    n, m = (
        int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    start = info.header_offset + 30 + n + m
    at = start + (8 if where == "start" else info.compress_size // 3)
    data[at : at + 64] = bytes(range(64))
    q = tmp_path / "garbled.xlsx"
    q.write_bytes(bytes(data))
    r = read(q)
    assert r.status != "passed"
    assert any(f.code in ("NB002", "NB006", "NB003") for f in r.findings)


def test_parts_checked_once_per_content(tmp_path, monkeypatch):
    """A part whose compressed bytes passed the DTD check in an earlier file is not inflated
    again; a part with other bytes (here: a DTD added) is checked and refused."""
    from nianbao import guard as package

    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=numbered(S21))
    monkeypatch.setattr(package, "_PROLOG_OK", {})
    heads: list[str] = []
    real_head = package.Package.head

    def spy(self, name, size=2048):
        heads.append(name)
        return real_head(self, name, size)

    monkeypatch.setattr(package.Package, "head", spy)
    assert read(p).status == "passed"
    first = list(heads)
    assert "docProps/core.xml" in first
    heads.clear()
    assert read(p).status == "passed"
    assert heads == []  # every part as before

    dtd = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'

    def edit(name, data):
        if name == "docProps/core.xml":
            head, rest = data.split(b"?>", 1)
            return head + b"?>" + dtd + rest
        return data

    r = read(_rewrite(p, tmp_path / "dtd.xlsx", edit))
    assert r.status == "unreadable" and "docProps/core.xml" in r.findings[0].message
    assert "docProps/core.xml" in heads

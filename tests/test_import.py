"""Importing published reports: every text shape, HTML, Word and PDF, both forms, damaged input."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FORMS, consistent_values
from fixtures_import import (
    SHAPES,
    report_docx,
    report_html,
    report_text,
    soffice,
    to_pdf,
)
from nianbao.checks import run_checks
from nianbao.cli import app
from nianbao.importers import parse_html, parse_text, read_report_file
from nianbao.inputs import Input
from nianbao.layout import workbook_layout
from nianbao.spec import get_spec

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "2022-suiyang-justice-bureau.txt"


def assert_values(report, spec, vals, skip=()):
    wrong = {
        k: (report.values.get(k), vals[k])
        for k in spec.cells
        if k not in skip and report.values.get(k) != Decimal(str(vals[k]))
    }
    assert not wrong, list(wrong.items())[:5]


def assert_clean(report, spec):
    assert report.form == spec.version
    assert not report.findings, [(f.code, f.message) for f in report.findings]
    run_checks(report, spec)
    assert report.errors == 0, [(f.code, f.message) for f in report.findings]


def cell_label(spec, key):
    c = spec.cells[key]
    return c.table.name, c.row.label, c.col_label


# ------------------------------------------------------------------ the seed report
def test_seed_report_imports_exactly():
    if not SEED.exists():
        pytest.skip("seed report not present")
    spec = get_spec("2021")
    r = read_report_file(Input.of(SEED))
    assert (r.form, r.unit, r.year, r.source) == ("2021", "绥阳县司法局", 2022, "import")
    assert set(r.values) == set(spec.cells)
    assert all(r.values[k] == Decimal(0) for k in spec.cells)
    assert not r.blank and not r.invalid and not r.findings
    run_checks(r, spec)
    assert r.errors == 0 and r.status == "passed"
    assert list(r.body) == spec.body
    assert "信息处理费" in r.body[spec.body[5]]
    assert r.where["nb_t4_after_total"] == ("表四", workbook_layout(spec).cell("nb_t4_after_total")[1].ref)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("form", FORMS)
def test_text_shapes_round_trip(form, shape):
    spec = get_spec(form)
    vals = consistent_values(spec, seed=11)
    r = parse_text(report_text(vals, shape, spec=spec), f"报告.{shape}.txt")
    assert (r.unit, r.year) == ("测试县档案局", 2023)
    assert_values(r, spec, vals)
    assert_clean(r, spec)


@pytest.mark.parametrize("form", FORMS)
def test_html_with_spans_round_trip(form):
    spec = get_spec(form)
    vals = consistent_values(spec, seed=12)
    page = report_html(vals, spec=spec)
    result = next(b for b in workbook_layout(spec).table("t3").boxes if b.key == "result")
    assert f"rowspan='{result.nrows}'" in page  # 三、本年度办理结果 spans its rows
    r = parse_html(page.encode("utf-8"), "年报.html")
    assert (r.unit, r.year) == ("测试县档案局", 2023)
    assert_values(r, spec, vals)
    assert_clean(r, spec)
    assert r.body[spec.body[4]].startswith("（一）存在的主要问题")


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_docx_round_trip(form, tmp_path):
    spec = get_spec(form)
    vals = consistent_values(spec, seed=13)
    path = report_docx(tmp_path / "年报.docx", vals, spec=spec)
    r = read_report_file(Input.of(path))
    assert r.importer == "docx"
    assert_values(r, spec, vals)
    assert_clean(r, spec)


@pytest.fixture(scope="module")
def pdf_reports(tmp_path_factory):
    if not soffice():
        pytest.skip("LibreOffice (soffice) not installed")
    d = tmp_path_factory.mktemp("pdf")
    vals = {f: consistent_values(get_spec(f), seed=14) for f in FORMS}
    docs = [report_docx(d / f"年报{f}.docx", vals[f], spec=get_spec(f)) for f in FORMS]
    return dict(zip(FORMS, zip(to_pdf(docs, d), (vals[f] for f in FORMS), strict=False), strict=False))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.libreoffice
def test_pdf_round_trip(form, pdf_reports):
    spec = get_spec(form)
    path, vals = pdf_reports[form]
    r = read_report_file(Input.of(path))
    assert r.importer == "pdf"
    assert (r.unit, r.year) == ("测试县档案局", 2023)
    assert_values(r, spec, vals)
    assert_clean(r, spec)


def test_pdf_without_text_layer_is_unreadable(tmp_path):
    from PIL import Image

    path = tmp_path / "扫描件.pdf"
    Image.new("RGB", (200, 280), "white").save(path)
    r = read_report_file(Input.of(path))
    assert r.unreadable and r.status == "unreadable"
    assert r.findings[0].code == "NB002" and "没有文字层" in r.findings[0].message


@pytest.mark.parametrize(
    "name,data",
    [
        ("坏.docx", b"not a zip"),
        ("坏.pdf", b"%PDF-1.4 garbage"),
        ("旧版.doc", b"\xd0\xcf\x11\xe0"),
        ("无表.txt", "一、总体情况\n没有表格。".encode()),
    ],
)
def test_bad_files_are_unreadable_with_a_message(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    r = read_report_file(Input.of(p))
    assert r.unreadable and r.findings[0].code == "NB002" and str(p) in r.findings[0].message


# ------------------------------------------------------------------ tolerance
def test_typos_punctuation_spaces_and_heading_variants():
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=15)
    text = report_text(vals, "rows", spec=spec)
    swaps = [
        ("只计这一情形", "只计这一情况"),
        ("三类内部事务信息", "三类内容事务信息"),
        ("（", "("),
        ("）", ")"),
        ("：", ":"),
        ("，", ","),
        ("商业企业", "商业 企业"),
        ("\n行政规范性文件 |", "\n规范性文件 |"),
        ("二、主动公开政府信息情况", "二、行政机关主动公开政府信息情况"),
        ("四、政府信息公开行政复议、行政诉讼情况", "四、因政府信息公开工作被申请行政复议、提起行政诉讼情况"),
        ("五、存在的主要问题及改进情况", "五、政府信息公开工作存在的主要问题及改进情况"),
        ("1.属于国家秘密", "1 . 属于 国家秘密"),
    ]
    for a, b in swaps:
        assert a in text, a
        text = text.replace(a, b)
    r = parse_text(text, "变体.txt")
    assert_values(r, spec, vals)
    assert_clean(r, spec)
    assert list(r.body) == spec.body


def test_form_comes_from_labels_not_year():
    for form, year in (("2019", 2023), ("2021", 2020)):
        spec = get_spec(form)
        vals = consistent_values(spec, seed=16)
        r = parse_text(
            report_text(vals, "cell_lines", spec=spec, title=f"某镇人民政府{year}年政府信息公开工作年度报告"),
            "x.txt",
        )
        assert (r.form, r.year, r.unit) == (form, year, "某镇人民政府")
        assert_values(r, spec, vals)


def test_issuer_from_text_or_warning():
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=17)
    fee = "本年度发出收费通知，未实际收取信息处理费。"
    texts = {0: "2023年,测试县交通运输局坚持依法行政,深化信息公开。", 5: fee}
    r = parse_text(report_text(vals, "rows", spec=spec, title=None, texts=texts), "a.txt")
    assert (r.unit, r.year) == ("测试县交通运输局", 2023)
    r = parse_text(
        report_text(vals, "rows", spec=spec, title=None, texts={0: "本机关坚持依法行政。", 5: fee}), "a.txt"
    )
    assert (r.unit, r.year) == ("", None)
    assert [f.code for f in r.findings] == ["NB004"]
    assert "填报单位" in r.findings[0].message and "报告年度" in r.findings[0].message


# ------------------------------------------------------------------ damaged input
def test_missing_row_is_named():
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=18)
    label = spec.cells["nb_t3_deny_3_total"].row.label
    lines = [ln for ln in report_text(vals, "rows", spec=spec).splitlines() if not ln.startswith(label)]
    r = parse_text("\n".join(lines), "缺行.txt")
    keys = [k for k in spec.cells if k.startswith("nb_t3_deny_3_")]
    nb003 = [f for f in r.findings if f.code == "NB003"]
    assert len(nb003) == 1 and label in nb003[0].message and nb003[0].table == spec.table("t3").name
    assert all(r.values[k] is None and k in r.invalid for k in keys)
    assert_values(r, spec, vals, skip=keys)


def test_merged_other_row_under_2021_columns():
    spec, old = get_spec("2021"), get_spec("2019")
    vals = consistent_values(spec, seed=19)
    old_vals = consistent_values(old, seed=19)
    mixed = {**vals, **{k: v for k, v in old_vals.items() if k.startswith("nb_t3_")}}
    r = parse_text(report_text(mixed, "rows", spec=spec, forms={"t3": "2019"}), "合并行.txt")
    assert r.form == "2021"
    group = next(n for n in spec.table("t3").sections[0].rows[2].children if n.key == "other")
    merged = [f for f in r.findings if group.label in f.message and "只有一行" in f.message]
    assert len(merged) == 1 and all(c.label in merged[0].message for c in group.children)
    sub = [k for k in spec.cells if k.startswith("nb_t3_other_")]
    assert all(r.values[k] is None and k in r.invalid for k in sub)
    t3_rest = [k for k in spec.cells if k.startswith("nb_t3_") and k not in sub]
    assert all(r.values[k] == Decimal(old_vals[k]) for k in t3_rest)
    assert all(r.values[k] == Decimal(str(vals[k])) for k in spec.cells if not k.startswith("nb_t3_"))


@pytest.mark.parametrize("kind", ["rows", "bare_lines", "pdf_text", "html"])
def test_text_in_numeric_cell_is_reported_not_guessed(kind):
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=20)
    key = "nb_t3_deny_2_research"
    if kind == "html":
        r = parse_html(report_html(vals, spec=spec, overrides={key: "无"}), "x.html")
    else:
        r = parse_text(report_text(vals, kind, spec=spec, overrides={key: "无"}), "x.txt")
    assert r.values[key] is None and key in r.invalid and key not in r.blank
    f = next(f for f in r.findings if f.key == key)
    table, row, col = cell_label(spec, key)
    assert (f.code, f.severity, f.table, f.column, f.actual) == ("NB102", "error", table, col, "无")
    sheet, box = workbook_layout(spec).cell(key)
    assert row in f.row and (f.sheet, f.cell) == (sheet, box.ref)
    assert_values(r, spec, vals, skip=[key])
    run_checks(r, spec)  # relations through the unreadable cell are not evaluated
    assert [x.code for x in r.findings if x.severity == "error"] == ["NB102"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rows", "cell_lines", "pipe_lines", "html", "docx"])
def test_blank_cells_stay_blank(kind, tmp_path):
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=21)
    blanks = ["nb_t2_license_decisions", "nb_t3_new_natural", "nb_t3_carry_next_total", "nb_t4_after_pending"]
    over = {k: "" for k in blanks}
    if kind == "html":
        r = parse_html(report_html(vals, spec=spec, overrides=over), "x.html")
    elif kind == "docx":
        r = read_report_file(Input.of(report_docx(tmp_path / "x.docx", vals, spec=spec, overrides=over)))
    else:
        r = parse_text(report_text(vals, kind, spec=spec, overrides=over), "x.txt")
    assert sorted(r.blank) == sorted(blanks)
    assert all(r.values[k] is None for k in blanks) and not r.invalid
    assert_values(r, spec, vals, skip=blanks)
    run_checks(r, spec)
    nb101 = [f for f in r.findings if f.code == "NB101"]
    assert nb101 and all(f.severity == "warning" for f in nb101)


def test_blank_dropped_from_bare_lines_is_not_guessed():
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=22)
    key = "nb_t3_new_natural"
    r = parse_text(report_text(vals, "bare_lines", spec=spec, overrides={key: ""}), "x.txt")
    row = [k for k in spec.cells if k.startswith("nb_t3_new_")]
    f = next(f for f in r.findings if f.code == "NB003")
    assert spec.cells[key].row.label in f.message and "6 个" in f.message and "7 个" in f.message
    assert all(r.values[k] is None and k in r.invalid for k in row)
    assert_values(r, spec, vals, skip=row)


# ------------------------------------------------------------------ prose vs tables
def test_prose_numbers_and_fee_note_are_checked():
    spec = get_spec("2021")
    vals = next(
        v for v in (consistent_values(spec, seed=s) for s in range(30, 60)) if v["nb_t3_other_2_total"] > 0
    )
    texts = {
        0: f"本年度共收到政府信息公开申请{vals['nb_t3_new_total'] + 5}件，"
        f"上年结转{vals['nb_t3_carried_total']}件；"
        f"被申请行政复议{vals['nb_t4_review_total']}件。",
        5: "无。",
    }
    r = parse_text(report_text(vals, "rows", spec=spec, texts=texts), "x.txt")
    codes = sorted(f.code for f in r.findings)
    assert codes == ["NB310", "NB311"], [(f.code, f.message) for f in r.findings]
    f310 = next(f for f in r.findings if f.code == "NB310")
    assert f310.severity == "warning" and f310.actual == str(vals["nb_t3_new_total"] + 5)
    assert f310.expected == str(vals["nb_t3_new_total"]) and "收到政府信息公开申请" in f310.message
    texts[5] = f"本年度发出收费通知{vals['nb_t3_other_2_total']}件，未实际收取信息处理费。"
    texts[0] = f"本年度共收到政府信息公开申请{vals['nb_t3_new_total']}件。"
    r = parse_text(report_text(vals, "rows", spec=spec, texts=texts), "x.txt")
    assert not r.findings


# ------------------------------------------------------------------ command line
def _read_cells(path: Path, spec) -> dict:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    sheets = {}
    out = {}
    for tl in workbook_layout(spec).tables:
        rows = sheets.setdefault(tl.sheet, wb.get_sheet_by_name(tl.sheet).to_python())
        for key, box in tl.values.items():
            v = rows[box.row][box.col] if box.row < len(rows) and box.col < len(rows[box.row]) else ""
            out[key] = None if v == "" else Decimal(str(v))
    return out


def test_cli_import_writes_the_official_workbook(tmp_path):
    spec = get_spec("2019")
    vals = consistent_values(spec, seed=23)
    src = tmp_path / "某局2020年报.html"
    src.write_text(report_html(vals, spec=spec, overrides={"nb_t2_rules_made": ""}), encoding="utf-8")
    out = tmp_path / "年报.xlsx"
    res = CliRunner().invoke(app, ["import", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "已写入" in res.output and "测试县档案局" in res.output
    got = _read_cells(out, spec)
    assert got["nb_t2_rules_made"] is None
    assert all(got[k] == Decimal(str(vals[k])) for k in spec.cells if k != "nb_t2_rules_made")
    res = CliRunner().invoke(app, ["import", str(src), "-o", str(out)])
    assert res.exit_code == 2  # exists, no --force


def test_cli_import_json_and_exit_codes(tmp_path):
    spec = get_spec("2021")
    vals = consistent_values(spec, seed=24)
    good = tmp_path / "好.txt"
    good.write_text(report_text(vals, "cell_lines", spec=spec), encoding="utf-8")
    bad = tmp_path / "坏.txt"
    bad.write_text(
        report_text(vals, "rows", spec=spec, overrides={"nb_t3_new_total": "无"}), encoding="utf-8"
    )
    scan = tmp_path / "扫描.pdf"
    from PIL import Image

    Image.new("RGB", (50, 50), "white").save(scan)
    res = CliRunner().invoke(
        app,
        ["import", str(good), str(bad), str(scan), "--out-dir", str(tmp_path / "out"), "--format", "json"],
    )
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)  # not a crash
    files = json.loads(res.stdout)["files"]
    assert [Path(f["path"]).name for f in files] == ["好.txt", "坏.txt", "扫描.pdf"]
    assert files[0]["status"] == "passed" and files[0]["values"]["nb_t3_new_total"] == vals["nb_t3_new_total"]
    assert files[0]["form"] == "2021" and files[0]["unit"] == "测试县档案局" and files[0]["year"] == 2023
    assert files[1]["status"] == "failed" and files[1]["values"]["nb_t3_new_total"] is None
    assert any(f["code"] == "NB102" and f["table"] == "表三" for f in files[1]["findings"])
    assert files[2]["status"] == "unreadable" and files[2]["output"] is None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["坏.xlsx", "好.xlsx"]
    assert (
        CliRunner().invoke(app, ["import", str(good), str(bad), "-o", str(tmp_path / "x.xlsx")]).exit_code
        == 2
    )
    assert CliRunner().invoke(app, ["import", str(good)]).exit_code == 2
    assert (
        CliRunner()
        .invoke(app, ["import", str(tmp_path / "无此文件.txt"), "-o", str(tmp_path / "y.xlsx")])
        .exit_code
        == 2
    )


# ------------------------------------------------------------------ never a traceback
def _pieces():
    spec = get_spec("2021")
    labels = [b.text for tl in workbook_layout(spec).tables for b in tl.boxes if b.text]
    return (
        labels
        + spec.body
        + [
            "0",
            "12",
            "无",
            "",
            "|",
            "||",
            " | ",
            "\n",
            "<td rowspan='99'>",
            "</tr>",
            "<table>",
            "1.5",
            "-3",
            "二、",
            "2022年",
            "某局",
        ]
    )


@pytest.mark.slow
def test_garbage_never_raises():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    pieces = _pieces()

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(
        st.lists(st.sampled_from(pieces) | st.text(max_size=5), max_size=80),
        st.sampled_from(["\n", " | ", "", " "]),
    )
    def run(parts, sep):
        text = sep.join(parts)
        for r in (parse_text(text, "x.txt"), parse_html(text.encode("utf-8", "surrogatepass"), "x.html")):
            assert r.unreadable or r.form in FORMS
            assert all(f.message for f in r.findings)

    run()

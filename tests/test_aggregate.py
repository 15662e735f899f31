"""``nianbao aggregate`` over a small county built with the template writer.

The county: a roster (aliases, 类别, a name typed with other widths and spaces) with two units
that sent nothing, a duplicate, a failed, an unreadable, an empty, a 2019-form, a wrong-year
file and a unit not on the roster. Every status, every summed cell (computed here from the
values written), the per-类别 sums, the year-over-year findings and the workbook are asserted.
"""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from typer.testing import CliRunner

from conftest import consistent_values
from nianbao import engine
from nianbao.aggregate import (
    STATUS_ORDER,
    date_key,
    norm_name,
    stream_reports,
)
from nianbao.checks import check_report
from nianbao.cli import app
from nianbao.inputs import collect
from nianbao.layout import workbook_layout
from nianbao.model import Report
from nianbao.spec import get_spec
from nianbao.template import write_template
from nianbao.vocab import Status

YEAR = 2024
S21, S19 = get_spec("2021"), get_spec("2019")
FEE = "nb_t2_fee_amount"
T3_COLS = [c.key for c in S21.table("t3").sections[0].leaf_columns()]

ROSTER = [  # 单位名称, 别名, 类别, 联系人 (an extra column, kept in the output)
    ("县教育局", "", "部门", "张三"),
    ("县第一中学（高中部）", "", "部门", ""),
    ("县卫生健康局", "县卫健局、卫健委", "部门", ""),
    ("城关镇人民政府", "城关镇", "乡镇", "王五"),
    ("县司法局", "", "部门", ""),
    ("县财政局", "", "部门", ""),
    ("县交通运输局", "", "部门", ""),
    ("县水利局", "", "部门", ""),
    ("县民政局", "", "部门", ""),
    ("县住房和城乡建设局", "县住建局", "部门", ""),
    ("县统计局", "", "部门", ""),
    ("东乡镇人民政府", "", "乡镇", ""),
]
EXPECTED = {  # unit name -> statuses of its rows
    "县教育局": ["passed"],
    "县第一中学（高中部）": ["passed"],
    "县卫生健康局": ["passed"],
    "城关镇人民政府": ["warnings"],
    "县司法局": ["duplicate", "passed"],
    "县财政局": ["failed"],
    "县交通运输局": ["unreadable"],
    "县水利局": ["empty"],
    "县民政局": ["wrong_form"],
    "县住房和城乡建设局": ["wrong_year"],
    "县统计局": ["missing"],
    "东乡镇人民政府": ["missing"],
    "县外事办": ["not_in_roster"],
}
SUMMED = ["县教育局", "县第一中学（高中部）", "县卫生健康局", "城关镇人民政府", "县司法局"]


def k3(row: str, col: str) -> str:
    return f"nb_t3_{row}_{col}"


def follow_last_year(values: dict, prev: dict) -> dict:
    """``values`` changed so that every year-over-year rule holds against ``prev``."""
    v = dict(values)
    for c in T3_COLS:
        v[k3("carried", c)] = prev[k3("carry_next", c)]
    for c in T3_COLS[:-1]:  # applicant columns; the last one is 总计
        deficit = v[k3("r_total", c)] - v[k3("new", c)] - v[k3("carried", c)]
        if deficit > 0:
            v[k3("new", c)] += deficit
            v[k3("new", T3_COLS[-1])] += deficit
    for c in T3_COLS:
        v[k3("carry_next", c)] = v[k3("new", c)] + v[k3("carried", c)] - v[k3("r_total", c)]
    for row in ("rules", "normative"):
        pv, iss = prev[f"nb_t2_{row}_valid"], v[f"nb_t2_{row}_issued"]
        v[f"nb_t2_{row}_repealed"] = min(v[f"nb_t2_{row}_repealed"], pv + iss)
        v[f"nb_t2_{row}_valid"] = pv + iss - v[f"nb_t2_{row}_repealed"]
    return v


def as_report(values: dict, spec=S21) -> Report:
    return Report(
        path="x",
        form=spec.version,
        values={k: None if v is None else Decimal(str(v)) for k, v in values.items()},
    )


def write_roster(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("名单")
    for c, h in enumerate(("单位名称", "别名", "类别", "联系人")):
        ws.write_string(0, c, h)
    for r, row in enumerate(ROSTER, start=1):
        for c, v in enumerate(row):
            if v:
                ws.write_string(r, c, v)
    wb.close()


def unit_file(
    path: Path, unit: str, values: dict | None, year: int = YEAR, spec=S21, date: str = "2025-01-15"
) -> None:
    write_template(
        path,
        spec,
        unit=unit,
        year=year,
        values=values,
        cover={"filler": "李四", "phone": "0851-2822001", "date": date},
    )


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    base = tmp_path_factory.mktemp("county")
    src, last = base / "报送", base / "上年"
    src.mkdir()
    last.mkdir()
    roster = base / "单位名单.xlsx"
    write_roster(roster)

    prev = {"县教育局": consistent_values(S21, 101), "县卫生健康局": consistent_values(S21, 102)}
    for name, vals in prev.items():
        unit_file(last / f"{name}-2023.xlsx", name, vals, year=YEAR - 1, date="2024-01-20")

    v = {
        "县教育局": follow_last_year(consistent_values(S21, 1), prev["县教育局"]),
        "县第一中学（高中部）": consistent_values(S21, 2),
        "县卫生健康局": consistent_values(S21, 3),
        "城关镇人民政府": consistent_values(S21, 4),
        "县司法局": consistent_values(S21, 6),
    }
    draft = consistent_values(S21, 5)
    v["县教育局"][FEE] = Decimal("0.1")  # 0.1 + 0.2 drifts in floating point, never in Decimal
    v["县第一中学（高中部）"][FEE] = Decimal("0.2")
    v["县卫生健康局"][FEE] = Decimal("1234.5678")
    blank_key = next(k for k, x in v["城关镇人民政府"].items() if x == 0)
    v["城关镇人民政府"][blank_key] = None  # a blank cell: a warning, counted as 0
    failed = consistent_values(S21, 7)
    failed[k3("r_total", "natural")] += 1

    unit_file(src / "教育局.xlsx", "县教育局", v["县教育局"])
    unit_file(src / "一中.xlsx", "县第一中学 (高中部)", v["县第一中学（高中部）"])  # ASCII () and a space
    unit_file(src / "卫健.xlsx", "县卫健局", v["县卫生健康局"])  # by alias
    unit_file(src / "城关镇.xlsx", "城关镇", v["城关镇人民政府"])
    unit_file(src / "司法局-初稿.xlsx", "县司法局", draft, date="2025-01-10")
    unit_file(src / "司法局-修改稿.xlsx", "县司法局", v["县司法局"], date="2025年1月20日")
    os.utime(src / "司法局-初稿.xlsx", (2_000_000_000, 2_000_000_000))  # newer file, older date
    unit_file(src / "财政局.xlsx", "县财政局", failed)
    (src / "县交通运输局.xlsx").write_bytes(b"\x00not a workbook\x00" * 64)
    write_template(src / "水利局.xlsx", S21, unit="县水利局", year=YEAR)
    unit_file(src / "民政局.xlsx", "县民政局", consistent_values(S19, 8), spec=S19)
    unit_file(src / "住建局.xlsx", "县住建局", consistent_values(S21, 9), year=YEAR - 1)
    unit_file(src / "外事办.xlsx", "县外事办", consistent_values(S21, 10))

    sums = {k: sum((Decimal(str(v[u][k] or 0)) for u in SUMMED), Decimal(0)) for k in S21.cells}
    runner = CliRunner()
    last_out = base / "上年汇总.xlsx"
    r0 = runner.invoke(app, ["aggregate", str(last), "-o", str(last_out), "--roster", str(roster)])
    assert r0.exit_code == 1, r0.output  # units missing last year
    assert r0.exception is None or isinstance(r0.exception, SystemExit), r0.output  # not a crash
    assert last_out.stat().st_size > 0
    out = base / "结果" / "汇总.xlsx"
    ann = base / "结果" / "批注副本"
    res = runner.invoke(
        app,
        [
            "aggregate",
            str(src),
            "-o",
            str(out),
            "--roster",
            str(roster),
            "--previous",
            str(last_out),
            "--annotate-dir",
            str(ann),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 1, res.output
    return {
        "base": base,
        "src": src,
        "last": last,
        "roster": roster,
        "out": out,
        "ann": ann,
        "values": v,
        "failed": failed,
        "prev": prev,
        "sums": sums,
        "blank_key": blank_key,
        "doc": json.loads(res.stdout),
        "last_out": last_out,
    }


def run_json(*args) -> tuple[int, dict]:
    res = CliRunner().invoke(app, ["aggregate", *map(str, args), "--format", "json"])
    assert res.exit_code in (0, 1), res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, json.loads(res.stdout)


def statuses(doc) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for u in doc["units"]:
        out.setdefault(u["name"], []).append(u["status"])
    return {k: sorted(x) for k, x in out.items()}


@pytest.mark.slow
def test_every_status(county):
    doc = county["doc"]
    # with --previous, the unit that does not follow last year gets warnings (NB301)
    assert statuses(doc) == {**EXPECTED, "县卫生健康局": ["warnings"]}
    assert {"form", "year", "units", "sums", "categories", "findings", "summary"} <= set(doc)
    for u in doc["units"]:
        assert u["status_zh"] == Status(u["status"]).zh
        assert {
            "name",
            "category",
            "status",
            "status_zh",
            "errors",
            "warnings",
            "file",
            "filler",
            "phone",
            "date",
            "summed",
        } <= set(u)
    for f in doc["findings"]:
        assert set(f) == {
            "unit",
            "file",
            "code",
            "severity",
            "table",
            "row",
            "column",
            "sheet",
            "cell",
            "expected",
            "actual",
            "message",
        }
        assert f["severity"] in ("error", "warning")
    # problems first, in the documented order
    order = [STATUS_ORDER.index(u["status"]) for u in doc["units"]]
    assert order == sorted(order)
    by_file = {Path(u["file"]).name: u for u in doc["units"] if u["file"]}
    assert by_file["司法局-修改稿.xlsx"]["status"] == "passed"  # the later 填报日期 wins over mtime
    assert by_file["司法局-初稿.xlsx"]["status"] == "duplicate"
    assert "司法局-修改稿.xlsx" in by_file["司法局-初稿.xlsx"]["note"]
    assert by_file["一中.xlsx"]["unit_in_file"] == "县第一中学 (高中部)"
    assert by_file["卫健.xlsx"]["name"] == "县卫生健康局"
    assert by_file["财政局.xlsx"]["errors"] >= 1 and not by_file["财政局.xlsx"]["summed"]
    assert by_file["城关镇.xlsx"]["warnings"] >= 1 and by_file["城关镇.xlsx"]["errors"] == 0
    assert by_file["教育局.xlsx"]["filler"] == "李四" and by_file["教育局.xlsx"]["phone"] == "0851-2822001"
    assert doc["form"] == "2021" and doc["year"] == YEAR
    assert doc["summary"]["summed"] == len(SUMMED)
    assert doc["summary"]["statuses"]["missing"] == 2


@pytest.mark.slow
def test_sums_are_exact_and_only_over_passed_units(county):
    doc, sums = county["doc"], county["sums"]
    assert set(doc["sums"]) == set(S21.cells)
    for k, want in sums.items():
        assert Decimal(str(doc["sums"][k])) == want, k
    assert Decimal(str(doc["sums"][FEE])) == sum(
        (Decimal(str(county["values"][u][FEE])) for u in SUMMED), Decimal(0)
    )
    # the failed unit's values are not in the sums
    key = k3("r_total", "natural")
    assert Decimal(str(doc["sums"][key])) == sums[key]
    summed = sorted(u["name"] for u in doc["units"] if u["summed"])
    assert summed == sorted(SUMMED)


def test_per_category_sums(county):
    cats = county["doc"]["categories"]
    v = county["values"]
    assert set(cats) == {"部门", "乡镇"}
    assert cats["乡镇"]["units"] == 1 and cats["部门"]["units"] == 4
    for k in S21.cells:
        town = Decimal(str(v["城关镇人民政府"][k] or 0))
        assert Decimal(str(cats["乡镇"]["sums"][k])) == town
        assert Decimal(str(cats["部门"]["sums"][k])) == county["sums"][k] - town


def test_include_failed_adds_the_failed_unit(county):
    code, doc = run_json(county["src"], "--roster", county["roster"], "--include-failed")
    assert code == 1
    fin = next(u for u in doc["units"] if u["name"] == "县财政局")
    assert fin["status"] == "failed" and fin["summed"]
    for k in S21.cells:
        assert Decimal(str(doc["sums"][k])) == county["sums"][k] + Decimal(str(county["failed"][k])), k
    # the summed tables are checked again: the failed unit's mismatch shows in the county
    assert any(f["unit"] == "（汇总）" and f["code"] == "NB202" for f in doc["findings"])


def test_year_over_year_findings(county):
    doc, v, prev = county["doc"], county["values"], county["prev"]
    yoy = {"NB301", "NB302", "NB304"}
    per_unit = {}
    for f in doc["findings"]:
        if f["code"] in yoy:
            per_unit.setdefault(f["unit"], []).append(f)
    assert "县教育局" not in per_unit  # follows last year exactly
    want = {
        c for c in T3_COLS if v["县卫生健康局"][k3("carried", c)] != prev["县卫生健康局"][k3("carry_next", c)]
    }
    assert want, "fixture must differ from last year"
    labels = {S21.cells[k3("carried", c)].col_label for c in want}
    got = {f["column"] for f in per_unit["县卫生健康局"] if f["code"] == "NB301"}
    assert got == labels
    # units without last year's data get none
    assert not set(per_unit) - {"县卫生健康局", "（汇总）"}
    # the county against last year's county: same findings as the spec's rules give on the sums
    last = {k: sum((Decimal(str(prev[u][k])) for u in prev), Decimal(0)) for k in S21.cells}
    expected = [
        f for f in check_report(as_report(county["sums"]), S21, previous=as_report(last)) if f.code in yoy
    ]
    county_found = sorted((f["code"], f["row"], f["column"]) for f in per_unit.get("（汇总）", []))
    assert county_found == sorted((f.code, f.row, f.column) for f in expected)
    assert expected, "the county sums must differ from last year's in this fixture"


def test_previous_as_last_years_folder(county):
    _, doc = run_json(county["src"], "--roster", county["roster"], "--previous", county["last"])
    via_folder = sorted(
        (f["unit"], f["code"], f["row"], f["column"])
        for f in doc["findings"]
        if f["code"] in ("NB301", "NB302", "NB304")
    )
    via_book = sorted(
        (f["unit"], f["code"], f["row"], f["column"])
        for f in county["doc"]["findings"]
        if f["code"] in ("NB301", "NB302", "NB304")
    )
    assert via_folder == via_book and via_folder


def test_workbook(county):
    wb = openpyxl.load_workbook(county["out"])
    names = wb.sheetnames
    tables = [tl.sheet for tl in workbook_layout(S21).tables]
    assert names[:8] == ["汇总", *tables, "报送情况", "明细", "问题清单", "分类汇总"]
    assert wb[S21.workbook["meta_sheet"]].sheet_state == "hidden"
    meta = {r[0].value: r[1].value for r in wb[S21.workbook["meta_sheet"]].iter_rows()}
    assert meta["kind"] == "aggregate" and meta["version"] == "2021" and meta["year"] == str(YEAR)
    assert wb.custom_doc_props["nianbao_output"].value == "aggregate"

    # each official table on its own sheet, where the template has it, with the county sums
    for tl in workbook_layout(S21).tables:
        ws = wb[tl.sheet]
        for b in tl.boxes:
            if b.role != "value" and b.text:
                assert ws.cell(b.row + 1, b.col + 1).value == b.text
        for key, b in tl.values.items():
            got = ws.cell(b.row + 1, b.col + 1).value
            assert Decimal(str(got)) == county["sums"][key], key
            dest = next(iter(wb.defined_names[key].destinations))
            assert dest[0] == tl.sheet and dest[1].replace("$", "") == b.ref
    ws = wb["汇总"]
    note = ws.cell(2, 1).value
    assert f"{len(SUMMED)}/" in note and f"{len(SUMMED)}/{len(SUMMED)} " not in note  # some left out
    assert all(n in ws.cell(3, 1).value for n in SUMMED)
    links = [ws.cell(r, 1).hyperlink for r in range(6, 6 + len(tables))]
    assert [h.location.split("!")[0].strip("'") for h in links] == tables

    # 报送情况: header, one row per unit file, colours, the roster's extra column
    st = wb["报送情况"]
    head = [c.value for c in st[1]]
    assert head[:10] == [
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
    ]
    assert "联系人" in head
    rows = [[c.value for c in r] for r in st.iter_rows(min_row=2)]
    assert len(rows) == sum(len(x) for x in EXPECTED.values())
    assert [r[2] for r in rows][:2] == ["未报送", "未报送"]
    fills = {r[2].value: r[2].fill.fgColor.rgb for r in st.iter_rows(min_row=2)}
    assert fills["未报送"] != fills["通过"]
    town = next(r for r in rows if r[0] == "城关镇人民政府")
    assert town[1] == "乡镇" and town[head.index("联系人")] == "王五"
    fin_row = next(r for r in st.iter_rows(min_row=2) if r[0].value == "县财政局")
    link = fin_row[9].hyperlink
    assert link is not None
    target = (county["out"].parent / link.target.replace("\\", "/")).resolve()
    assert target.is_file() and target.parent == county["ann"].resolve()

    # 明细: labels above, the cell keys as header, numbers as numbers
    de = wb["明细"]
    keys = list(S21.cells)
    hdr = [c.value for c in de[4]]
    lead = hdr.index(keys[0])
    assert hdr[:lead] == ["单位名称", "类别", "状态", "计入汇总", "文件", "填报日期"] and hdr[lead:] == keys
    assert [de.cell(1, lead + 1 + j).value for j in range(len(keys))] == [
        S21.cells[k].table.name for k in keys
    ]
    assert [de.cell(3, lead + 1 + j).value for j in range(len(keys))] == [
        S21.cells[k].col_label for k in keys
    ]
    edu = next(r for r in de.iter_rows(min_row=5, values_only=True) if r[0] == "县教育局")
    for j, k in enumerate(keys):
        assert Decimal(str(edu[lead + j])) == Decimal(str(county["values"]["县教育局"][k]))
        assert isinstance(edu[lead + j], (int, float))

    # 问题清单: each finding of each unit, and the county's
    fl = wb["问题清单"]
    assert [c.value for c in fl[1]] == [
        "单位",
        "文件",
        "代码",
        "级别",
        "表",
        "行",
        "列",
        "工作表",
        "单元格",
        "应为",
        "实为",
        "说明",
    ]
    found = [[c.value for c in r] for r in fl.iter_rows(min_row=2)]
    assert len(found) == len(county["doc"]["findings"])
    nb202 = next(r for r in found if r[0] == "县财政局" and r[2] == "NB202")
    assert nb202[3] == "错误" and nb202[8]  # a cell reference

    # 分类汇总: one row per 类别 and the total
    ca = wb["分类汇总"]
    cat_rows = {r[0]: r for r in ca.iter_rows(min_row=5, values_only=True)}
    assert set(cat_rows) == {"部门", "乡镇", "合计"}
    assert cat_rows["合计"][1] == len(SUMMED)


def test_text_is_never_a_formula(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    unit_file(src / "a.xlsx", '=HYPERLINK("http://x")', consistent_values(S21, 1))
    out = tmp_path / "汇总.xlsx"
    res = CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out)])
    assert res.exit_code == 0, res.output
    wb = openpyxl.load_workbook(out)
    st = wb["报送情况"]
    assert st.cell(2, 1).value == '=HYPERLINK("http://x")' and st.cell(2, 1).data_type == "s"


def test_rerun_does_not_count_the_output(county, tmp_path):
    src = tmp_path / "报送"
    shutil.copytree(county["src"], src)
    out = src / "汇总.xlsx"  # written into the input folder on purpose
    res = CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out), "--roster", str(county["roster"])])
    assert res.exit_code == 1 and out.is_file(), res.output
    _, doc = run_json(src, "--roster", county["roster"])
    assert statuses(doc) == EXPECTED
    assert any(Path(s["path"]).name == "汇总.xlsx" for s in doc["skipped"])
    assert doc["sums"] == county["doc"]["sums"]


@pytest.mark.slow
def test_renamed_outputs_among_many_files_are_skipped_by_the_workers(tmp_path):
    """With enough files for the worker pool, outputs renamed like submissions (found by the
    reader from their properties) are skipped, and leave no empty rows behind."""
    src = tmp_path / "in"
    src.mkdir()
    n = engine.PARALLEL_MIN + 2
    for i in range(n):
        unit_file(src / f"单位{i:02}.xlsx", f"单位{i:02}", consistent_values(S21, i))
    first = tmp_path / "汇总.xlsx"
    assert CliRunner().invoke(app, ["aggregate", str(src), "-o", str(first)]).exit_code == 0
    shutil.copy(first, src / "单位05 (2).xlsx")  # sorts among the submissions
    ann = tmp_path / "审核"
    assert (
        CliRunner().invoke(app, ["annotate", str(src / "单位07.xlsx"), "--out-dir", str(ann)]).exit_code == 0
    )
    shutil.copy(ann / "单位07_审核.xlsx", src / "单位07 副本.xlsx")
    code, doc = run_json(src)
    assert code == 0
    assert statuses(doc) == {f"单位{i:02}": ["passed"] for i in range(n)}
    assert sorted(Path(s["path"]).name for s in doc["skipped"]) == ["单位05 (2).xlsx", "单位07 副本.xlsx"]
    res = CliRunner().invoke(app, ["check", str(src), "--format", "json"])
    checked = json.loads(res.stdout)
    assert res.exit_code == 0 and checked["summary"]["files"] == n
    assert sorted(Path(s["path"]).name for s in checked["skipped"]) == ["单位05 (2).xlsx", "单位07 副本.xlsx"]


def test_existing_output_needs_force(county):
    res = CliRunner().invoke(app, ["aggregate", str(county["src"]), "-o", str(county["out"])])
    assert res.exit_code == 2 and "--force" in res.output


def test_unwritable_output_exits_2(county, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = CliRunner().invoke(app, ["aggregate", str(county["src"]), "-o", str(blocker / "汇总.xlsx")])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_clean_county_exits_0_and_sums_without_roster(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    a, b = consistent_values(S21, 11), consistent_values(S21, 12)
    unit_file(src / "a.xlsx", "甲局", a)
    unit_file(src / "b.xlsx", "乙局", b)
    code, doc = run_json(src)
    assert code == 0
    assert statuses(doc) == {"甲局": ["passed"], "乙局": ["passed"]}
    for k in S21.cells:
        assert Decimal(str(doc["sums"][k])) == Decimal(str(a[k])) + Decimal(str(b[k]))
    assert doc["categories"] == {}


def test_year_option_overrides_the_majority(county):
    _, doc = run_json(county["src"], "--roster", county["roster"], "--year", YEAR - 1)
    st = statuses(doc)
    assert st["县住房和城乡建设局"] == ["passed"]
    assert st["县教育局"] == ["wrong_year"]


def test_names_and_dates():
    assert norm_name(" 县第一中学 (高中部) ") == norm_name("县第一中学（高中部）")
    assert norm_name("县\u3000司法局") == "县司法局"
    assert norm_name("县第１中学") == "县第1中学"
    assert date_key("2025年1月20日") == date_key("2025-01-20") == date_key("2025/1/20")
    assert date_key("20250120") == date_key("45677") == date_key("2025-01-20")
    assert date_key("不详") is None and date_key("") is None


def _crashing_work(work, items, failed):
    if any("crash" in it.name for it in items):
        os._exit(3)
    return _real_work(work, items, failed)


_real_work = engine.run_chunk


@pytest.mark.slow
def test_stream_survives_a_dying_worker(tmp_path, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    unit_file(src / "a.xlsx", "甲局", consistent_values(S21, 1))
    for i in range(engine.PARALLEL_MIN + 1):
        shutil.copy(src / "a.xlsx", src / f"a{i:02}.xlsx")
    shutil.copy(src / "a.xlsx", src / "crash.xlsx")
    items = collect([src]).items
    monkeypatch.setattr(engine, "run_chunk", _crashing_work)
    got = {i: r for i, _, r in stream_reports(iter(items), jobs=2)}
    assert sorted(got) == list(range(len(items)))
    crash = next(i for i, it in enumerate(items) if it.name == "crash.xlsx")
    assert got[crash].unreadable
    assert all(not r.unreadable and r.unit == "甲局" for i, r in got.items() if i != crash)


def test_aggregate_reads_back_as_the_county_report(county):
    from nianbao.inputs import Input
    from nianbao.reader.aggregate import read_aggregate_report

    def item(p: Path) -> Input:
        return Input(display=str(p), name=p.name, suffix=".xlsx", path=p)

    r = read_aggregate_report(item(county["out"]))
    assert (r.unit, r.form, r.year) == ("（汇总）", "2021", YEAR)
    assert r.values == county["sums"]
    sheet, ref = r.where["nb_t3_r_total_total"]
    ws = openpyxl.load_workbook(county["out"])[sheet]
    assert Decimal(str(ws[ref].value)) == county["sums"]["nb_t3_r_total_total"]
    assert read_aggregate_report(item(county["src"] / "教育局.xlsx")) is None
    assert read_aggregate_report(item(county["src"] / "县交通运输局.xlsx")) is None


def _sheets(path: Path) -> dict:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(path))
    out = {n: wb.get_sheet_by_name(n).to_python() for n in wb.sheet_names}
    meta = out.pop(S21.workbook["meta_sheet"])  # holds the time it was written
    return out, [row for row in meta if row and row[0] != "created"]


def _both_ways(src: Path, tmp: Path, **kw) -> tuple:
    """The aggregate of ``src`` written with 明细 filled while reading (early) and afresh."""
    from nianbao.aggregate import aggregate
    from nianbao.aggregate.workbook import EarlyBook, write_aggregate

    early_out, plain_out = tmp / "early.xlsx", tmp / "plain.xlsx"
    book = EarlyBook(early_out, False, kw.get("roster"))
    res = aggregate([src], early=book, **kw)
    try:
        write_aggregate(res, early_out, early=book)
        used = res.early_detail
    finally:
        res.close()
    res = aggregate([src], **kw)
    try:
        write_aggregate(res, plain_out)
    finally:
        res.close()
    assert not list(tmp.glob(".~nianbao-*")), "a temporary file was left behind"
    return used, _sheets(early_out), _sheets(plain_out)


@pytest.mark.slow
def test_detail_written_while_reading_equals_the_plain_workbook(tmp_path, monkeypatch):
    """A clean batch, enough files for the workers, arriving in any order: 明细 is written as
    they are read, in input order, and the workbook is the same as one written afterwards."""
    from nianbao.aggregate import Roster

    monkeypatch.setattr(engine, "CHUNK", 3)  # many small chunks: they come back out of order

    src = tmp_path / "in"
    src.mkdir()
    n = engine.PARALLEL_MIN + 5
    vals = {i: consistent_values(S21, 40 + i) for i in range(n)}
    for i in range(n):
        unit_file(src / f"{i:02}.xlsx", f"单位{i:02}", vals[i])
    bad = dict(consistent_values(S21, 99))
    bad["nb_t3_r_total_natural"] += 1
    unit_file(src / "07b.xlsx", "单位07乙", bad)  # failed: in 明细, not summed
    write_template(src / "08b.xlsx", S21, unit="单位08乙", year=YEAR)  # empty: not in 明细
    ros = Roster(
        [{"单位名称": f"单位{i:02}", "类别": "部门" if i % 2 else "乡镇"} for i in range(n)]
        + [{"单位名称": "单位07乙", "类别": "部门"}]
    )
    used, early, plain = _both_ways(src, tmp_path, roster=ros)
    assert used and early == plain
    detail = early[0]["明细"]
    names = [row[0] for row in detail[4:]]
    assert names == sorted(names) and "单位08乙" not in names  # input order; the empty one left out
    row7b = detail[4 + names.index("单位07乙")]
    assert row7b[2:4] == ["有错误", "否"]
    first = detail[4]
    assert first[:4] == ["单位00", "乡镇", "通过", "是"]
    lead = len(detail[3]) - len(S21.cells)  # 单位名称 … 填报日期, then the cell keys
    keys = detail[3][lead:]
    assert [Decimal(str(x)) for x in first[lead:]] == [Decimal(str(vals[0][k])) for k in keys]


def test_detail_written_while_reading_is_redone_when_statuses_change(county, tmp_path):
    """The county has a duplicate, a file of the 2019 form and one of another year: the rows
    written while reading are dropped and the workbook written afresh, the same as before."""
    from nianbao.aggregate import Roster
    from nianbao.roster import read_roster

    ros = Roster(read_roster(county["roster"]))
    used, early, plain = _both_ways(county["src"], tmp_path, roster=ros)
    assert not used and early == plain
    names = [row[0] for row in early[0]["明细"][4:]]
    assert "县司法局" in names and names.count("县司法局") == 2  # both files, one a duplicate


def test_stopped_run_leaves_no_temporary_file(tmp_path, monkeypatch):
    import nianbao.aggregate.core as agg

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        unit_file(src / f"{i}.xlsx", f"单位{i}", consistent_values(S21, i))
    real = agg._settle

    def boom(*a, **k):
        raise RuntimeError("stop")

    monkeypatch.setattr(agg, "_settle", boom)
    out = tmp_path / "out" / "汇总.xlsx"
    res = CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out)])
    assert res.exit_code == 2 and "内部错误" in res.output
    assert not out.exists() and not list(out.parent.glob(".~nianbao-*"))
    monkeypatch.setattr(agg, "_settle", real)


def test_early_rows_are_handed_over_in_input_order():
    import random

    from nianbao.aggregate import PASSED
    from nianbao.aggregate.core import _EarlyRows

    class Book:
        spec = None

        def __init__(self):
            self.got = []

        def row(self, name, category, status_zh, summed, file, form, vals, date=""):
            self.spec = get_spec(form)
            self.got.append(name)
            return True

    book = Book()
    rows = _EarlyRows(book, None, False)
    order = list(range(200))
    random.Random(7).shuffle(order)
    for i in order:
        rows.put(i, None if i % 10 == 3 else (f"u{i:03}", None, PASSED, f"{i}.xlsx", "2021", (1,)))
    assert book.got == [f"u{i:03}" for i in range(200) if i % 10 != 3]
    assert not rows.held and len(rows.written) == len(book.got)


@pytest.mark.slow
def test_output_being_written_inside_the_input_folder_is_not_an_input(tmp_path, monkeypatch):
    """明细 is written while the folders are still walked: the output's temporary file, in a
    sub-folder walked later, is neither read nor listed as skipped."""
    from nianbao.aggregate import aggregate
    from nianbao.aggregate.workbook import EarlyBook, write_aggregate

    monkeypatch.setattr(engine, "CHUNK", 2)  # results come back before the walk reaches zz/
    src = tmp_path / "in"
    (src / "zz").mkdir(parents=True)
    unit_file(src / "a00.xlsx", "甲局", consistent_values(S21, 1))
    for i in range(1, 40):
        shutil.copy(src / "a00.xlsx", src / f"a{i:02}.xlsx")
    out = src / "zz" / "汇总.xlsx"
    book = EarlyBook(out, False)
    res = aggregate([src], early=book, jobs=2)
    try:
        write_aggregate(res, out, early=book)
        skipped, rows = res.skipped, len(res.entries)
    finally:
        res.close()
    assert skipped == [] and rows == 40
    assert out.is_file() and not list((src / "zz").glob(".~nianbao-*"))


@pytest.mark.slow
def test_unit_with_a_readable_and_an_unreadable_file_is_counted_once(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    a, b = consistent_values(S21, 21), consistent_values(S21, 22)
    unit_file(src / "甲局.xlsx", "甲局", a)
    unit_file(src / "乙局.xlsx", "乙局", b)
    (src / "甲局.et").write_bytes(b"\x00\x01not a workbook\x00" * 30)  # the same unit, unreadable
    (src / "丙局.xlsx").write_bytes(b"")  # a unit with only an unreadable file stays unreadable
    code, doc = run_json(src)
    st = statuses(doc)
    assert st["甲局"] == ["duplicate", "passed"]
    assert st["丙局"] == ["unreadable"]
    assert code == 1  # 丙局
    first = doc["units"][0]
    assert first["name"] == "丙局"  # problems first: 甲局 is not shown as 无法读取 at the top
    for k in S21.cells:
        assert Decimal(str(doc["sums"][k])) == Decimal(str(a[k])) + Decimal(str(b[k]))
    out = tmp_path / "汇总.xlsx"
    res = CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out)])
    assert res.exit_code == 1, res.output
    ws = openpyxl.load_workbook(out)["报送情况"]
    rows = [[c.value for c in r] for r in ws.iter_rows(values_only=False)]
    jia = [r for r in rows if "甲局" in r]
    assert jia and not any("无法读取" in r for r in jia)


def test_last_years_aggregate_of_the_earlier_layout_is_still_read(tmp_path):
    """Aggregates written before each table had its own sheet stacked the tables on 汇总."""
    from nianbao.aggregate.sheets import stacked_where
    from nianbao.layout import parse_a1
    from nianbao.reader.aggregate import read_aggregate
    from nianbao.template import meta_rows, write_meta_sheet

    values = consistent_values(S21, 9)
    path = tmp_path / "2024年汇总.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("汇总")
    for key, (_, ref) in stacked_where(S21).items():
        ws.write_number(*parse_a1(ref), float(values[key]))
    write_meta_sheet(
        wb.add_worksheet(S21.workbook["meta_sheet"]), {"kind": "aggregate", **meta_rows(S21, "", 2024)}
    )
    wb.set_custom_property("nianbao_output", "aggregate", "text")
    wb.close()
    county = read_aggregate(path).county
    assert county.year == 2024
    assert {k: county.values[k] for k in S21.cells} == {k: Decimal(str(v)) for k, v in values.items()}


# ---------------------------------------------------------------- roll-up: a city of its counties
def _county_aggregate(base: Path, county: str, n: int, *, bad: int = 0, year: int = YEAR, spec=S21) -> dict:
    """``nianbao aggregate --unit <county>`` of ``n`` units (the last ``bad`` with an error);
    the values of the units it counts."""
    src = base / county
    src.mkdir(parents=True)
    counted = {}
    for i in range(n):
        values = dict(consistent_values(spec, 300 + 10 * len(county) + i))
        if i >= n - bad:
            values[next(r.target for r in spec.rules if r.severity == "error" and not r.uses_previous)] += 1
        else:
            counted[i] = values
        unit_file(src / f"{county}{i}局.xlsx", f"{county}{i}局", values, year=year, spec=spec)
    out = base / "市" / f"{county}汇总.xlsx"
    out.parent.mkdir(exist_ok=True)
    res = CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out), "--unit", f"{county}人民政府"])
    assert res.exit_code in (0, 1) and out.exists(), res.output
    return counted


@pytest.mark.slow
def test_rollup_sums_county_aggregates_with_their_coverage(tmp_path):
    jia = _county_aggregate(tmp_path, "甲县", 3)
    yi = _county_aggregate(tmp_path, "乙县", 3, bad=1)  # counts 2 of 3: flagged
    _county_aggregate(tmp_path, "丁县", 2, year=YEAR - 1)  # another year
    _county_aggregate(tmp_path, "戊县", 2, spec=get_spec("2019"), year=YEAR)  # another form
    city = tmp_path / "市"
    annotated = CliRunner().invoke(
        app, ["annotate", str(tmp_path / "乙县" / "乙县2局.xlsx"), "--out-dir", str(city)]
    )
    assert annotated.exit_code == 1  # an annotated copy among the aggregates: skipped
    roster = tmp_path / "市名单.csv"
    names = ["甲县人民政府", "乙县人民政府", "丙县人民政府", "丁县人民政府", "戊县人民政府"]
    roster.write_text("单位名称\n" + "\n".join(names) + "\n", "utf-8-sig")
    code, doc = run_json(city, "--roster", roster, "--year", YEAR)
    assert code == 1
    assert statuses(doc) == {
        "甲县人民政府": ["passed"],
        "乙县人民政府": ["warnings"],
        "丙县人民政府": ["missing"],
        "丁县人民政府": ["wrong_year"],
        "戊县人民政府": ["wrong_form"],
    }
    assert [Path(s["path"]).name for s in doc["skipped"]] == ["乙县2局_审核.xlsx"]
    assert any(f["code"] == "NB008" and f["unit"] == "乙县人民政府" for f in doc["findings"])
    for k in S21.cells:
        want = sum(Decimal(str(v[k])) for v in [*jia.values(), *yi.values()])
        assert Decimal(str(doc["sums"][k])) == want, k
    out = tmp_path / "市汇总.xlsx"
    res = CliRunner().invoke(app, ["aggregate", str(city), "-o", str(out), "--roster", str(roster)])
    assert res.exit_code == 1, res.output
    rows = {r[0]: r for r in openpyxl.load_workbook(out)["报送情况"].iter_rows(min_row=2, values_only=True)}
    assert "计入 3/3 个单位" in rows["甲县人民政府"][11]
    assert "计入 2/3 个单位" in rows["乙县人民政府"][11] and "有错误 1" in rows["乙县人民政府"][11]
    # last year's roll-up as --previous: the counties are compared with their own last year
    code, doc = run_json(city, "--roster", roster, "--year", YEAR, "--previous", out)
    assert any(f["unit"] == "甲县人民政府" and f["code"].startswith("NB30") for f in doc["findings"])


def test_aggregates_and_unit_returns_are_not_mixed_unless_asked(tmp_path):
    jia = _county_aggregate(tmp_path, "甲县", 2)
    city = tmp_path / "市"
    own = consistent_values(S21, 77)
    unit_file(city / "市直属局.xlsx", "市直属局", own)
    code, doc = run_json(city)
    assert code == 0 and statuses(doc) == {"市直属局": ["passed"]}
    assert [(Path(s["path"]).name, "--mixed" in s["reason"]) for s in doc["skipped"]] == [
        ("甲县汇总.xlsx", True)
    ]
    code, doc = run_json(city, "--mixed")
    assert code == 0 and statuses(doc) == {"市直属局": ["passed"], "甲县人民政府": ["passed"]}
    for k in S21.cells:
        want = Decimal(str(own[k])) + sum(Decimal(str(v[k])) for v in jia.values())
        assert Decimal(str(doc["sums"][k])) == want, k


def test_dates_are_shown_normalised_and_kept_as_typed_in_detail(tmp_path):
    """填报日期 typed 2026.1.12 or 2026年1月9日 reads 2026-01-12 / 2026-01-09 in 报送情况; 明细
    keeps what was typed."""
    src = tmp_path / "in"
    src.mkdir()
    typed = {"甲局": "2026.1.12", "乙局": "2026年1月9日", "丙局": "下周一"}
    for i, (unit, day) in enumerate(typed.items()):
        unit_file(src / f"{unit}.xlsx", unit, consistent_values(S21, 60 + i), date=day)
    out = tmp_path / "汇总.xlsx"
    assert CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out)]).exit_code == 0
    wb = openpyxl.load_workbook(out)
    st = {r[0]: r for r in wb["报送情况"].iter_rows(min_row=2, values_only=True)}
    assert {u: st[u][7] for u in typed} == {"甲局": "2026-01-12", "乙局": "2026-01-09", "丙局": "下周一"}
    de = wb["明细"]
    col = [c.value for c in de[4]].index("填报日期")
    assert {r[0]: r[col] for r in de.iter_rows(min_row=5, values_only=True)} == typed


@pytest.mark.slow
def test_rollup_run_again_does_not_count_its_own_output(tmp_path):
    jia = _county_aggregate(tmp_path, "甲县", 2)
    city = tmp_path / "市"
    out = city / "市汇总.xlsx"  # written among the county aggregates on purpose
    for _ in range(2):
        res = CliRunner().invoke(app, ["aggregate", str(city), "-o", str(out), "--unit", "某市", "--force"])
        assert res.exit_code == 0, res.output
    ws = openpyxl.load_workbook(out)["报送情况"]
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ["甲县人民政府"]
    key = "nb_t3_new_total"
    sheet, ref = next(iter(openpyxl.load_workbook(out).defined_names[key].destinations))
    got = openpyxl.load_workbook(out)[sheet][ref.replace("$", "")].value
    assert Decimal(str(got)) == sum(Decimal(str(v[key])) for v in jia.values())

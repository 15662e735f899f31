"""`nianbao check` and `nianbao annotate` end to end, as a user runs them."""

import csv
import hashlib
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from typer.testing import CliRunner

from conftest import consistent_values
from nianbao.annotate import ERROR_FILL
from nianbao.cli import app
from nianbao.layout import workbook_layout
from nianbao.spec import get_spec
from nianbao.template import write_template
from test_inputs import _zip_with_raw_names

S21 = get_spec("2021")
LAY = workbook_layout(S21)
runner = CliRunner()


def run(*args):
    res = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output
    # CliRunner catches a crash and reports exit code 1 without a traceback: tell them apart
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def batch(tmp_path):
    d = tmp_path / "收回 材料"
    d.mkdir()
    good = consistent_values(S21, 1)
    write_template(d / "县教育局.xlsx", S21, unit="县教育局", year=2025, values=good)
    bad = dict(consistent_values(S21, 2))
    bad["nb_t3_r_total_natural"] += 1
    write_template(d / "县卫健局.xlsx", S21, unit="县卫健局", year=2025, values=bad)
    (d / "~$县教育局.xlsx").write_bytes(b"lock")
    (d / "说明.doc").write_bytes(b"not supported")
    return d


def test_check_json_document(batch):
    res = run("check", batch, "--format", "json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    by_unit = {f["unit"]: f for f in doc["files"] if f["unit"]}
    assert by_unit["县教育局"]["status"] == "passed" and by_unit["县教育局"]["findings"] == []
    bad = by_unit["县卫健局"]
    assert bad["status"] == "failed" and bad["form"] == "2021" and bad["year"] == 2025
    f = next(f for f in bad["findings"] if f["code"] == "NB202")
    sheet, box = LAY.cell("nb_t3_r_total_natural")
    assert (f["sheet"], f["cell"], f["row"], f["column"]) == (sheet, box.ref, "（七）总计", "自然人")
    assert int(f["actual"]) == int(f["expected"]) + 1
    assert set(f) == {
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
    unsupported = [f for f in doc["files"] if f["path"].endswith("说明.doc")]
    assert unsupported[0]["status"] == "unreadable"
    assert "不支持的文件类型" in unsupported[0]["findings"][0]["message"]
    errors = sum(1 for f in doc["files"] for x in f["findings"] if x["severity"] == "error")
    assert errors >= 2  # the broken total of 县卫健局 and the unsupported file
    assert doc["summary"] == {
        "files": 3,
        "passed": 1,
        "failed": 1,
        "unreadable": 1,
        "passed_with_warnings": 0,
        "errors": errors,
        "warnings": 0,
        "skipped": 1,
    }
    assert [f["errors"] for f in doc["files"]] == [
        sum(x["severity"] == "error" for x in f["findings"]) for f in doc["files"]
    ]


def test_check_exit_zero_when_clean(batch):
    res = run("check", batch / "县教育局.xlsx")
    assert res.exit_code == 0
    assert "通过" in res.output


def test_check_csv_has_bom_and_one_row_per_finding(batch, tmp_path):
    out = tmp_path / "问题.csv"
    res = run("check", batch, "--format", "csv", "-o", out)
    assert res.exit_code == 1
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["文件", "填报单位", "代码"]
    doc = json.loads(run("check", batch, "--format", "json").stdout)
    assert len(rows) - 1 == sum(len(f["findings"]) for f in doc["files"])


def test_zip_with_gbk_member_names(batch, tmp_path):
    z = tmp_path / "收回.zip"
    _zip_with_raw_names(z, {"各单位/" + p.name: p.read_bytes() for p in batch.glob("县*.xlsx")}, "gbk")
    doc = json.loads(run("check", z, "--format", "json").stdout)
    names = sorted(f["path"] for f in doc["files"])
    assert any("各单位/县教育局.xlsx" in n for n in names)
    assert {f["unit"] for f in doc["files"]} == {"县教育局", "县卫健局"}


@pytest.mark.slow
def test_blank_error_mode_and_previous_year(tmp_path):
    vals = consistent_values(S21, 3)
    vals["nb_t4_review_upheld"] = None
    vals["nb_t4_review_total"] = None
    this = tmp_path / "本年.xlsx"
    write_template(this, S21, unit="县司法局", year=2025, values=vals)
    doc = json.loads(run("check", this, "--format", "json").stdout)
    blanks = [f for f in doc["files"][0]["findings"] if f["code"] == "NB101"]
    assert len(blanks) == 1 and blanks[0]["severity"] == "warning"
    doc = json.loads(run("check", this, "--format", "json", "--blank", "error").stdout)
    blanks = [f for f in doc["files"][0]["findings"] if f["code"] == "NB101"]
    t4 = [LAY.cell(k) for k in ("nb_t4_review_upheld", "nb_t4_review_total")]
    assert [(f["sheet"], f["cell"]) for f in blanks] == [(sheet, box.ref) for sheet, box in t4]
    assert all(f["severity"] == "error" for f in blanks)
    last_vals = consistent_values(S21, 4)
    last = tmp_path / "上年.xlsx"
    write_template(last, S21, unit="县司法局", year=2024, values=last_vals)
    doc = json.loads(run("check", this, "--format", "json", "--previous", last).stdout)
    carried = [f for f in doc["files"][0]["findings"] if f["code"] == "NB301"]
    differ = [
        k
        for k in S21.cells
        if k.startswith("nb_t3_carried_")
        and Decimal(vals[k]) != Decimal(last_vals[k.replace("carried", "carry_next")])
    ]
    assert len(carried) == len(differ) > 0


def test_usage_errors_exit_2(tmp_path):
    assert run("check", tmp_path, "--format", "xml").exit_code == 2
    assert run("check", tmp_path, "--previous", tmp_path / "无此文件.xlsx").exit_code == 2


@pytest.mark.slow
def test_annotate_end_to_end(batch, tmp_path):
    before = {p.name: sha(p) for p in batch.iterdir()}
    out = tmp_path / "审核"
    res = run("annotate", batch, "--out-dir", out)
    assert res.exit_code == 1
    assert {p.name: sha(p) for p in batch.iterdir()} == before
    bad = out / "县卫健局_审核.xlsx"
    wb = openpyxl.load_workbook(bad)
    assert wb.sheetnames[0] == "审核结果"
    sheet, box = LAY.cell("nb_t3_r_total_natural")
    cell = wb[sheet][box.ref]
    assert cell.fill.fill_type == "solid" and cell.fill.fgColor.rgb == ERROR_FILL
    assert cell.comment is not None and "NB202" in cell.comment.text
    clean = openpyxl.load_workbook(out / "县教育局_审核.xlsx")
    texts = [c.value for row in clean["审核结果"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("通过" in t for t in texts)
    # no overwrite without --force; the rerun skips our own outputs if pointed at them
    again = run("annotate", batch, "--out-dir", out)
    assert again.exit_code == 2 and "已存在" in again.output
    assert run("annotate", batch, "--out-dir", out, "--force").exit_code == 1
    doc = json.loads(run("check", out, "--format", "json").stdout)
    assert doc["summary"]["files"] == 0 and doc["summary"]["skipped"] == 2


@pytest.mark.parametrize("command", [c.name for c in app.registered_commands] + [None])
def test_help_is_chinese(command):
    res = run(*([command] if command else []), "--help")
    assert res.exit_code == 0
    assert "显示本帮助并退出" in res.output and "Show this message" not in res.output
    assert "用法" in res.output and "选项" in res.output and "Options" not in res.output


def test_bad_option_value_is_explained_in_chinese(tmp_path):
    res = run("check", tmp_path, "--blank", "maybe")
    assert res.exit_code == 2 and "的值无效" in res.output


@pytest.mark.parametrize(
    "args, expected",
    [
        (["check", "--bogus"], "没有 --bogus 这个选项"),
        (["check", "x", "--format"], "选项 --format 后面需要填写一个值"),
        (["chekc"], "没有 chekc 这个命令（是否想用：'check'）"),
        (["check"], "缺少参数"),
    ],
)
def test_usage_mistakes_are_explained_in_chinese(args, expected):
    res = run(*args)
    assert res.exit_code == 2
    assert expected in res.output
    assert not any(w in res.output for w in ("No such", "requires an", "Did you mean", "Missing"))


def test_check_summary_says_which_passed_files_have_warnings(tmp_path):
    spec = get_spec("2021")
    good = consistent_values(spec, 3)
    write_template(tmp_path / "甲.xlsx", spec, unit="甲局", year=2025, values=good)
    warned = {k: v for k, v in good.items() if not k.startswith("nb_t4_")}  # 表四 left blank: warnings
    write_template(tmp_path / "乙.xlsx", spec, unit="乙局", year=2025, values=warned)
    res = CliRunner().invoke(app, ["check", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "通过 2（其中仅有警告 1）" in res.output.replace("\n", "")
    res = CliRunner().invoke(app, ["check", str(tmp_path), "--format", "json"])
    assert json.loads(res.stdout)["summary"]["passed_with_warnings"] == 1


def test_a_missing_folder_is_called_a_folder(tmp_path):
    res = CliRunner().invoke(app, ["check", str(tmp_path / "收回"), str(tmp_path / "甲.xlsx")])
    out = res.output.replace("\n", "")
    assert res.exit_code == 1 and "文件夹不存在" in out and "甲.xlsx：文件不存在" in out.replace(" ", "")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["check", "aggregate"])
def test_a_wrong_previous_file_is_said_not_ignored(tmp_path, command):
    """Garbage, the roster or a blank template given as --previous: exit 2 with the reason,
    never a run without the year-over-year check."""
    spec = get_spec("2021")
    unit = tmp_path / "甲.xlsx"
    write_template(unit, spec, unit="甲局", year=2025, values=consistent_values(spec, 5))
    (tmp_path / "垃圾.xlsx").write_bytes(bytes(range(256)) * 8)
    write_template(tmp_path / "空白.xlsx", spec)
    roster = tmp_path / "名单.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["单位名称"])
    wb.active.append(["甲局"])
    wb.save(roster)
    (tmp_path / "名单.csv").write_text("单位名称\n甲局\n", "utf-8")
    extra = ["-o", str(tmp_path / "汇总.xlsx"), "--force"] if command == "aggregate" else []
    for wrong, says in (
        ("垃圾.xlsx", "不是有效的 Excel"),
        ("空白.xlsx", "为空"),
        ("名单.xlsx", "表头"),
        ("名单.csv", "不支持的文件类型"),
    ):
        res = CliRunner().invoke(app, [command, str(unit), "--previous", str(tmp_path / wrong), *extra])
        out = res.output.replace("\n", "")
        assert res.exit_code == 2 and wrong in out and says in out, (wrong, out)

"""The README's first command: `nianbao demo` runs the whole workflow on the bundled samples."""

import openpyxl
import pytest
from typer.testing import CliRunner

from nianbao.cli import app

pytestmark = pytest.mark.slow


def test_demo_runs_the_whole_workflow(tmp_path):
    out = tmp_path / "demo-output"
    res = CliRunner().invoke(app, ["demo", str(out)])
    assert res.exit_code == 0, res.output
    assert "Traceback" not in res.output and "演示完成" in res.output
    for name in (
        "模板-2021.xlsx",
        "模板-2019.xlsx",
        "审核结果.csv",
        "汇总.xlsx",
        "年报.docx",
        "年报.html",
        "由网页导入.xlsx",
    ):
        assert (out / name).stat().st_size > 0, name
    # the filled sample the demo works on is in demo-output/ too, and it passes
    from nianbao.inputs import collect
    from nianbao.pipeline import read_and_check

    filled = read_and_check(collect([out / "样例" / "示例县教育局-2025-通过.xlsx"]).items[0])
    assert filled.status == "passed" and any(v for v in filled.values.values())
    annotated = sorted(p.name for p in (out / "批注副本").iterdir())
    assert "错误-七总计不符_审核.xlsx" in annotated
    wb = openpyxl.load_workbook(out / "汇总.xlsx", read_only=True)
    assert wb.sheetnames[:4] == ["汇总", "报送情况", "明细", "问题清单"]
    states = [c for row in wb["报送情况"].iter_rows(values_only=True) for c in row]
    assert states.count("未报送") == 2

"""The README's first command: `nianbao demo` runs the whole workflow on the bundled samples."""

import openpyxl
import pytest
from typer.testing import CliRunner

from nianbao.cli import app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    return out, CliRunner().invoke(app, ["demo", str(out)])


def test_demo_runs_the_whole_workflow(demo):
    out, res = demo
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
    # first round: two units sent nothing, so the county report is refused
    wb = openpyxl.load_workbook(out / "汇总-首轮.xlsx", read_only=True)
    assert wb.sheetnames[:7] == ["汇总", "表二", "表三", "表四", "报送情况", "明细", "问题清单"]
    states = [c for row in wb["报送情况"].iter_rows(values_only=True) for c in row]
    assert states.count("未报送") == 2
    assert "仅汇总了 3/" in res.output.replace("\n", "") and not (out / "年报-首轮.docx").exists()
    # second round: every unit counted
    wb = openpyxl.load_workbook(out / "汇总.xlsx", read_only=True)
    states = [row[2] for row in wb["报送情况"].iter_rows(min_row=2, values_only=True)]
    assert states and set(states) == {"通过"}


def test_readme_publish_command_runs_as_written_on_the_demo_output(demo):
    """The README's step 6, word for word, in demo-output/: the county's report from 汇总.xlsx."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    import docx

    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    command = re.search(r"^(nianbao publish 汇总\.xlsx [^#\n]*?)\s*(#.*)?$", readme, re.M).group(1)
    assert command == "nianbao publish 汇总.xlsx -o 年报.docx --html 年报.html --text 正文.md"
    out, res = demo
    assert res.exit_code == 0, res.output
    for name in ("年报.docx", "年报.html"):
        (out / name).unlink()
    exe = Path(sys.executable).with_name("nianbao")
    proc = subprocess.run([str(exe), *command.split()[1:]], cwd=out, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    title = docx.Document(str(out / "年报.docx")).paragraphs[0].text.replace("\n", "")
    assert title == "示例县人民政府2025年政府信息公开工作年度报告"
    text = "\n".join(p.text for p in docx.Document(str(out / "年报.docx")).paragraphs)
    assert "（演示文字）" in text and "仅供核对" not in text and (out / "年报.html").stat().st_size > 0

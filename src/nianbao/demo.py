"""`nianbao demo`: the whole workflow on the bundled samples, as a user would run it."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner


def _run(args: list[str]) -> int:
    from .cli import app

    print("\n$ nianbao " + " ".join(args), flush=True)
    res = CliRunner().invoke(app, args)
    print(res.output, end="", flush=True)
    return res.exit_code


DEMO_TEXT = """# 一、总体情况
（演示文字）本年度，本机关认真贯彻《中华人民共和国政府信息公开条例》，推进主动公开和依申请公开工作。

# 五、存在的主要问题及改进情况
（演示文字）政策解读形式较单一，下一年度将丰富解读方式。

# 六、其他需要报告的事项
（演示文字）本年度依据《政府信息公开信息处理费管理办法》发出收费通知，收取信息处理费情况已如实登记。
"""


def _write_roster(samples: Path, roster: Path) -> list[str]:
    """A roster of the sample units plus two units that sent nothing (未报送); its names."""
    from .inputs import collect
    from .reader import read_report

    units = []
    for item in collect([samples]).items:
        report = read_report(item)
        named = report.unit and not any(f.code == "NB004" for f in report.findings)  # not a file name
        if named and report.unit not in units:
            units.append(report.unit)
    rows = ["单位名称,类别,别名"] + [f"{u},部门," for u in units]
    rows += ["示例县水务局,部门,县水务局", "示例县城关镇人民政府,乡镇,城关镇"]
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")
    return [*units, "示例县水务局", "示例县城关镇人民政府"]


COUNTY_UNIT = "示例县人民政府"
AGGREGATE = ["aggregate", "--year", "2025", "--roster", "单位名单.csv", "--unit", COUNTY_UNIT]
# Run in the demo folder: the commands read as the README writes them (step 6 word for word).
ROUNDS = [
    ["template", "-o", "模板-2021.xlsx", "--year", "2025"],
    ["template", "-o", "模板-2019.xlsx", "--form", "2019", "--year", "2020"],
    ["check", "样例"],
    ["check", "样例", "--format", "csv", "-o", "审核结果.csv"],
    ["annotate", "样例", "--out-dir", "批注副本"],
    # first round: some units have not sent their return, some returns have errors
    [*AGGREGATE, "样例", "-o", "汇总-首轮.xlsx", "--annotate-dir", "汇总批注"],
    ["publish", "汇总-首轮.xlsx", "-o", "年报-首轮.docx"],  # refused: not every unit is counted
    # second round: every unit's corrected return is in 收回/
    [
        "aggregate",
        "收回",
        "-o",
        "汇总.xlsx",
        "--year",
        "2025",
        "--roster",
        "单位名单.csv",
        "--unit",
        COUNTY_UNIT,
    ],
    ["publish", "--text-skeleton", "正文框架.md"],
    ["publish", "汇总.xlsx", "-o", "年报.docx", "--html", "年报.html", "--text", "正文.md"],
    ["import", "年报.html", "-o", "由网页导入.xlsx"],
]


def run_demo(out: Path) -> int:
    import contextlib

    from .samples import build_returns, build_samples

    out = Path(out).resolve()
    if out.exists():
        shutil.rmtree(out)
    samples = out / "样例"
    print(f"生成样例填报表到 {samples} …")
    build_samples(samples)
    units = _write_roster(samples, out / "单位名单.csv")
    build_returns(out / "收回", units, 2025)
    (out / "正文.md").write_text(DEMO_TEXT, encoding="utf-8")
    from .cli import app

    names = {c.name for c in app.registered_commands}
    print(f"\n以下命令在 {out} 中运行：")
    with contextlib.chdir(out):
        for args in ROUNDS:
            if args[0] not in names:
                continue
            code = _run(args)
            if code == 2:
                print(f"步骤失败：nianbao {' '.join(args)}")
                return 2
    print(f"\n演示完成，结果在 {out}")
    return 0

"""`nianbao demo`: the whole workflow on the bundled samples, as a user would run it.

Each step is shown as the command a user types and run by calling that command's
``*_command`` function (the same code the command line calls after parsing the options)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

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


def _steps() -> list[tuple[list[str], Callable[[], int]]]:
    """(the command as the user types it, the call that runs it). Run in the demo folder: the
    commands read as the README writes them (step 6 word for word)."""
    from .aggregate.command import aggregate_command
    from .check import annotate_command, check_command
    from .importers.command import import_command
    from .publish.command import publish_command
    from .template import template_command

    p = Path
    county = {"year": 2025, "roster": p("单位名单.csv"), "unit": COUNTY_UNIT}
    return [
        (
            ["template", "-o", "模板-2021.xlsx", "--year", "2025"],
            # no --form: None, the newest form
            lambda: template_command(p("模板-2021.xlsx"), None, 2025, None, None, None, None, None, False),
        ),
        (
            ["template", "-o", "模板-2019.xlsx", "--form", "2019", "--year", "2020"],
            lambda: template_command(p("模板-2019.xlsx"), "2019", 2020, None, None, None, None, None, False),
        ),
        (["check", "样例"], lambda: check_command([p("样例")])),
        (
            ["check", "样例", "--format", "csv", "-o", "审核结果.csv"],
            lambda: check_command([p("样例")], "csv", output=p("审核结果.csv")),
        ),
        (["annotate", "样例", "--out-dir", "批注副本"], lambda: annotate_command([p("样例")], p("批注副本"))),
        # first round: some units have not sent their return, some returns have errors
        (
            [*AGGREGATE, "样例", "-o", "汇总-首轮.xlsx", "--annotate-dir", "汇总批注"],
            lambda: aggregate_command(
                [p("样例")], output=p("汇总-首轮.xlsx"), annotate_dir=p("汇总批注"), **county
            ),
        ),
        # refused: not every unit is counted
        (
            ["publish", "汇总-首轮.xlsx", "-o", "年报-首轮.docx"],
            lambda: publish_command(p("汇总-首轮.xlsx"), p("年报-首轮.docx")),
        ),
        # second round: every unit's corrected return is in 收回/
        (
            [*AGGREGATE[:1], "收回", "-o", "汇总.xlsx", *AGGREGATE[1:]],
            lambda: aggregate_command([p("收回")], output=p("汇总.xlsx"), **county),
        ),
        (
            ["publish", "--text-skeleton", "正文框架.md"],
            lambda: publish_command(None, None, text_skeleton=p("正文框架.md")),
        ),
        (
            ["publish", "汇总.xlsx", "-o", "年报.docx", "--html", "年报.html", "--text", "正文.md"],
            lambda: publish_command(p("汇总.xlsx"), p("年报.docx"), html=p("年报.html"), text=p("正文.md")),
        ),
        (
            ["import", "年报.html", "-o", "由网页导入.xlsx"],
            lambda: import_command([p("年报.html")], p("由网页导入.xlsx"), None),
        ),
    ]


def demo_command(out: Path) -> int:
    """``nianbao demo``: build the samples in ``out`` and run every step there."""
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
    print(f"\n以下命令在 {out} 中运行：")
    with contextlib.chdir(out):
        for args, run in _steps():
            print("\n$ nianbao " + " ".join(args), flush=True)
            code = run()
            if code == 2:
                print(f"步骤失败：nianbao {' '.join(args)}")
                return 2
    print(f"\n演示完成，结果在 {out}")
    return 0

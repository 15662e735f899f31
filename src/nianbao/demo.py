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


def _write_roster(samples: Path, roster: Path) -> None:
    """A roster of the sample units plus two units that sent nothing (未报送)."""
    from .inputs import collect
    from .reader import read_report

    units = []
    for item in collect([samples]).items:
        unit = read_report(item).unit
        if unit and unit not in units:
            units.append(unit)
    rows = ["单位名称,类别,别名"] + [f"{u},部门," for u in units]
    rows += ["示例县水务局,部门,县水务局", "示例县城关镇人民政府,乡镇,城关镇"]
    roster.write_text("\n".join(rows) + "\n", encoding="utf-8-sig")


def run_demo(out: Path) -> int:
    from .samples import build_samples

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    samples = out / "样例"
    print(f"生成样例填报表到 {samples} …")
    build_samples(samples)
    steps = [
        ["template", "-o", str(out / "模板-2021.xlsx"), "--year", "2025"],
        ["template", "-o", str(out / "模板-2019.xlsx"), "--form", "2019", "--year", "2020"],
        ["check", str(samples)],
        ["check", str(samples), "--format", "csv", "-o", str(out / "审核结果.csv")],
        ["annotate", str(samples), "--out-dir", str(out / "批注副本")],
    ]
    from .cli import app

    names = {c.name for c in app.registered_commands}
    roster = out / "单位名单.csv"
    _write_roster(samples, roster)
    if "aggregate" in names:
        steps.append(
            [
                "aggregate",
                str(samples),
                "-o",
                str(out / "汇总.xlsx"),
                "--year",
                "2025",
                "--roster",
                str(roster),
                "--annotate-dir",
                str(out / "汇总批注"),
            ]
        )
    prose = out / "正文.md"
    prose.write_text(DEMO_TEXT, encoding="utf-8")
    if "publish" in names:
        steps.append(
            [
                "publish",
                str(samples / "示例县教育局-2025-通过.xlsx"),
                "--text",
                str(prose),
                "-o",
                str(out / "年报.docx"),
                "--html",
                str(out / "年报.html"),
            ]
        )
    if "import" in names:
        steps.append(["import", str(out / "年报.html"), "-o", str(out / "由网页导入.xlsx")])
    for args in steps:
        code = _run(args)
        if code == 2:
            print(f"步骤失败：nianbao {' '.join(args)}")
            return 2
    print(f"\n演示完成，结果在 {out.resolve()}")
    return 0

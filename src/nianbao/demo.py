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
    if "aggregate" in names:
        steps.append(["aggregate", str(samples), "-o", str(out / "汇总.xlsx"), "--year", "2025"])
    if "publish" in names:
        steps.append(["publish", str(samples / "示例县教育局-2025-通过.xlsx"),
                      "-o", str(out / "年报.docx"), "--html", str(out / "年报.html")])
    for args in steps:
        code = _run(args)
        if code == 2:
            print(f"步骤失败：nianbao {' '.join(args)}")
            return 2
    print(f"\n演示完成，结果在 {out.resolve()}")
    return 0

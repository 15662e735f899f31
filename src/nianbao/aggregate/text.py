"""The aggregate as JSON and as a table in the terminal."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from ..model import json_num
from ..vocab import Severity
from .core import Result
from .status import (
    COUNTY,
    DUPLICATE,
    MISSING,
    NOT_IN_ROSTER,
    PASSED,
    WARNINGS,
)


# ---------------------------------------------------------------- JSON
def to_json(res: Result) -> str:
    def nums(d: dict) -> dict:
        return {k: json_num(v) for k, v in d.items()}

    findings = [{"unit": COUNTY, "file": None, **f.to_dict()} for f in res.county.findings]
    for e in res.entries:
        for f in res.findings(e):
            findings.append({"unit": e.name, "file": e.file or None, **f.to_dict()})
    counts = res.counts()
    doc = {
        "form": res.form,
        "form_id": res.spec.form_id,
        "year": res.year,
        "unit": res.unit or None,
        "units": [e.to_dict() for e in res.entries],
        "sums": nums(res.sums),
        "categories": {c: {"units": n, "sums": nums(s)} for c, (n, s) in res.categories.items()},
        "findings": findings,
        "summary": {
            "units": len(res.entries),
            "summed": len(res.summed),
            "expected": res.coverage().expected,
            "statuses": counts,
            "county_errors": res.county.errors,
            "county_warnings": res.county.warnings,
            "skipped": len(res.skipped),
        },
        "skipped": [{"path": p, "reason": why} for p, why in res.skipped],
    }
    from ..render import dumps

    return dumps(doc)


def summary_line(res: Result) -> str:
    parts = [f"{s.zh} {n}" for s, n in res.counts().items() if n]
    return (
        f"共 {len(res.entries)} 行（{'，'.join(parts) or '无'}）；计入汇总 {len(res.summed)} 个单位；"
        f"汇总表校验：错误 {res.county.errors}，警告 {res.county.warnings}；跳过 {len(res.skipped)} 个文件。"
    )


def print_text(res: Result, output: Path | None, console=None, limit: int = 200) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console(highlight=False)
    colours = {PASSED: "green", WARNINGS: "yellow", DUPLICATE: "magenta", NOT_IN_ROSTER: "magenta"}
    shown = islice((e for e in res.entries if e.status != PASSED), limit)
    rows = list(shown)
    if rows:
        t = Table(show_header=True, header_style="bold")
        for col in ("单位名称", "状态", Severity.ERROR.zh, Severity.WARNING.zh, "文件", "说明"):
            t.add_column(col, overflow="fold")
        for e in rows:
            c = colours.get(e.status, "red")
            t.add_row(
                escape(e.name),
                f"[{c}]{e.status_zh}[/]",
                str(e.errors),
                str(e.warnings),
                escape(e.file),
                escape(e.note),
            )
        con.print(t)
        more = len(res.entries) - res.counts()[PASSED] - len(rows)
        if more > 0:
            con.print(f"……另有 {more} 行，见汇总表“报送情况”。")
    for f in res.county.findings:
        sev = "[red]错误[/]" if f.is_error else "[yellow]警告[/]"
        con.print(f"{COUNTY} {sev} [{f.code}] {escape(f.message)}")
    if len(res.units) == sum(1 for s in res.units.status if s == MISSING.rank):
        con.print("[yellow]没有找到任何填报表（.xlsx、.xlsm、.xls 或 .zip）[/]")
    con.print(summary_line(res))
    if output is not None:
        con.print(f"汇总表已写入：{escape(str(output))}")

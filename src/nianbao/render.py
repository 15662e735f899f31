"""Render reports and findings: terminal (rich), JSON, CSV. One finding, one shape everywhere."""

from __future__ import annotations

import csv
import io
import json
import sys

from .findings import CSV_HEADER, neutralise
from .model import FAILED, PASSED, UNREADABLE, Report
from .vocab import Severity, Status

_COLOUR = {"ok": "green", "warn": "yellow"}  # rich colour of a status tone (others: red)


def summary(reports: list[Report], skipped: list) -> dict:
    doc: dict = {"files": len(reports)}
    for status in (PASSED, FAILED, UNREADABLE):
        doc[status.value] = sum(r.status == status for r in reports)
    return doc | {
        "passed_with_warnings": sum(r.status == PASSED and r.warnings > 0 for r in reports),
        "errors": sum(r.errors for r in reports),
        "warnings": sum(r.warnings for r in reports),
        "skipped": len(skipped),
    }


def summary_counts(s: dict) -> str:
    """通过 n（其中仅有警告 m），有错误 n，无法读取 n: the counts of a summary by status."""
    warned = s.get("passed_with_warnings", 0)
    note = {PASSED: f"（其中{Status.WARNINGS.zh} {warned}）" if warned else ""}
    return "，".join(f"{st.zh} {s[st.value]}{note.get(st, '')}" for st in (PASSED, FAILED, UNREADABLE))


def dumps(doc: dict) -> str:
    """JSON with one line per top-level entry and per item of a top-level list: as readable as
    indented JSON for a batch, and written by json's C encoder (indenting runs in Python)."""
    one = json.JSONEncoder(ensure_ascii=False).encode
    parts = []
    for key, value in doc.items():
        if isinstance(value, list) and value:
            body = "[\n" + ",\n".join("    " + one(x) for x in value) + "\n  ]"
        else:
            body = one(value)
        parts.append(f"  {one(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}"


def to_json(reports: list[Report], skipped: list, with_values: bool = False) -> str:
    doc = {
        "files": [r.to_dict(with_values) for r in reports],
        "skipped": [{"path": p, "reason": why} for p, why in skipped],
        "summary": summary(reports, skipped),
    }
    return dumps(doc)


def csv_text(rows) -> str:
    """The findings CSV (UTF-8 with BOM, for Excel) of ``rows``: one list per finding, in the
    order of CSV_HEADER; every cell is neutralised so that Excel never runs it as a formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CSV_HEADER)
    for row in rows:
        w.writerow([neutralise(x) for x in row])
    return "\ufeff" + buf.getvalue()


def to_csv(reports: list[Report]) -> str:
    return csv_text(
        (
            r.path,
            r.unit,
            f.code,
            f.severity_zh,
            f.table,
            f.row,
            f.column,
            f.sheet,
            f.cell,
            f.expected or "",
            f.actual or "",
            f.message,
        )
        for r in reports
        for f in r.findings
    )


def write_stdout(text: str) -> None:
    """UTF-8 regardless of the console code page (Windows redirects use cp936)."""
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def print_text(reports: list[Report], skipped: list, console=None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console(highlight=False)
    for r in reports:  # file names, units and cell text are the user's: never rich markup
        head = f"[bold]{escape(r.path)}[/]"
        meta = escape(
            "，".join(
                x
                for x in (r.unit, f"{r.year}年度" if r.year else "", f"{r.form}版表式" if r.form else "")
                if x
            )
        )
        shown = r.outcome
        colour = _COLOUR.get(shown.tone, "red")
        con.print(
            f"{head}  {meta}  [{colour}]{shown.zh}[/]"
            f"（{Severity.ERROR.zh} {r.errors}，{Severity.WARNING.zh} {r.warnings}）"
        )
        if not r.findings:
            continue
        t = Table(show_header=True, header_style="bold", expand=False, show_lines=False)
        for col in ("代码", "级别", "位置", "说明"):
            t.add_column(col, overflow="fold")
        for f in r.findings:
            sev = f"[red]{f.severity_zh}[/]" if f.is_error else f"[yellow]{f.severity_zh}[/]"
            t.add_row(escape(f.code), sev, escape(f.location), escape(f.message))
        con.print(t)
    s = summary(reports, skipped)
    con.print(
        f"共 {s['files']} 个文件：{summary_counts(s)}；"
        f"{Severity.ERROR.zh} {s['errors']} 条，{Severity.WARNING.zh} {s['warnings']} 条；"
        f"跳过 {s['skipped']} 个（锁定文件、隐藏文件或本工具的输出）。"
    )


class Progress:
    """A progress bar on stderr, shown only on a terminal."""

    def __init__(self, total: int, label: str = "正在审核"):
        self._p = None
        if total >= 2 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn
            from rich.progress import Progress as RP

            self._p = RP(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._p.start()
            self._task = self._p.add_task(label, total=total)

    def advance(self, n: int = 1) -> None:
        if self._p:
            self._p.advance(self._task, n)

    def close(self) -> None:
        if self._p:
            self._p.stop()

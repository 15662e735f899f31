"""Read and check one uploaded file for a collection: the report as the desk keeps it (plain JSON)."""

from __future__ import annotations

from pathlib import Path

from ..findings import fmt_number
from ..inputs import Input, kind_of
from ..model import unreadable_report
from ..vocab import Status


def check_file(path: Path, filename: str, *, form: str, year: int, blank: str = "zero") -> dict:
    """The checked report of the file at ``path`` (shown to people as ``filename``), with the
    collection's own conditions (form and year) added as errors. Never raises."""
    from ..pipeline import read_and_check

    kind = kind_of(filename)
    item = Input(display=filename, name=filename, suffix=Path(filename).suffix.lower(), path=path)
    if kind is None or kind == "archive":
        item.kind = "unsupported"
        item.error = "不支持的文件类型：请上传填报的 Excel 工作簿（.xlsx、.xls 等）"
    else:
        item.kind = kind
    report = unreadable_report(filename, item.error) if item.error else read_and_check(item, blank)
    doc = report.to_dict(with_values=True)
    doc["where"] = {k: list(v) for k, v in report.where.items()}
    doc.setdefault("corrections", [])
    doc.setdefault("corrections_truncated", False)
    cov = report.coverage
    doc["coverage"] = cov.text() if cov is not None else ""  # an aggregate sent up as a return
    doc["coverage_complete"] = cov.complete if cov is not None else True
    problems = _collection_problems(report, form, year)
    doc["problems"] = problems
    doc["errors"] = report.errors + len(problems)
    if problems and doc["status"] == Status.PASSED:
        doc["status"] = Status.FAILED
    return doc


def _collection_problems(report, form: str, year: int) -> list[str]:
    if report.unreadable:
        return []
    out = []
    if report.form and report.form != form:
        out.append(f"使用的是 {report.form} 版表式，本次报送要求 {form} 版表式，请下载本页的模板重新填写")
    if report.year is not None and report.year != year:
        out.append(f"报告年度为 {report.year}，本次报送的是 {year} 年度，请核对")
    return out


def changes(old: dict, new: dict, spec) -> list[dict]:
    """What changed between two uploads, cell by cell (values as people write them)."""
    a, b = old.get("values") or {}, new.get("values") or {}
    where = new.get("where") or old.get("where") or {}
    out = []
    for key, cell in spec.cells.items():
        va, vb = a.get(key), b.get(key)
        if va == vb:
            continue
        sheet_cell = where.get(key) or ["", ""]
        out.append(
            {
                "key": key,
                "table": cell.table.name,
                "row": cell.row_label,
                "column": cell.col_label,
                "cell": f"{sheet_cell[0]}!{sheet_cell[1]}" if sheet_cell[0] else "",
                "old": "" if va is None else fmt_number(va),
                "new": "" if vb is None else fmt_number(vb),
            }
        )
    return out

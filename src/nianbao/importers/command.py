"""``nianbao import``: published reports -> checked reports -> filled official workbooks."""

from __future__ import annotations

import json
import sys
from functools import partial
from pathlib import Path

from ..inputs import Input
from ..model import Report, internal_error_report, unreadable_report
from ..pipeline import CRASHED
from . import SUFFIXES, read_report_file

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _err(msg: str) -> None:
    print(f"错误：{msg}", file=sys.stderr)


SKIP_LOCK = "Office/WPS 临时锁定文件（~$ 开头，文件正被打开），已跳过"
SKIP_HIDDEN = "隐藏文件，已跳过"


def _expand(paths: list[Path], skipped: list[tuple[str, str]] | None = None) -> tuple[list[Path], list[str]]:
    """Report files under ``paths``; lock and hidden files found in folders go to ``skipped``
    as (path, reason) so that they can be counted."""
    files, problems = [], []
    skipped = [] if skipped is None else skipped
    for p in paths:
        if p.is_dir():
            found = []
            for x in sorted(p.rglob("*")):
                if not x.is_file() or x.suffix.lower() not in SUFFIXES:
                    continue
                if x.name.startswith("~$"):
                    skipped.append((str(x), SKIP_LOCK))
                elif any(part.startswith(".") for part in x.relative_to(p).parts):
                    skipped.append((str(x), SKIP_HIDDEN))
                else:
                    found.append(x)
            if not found:
                problems.append(f"文件夹 {p} 中没有可导入的报告（.txt、.html、.docx、.pdf）")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            problems.append(f"找不到文件：{p}")
    return files, problems


def _targets(files: list[Path], output: Path | None, out_dir: Path | None) -> list[Path]:
    if output is not None:
        return [output]
    used: set[str] = set()
    out = []
    for f in files:
        name = f.stem + ".xlsx"
        if name in used:
            name = f"{f.stem}_{f.suffix.lstrip('.')}.xlsx"
        n = 2
        while name in used:
            name, n = f"{f.stem}_{n}.xlsx", n + 1
        used.add(name)
        out.append(out_dir / name)
    return out


def import_one(path: Path, target: Path, force: bool) -> tuple[Report, str | None, str | None]:
    """(report, written workbook or None, output error or None). Never raises."""
    from ..checks import run_checks
    from ..fileio import OutputError
    from ..spec import get_spec
    from ..template import write_template

    try:
        report = read_report_file(Input.of(path))
    except Exception as exc:
        return internal_error_report(str(path), exc, source="import"), None, None
    if report.unreadable or not report.form:
        return report, None, None
    spec = get_spec(report.form)
    if not report.where:  # findings and corrections point at the cells of the workbook written
        from ..layout import workbook_layout

        lay = workbook_layout(spec)
        report.where = {k: (tl.sheet, b.ref) for tl in lay.tables for k, b in tl.values.items()}
    run_checks(report, spec)
    values = {k: v for k, v in report.values.items() if k in spec.cells}
    try:
        write_template(target, spec, unit=report.unit or None, year=report.year, values=values, force=force)
    except OutputError as e:
        return report, None, str(e)
    except OSError as e:
        return report, None, f"无法写入 {target}：{e.strerror or e}"
    except Exception as e:
        cause = e.args[0] if e.args and isinstance(e.args[0], OSError) else e.__context__
        why = getattr(cause, "strerror", None) or type(e).__name__
        return report, None, f"无法写入 {target}：{why}"
    return report, str(target), None


def _import_pair(pair: tuple[Path, Path], force: bool) -> tuple[Report, str | None, str | None]:
    return import_one(*pair, force)


def _pair_failed(pair: tuple[Path, Path], exc: BaseException) -> tuple[Report, None, None]:
    return internal_error_report(str(pair[0]), exc, source="import"), None, None


def _pair_crashed(pair: tuple[Path, Path]) -> tuple[Report, None, None]:
    return unreadable_report(str(pair[0]), CRASHED, source="import"), None, None


def _summary(report: Report, written: str | None, out_error: str | None) -> list[str]:
    head = report.unit or "（未识别单位）"
    year = f"{report.year}年" if report.year else "（未识别年度）"
    form = f"{report.form} 表式" if report.form else "表式未知"
    state = report.status.zh
    lines = [
        f"{report.path}：{head} {year}（{form}）{state}，错误 {report.errors} 个、警告 {report.warnings} 个"
    ]
    if written:
        lines.append(f"  已写入 {written}")
    if out_error:
        lines.append(f"  未写入：{out_error}")
    for f in report.findings[:30]:
        where = f" [{f.location}]" if f.location else ""
        lines.append(f"  [{f.code}] {f.severity_zh}{where}：{f.message}")
    if len(report.findings) > 30:
        lines.append(f"  …… 另有 {len(report.findings) - 30} 条，请用 --format json 查看全部")
    return lines


def import_command(
    reports: list[Path], output: Path | None, out_dir: Path | None, fmt: str = "text", force: bool = False
) -> int:
    if fmt not in ("text", "json"):
        _err("--format 只能是 text 或 json")
        return EXIT_USAGE
    if output is None and out_dir is None:
        _err("请用 -o 指定输出文件（单个报告），或用 --out-dir 指定输出文件夹（多个报告）")
        return EXIT_USAGE
    if output is not None and out_dir is not None:
        _err("-o 与 --out-dir 只能选一个")
        return EXIT_USAGE
    if output is not None and output.suffix.lower() != ".xlsx":
        _err(f"输出文件应以 .xlsx 结尾：{output}")
        return EXIT_USAGE
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        _err(f"--out-dir 不是文件夹：{out_dir}")
        return EXIT_USAGE
    skipped: list[tuple[str, str]] = []
    files, problems = _expand(list(reports), skipped)
    if problems:
        for p in problems:
            _err(p)
        return EXIT_USAGE
    if output is not None and len(files) != 1:
        _err(f"-o 只能用于单个报告（现有 {len(files)} 个），多个报告请用 --out-dir")
        return EXIT_USAGE
    from ..engine import run_batch

    pairs = list(zip(files, _targets(files, output, out_dir), strict=False))
    done = run_batch(pairs, partial(_import_pair, force=force), failed=_pair_failed, crashed=_pair_crashed)
    results = [r for _, _, r in done]
    if fmt == "json":
        payload = {"files": [], "skipped": [{"path": p, "reason": why} for p, why in skipped]}
        for report, written, out_error in results:
            d = report.to_dict(with_values=True)
            d["output"] = written
            if out_error:
                d["output_error"] = out_error
            payload["files"].append(d)
        sys.stdout.buffer.write(json.dumps(payload, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        sys.stdout.flush()
    else:
        for report, written, out_error in results:
            print("\n".join(_summary(report, written, out_error)))
        for path, why in skipped:
            print(f"{path}：{why}")
        if skipped:
            print(f"共跳过 {len(skipped)} 个文件（临时锁定文件或隐藏文件）。")
    if any(e for _, _, e in results):
        return EXIT_USAGE
    if any(r.unreadable or r.errors for r, _, _ in results):
        return EXIT_FINDINGS
    return EXIT_OK

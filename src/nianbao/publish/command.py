"""``nianbao publish``: read and check the workbook, then write the Word report (and web page)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..vocab import Incident, Status

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
SHOWN_ERRORS = 5
KIND_ZH = {"docx": "Word 文档", "html": "网页"}


class _Stop(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


def read_text_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _Stop(f"找不到正文文件：{path}") from None
    except OSError as e:
        raise _Stop(f"无法读取正文文件 {path}：{e.strerror or e}") from None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise _Stop(f"正文文件 {path} 不是 UTF-8 或 GBK 编码的文本，请另存为 UTF-8 文本后重试")


def _read(path: Path, previous=None):
    from ..inputs import KIND_WORKBOOK, Input, collect, kind_of
    from ..pipeline import read_and_check

    if not path.exists():
        raise _Stop(f"找不到文件：{path}")
    if path.is_dir():
        raise _Stop(f"{path} 是文件夹：请指定一个填报表或汇总表文件")
    col = collect([path])
    items = list(col.items)
    if not items and col.skipped and kind_of(path.name) == KIND_WORKBOOK:
        # a folder scan skips nianbao's own outputs; an aggregate named here is what we publish
        items = [
            Input(
                display=str(path),
                name=path.name,
                suffix=path.suffix.lower(),
                path=path,
                mtime=path.stat().st_mtime,
                kind=KIND_WORKBOOK,
            )
        ]
    if not items:
        raise _Stop(f"{path} 不是可读取的填报表或汇总表（.xlsx）")
    report = read_and_check(items[0], "zero", previous)
    if report.unreadable:
        why = report.findings[0].message if report.findings else Status.UNREADABLE.zh
        raise _Stop(f"无法读取 {path}：{why}")
    if not report.form:
        raise _Stop(f"{path} 不是本工具的填报表或汇总表，无法识别表式")
    return report


def _load_previous(path: Path | None):
    if path is None:
        return None
    from ..pipeline import load_previous

    try:
        prev = load_previous(path)
    except FileNotFoundError:
        raise _Stop(f"找不到上年数据文件：{path}") from None
    if prev.unreadable or not prev.form:
        why = prev.findings[0].message if prev.findings else "无法识别表式"
        raise _Stop(f"上年数据文件无法读取：{path}（{why}）")
    if prev.empty:
        raise _Stop(f"上年数据文件 {path} 的数值格全部为空（可能是空白模板），无法写明与上年相比的增减")
    return prev


def _check_targets(sources: list[Path], output: Path, html: Path | None) -> None:
    if output.suffix.lower() != ".docx":
        raise _Stop(f"输出文件应为 Word 文档（.docx）：{output}")
    if html is not None and html.suffix.lower() not in (".html", ".htm"):
        raise _Stop(f"网页文件应以 .html 结尾：{html}")
    targets = [output] + ([html] if html is not None else [])
    if html is not None and output.resolve() == html.resolve():
        raise _Stop("Word 文档和网页不能写入同一个文件")
    for t in targets:
        for s in sources:
            if t.resolve() == s.resolve():
                raise _Stop(f"输出文件 {t} 与输入文件相同，会覆盖输入，请换一个文件名")


def _refuse_errors(workbook: Path, report) -> None:
    errors = report.errors
    lines = [f"{workbook} 未通过审核：存在 {errors} 处错误，不能发布。"]
    for f in [f for f in report.findings if f.is_error][:SHOWN_ERRORS]:
        where = f"（{f.location}）" if f.location else ""
        lines.append(f"  · {f.message}{where}")
    if errors > SHOWN_ERRORS:
        lines.append(f"  · ……其余 {errors - SHOWN_ERRORS} 处")
    lines.append(
        f"请先运行 nianbao check {workbook} 查看并改正全部错误；"
        "如只需生成仅供核对的文本，可加 --force（首页将标注未通过审核）。"
    )
    raise _Stop("\n".join(lines), EXIT_FINDINGS)


def _coverage(workbook: Path, report, force: bool) -> str:
    """The notice for an aggregate of only some of the units ("" when it covers them all);
    without ``force`` such an aggregate is refused, like a unit's workbook with errors."""
    cov = report.coverage if report.source == "aggregate" else None
    if cov is None or cov.complete:
        return ""
    if not force:
        why = cov.why()
        raise _Stop(
            f"{workbook} 仅汇总了 {cov.summed}/{cov.expected} 个单位"
            + (f"（{why}）" if why else "")
            + "，不是全部单位的合计，不能作为本级年报发布。请各单位补报、改正后重新汇总；"
            "如只需生成仅供核对的文本，可加 --force（首页将标注汇总不完整）。",
            EXIT_FINDINGS,
        )
    return cov.text()


def _title(workbook: Path, report, spec, unit: str | None, year: int | None) -> tuple[str, int]:
    """The unit and year of the report's title: the options, else what the workbook says."""
    from ..aggregate import COUNTY

    unit_label, year_label = spec.cover_label("unit"), spec.cover_label("year")
    # the reader may name a unit after the file when the cover is empty: never put that in a title
    guessed = any(f.code == "NB004" and unit_label in f.message for f in report.findings)
    guessed = guessed or report.unit == COUNTY  # an aggregate made without --unit names no one
    unit = unit if unit is not None else ("" if guessed else report.unit)
    year = year if year is not None else report.year
    if report.source == "aggregate" and not unit:
        raise _Stop(
            f"汇总表 {workbook} 没有记录本级单位名称：请在汇总时加 --unit（如 nianbao aggregate 收回/ "
            "-o 汇总.xlsx --unit 某县人民政府），或在发布时加 --unit 指定报告标题中的单位"
        )
    lack = [f"{unit_label}（--unit）"] if not unit else []
    lack += [f"{year_label}（--year）"] if year is None else []
    if lack:
        raise _Stop(f"{workbook} 未填写{'、'.join(lack)}，请用括号中的选项指定报告标题中的内容")
    return unit, year


def _render_all(doc, report, spec, outputs: list[tuple[Path, str]]) -> tuple[list, list[str]]:
    """Each output's bytes, read back and compared with the data before anything is written."""
    from . import read_back, render

    rendered, prose = [], []
    for target, kind in outputs:
        data = render(doc, kind)
        differ, notes = read_back(data, kind, report, spec)  # what readers of the report will see
        if differ:
            c = spec.cells[differ[0]]
            raise _Stop(
                f"生成的{KIND_ZH[kind]}读回后有 {len(differ)} 个数值与工作簿不一致"
                f"（如{c.table.name}“{c.row_label} / {c.col_label}”），未写入任何文件；"
                "请将工作簿反馈给维护人员"
            )
        prose = prose or notes
        rendered.append((target, data))
    return rendered, prose


def _tell(con: Console, workbook: Path, doc, report, outputs, prose: list[str], coverage: str) -> None:
    done = "、".join(str(t) for t, _ in outputs)
    con.print(escape(f"已生成 {done}：{doc.title}"))
    missing = sum(1 for p in doc.parts for para in p.paras if para.kind == "placeholder")
    if missing:
        con.print(
            f"[yellow]提示：[/]{missing} 个部分没有正文，已标注“{escape(doc.placeholder)}”，"
            "发布前请补充（--text；可用 nianbao publish --text-skeleton 正文.md 生成正文框架）。"
        )
    errors = report.errors
    if errors:
        con.print(f"[bold red]注意：[/]数据存在 {errors} 处错误，首页已标注“仅供核对，不得公开发布”。")
    if coverage:
        con.print(f"[bold red]注意：[/]汇总表{escape(coverage)}，首页已标注“仅供核对，不得公开发布”。")
    for note in prose:
        con.print(f"[yellow]正文与表格：[/]{escape(note)}")
    if report.warnings and not errors:
        con.print(
            f"[yellow]提示：[/]审核有 {report.warnings} 条警告，"
            f"可运行 nianbao check {escape(str(workbook))} 查看。"
        )


def _run(
    con: Console,
    workbook: Path,
    output: Path,
    html: Path | None,
    text: Path | None,
    previous: Path | None,
    unit: str | None,
    year: int | None,
    force: bool,
) -> int:
    from ..fileio import OutputError, write_bytes_atomic
    from ..spec import get_spec
    from . import build_document

    _check_targets([p for p in (workbook, text, previous) if p is not None], output, html)
    prev = _load_previous(previous)
    report = _read(workbook, prev)
    if report.errors and not force:
        _refuse_errors(workbook, report)
    coverage = _coverage(workbook, report, force)
    spec = get_spec(report.form)
    unit, year = _title(workbook, report, spec, unit, year)
    body = read_text_file(text) if text is not None else None
    markdown = text is not None and text.suffix.lower() in (".md", ".markdown")
    doc = build_document(
        report,
        spec,
        text=body,
        markdown=markdown,
        previous=prev,
        unit=unit,
        year=year,
        errors=report.errors,
        coverage=coverage,
    )
    outputs = [(output, "docx")] + ([(html, "html")] if html is not None else [])
    rendered, prose = _render_all(doc, report, spec, outputs)
    try:
        for target, data in rendered:
            write_bytes_atomic(target, data)
    except OutputError as e:
        raise _Stop(str(e)) from None
    _tell(con, workbook, doc, report, outputs, prose, coverage)
    return EXIT_OK


def _write_skeleton(con: Console, target: Path, workbook: Path | None) -> int:
    """``--text-skeleton``: the 正文 file to start from, for the form of ``workbook`` (if given)."""
    from ..fileio import OutputError, write_bytes_atomic
    from ..spec import get_spec
    from . import text_skeleton
    from .document import texts

    if target.suffix.lower() not in (".md", ".markdown", ".txt"):
        raise _Stop(f"正文框架应为 .md 或 .txt 文件：{target}")
    if target.exists():
        raise _Stop(f"{target} 已存在，为免覆盖已写的正文，请换一个文件名或先删除它")
    spec = get_spec(_read(workbook).form) if workbook is not None else get_spec()
    try:
        write_bytes_atomic(target, text_skeleton(spec).encode("utf-8"), False)
    except OutputError as e:
        raise _Stop(str(e)) from None
    con.print(
        escape(
            f"已生成正文框架 {target}：请把各“{texts().placeholder}”换成正文，"
            f"再运行 nianbao publish <汇总表或填报表> -o 年报.docx --text {target}"
        )
    )
    return EXIT_OK


def publish_command(
    workbook: Path | None,
    output: Path | None,
    html: Path | None = None,
    text: Path | None = None,
    previous: Path | None = None,
    unit: str | None = None,
    year: int | None = None,
    force: bool = False,
    text_skeleton: Path | None = None,
) -> int:
    """Run the publish step; messages go to stderr. Returns the exit code (0, 1 or 2)."""
    con = Console(stderr=True, highlight=False)
    workbook = Path(workbook) if workbook else None
    try:
        if text_skeleton is not None:
            return _write_skeleton(con, Path(text_skeleton), workbook)
        if workbook is None:
            raise _Stop("请指定要发布的填报表或汇总表，如 nianbao publish 汇总.xlsx -o 年报.docx")
        if output is None:
            raise _Stop("请用 -o 指定输出的 Word 文档，如 -o 年报.docx")
        return _run(
            con,
            workbook,
            Path(output),
            Path(html) if html else None,
            Path(text) if text else None,
            Path(previous) if previous else None,
            unit,
            year,
            force,
        )
    except _Stop as e:
        head = "[bold red]错误：[/]" if e.code == EXIT_USAGE else "[bold red]未发布：[/]"
        con.print(head + escape(str(e)))
        return e.code
    except Exception as exc:
        con.print(
            f"[bold red]错误：[/]生成年报时发生内部错误（{Incident.of(exc)}），"
            "请将输入文件与编号反馈给维护人员"
        )
        return EXIT_USAGE

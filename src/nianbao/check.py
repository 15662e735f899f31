"""``nianbao check``, ``nianbao annotate`` and ``nianbao rules``: the check step's commands. Like every
``*_command`` they print for the user and return the exit code; the CLI only parses options."""

from __future__ import annotations

from pathlib import Path

from .exits import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, CommandError, print_error
from .model import Report


def load_previous_report(previous: Path | None) -> Report | None:
    """Last year's report of the same unit (``--previous``); CommandError when unusable."""
    from .pipeline import load_previous

    if previous is None:
        return None
    try:
        prev = load_previous(previous)
    except FileNotFoundError:
        if Path(previous).is_file():
            raise CommandError(f"上年数据文件 {previous} 不是填报表或汇总表（不支持的文件类型）") from None
        raise CommandError(f"找不到上年数据文件：{previous}") from None
    if prev.unreadable:
        raise CommandError(
            f"上年数据文件无法读取：{previous}（{prev.findings[0].message if prev.findings else ''}）"
        )
    if prev.empty:
        raise CommandError(f"上年数据文件 {previous} 的数值格全部为空（可能是空白模板），无法做跨年度核对")
    return prev


def check_inputs(paths: list[Path], blank: str, previous: Path | None):
    """(reports, skipped) of the user's inputs, with a progress bar."""
    from .pipeline import collect_reports
    from .render import Progress

    prev = load_previous_report(previous)
    return collect_reports(paths, blank, prev, progress_factory=Progress)


def exit_code(reports) -> int:
    from .vocab import Status

    return EXIT_FINDINGS if any(r.status != Status.PASSED for r in reports) else EXIT_OK


def check_command(
    paths: list[Path],
    fmt: str = "text",
    blank: str = "zero",
    previous: Path | None = None,
    output: Path | None = None,
) -> int:
    """``nianbao check``: the findings of every input, as text, JSON or CSV."""
    from .fileio import OutputError, write_bytes_atomic
    from .render import print_text, to_csv, to_json, write_stdout

    try:
        reports, skipped = check_inputs(paths, blank, previous)
    except CommandError as e:
        return print_error(e.message, e.code)
    if fmt == "text":
        print_text(reports, skipped)
    else:
        text = to_json(reports, skipped) if fmt == "json" else to_csv(reports)
        if output:
            try:
                write_bytes_atomic(output, text.encode("utf-8"))
            except OutputError as e:
                return print_error(str(e))
        else:
            write_stdout(text if fmt == "csv" else text + "\n")
    return exit_code(reports)


def annotate_command(
    paths: list[Path],
    out_dir: Path,
    force: bool = False,
    blank: str = "zero",
    previous: Path | None = None,
) -> int:
    """``nianbao annotate``: an annotated copy of every workbook checked."""
    from rich.console import Console
    from rich.markup import escape

    from .pipeline import annotate_one
    from .render import summary, summary_counts

    con = Console(stderr=True, highlight=False)
    try:
        reports, skipped = check_inputs(paths, blank, previous)
    except CommandError as e:
        return print_error(e.message, e.code)
    usage_error = False
    for r in reports:
        res = annotate_one(r, out_dir, force=force)
        con.print(res.markup())
        usage_error |= not res.ok
    s = summary(reports, skipped)
    con.print(
        f"共 {s['files']} 个文件：{summary_counts(s)}；"
        f"跳过 {s['skipped']} 个。批注副本在：{escape(str(out_dir))}"
    )
    return EXIT_USAGE if usage_error else exit_code(reports)


RULE_COLUMNS = ("代码", "级别", "规则", "适用表式")
RULES_DOC = "docs/rules.md"


def rules_markdown() -> str:
    """The rule table as Markdown: what ``docs/rules.md`` holds (generated, never hand-written)."""
    from .findings import rule_catalogue

    lines = [
        "# 审核规则与代码",
        "",
        f"<!-- 本文件由 `nianbao rules --format markdown > {RULES_DOC}` 从规则生成，请勿手工编辑。 -->",
        "",
        "`nianbao rules` 列出当前全部规则。代码固定不变，可在 JSON/CSV 结果中筛选。"
        "勾稽关系等表式规则定义在 `templates/` 的表式文件中，其余为程序自身的检查。",
        "",
        "| " + " | ".join(RULE_COLUMNS) + " |",
        "|" + "---|" * len(RULE_COLUMNS),
    ]
    for r in rule_catalogue():
        cells = (r["code"], r["severity"].zh, r["name"], r["forms"])
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines + _relation_sections()) + "\n"


def _relation_sections() -> list[str]:
    """Per form, what each relation rule says, in the words of the form's own labels."""
    from .relations import describe
    from .spec import all_specs

    out = []
    for spec in sorted(all_specs(), key=lambda s: s.version, reverse=True):
        out += [
            "",
            f"## {spec.version} 表式（{spec.basis}）的表内与跨年度关系",
            "",
            "| 代码 | 表 | 关系 |",
            "|---|---|---|",
        ]
        seen: set[str] = set()
        for rule in spec.rules:
            if rule.code not in seen:
                seen.add(rule.code)
                text = describe(rule, spec.cells).replace("|", "\\|")
                out.append(f"| {rule.code} | {rule.table.name} | {text} |")
    return out


def rules_command(fmt: str = "table") -> int:
    """``nianbao rules``: every rule and its code, as a table (or as Markdown: docs/rules.md)."""
    if fmt == "markdown":
        from .render import write_stdout

        write_stdout(rules_markdown())  # UTF-8 whatever the console's code page
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    from .findings import rule_catalogue

    t = Table(*RULE_COLUMNS, header_style="bold")
    for r in rule_catalogue():
        t.add_row(r["code"], r["severity"].zh, r["name"], r["forms"])
    Console(highlight=False).print(t)
    return EXIT_OK

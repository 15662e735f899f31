"""``nianbao aggregate``: check the options, read the roster and last year's data, aggregate,
write the workbook (明细 while the files are read) and report. Returns the exit code."""

from __future__ import annotations

from pathlib import Path

from ..exits import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, CommandError, print_error
from ..guard import YEAR_MAX, YEAR_MIN, year_ok
from .previous import Previous
from .units import Roster


def _check_options(output: Path | None, fmt: str, force: bool, year: int | None) -> None:
    if output is None and fmt == "text":
        raise CommandError("请用 -o 指定汇总表输出文件，如 -o 汇总.xlsx")
    if output is not None and output.suffix.lower() != ".xlsx":
        raise CommandError(f"汇总表须为 .xlsx 文件：{output}")
    if output is not None and output.exists() and not force:
        raise CommandError(f"输出文件已存在：{output}（如需覆盖请加 --force）")
    if year is not None and not year_ok(year):
        raise CommandError(
            f"报告年度应为 {YEAR_MIN} 至 {YEAR_MAX} 之间的四位年份，如 2025（收到的是 {year}）"
        )


def _roster(roster: Path | None) -> Roster | None:
    from ..roster import RosterError, read_roster

    if roster is None:
        return None
    try:
        return Roster(read_roster(roster))
    except RosterError as e:
        raise CommandError(str(e)) from None


def _previous(previous: Path | None, ros: Roster | None, blank: str) -> Previous | None:
    from ..render import Progress
    from .lastyear import NoPreviousData, load_previous

    if previous is None:
        return None
    try:
        return load_previous(previous, ros, blank, progress_factory=lambda n: Progress(n, "正在读取上年数据"))
    except FileNotFoundError:
        raise CommandError(
            f"找不到上年数据：{previous}（请给出上年的汇总表，或上年各单位填报表所在的文件夹）"
        ) from None
    except NoPreviousData as e:
        raise CommandError(
            f"上年数据 {previous} 中没有可用于跨年度核对的数据（{e}）；"
            "请给出上年的汇总表，或上年各单位填报表所在的文件夹"
        ) from None
    except Exception as exc:
        raise CommandError(
            f"读取上年数据 {previous} 时发生内部错误（技术信息：{type(exc).__name__}）"
        ) from None


def _report(res, output: Path | None, fmt: str, force: bool, early) -> int:
    """Write the workbook, print the result; the exit code."""
    from rich.console import Console

    from ..fileio import OutputError
    from ..render import write_stdout
    from .text import print_text, to_json
    from .workbook import write_aggregate

    err = Console(stderr=True, highlight=False)
    for msg in res.annotate_messages:
        err.print(msg)
    if output is not None:
        try:
            write_aggregate(res, output, force=force, early=early)
        except OutputError as e:
            raise CommandError(str(e)) from None
        except Exception as exc:
            raise CommandError(
                f"写入汇总表 {output} 时发生内部错误（技术信息：{type(exc).__name__}）"
            ) from None
    if fmt == "json":
        write_stdout(to_json(res) + "\n")
    else:
        print_text(res, output)
    return EXIT_USAGE if res.annotate_failed else (EXIT_FINDINGS if res.has_problems() else EXIT_OK)


def _run(paths, output, ros, prev, annotate_dir, include_failed, year, unit, fmt, blank, force, mixed) -> int:
    from ..render import Progress
    from .core import aggregate
    from .workbook import EarlyBook

    # with an output, 明细 is written while the files are read (see aggregate.workbook.EarlyBook)
    early = EarlyBook(output, force, ros) if output is not None else None
    try:
        try:
            res = aggregate(
                paths,
                roster=ros,
                previous=prev,
                annotate_dir=annotate_dir,
                include_failed=include_failed,
                year=year,
                blank=blank,
                force=force,
                progress_factory=lambda n: Progress(n, "正在汇总"),
                early=early,
                mixed=mixed,
            )
        except Exception as exc:
            raise CommandError(
                f"汇总时发生内部错误（技术信息：{type(exc).__name__}），请将输入文件夹与此信息反馈给维护人员"
            ) from None
        res.unit = (unit or "").strip()
        try:
            return _report(res, output, fmt, force, early)
        finally:
            res.close()
    finally:
        if early is not None:
            early.discard()  # nothing left behind when the run stops half way


def aggregate_command(
    paths: list[Path],
    output: Path | None = None,
    roster: Path | None = None,
    previous: Path | None = None,
    annotate_dir: Path | None = None,
    include_failed: bool = False,
    year: int | None = None,
    unit: str | None = None,
    fmt: str = "text",
    blank: str = "zero",
    force: bool = False,
    mixed: bool = False,
) -> int:
    """``nianbao aggregate``: the exit code (0 all passed, 1 problems found, 2 usage/output)."""
    try:
        _check_options(output, fmt, force, year)
        ros = _roster(roster)
        prev = _previous(previous, ros, blank)
        args = (annotate_dir, include_failed, year, unit, fmt, blank, force, mixed)
        return _run(paths, output, ros, prev, *args)
    except CommandError as e:
        return print_error(e.message, e.code)

"""The ``nianbao`` command line: a thin typer layer over the modules of each step.

Heavy libraries (openpyxl, xlsxwriter, calamine, docx, pdfplumber) are imported inside the
commands that need them so that ``nianbao --help`` starts fast.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    help="政府信息公开工作年度报告数据工具：生成模板、审核、批注、汇总、导入、发布。",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _fail(msg: str, code: int = EXIT_USAGE) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[bold red]错误：[/]{msg}", highlight=False)
    raise typer.Exit(code)


def _form_option(value: str) -> str:
    if value not in ("2021", "2019"):
        raise typer.BadParameter("表式只能是 2021 或 2019")
    return value


@app.command("template", help="生成官方格式的空白填报模板（.xlsx）；可按单位名单批量生成。")
def template_cmd(
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件，如 模板.xlsx"),
    form: str = typer.Option("2021", "--form", callback=_form_option,
                             help="表式：2021（国办公开办函〔2021〕30号）或 2019（〔2019〕60号）"),
    year: Optional[int] = typer.Option(None, "--year", help="报告年度，如 2025（填入后锁定）"),
    unit: Optional[str] = typer.Option(None, "--unit", help="填报单位（填入后锁定）"),
    roster: Optional[Path] = typer.Option(None, "--roster", help="单位名单（.xlsx 或 .csv，表头含“单位名称”）"),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="按名单批量生成时的输出文件夹"),
    password: Optional[str] = typer.Option(None, "--password", help="工作表保护密码（默认无密码）"),
    deadline: Optional[str] = typer.Option(None, "--deadline", help="报送截止时间，写入填报说明"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的输出文件"),
) -> None:
    from .template import template_command

    raise typer.Exit(template_command(output=output, form=form, year=year, unit=unit, roster=roster,
                                      out_dir=out_dir, password=password, deadline=deadline,
                                      force=force))


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()

"""The ``nianbao`` commands: typer parses the options, then each command calls the one
``*_command`` function of its step, which prints for the user and returns the exit code.

Heavy libraries (openpyxl, xlsxwriter, calamine, docx, pdfplumber) are imported inside the
commands that need them so that ``nianbao --help`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from .zh import install

install()  # Chinese help and error text (before any command is declared)


# the commands in the order of the year's work, then the tools around it
WORK_ORDER = (
    "template",
    "check",
    "annotate",
    "aggregate",
    "import",
    "publish",
    "serve",
    "desk",
    "rules",
    "demo",
)


class _WorkOrder(TyperGroup):
    def list_commands(self, ctx) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: WORK_ORDER.index(n) if n in WORK_ORDER else len(WORK_ORDER))


app = typer.Typer(
    cls=_WorkOrder,
    help="政府信息公开工作年度报告数据工具：生成模板、审核、批注、汇总、导入、发布。",
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _choice(allowed, what: str):
    """An option callback accepting only ``allowed`` (a tuple, or a function returning one)."""

    def check(value: str | None) -> str | None:
        ok = allowed() if callable(allowed) else allowed
        if value is not None and value not in ok:
            raise typer.BadParameter(f"{what}只能是 {'、'.join(ok)}")
        return value

    return check


def _form_versions() -> tuple[str, ...]:
    from ..spec import SPEC_PREFIX, spec_paths

    return tuple(sorted((p.stem.removeprefix(SPEC_PREFIX) for p in spec_paths()), reverse=True))


_form_option = _choice(_form_versions, "表式")


@app.command("template", help="生成官方格式的空白填报模板（.xlsx）；可按单位名单批量生成。")
def template_cmd(
    output: Path | None = typer.Option(None, "-o", "--output", help="输出文件，如 模板.xlsx"),
    form: str | None = typer.Option(
        None,
        "--form",
        callback=_form_option,
        help=f"表式版本：{'、'.join(_form_versions())}（默认为最新表式）",
        show_default=False,
    ),
    year: int | None = typer.Option(None, "--year", help="报告年度，如 2025（填入后锁定）"),
    unit: str | None = typer.Option(None, "--unit", help="填报单位（填入后锁定）"),
    roster: Path | None = typer.Option(None, "--roster", help="单位名单（.xlsx 或 .csv，表头含“单位名称”）"),
    out_dir: Path | None = typer.Option(None, "--out-dir", help="按名单批量生成时的输出文件夹"),
    password: str | None = typer.Option(None, "--password", help="工作表保护密码（默认无密码）"),
    deadline: str | None = typer.Option(None, "--deadline", help="报送截止时间，写入填报说明"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的输出文件"),
) -> None:
    from ..template import template_command

    raise typer.Exit(
        template_command(
            output=output,
            form=form,
            year=year,
            unit=unit,
            roster=roster,
            out_dir=out_dir,
            password=password,
            deadline=deadline,
            force=force,
        )
    )


_format_option = _choice(("text", "json", "csv"), "输出格式")
_blank_option = _choice(("zero", "error"), "--blank（zero 空白按 0 计并提示，error 空白即错误）")


@app.command("check", help="审核退回的填报表：文件、文件夹（含子文件夹）或 .zip 压缩包，逐格报告问题。")
def check_cmd(
    paths: list[Path] = typer.Argument(..., help="要审核的文件、文件夹或 .zip", show_default=False),
    fmt: str = typer.Option("text", "--format", callback=_format_option, help="输出格式：text、json 或 csv"),
    blank: str = typer.Option(
        "zero",
        "--blank",
        callback=_blank_option,
        help="空白格处理：zero 按 0 计并给出警告；error 每个空白格都算错误",
    ),
    previous: Path | None = typer.Option(None, "--previous", help="同一单位上年的填报表，用于跨年度核对"),
    output: Path | None = typer.Option(None, "-o", "--output", help="把结果写入文件（json/csv 格式时）"),
) -> None:
    from ..check import check_command

    raise typer.Exit(check_command(paths, fmt, blank, previous, output))


@app.command(
    "annotate",
    help="生成批注副本：该改的格标红、几种改法之一标橙、警告格标黄并加批注，首页为“审核结果”；原文件不改动。",
)
def annotate_cmd(
    paths: list[Path] = typer.Argument(..., help="要审核的文件、文件夹或 .zip", show_default=False),
    out_dir: Path = typer.Option(..., "--out-dir", help="批注副本的输出文件夹"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的批注副本"),
    blank: str = typer.Option("zero", "--blank", callback=_blank_option, help="空白格处理：zero 或 error"),
    previous: Path | None = typer.Option(None, "--previous", help="同一单位上年的填报表，用于跨年度核对"),
) -> None:
    from ..check import annotate_command

    raise typer.Exit(annotate_command(paths, out_dir, force, blank, previous))


@app.command(
    "demo", help="演示：用自带样例跑一遍完整流程（模板、审核、批注、汇总、发布），结果写入指定文件夹。"
)
def demo_cmd(
    out: Path = typer.Argument(Path("demo-output"), help="演示输出文件夹"),
) -> None:
    from ..demo import demo_command

    raise typer.Exit(demo_command(out))


@app.command("rules", help="列出全部审核规则及其代码（错误/警告）。")
def rules_cmd(
    fmt: str = typer.Option(
        "table",
        "--format",
        callback=_choice(("table", "markdown"), "输出格式"),
        help="table（表格）或 markdown（即 docs/rules.md 的内容）",
    ),
) -> None:
    from ..check import rules_command

    raise typer.Exit(rules_command(fmt))


@app.command(
    "publish",
    help="由审核通过的填报表或汇总表生成年度报告：Word 文档（官方表格、公文格式），可同时生成网页。",
)
def publish_cmd(
    workbook: Path | None = typer.Argument(
        None, help="审核通过的填报表或 nianbao aggregate 生成的汇总表", show_default=False
    ),
    output: Path | None = typer.Option(None, "-o", "--output", help="输出的 Word 文档，如 年报.docx"),
    html: Path | None = typer.Option(
        None, "--html", help="同时生成网页，如 年报.html（单个文件，可直接上网发布）"
    ),
    text: Path | None = typer.Option(
        None, "--text", help="正文文件（Markdown 或纯文本，按“一、总体情况”等六个标题分段）"
    ),
    previous: Path | None = typer.Option(
        None, "--previous", help="上年的填报表或汇总表，用于写明与上年相比的增减"
    ),
    unit: str | None = typer.Option(None, "--unit", help="报告标题中的单位名称（默认取填报单位）"),
    year: int | None = typer.Option(None, "--year", help="报告年度（默认取表中的报告年度）"),
    force: bool = typer.Option(
        False,
        "--force",
        help="数据有错误或汇总表未包括全部单位时仍然生成（首页标注“仅供核对，不得公开发布”）",
    ),
    text_skeleton: Path | None = typer.Option(
        None, "--text-skeleton", help="只生成正文框架文件（如 正文.md，含六个标题和待填写处），供编写 --text"
    ),
) -> None:
    from ..publish.command import publish_command

    raise typer.Exit(
        publish_command(
            workbook,
            output,
            html=html,
            text=text,
            previous=previous,
            unit=unit,
            year=year,
            force=force,
            text_skeleton=text_skeleton,
        )
    )


@app.command("serve", help="启动本机网页：在浏览器中下载模板、审核、汇总，无需使用命令行。")
def serve_cmd(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="监听地址；默认只允许本机访问，绑定其他地址时必须设置 --token"
    ),
    port: int = typer.Option(8765, "--port", help="端口"),
    data: Path | None = typer.Option(
        None, "--data", help="保存上传文件和审核结果的文件夹（默认：用户数据目录下的 nianbao）"
    ),
    open_browser: bool = typer.Option(False, "--open", help="启动后自动打开浏览器"),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="NIANBAO_TOKEN",
        help="访问口令（至少 12 个字符）；推荐改用环境变量 NIANBAO_TOKEN，命令行参数会被其他用户看到",
    ),
    new_token: bool = typer.Option(False, "--new-token", help="生成一个足够强的访问口令，显示后退出"),
    ssl_certfile: Path | None = typer.Option(
        None, "--ssl-certfile", help="HTTPS 证书文件（PEM 格式，与 --ssl-keyfile 一起使用）"
    ),
    ssl_keyfile: Path | None = typer.Option(
        None, "--ssl-keyfile", help="HTTPS 私钥文件（PEM 格式，不能有密码）"
    ),
    public_url: str | None = typer.Option(
        None,
        "--public-url",
        help="报送台发给各单位的链接所用地址，如 http://192.168.1.10:8765（默认：本机内网地址）",
    ),
) -> None:
    from ..web.server import serve_command

    raise typer.Exit(
        serve_command(
            host=host,
            port=port,
            data=data,
            token=token,
            open_browser=open_browser,
            show_new_token=new_token,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            public_url=public_url,
        )
    )


_text_json_option = _choice(("text", "json"), "输出格式")


@app.command(
    "aggregate",
    help="汇总各单位填报表：报送情况（谁未报、谁有错）、合计数、逐单位明细与问题清单，写入一个 .xlsx。",
)
def aggregate_cmd(
    paths: list[Path] = typer.Argument(
        ...,
        help="各单位填报表（或下级 nianbao 汇总表）：文件、文件夹（含子文件夹）或 .zip",
        show_default=False,
    ),
    output: Path | None = typer.Option(
        None, "-o", "--output", help="汇总表输出文件，如 汇总.xlsx（--format json 时可省略）"
    ),
    roster: Path | None = typer.Option(
        None, "--roster", help="单位名单（.xlsx 或 .csv，表头含“单位名称”，可有“别名”“类别”列）"
    ),
    previous: Path | None = typer.Option(
        None, "--previous", help="上年的汇总表，或上年各单位填报表所在文件夹，用于跨年度核对"
    ),
    annotate_dir: Path | None = typer.Option(
        None, "--annotate-dir", help="同时为有错误的填报表生成批注副本，放在此文件夹"
    ),
    include_failed: bool = typer.Option(
        False, "--include-failed", help="有错误的单位也计入合计（在“报送情况”中标明）"
    ),
    year: int | None = typer.Option(None, "--year", help="汇总的报告年度（默认取多数单位填报的年度）"),
    unit: str | None = typer.Option(
        None, "--unit", help="本级单位名称，如 某县人民政府（记入汇总表，publish 据此生成本级年报）"
    ),
    fmt: str = typer.Option("text", "--format", callback=_text_json_option, help="输出格式：text 或 json"),
    blank: str = typer.Option("zero", "--blank", callback=_blank_option, help="空白格处理：zero 或 error"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的汇总表和批注副本"),
    mixed: bool = typer.Option(
        False,
        "--mixed",
        help="下级汇总表与单位填报表一起汇总（默认：只有汇总表时逐个作为一个单位汇总，"
        "与填报表混在一起时跳过汇总表）",
    ),
) -> None:
    from ..aggregate.command import aggregate_command

    raise typer.Exit(
        aggregate_command(
            paths,
            output=output,
            roster=roster,
            previous=previous,
            annotate_dir=annotate_dir,
            include_failed=include_failed,
            year=year,
            unit=unit,
            fmt=fmt,
            blank=blank,
            force=force,
            mixed=mixed,
        )
    )


@app.command(
    "import",
    help="导入已发布的年度报告（.txt 文本、.html 网页、.docx、.pdf），识别表二至表四的数字并审核，"
    "写成官方格式的填报表（.xlsx）。单个报告用 -o，多个报告用 --out-dir。",
)
def import_cmd(
    reports: list[Path] = typer.Argument(..., help="报告文件或文件夹（.txt .html .docx .pdf）"),
    output: Path | None = typer.Option(None, "-o", "--output", help="输出的填报表，如 年报.xlsx（单个报告）"),
    out_dir: Path | None = typer.Option(
        None, "--out-dir", help="输出文件夹（多个报告，每个生成 <文件名>.xlsx）"
    ),
    fmt: str = typer.Option(
        "text", "--format", callback=_text_json_option, help="输出格式：text（中文摘要）或 json（数值与问题）"
    ),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的输出文件"),
) -> None:
    from ..importers.command import import_command

    raise typer.Exit(import_command(reports, output, out_dir, fmt, force))


desk_app = typer.Typer(
    help="报送台：按年度收取各单位报表（各单位用专属链接上传、改错、确认报送）。",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(desk_app, name="desk")
_desk_data = typer.Option(
    None, "--data", help="数据文件夹（与 nianbao serve --data 相同；默认：用户数据目录）"
)


@desk_app.command("create", help="按单位名单创建报送任务，输出每个单位的专属链接（JSON）。")
def desk_create_cmd(
    roster: Path = typer.Option(..., "--roster", help="单位名单（.xlsx/.xls/.ods/.csv，表头含“单位名称”）"),
    year: int = typer.Option(..., "--year", help="报告年度，如 2025"),
    data: Path | None = _desk_data,
    form: str | None = typer.Option(
        None, "--form", help="表式版本（默认：最新表式）", callback=lambda v: v and _form_option(v)
    ),
    deadline: str | None = typer.Option(None, "--deadline", help="报送截止日期，如 2026年1月15日"),
    public_url: str | None = typer.Option(
        None, "--public-url", help="各单位能访问的本机地址，如 http://192.168.1.10:8765（默认：本机内网地址）"
    ),
    name: str | None = typer.Option(
        None, "--name", help="任务名称（默认：某年度政府信息公开工作年度报告报送）"
    ),
    issuer: str | None = typer.Option(None, "--unit", help="汇总单位（本级机关）名称，如 某县人民政府"),
) -> None:
    from ..desk.command import desk_create_command

    raise typer.Exit(desk_create_command(roster, year, data, form, deadline, public_url, name, issuer))


@desk_app.command("list", help="列出全部报送任务及各状态的单位数。")
def desk_list_cmd(data: Path | None = _desk_data) -> None:
    from ..desk.command import desk_list_command

    raise typer.Exit(desk_list_command(data))


@desk_app.command("export", help="把一个报送任务（含全部上传文件与记录）导出为一个文件。")
def desk_export_cmd(
    collection: str = typer.Argument(..., help="报送任务编号（见 nianbao desk list）"),
    output: Path = typer.Option(..., "-o", "--output", help="导出文件，如 报送任务.zip"),
    data: Path | None = _desk_data,
) -> None:
    from ..desk.command import desk_export_command

    raise typer.Exit(desk_export_command(collection, output, data))


@desk_app.command("import", help="导入 nianbao desk export 导出的报送任务。")
def desk_import_cmd(
    path: Path = typer.Argument(..., help="导出的文件"),
    data: Path | None = _desk_data,
) -> None:
    from ..desk.command import desk_import_command

    raise typer.Exit(desk_import_command(path, data))


@desk_app.command("backup", help="在服务运行时做一份一致的备份（数据库与全部上传文件）。")
def desk_backup_cmd(
    target: Path = typer.Argument(..., help="备份到的文件夹"),
    data: Path | None = _desk_data,
) -> None:
    from ..desk.command import desk_backup_command

    raise typer.Exit(desk_backup_command(target, data))


def main() -> None:  # pragma: no cover - console entry
    try:
        app()
    except KeyboardInterrupt:
        print("已中断", file=sys.stderr)
        sys.exit(130)

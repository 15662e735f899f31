"""``nianbao template``: one template, or one per unit of a roster."""

from __future__ import annotations

from pathlib import Path

from ..fileio import OutputError
from .writer import write_template


# ---------------------------------------------------------------- command
def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def _error(msg: str) -> int:
    _console().print(f"[bold red]错误：[/]{msg}")
    return 2


def template_command(output, form, year, unit, roster, out_dir, password, deadline, force) -> int:
    """``nianbao template``: one workbook (-o) or one per unit of a roster (--roster/--out-dir)."""
    from rich.markup import escape

    from ..guard import YEAR_MAX, YEAR_MIN, year_ok
    from ..roster import NAME, RosterError, read_roster, safe_filename
    from ..spec import SpecError, get_spec

    if year is not None and not year_ok(year):
        return _error(f"报告年度应为 {YEAR_MIN} 至 {YEAR_MAX} 之间的四位年份，如 2025（收到的是 {year}）")
    if roster is None and output is None:
        return _error(
            "请用 -o 指定输出文件（如 -o 模板.xlsx），或用 --roster 和 --out-dir 按单位名单批量生成"
        )
    if roster is not None and output is not None:
        return _error("-o 与 --roster 不能同时使用：按名单生成时请用 --out-dir 指定输出文件夹")
    if roster is not None and out_dir is None:
        return _error("使用 --roster 时请用 --out-dir 指定输出文件夹")
    try:
        spec = get_spec(form)  # no --form: the newest form
    except (KeyError, SpecError) as e:
        return _error(f"无法加载 {form or '最新'} 表式：{e}")
    con = _console()
    if year is not None and not (spec.years.get("first", 0) <= year <= spec.years.get("last", 9999)):
        con.print(f"[yellow]注意：[/]{year} 年度一般不使用 {spec.version} 表式，请确认 --form 是否正确")
    jobs: list[tuple[Path, str | None]] = []
    if roster is not None:
        try:
            units = read_roster(roster)
        except RosterError as e:
            return _error(escape(str(e)))
        names: dict[str, str] = {}
        for u in units:
            fname = safe_filename(u[NAME]) + ".xlsx"
            if fname.lower() in names:
                return _error(
                    escape(
                        f"单位名单 {roster} 中“{names[fname.lower()]}”与“{u[NAME]}”"
                        f"的文件名相同（{fname}），请修改名称"
                    )
                )
            names[fname.lower()] = u[NAME]
            jobs.append((Path(out_dir) / fname, u[NAME]))
    else:
        if Path(output).suffix.lower() != ".xlsx":
            return _error(escape(f"输出文件应以 .xlsx 结尾：{output}"))
        jobs.append((Path(output), unit))
    if not force:
        existing = [str(p) for p, _ in jobs if p.exists()]
        if existing:
            shown = "、".join(existing[:5]) + ("等" if len(existing) > 5 else "")
            return _error(escape(f"输出文件已存在：{shown}（如需覆盖请加 --force）"))
    for path, who in jobs:
        try:
            write_template(path, spec, unit=who, year=year, password=password, deadline=deadline, force=force)
        except OutputError as e:
            return _error(escape(str(e)))
        except OSError as e:
            return _error(escape(f"无法写入 {path}：{e.strerror or e}"))
        except Exception as e:  # never show a traceback to the user
            return _error(escape(f"生成 {path} 时出错：{e}"))
    extra = "".join(f"，{k}：{v}" for k, v in (("年度", year), ("单位", unit)) if v and roster is None)
    if roster is not None:
        con.print(
            f"已按单位名单生成 {len(jobs)} 个模板（{spec.basis} 表式"
            f"{f'，年度：{year}' if year else ''}），保存在 {escape(str(out_dir))}："
        )
        for path, _ in jobs[:50]:
            con.print(f"  {escape(path.name)}")
        if len(jobs) > 50:
            con.print(f"  ……共 {len(jobs)} 个")
    else:
        con.print(f"已生成模板：{escape(str(jobs[0][0]))}（{spec.basis} 表式{escape(extra)}）")
    return 0

"""Chinese help and error text for typer and its vendored click (users never see English
boilerplate).

The patches reach into typer's internals: ``typer.rich_utils`` (panel titles) and the click that
typer 0.26+ vendors as ``typer._click`` (help option, usage line, error messages). They are
written for the typer versions pyproject.toml allows (``TYPER_RANGE``); ``patch_targets()`` lists
what they touch, and tests/test_cli_zh.py fails when one of them vanishes or the installed typer is
outside that range.
"""

from __future__ import annotations

import re
import sys

TYPER_RANGE = ((0, 26), (0, 29))  # typer>=0.26,<0.29 in pyproject.toml

RICH_TEXT = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "DEFAULT_STRING": "[默认：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "ABORTED_TEXT": "已中止",
    "ENVVAR_STRING": "[环境变量：{}]",
    "RICH_HELP": "查看帮助：[blue]'{command_path} {help_option}'[/]",
}

# click's own usage messages (English in the vendored click) -> Chinese
USAGE_ZH = [
    (r"Option '(.+)' requires an argument\.", "选项 {0} 后面需要填写一个值"),
    (r"Option '(.+)' requires (\d+) arguments\.", "选项 {0} 后面需要填写 {1} 个值"),
    (r"Option '(.+)' does not take a value\.", "选项 {0} 后面不能带值"),
    (r"Argument '(.+)' takes (\d+) values\.", "参数 {0} 需要 {1} 个值"),
    (r"Got unexpected extra arguments? \((.*)\)", "多余的参数：{0}（含空格的路径请用引号括起来）"),
    (r"Missing command\.", "缺少命令"),
    (r"No such command '(.*)'\.", "没有 {0} 这个命令"),
    (r"No such command '(.*)'\. Did you mean (.*)\?", "没有 {0} 这个命令（是否想用：{1}）"),
]


def patch_targets() -> dict[str, list[str]]:
    """module -> the attributes the patches set or wrap (``Class.method`` for methods)."""
    return {
        "typer.rich_utils": [*RICH_TEXT, "ERRORS_PANEL_TITLE", "Table", "Columns"],
        "typer._click.core": ["Command.get_help_option", "Command.collect_usage_pieces"],
        "typer.core": ["TyperGroup.collect_usage_pieces"],
        "typer._click.exceptions": [
            "BadParameter.format_message",
            "MissingParameter.format_message",
            "NoSuchOption.format_message",
            "UsageError.format_message",
        ],
        "typer._click.formatting": ["HelpFormatter.write_usage"],
    }


def chinese_rich(ru) -> None:
    """Chinese chrome for typer's help and error panels; help texts wrap (Chinese has no spaces
    to break at: rich's tables would cut it with …)."""
    from ..vocab import Severity

    for name, text in RICH_TEXT.items():
        setattr(ru, name, text)
    ru.ERRORS_PANEL_TITLE = Severity.ERROR.zh
    ru.Table = _folding_table(ru.Table)
    ru.Columns = _folding_columns(ru.Columns)


def _folding_table(table_cls):
    """A rich Table whose columns fold long text onto the next line instead of cutting it."""

    class FoldingTable(table_cls):
        def add_column(self, *args, **kw):
            kw["overflow"] = "fold"
            super().add_column(*args, **kw)

        def add_row(self, *renderables, **kw):
            while len(self.columns) < len(renderables):
                self.add_column()
            super().add_row(*renderables, **kw)

    return FoldingTable


def _folding_columns(columns_cls):
    """rich Columns (an option's help, default, …) whose texts fold instead of being cut."""

    class FoldingColumns(columns_cls):
        def __init__(self, renderables=None, *args, **kw):
            renderables = list(renderables or [])
            for r in renderables:
                if getattr(r, "overflow", "") is None:
                    r.overflow = "fold"
            super().__init__(renderables, *args, **kw)

    return FoldingColumns


USAGE_PIECES = {"[OPTIONS]": "[选项]", "COMMAND [ARGS]...": "命令 [参数]..."}


def chinese_usage(*classes) -> None:
    """The usage line's placeholders in Chinese (用法：nianbao [选项] 命令 [参数]...)."""
    for cls in classes:
        orig = cls.collect_usage_pieces

        def collect_usage_pieces(self, ctx, _orig=orig):
            return [USAGE_PIECES.get(p, p) for p in _orig(self, ctx)]

        cls.collect_usage_pieces = collect_usage_pieces


class _PatchOnImport:
    """typer imports its rich_utils (50 ms: rich.markdown and more) only to draw help and error
    panels; patch it when that happens instead of importing it on every run."""

    name = "typer.rich_utils"

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            chinese_rich(module)

        spec.loader.exec_module = exec_module
        return spec


def chinese_help_option(command_cls) -> None:
    orig = command_cls.get_help_option

    def get_help_option(self, ctx):
        opt = orig(self, ctx)
        if opt is not None:
            opt.help = "显示本帮助并退出"
        return opt

    command_cls.get_help_option = get_help_option


def _hint_of(param, ctx) -> str:
    if param is None:
        return ""
    try:
        return param.get_error_hint(ctx)
    except TypeError:
        return param.get_error_hint()


def _bad(self) -> str:
    hint = self.param_hint if self.param_hint is not None else _hint_of(self.param, self.ctx)
    if isinstance(hint, (list, tuple)):
        hint = " / ".join(hint)
    return f"{hint} 的值无效：{self.message}" if hint else f"参数值无效：{self.message}"


def _missing(self) -> str:
    hint = _hint_of(self.param, self.ctx)
    return f"缺少{'参数' if getattr(self.param, 'param_type_name', '') == 'argument' else '选项'} {hint}"


def _no_such(self) -> str:
    alt = f"（是否想用：{'、'.join(sorted(self.possibilities))}）" if self.possibilities else ""
    return f"没有 {self.option_name} 这个选项{alt}"


def _usage(self) -> str:
    for pattern, text in USAGE_ZH:
        m = re.fullmatch(pattern, self.message)
        if m:
            return text.format(*m.groups())
    return self.message


def chinese_errors(exceptions, formatting) -> None:
    """Usage line and bad-option messages in Chinese."""
    exceptions.BadParameter.format_message = _bad
    exceptions.MissingParameter.format_message = _missing
    exceptions.NoSuchOption.format_message = _no_such
    exceptions.UsageError.format_message = _usage
    orig_usage = formatting.HelpFormatter.write_usage

    def write_usage(self, prog, args="", prefix=None):
        return orig_usage(self, prog, args, "用法：" if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = write_usage


_done = False


def install() -> None:
    """Apply the patches once (the rich panels when typer first draws one)."""
    global _done
    if _done:
        return
    _done = True
    if "typer.rich_utils" in sys.modules:
        chinese_rich(sys.modules["typer.rich_utils"])
    else:
        sys.meta_path.insert(0, _PatchOnImport())
    from typer._click import exceptions, formatting
    from typer._click.core import Command
    from typer.core import TyperGroup

    chinese_help_option(Command)
    chinese_usage(Command, TyperGroup)
    chinese_errors(exceptions, formatting)

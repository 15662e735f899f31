"""The Chinese patches of typer and its vendored click are pinned: they fail loudly here, not
silently for the user, when typer moves outside the range they were written for."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nianbao.cli import app
from nianbao.cli.zh import TYPER_RANGE, patch_targets

ROOT = Path(__file__).resolve().parent.parent


def _version(text: str) -> tuple[int, int]:
    major, minor = re.match(r"(\d+)\.(\d+)", text).groups()
    return int(major), int(minor)


def test_the_range_is_the_one_pyproject_declares():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"]
    typer = next(d for d in deps if re.match(r"typer\b", d))
    low = re.search(r">=\s*([\d.]+)", typer).group(1)
    high = re.search(r"<\s*([\d.]+)", typer).group(1)
    assert (_version(low), _version(high)) == TYPER_RANGE


def test_installed_typer_is_in_the_range():
    low, high = TYPER_RANGE
    assert low <= _version(importlib.metadata.version("typer")) < high


@pytest.mark.parametrize("module", sorted(patch_targets()))
def test_every_patch_target_exists(module):
    mod = importlib.import_module(module)
    for target in patch_targets()[module]:
        owner = mod
        for part in target.split("."):
            assert hasattr(owner, part), f"{module}.{target} is gone: the Chinese patch has nothing to patch"
            owner = getattr(owner, part)


def test_the_patches_are_applied():
    from typer._click import exceptions, formatting
    from typer._click.core import Command

    assert exceptions.UsageError.format_message.__module__ == "nianbao.cli.zh"
    assert exceptions.BadParameter.format_message.__module__ == "nianbao.cli.zh"
    assert formatting.HelpFormatter.write_usage.__module__ == "nianbao.cli.zh"
    assert Command.get_help_option.__module__ == "nianbao.cli.zh"
    res = CliRunner().invoke(app, ["check", "--help"])
    assert "用法：" in res.output and "选项" in res.output and "显示本帮助并退出" in res.output
    res = CliRunner().invoke(app, ["check", "--nope"])
    assert res.exit_code == 2 and "没有 --nope 这个选项" in res.output


def test_every_command_calls_one_step_command_function():
    """The CLI only parses options: each command's body imports the step's ``*_command`` and
    exits with what it returns."""
    import ast

    from nianbao.cli import commands

    tree = ast.parse(Path(commands.__file__).read_text("utf-8"))
    commands = [
        f
        for f in tree.body
        if isinstance(f, ast.FunctionDef)
        and any(
            isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in f.decorator_list
        )
    ]
    assert len(commands) >= 10
    for f in commands:
        body = [s for s in f.body if not isinstance(s, ast.ImportFrom)]
        assert len(body) == 1 and isinstance(body[0], ast.Raise), f.name
        exit_call = body[0].exc
        assert ast.unparse(exit_call.func) == "typer.Exit", f.name
        (inner,) = exit_call.args
        assert isinstance(inner, ast.Call) and ast.unparse(inner.func).endswith("_command"), f.name


def _help(*args: str) -> str:
    """``nianbao … --help`` as an 80-column terminal shows it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80", "TERMINAL_WIDTH": "80"}
    cmd = [str(Path(sys.executable).with_name("nianbao")), *args, "--help"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_help_wraps_chinese_text_and_says_usage_in_chinese():
    """At 80 columns no help line is cut with …; the usage line has no English placeholders;
    the commands come in the order of the year's work."""
    from nianbao.cli.commands import WORK_ORDER

    top = _help()
    assert "用法：nianbao [选项] 命令 [参数]..." in top and "OPTIONS" not in top and "COMMAND" not in top
    listed = [m.group(1) for m in re.finditer(r"^│ ([a-z]+) ", top, re.M)]
    assert listed == [c for c in WORK_ORDER if c in listed] and listed[:6] == list(WORK_ORDER[:6])
    for command in listed:
        text = _help(command)
        assert "…" not in text, (command, [line for line in text.splitlines() if "…" in line])
        assert "[选项]" in text and "[OPTIONS]" not in text, command

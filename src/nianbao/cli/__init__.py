"""The ``nianbao`` command line: a thin typer layer over the ``*_command`` function of each step.

Modules: zh (Chinese help and error text for typer and its vendored click, pinned to the typer
versions pyproject.toml allows), commands (the typer app, its commands and ``main``, the console
entry point).
"""

from .commands import app, main

__all__ = ["app", "main"]

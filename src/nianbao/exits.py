"""Exit codes of every command, and the one way a command reports a problem the user can fix."""

from __future__ import annotations

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A problem the user can fix, with its Chinese message and the exit code it ends with."""

    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.message, self.code = message, code


def print_error(msg: str, code: int = EXIT_USAGE) -> int:
    """``错误：msg`` on stderr (msg is plain text, not markup); returns ``code``."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[bold red]错误：[/]{escape(msg)}", highlight=False)
    return code

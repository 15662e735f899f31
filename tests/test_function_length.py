"""House rule: no function in src/ is longer than 80 lines (decorators not counted)."""

from __future__ import annotations

import ast
from pathlib import Path

import nianbao

SRC = Path(nianbao.__file__).resolve().parent
LIMIT = 80


def _long_functions(src: Path) -> list[str]:
    out = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > LIMIT:
                    out.append(f"{path.relative_to(src).as_posix()}:{node.lineno} {node.name} ({n} lines)")
    return out


def test_no_function_is_longer_than_80_lines():
    assert _long_functions(SRC) == []


def test_the_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "m.py").write_text(f"def short():\n    pass\n\n\ndef long():\n{body}\n", encoding="utf-8")
    assert _long_functions(tmp_path) == [f"m.py:5 long ({LIMIT + 1} lines)"]

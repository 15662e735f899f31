"""House rules of the code itself, read from src/ with ``ast``: no module imports another
module's ``_private`` name, the module import graph has no cycles (imports inside functions
and ``from . import x`` count like top-level ones), and no function is longer than 80 lines.
Tests may import privates; only src/ is read."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: set[str] = field(default_factory=set)
    private: list[str] = field(default_factory=list)  # "line: from X import _y"


def _modules(root: Path) -> dict[str, Module]:
    mods = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        mods[".".join(parts)] = Module(".".join(parts), path, is_package)
    return mods


def _target(mod: Module, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = mod.name.split(".")
    if not mod.is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def import_graph(root: Path = SRC) -> dict[str, Module]:
    mods = _modules(root)
    for mod in mods.values():
        for node in ast.walk(ast.parse(mod.path.read_text(encoding="utf-8"), str(mod.path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    # ``import a.b.c`` imports a, a.b and a.b.c; the graph keeps the deepest
                    # known module (its packages are imported too, but only as containers).
                    name = alias.name
                    while name and name not in mods:
                        name = name.rpartition(".")[0]
                    if name:
                        mod.imports.add(name)
            elif isinstance(node, ast.ImportFrom):
                target = _target(mod, node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in mods:  # from package import module
                        mod.imports.add(sub)
                    elif target in mods:
                        mod.imports.add(target)
                        if _is_private(alias.name) and target != mod.name:
                            mod.private.append(f"{node.lineno}: from {target} import {alias.name}")
        mod.imports.discard(mod.name)
    return mods


def cycles(mods: dict[str, Module]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(mods[v].imports):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(mods):
        if v not in index:
            visit(v)
    return sorted(found)


def test_the_walker_sees_relative_lazy_and_package_imports(tmp_path):
    pkg = tmp_path / "p"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("def f():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..a import _hidden, __doc__\nimport p.c\n")
    (pkg / "c.py").write_text("import p.sub.b\nfrom p import a\n")
    mods = import_graph(tmp_path)
    assert mods["p"].imports == {"p.a"}
    assert mods["p.a"].imports == {"p.sub.b"}
    assert mods["p.sub.b"].imports == {"p.a", "p.c"}
    assert mods["p.sub.b"].private == ["1: from p.a import _hidden"]
    assert mods["p.c"].imports == {"p.sub.b", "p.a"}
    assert cycles(mods) == [["p.a", "p.c", "p.sub.b"]]


@pytest.mark.slow
def test_src_is_found():
    mods = import_graph()
    assert len(mods) > 50
    assert {"nianbao", "nianbao.cli", "nianbao.reader", "nianbao.aggregate.core"} <= set(mods)
    assert "nianbao.spec" in mods["nianbao.aggregate.core"].imports


@pytest.mark.slow
def test_no_module_imports_another_modules_private_names():
    bad = {name: mod.private for name, mod in import_graph().items() if mod.private}
    assert bad == {}


@pytest.mark.slow
def test_the_import_graph_has_no_cycles():
    assert cycles(import_graph()) == []


# ---- function length ----------------------------------------------------------------------
MAX_LINES = 80  # house rule: no function in src/ is longer (decorators not counted)


def long_functions(root: Path = SRC, limit: int = MAX_LINES) -> dict[str, int]:
    """ "path:Class.function" -> lines (from ``def`` to its last line) of every longer function."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str, rel: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    lines = child.end_lineno - child.lineno + 1
                    if lines > limit:
                        found[f"{rel}:{name}"] = lines
                visit(child, name + ".", rel)
            else:
                visit(child, prefix, rel)

    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), "", rel)
    return found


def test_the_length_scan_sees_nested_and_method_functions(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(80))
    (tmp_path / "m.py").write_text(
        f"def short():\n    pass\n\n\nclass C:\n    def long(self):\n{body.replace('    ', '        ')}"
        f"\n\ndef outer():\n    def inner():\n{body.replace('    ', '        ')}    return inner\n",
        encoding="utf-8",
    )
    assert long_functions(tmp_path) == {"m.py:C.long": 81, "m.py:outer": 83, "m.py:outer.inner": 81}


def test_no_function_in_src_is_longer_than_80_lines():
    assert long_functions() == {}

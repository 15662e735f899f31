"""The one vocabulary: statuses, severities and finding codes are spelled in nianbao.vocab only."""

from __future__ import annotations

import ast
import json
import shutil
import sys
from pathlib import Path

import pytest

import nianbao
from nianbao import vocab
from nianbao.findings import CODES, code_registry, make, rule_catalogue
from nianbao.model import Report, internal_error_report, unreadable_report
from nianbao.spec import SpecError, all_specs, load_spec, spec_paths
from nianbao.vocab import CodeCollision, Incident, Severity, Status, merge_codes

SRC = Path(nianbao.__file__).resolve().parent

# Literals equal to a status or severity word that mean something else there: (file or folder/,
# literal). Each entry must still be needed (test_allowances_are_all_used).
ALLOWED = {
    ("checks.py", "error"): "blank-cell mode --blank error (空白即错误)",
    ("cli/", "error"): "blank-cell mode --blank error",
    ("web/", "error"): "blank-cell mode of the upload form; the JSON key of an error message",
    ("web/storage.py", "failed"): "state of a background job (queued/running/done/failed)",
    ("web/", "warnings"): "JSON key: the count of warnings of a stored result",
    ("model.py", "warnings"): "JSON key: the count of warnings of a report",
    ("render.py", "warnings"): "JSON key: the count of warnings of a batch",
    ("aggregate/units.py", "warnings"): "JSON key: the count of warnings of a unit",
    ("web/server.py", "warning"): "uvicorn's log level",
    ("desk/", "warnings"): "JSON key and column: the count of warnings of an upload",
}


def _allowance(rel: str, word: str) -> tuple[str, str] | None:
    for where, w in ALLOWED:
        if w == word and (rel == where or (where.endswith("/") and rel.startswith(where))):
            return where, w
    return None


def _words() -> set[str]:
    out = set()
    for enum in (Status, Severity):
        for m in enum:
            out |= {m.value, m.zh}
    return out


def _not_vocabulary(tree: ast.AST) -> set[int]:
    """Constants that are not words of the vocabulary even when spelled like one: docstrings,
    fragments of f-strings (part of a longer message) and attribute names (getattr)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
        elif isinstance(node, ast.JoinedStr):
            ids |= {id(v) for v in node.values}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("getattr", "hasattr", "setattr"):
            ids |= {id(a) for a in node.args[1:2]}
    return ids


def _vocabulary_literals() -> dict[tuple[str, str], list[int]]:
    words = _words()
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel == "vocab.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _not_vocabulary(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value in words
                and id(node) not in skip
            ):
                found.setdefault((rel, node.value), []).append(node.lineno)
    return found


@pytest.mark.slow
def test_status_and_severity_words_exist_only_in_vocab():
    stray = {k: v for k, v in _vocabulary_literals().items() if _allowance(*k) is None}
    assert not stray, f"status/severity literals outside vocab.py (use vocab.Status/Severity): {stray}"


@pytest.mark.slow
def test_allowances_are_all_used():
    assert set(ALLOWED) <= {_allowance(*k) for k in _vocabulary_literals()}


def test_the_scan_sees_a_literal(tmp_path, monkeypatch):
    """The scan is not vacuous: a module spelling a status is found."""
    fake = tmp_path / "nianbao"
    fake.mkdir()
    (fake / "x.py").write_text(
        '"""passed"""\nSTATE = {"passed": 1}\nLABEL = "仅有警告"\n'
        'f"{STATE}failed"\ngetattr(STATE, "error")\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert set(_vocabulary_literals()) == {("x.py", "passed"), ("x.py", "仅有警告")}


def test_enums_are_their_strings_in_every_output():
    assert Status.PASSED == "passed" and f"{Status.FAILED}" == "failed" and str(Severity.ERROR) == "error"
    doc = {Status.WARNINGS: [Severity.WARNING]}
    assert json.dumps(doc) == '{"warnings": ["warning"]}'
    assert [s.rank for s in Status] == list(range(len(Status)))
    assert Status.MISSING.rank < Status.UNREADABLE.rank < Status.FAILED.rank < Status.PASSED.rank
    assert len({s.zh for s in Status}) == len(Status)
    assert {s.tone for s in Status} == {"ok", "warn", "bad", "other"}


def test_report_status_and_outcome():
    r = Report(path="a.xlsx")
    assert (r.status, r.outcome, r.outcome.zh) == (Status.PASSED, Status.PASSED, "通过")
    r.findings.append(make("NB101", "空"))
    assert (r.status, r.outcome.zh) == (Status.PASSED, "仅有警告")
    r.findings.append(make("NB102", "坏"))
    assert (r.status, r.outcome.zh, r.to_dict()["status"]) == (Status.FAILED, "有错误", "failed")
    assert (
        Status.outcome("passed", 2) is Status.WARNINGS
        and Status.outcome("unreadable", 2) is Status.UNREADABLE
    )


def test_unreadable_and_internal_error_reports():
    r = unreadable_report("甲.xlsx", "文件是空的", mtime=3.0)
    assert r.unreadable and r.status is Status.UNREADABLE and r.mtime == 3.0
    assert [(f.code, f.severity, f.message) for f in r.findings] == [
        ("NB002", "error", "甲.xlsx：文件是空的")
    ]
    e = internal_error_report("乙.docx", KeyError("x"), source="import")
    assert e.unreadable and e.source == "import" and len(e.error_ref) == 8
    [f] = e.findings
    assert f.code == "NB005" and f"参考编号 {e.error_ref}：KeyError" in f.message
    assert f.message.startswith("乙.docx：处理时发生内部错误（")
    assert str(Incident("ab12cd34")) == "参考编号 ab12cd34"


def test_finding_severities_are_typed():
    assert all(isinstance(c.severity, Severity) for c in CODES.values())
    for spec in all_specs():
        assert all(isinstance(r.severity, Severity) for r in spec.rules)
        assert all(isinstance(r.severity, Severity) for r in spec.cell_rules)
    assert make("NB004", "x").severity_zh == "警告"


def test_code_registry_merges_tool_and_form_codes():
    reg = code_registry(all_specs())
    assert set(CODES) <= set(reg)
    declared = {r.code for s in all_specs() for r in s.rules} | {
        r.code for s in all_specs() for r in s.cell_rules
    }
    assert declared <= set(reg) and set(reg) == set(CODES) | declared
    assert [row["code"] for row in rule_catalogue()] == sorted(reg)
    assert all(row["severity"] == reg[row["code"]].severity for row in rule_catalogue())


def test_merge_codes_refuses_a_collision():
    ok = merge_codes([("NB9", "error", "甲", "a"), ("NB9", "error", "甲", "b")])
    assert ok["NB9"] == vocab.Code("NB9", Severity.ERROR, "甲")
    with pytest.raises(CodeCollision, match=r"NB9.*a.*b"):
        merge_codes([("NB9", "error", "甲", "a"), ("NB9", "warning", "甲", "b")])
    with pytest.raises(CodeCollision):
        merge_codes([("NB9", "error", "甲", "a"), ("NB9", "error", "乙", "b")])


def _spec_copy(tmp_path: Path, old: str, new: str) -> Path:
    src = spec_paths()[-1]
    text = src.read_text(encoding="utf-8")
    assert old in text
    p = tmp_path / src.name
    p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return p


def test_a_spec_declaring_a_code_two_ways_does_not_load(tmp_path):
    # a cell rule taking a relation rule's code with another name
    rule = next(r for r in all_specs()[-1].rules)
    p = _spec_copy(tmp_path, "code: NB103, name: 数值不能为负数", f"code: {rule.code}, name: 数值不能为负数")
    with pytest.raises(SpecError, match=rule.code):
        load_spec(p)


def test_a_spec_redefining_a_tool_code_does_not_load(tmp_path):
    p = _spec_copy(tmp_path, "code: NB104, name: 件数应为整数", "code: NB101, name: 件数应为整数")
    with pytest.raises(SpecError, match="NB101"):
        load_spec(p)


def test_specs_disagreeing_with_each_other_do_not_load(tmp_path, monkeypatch):
    from nianbao import spec as spec_mod

    tdir = tmp_path / "templates"
    tdir.mkdir()
    for p in spec_paths():
        shutil.copy(p, tdir / p.name)
    first = sorted(tdir.glob("gov-*.yaml"))[0]
    text = first.read_text(encoding="utf-8")
    assert "name: 数值不能为负数" in text
    first.write_text(text.replace("name: 数值不能为负数", "name: 数值不得为负数", 1), encoding="utf-8")
    monkeypatch.setattr(spec_mod, "templates_dir", lambda: tdir)
    with pytest.raises(SpecError, match="NB103"):
        spec_mod.all_specs()


def test_annotate_one_returns_a_result_not_markup(tmp_path):
    from nianbao.inputs import Input
    from nianbao.pipeline import annotate_one

    bad = unreadable_report("[red]甲[/].xlsx", "文件是空的")
    res = annotate_one(bad, tmp_path)
    assert (res.made, res.ok, res.reason) == (False, True, "文件是空的")
    assert res.text == "未生成 [red]甲[/].xlsx：文件是空的"
    assert res.markup() == "[red]未生成[/] \\[red]甲\\[/].xlsx：文件是空的"

    doc = tmp_path / "乙.docx"
    doc.write_bytes(b"x")
    r = Report(path="乙.docx", form="2021")
    r.input = Input.of(doc)
    res = annotate_one(r, tmp_path / "out")
    assert not res.made and res.markup().startswith("[yellow]未生成[/]") and "只为 Excel" in res.text

"""docs/rules.md is generated from the rules (`nianbao rules --format markdown`) and the README
links to it instead of keeping a table of its own."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from nianbao.check import RULES_DOC, rules_markdown
from nianbao.cli import app
from nianbao.findings import rule_catalogue

ROOT = Path(__file__).resolve().parents[1]


def test_docs_rules_md_is_the_generated_table():
    doc = (ROOT / RULES_DOC).read_text(encoding="utf-8")
    assert doc == rules_markdown(), f"请重新生成：nianbao rules --format markdown > {RULES_DOC}"


def test_the_table_lists_every_code_once_with_its_severity_and_forms():
    table = rules_markdown().split("\n## ", 1)[0]  # the code table; per-form relations follow
    rows = [line.split(" | ") for line in table.splitlines() if re.match(r"\| NB\d{3} ", line)]
    catalogue = rule_catalogue()
    assert [r[0].lstrip("| ") for r in rows] == [c["code"] for c in catalogue]
    assert [r[1] for r in rows] == [c["severity"].zh for c in catalogue]
    assert [r[3].rstrip(" |") for r in rows] == [c["forms"] for c in catalogue]
    assert {"NB204", "NB302", "NB305"} <= {c["code"] for c in catalogue}


def test_cli_prints_the_same_markdown():
    res = CliRunner().invoke(app, ["rules", "--format", "markdown"])
    assert res.exit_code == 0 and res.stdout == rules_markdown()
    bad = CliRunner().invoke(app, ["rules", "--format", "html"])
    assert bad.exit_code != 0 and "输出格式只能是 table、markdown" in bad.output


def test_readme_links_to_the_generated_table_and_keeps_none_of_its_own():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"]({RULES_DOC})" in readme
    assert not re.search(r"^\| NB\d{3} \|", readme, re.M)


def test_every_relation_is_described_with_the_labels_of_its_cells(spec):
    from nianbao.relations import describe

    for rule in spec.rules:
        text = describe(rule, spec.cells)
        symbol = {"eq": " = ", "le": " ≤ ", "ge": " ≥ "}[rule.op.name]
        assert symbol in text, (rule.code, text)
        for t in [*rule.lhs, *rule.rhs]:
            cell = spec.cells[t.cell]
            assert cell.col_label in text or cell.row_label in text, (rule.code, t.cell, text)
        assert ("上年“" in text) == any(t.prev for t in [*rule.lhs, *rule.rhs]), (rule.code, text)
    assert any("每列：“（七）总计” = “（一）予以公开” + " in describe(r, spec.cells) for r in spec.rules)

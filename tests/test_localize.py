"""Error localisation (Fellegi–Holt): the tool's minimum sets against an independent search.

The oracle below knows nothing of nianbao.localize: it takes the spec's error-severity
equalities, tries every set of cells (beyond the forced ones) of growing size among the cells
of the relations touching the failing ones, and decides each set with numpy (a unique change)
or a small integer program (free directions). Reports are consistent ones (conftest) with 1–2
random changes and text cells injected, in memory and through real files of our template and
of a hand-made layout.
"""

from __future__ import annotations

import itertools
import tempfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import consistent_values
from nianbao.checks import run_checks
from nianbao.layout import workbook_layout
from nianbao.localize.core import localise
from nianbao.model import Report
from nianbao.spec import Spec, get_spec

SPECS = {v: get_spec(v) for v in ("2021", "2019")}
MEMORY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---- the independent oracle -------------------------------------------------------------


def edit_rules(spec: Spec) -> list[tuple[dict[str, int], object]]:
    """(cell -> coefficient of sum(...) = 0, rule) for the error equalities within one year."""
    out = []
    for r in spec.rules:
        if r.severity != "error" or str(r.op) != "eq" or any(t.prev for t in r.lhs + r.rhs):
            continue
        co: dict[str, int] = {}
        for t in r.lhs:
            co[t.cell] = co.get(t.cell, 0) + t.sign
        for t in r.rhs:
            co[t.cell] = co.get(t.cell, 0) - t.sign
        out.append(({k: c for k, c in co.items() if c}, r))
    return out


def domain(spec: Spec, key: str) -> tuple[Decimal | None, bool]:
    kind = spec.kinds[spec.cells[key].kind]
    return kind.low, kind.integer


def admissible(spec: Spec, key: str, v: Decimal) -> bool:
    low, integer = domain(spec, key)
    return (low is None or v >= low) and (not integer or v == v.to_integral_value())


def set_works(spec: Spec, rules, x: dict, cells: tuple[str, ...]) -> bool:
    """Whether new values of ``cells`` (others as observed) satisfy every rule, in domain."""
    rows = [(co, r) for co, r in rules if any(c in co for c in cells)]
    for co, _ in rules:
        if not any(c in co for c in cells) and sum(c * x[k] for k, c in co.items()) != 0:
            return False
    if not cells:  # nothing to change, and every rule holds
        return True
    a = np.array([[float(co.get(c, 0)) for c in cells] for co, _ in rows])
    b = np.array([-float(sum(c * x[k] for k, c in co.items() if k not in cells)) for co, _ in rows])
    sol, _, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    if not np.allclose(a @ sol, b, atol=1e-7):
        return False
    if rank == len(cells):
        vals = {c: Decimal(str(round(float(v), 6))) for c, v in zip(cells, sol, strict=True)}
        exact = all(
            sum(co.get(c, 0) * vals[c] for c in cells) == Decimal(str(b[i])).quantize(Decimal(1))
            for i, (co, _) in enumerate(rows)
        )
        return exact and all(admissible(spec, c, v) for c, v in vals.items())
    from scipy.optimize import Bounds, LinearConstraint, milp

    lows = [domain(spec, c)[0] for c in cells]
    res = milp(
        np.zeros(len(cells)),
        constraints=[LinearConstraint(a, b, b)],
        integrality=np.array([int(domain(spec, c)[1]) for c in cells]),
        bounds=Bounds([-np.inf if lo is None else float(lo) for lo in lows], np.inf),
    )
    return res.status == 0


def oracle(spec: Spec, values: dict, unknown: set[str], max_extra: int = 3) -> list[tuple[str, ...]] | None:
    """Every minimum set (sorted cell keys, in the spec's cell order), by brute force."""
    rules = edit_rules(spec)
    order = {k: i for i, k in enumerate(spec.cells)}
    cells = {k for co, _ in rules for k in co}
    x = {k: (Decimal(0) if k in unknown or values.get(k) is None else values[k]) for k in cells}
    forced = {k for k in x if k in unknown or not admissible(spec, k, x[k])}
    failing = [co for co, _ in rules if sum(c * x[k] for k, c in co.items()) != 0]
    seeds = failing + [co for co, _ in rules if forced & set(co)]
    seed_cells = {k for co in seeds for k in co}
    touching = [co for co, _ in rules if seed_cells & set(co)]
    candidates = sorted({k for co in touching for k in co} - forced, key=order.get)
    for k in range(max_extra + 1):
        found = []
        for extra in itertools.combinations(candidates, k):
            cells = tuple(sorted(forced.union(extra), key=order.get))
            if all(set(co) & set(cells) for co in failing) and set_works(spec, rules, x, cells):
                found.append(cells)
        if found:
            return sorted(found, key=lambda s: [order[c] for c in s])
    return None


# ---- reports with injected errors -------------------------------------------------------


def cell_map(spec: Spec) -> dict[str, tuple[str, str]]:
    return {k: (tl.sheet, b.ref) for tl in workbook_layout(spec).tables for k, b in tl.values.items()}


def in_memory(spec: Spec, vals: dict, texts=()) -> Report:
    values = {k: (None if k in texts else Decimal(v)) for k, v in vals.items()}
    return Report(path="内存", form=spec.version, values=values, where=cell_map(spec), invalid=set(texts))


@st.composite
def damaged(draw, max_changes: int = 2):
    """(spec, values, text cells): a consistent report with 1–``max_changes`` changed cells
    (a changed cell may become text)."""
    spec = SPECS[draw(st.sampled_from(sorted(SPECS)))]
    vals = consistent_values(spec, draw(st.integers(0, 10_000)))
    cells = sorted({k for co, _ in edit_rules(spec) for k in co}, key=list(spec.cells).index)
    chosen = draw(st.lists(st.sampled_from(cells), min_size=1, max_size=max_changes, unique=True))
    texts = set()
    for k in chosen:
        if draw(st.integers(0, 5)) == 0:
            texts.add(k)
        else:
            vals[k] = vals[k] + draw(st.integers(-6, 9).filter(bool))
    return spec, vals, texts


def tool_sets(loc) -> tuple[list[tuple[str, ...]], bool]:
    sets, more = loc.corrections()
    return [tuple(ch.key for ch in s) for s in sets], more


def assert_matches_oracle(spec: Spec, report: Report, unknown: set[str]) -> None:
    want = oracle(spec, report.values, unknown)
    loc = localise(report, spec)
    if loc is None:
        assert want == [()]
        return
    assert not any(p.too_many for p in loc.parts)
    got, more = tool_sets(loc)
    assert got == want[:10]
    assert more == (len(want) > 10)


@pytest.mark.slow
@MEMORY
@given(damaged())
def test_minimum_sets_equal_brute_force(case):
    spec, vals, texts = case
    report = in_memory(spec, vals, texts)
    assert_matches_oracle(spec, report, texts)


@pytest.mark.slow
@MEMORY
@given(damaged())
def test_suggested_values_make_every_relation_hold(case):
    spec, vals, texts = case
    report = in_memory(spec, vals, texts)
    loc = localise(report, spec)
    if loc is None:
        return
    x = {k: (Decimal(0) if v is None else v) for k, v in report.values.items()}
    for s in loc.corrections()[0]:
        fixed = dict(x)
        for ch in s:
            assert ch.actual == (None if ch.key in texts else x[ch.key])
            if ch.suggested is not None:
                assert ch.suggested != ch.actual
                assert admissible(spec, ch.key, ch.suggested)
                fixed[ch.key] = ch.suggested
        if all(ch.suggested is not None for ch in s):
            for co, _ in edit_rules(spec):
                assert sum(c * fixed[k] for k, c in co.items()) == 0


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged(max_changes=3), st.data())
def test_three_changes_search_equals_milp(case, data):
    spec, vals, texts = case
    report = in_memory(spec, vals, texts)
    a, b = localise(report, spec), localise(report, spec, method="milp")
    assert (a is None) == (b is None)
    if a is not None:
        assert [p.too_many for p in a.parts] == [p.too_many for p in b.parts]
        assert tool_sets(a) == tool_sets(b)


def _read(path: Path):
    from nianbao.inputs import collect
    from nianbao.reader import read_report

    return read_report(collect([path]).items[0])


@pytest.mark.slow
@FILES
@given(damaged())
def test_through_our_template(case):
    from nianbao.template import write_template

    spec, vals, texts = case
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "填报表.xlsx"
        filled = {k: v for k, v in vals.items() if k not in texts}
        write_template(p, spec, unit="县测试局", year=2025, values=filled)
        if texts:
            _put_text(p, {cell_map(spec)[k] for k in texts})
        report = _read(p)
    assert report.invalid == texts
    assert_matches_oracle(spec, report, texts)
    _assert_cells_are_the_files(report)


def _put_text(path: Path, refs) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(path)
    for sheet, ref in refs:
        wb[sheet][ref].value = "无"
    wb.save(path)


def _assert_cells_are_the_files(report: Report) -> None:
    run_checks(report, get_spec(report.form))
    for corr in report.corrections:
        for c in corr["cells"]:
            key = next(k for k, w in report.where.items() if w == (c["sheet"], c["cell"]))
            want = report.values.get(key)
            assert c["actual"] == (None if want is None else float(want) if want % 1 else int(want))


@pytest.mark.slow
@FILES
@given(damaged())
def test_through_a_hand_made_layout(case):
    from test_reader import handmade, save_openpyxl

    spec, vals, texts = case
    written = {k: ("无" if k in texts else v) for k, v in vals.items()}
    sheets, merges, where = handmade(spec, written, cover={"unit": "县手工局", "year": 2025})
    with tempfile.TemporaryDirectory() as tmp:
        report = _read(save_openpyxl(Path(tmp) / "手工.xlsx", sheets, merges))
    assert report.source == "labels" and report.invalid == texts
    assert {k: report.where[k] for k in where} == where
    assert_matches_oracle(spec, report, texts)
    _assert_cells_are_the_files(report)


# ---- the cases of the issue, as a user meets them ----------------------------------------

S21 = SPECS["2021"]


def _cli(*args):
    from typer.testing import CliRunner

    from nianbao.cli import app

    res = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


def _check_json(path: Path) -> dict:
    import json

    res = _cli("check", path, "--format", "json")
    assert res.exit_code == 1
    (doc,) = json.loads(res.stdout)["files"]
    return doc


def _new_total_359() -> dict:
    """A consistent report whose row 一、本年新收 adds up to 359."""
    vals = consistent_values(S21, 3)
    d = 359 - vals["nb_t3_new_total"]
    for k in ("nb_t3_new_natural", "nb_t3_carry_next_natural", "nb_t3_carry_next_total"):
        vals[k] += d
    vals["nb_t3_new_total"] = 359
    assert localise(in_memory(S21, vals), S21) is None
    return vals


def test_wrong_total_names_only_that_total(tmp_path):
    """J7 = 360 where the row adds up to 359: J7 is named, J31 (right) is not."""
    vals = _new_total_359()
    vals["nb_t3_new_total"] = 360
    p = tmp_path / "县甲局.xlsx"
    from nianbao.template import write_template

    write_template(p, S21, unit="县甲局", year=2025, values=vals)
    doc = _check_json(p)
    assert doc["corrections_truncated"] is False
    assert doc["corrections"] == [
        {
            "cells": [
                {
                    "sheet": "表三",
                    "cell": "J7",
                    "table": "表三",
                    "row": "一、本年新收政府信息公开申请数量",
                    "column": "总计",
                    "actual": 360,
                    "suggested": 359,
                }
            ]
        }
    ]
    by_cell = {}
    for f in doc["findings"]:
        by_cell.setdefault(f["cell"], []).append(f)
    assert sorted(by_cell) == ["J31", "J7"]
    (nb203,) = by_cell["J31"]
    assert nb203["code"] == "NB203" and nb203["expected"] is None and "由 J7 引起" in nb203["message"]
    assert "应为" not in nb203["message"]
    first = doc["findings"][0]
    assert first["code"] == "NB401" and first["cell"] == "J7" and first["expected"] == "359"
    assert first["message"] == (
        "最可能填错：表三 J7（一、本年新收政府信息公开申请数量 / 总计）应为 359，实为 360；"
        "改正后表三全部勾稽关系成立"
    )


def test_wrong_leaf_is_named_where_row_and_column_cross(tmp_path):
    """D9 typed 9 too high: D9 is named with its value; J9 and D30 only point to it."""
    vals = consistent_values(S21, 4)
    right = vals["nb_t3_r_open_natural"]
    vals["nb_t3_r_open_natural"] = right + 9
    report = in_memory(S21, vals)
    run_checks(report, S21)
    assert [c["cell"] for s in report.corrections for c in s["cells"]] == ["D9"]
    fix = [f for f in report.findings if f.code == "NB401"]
    assert [(f.cell, f.expected, f.actual) for f in fix] == [("D9", str(right), str(right + 9))]
    rel = {f.cell: f for f in report.findings if f.code in ("NB201", "NB202")}
    assert sorted(rel) == ["D30", "J9"]
    assert all(f.expected is None and "由 D9 引起" in f.message for f in rel.values())


@pytest.mark.slow
def test_sample_seven_total_never_proposes_a_negative_value(tmp_path):
    from nianbao.samples import build_samples

    made = {p.stem: p for p in build_samples(tmp_path)}
    doc = _check_json(made["错误-七总计不符"])
    cells = [c for s in doc["corrections"] for c in s["cells"]]
    assert cells and all(c["suggested"] is not None and c["suggested"] >= 0 for c in cells)
    assert not any("应为 -" in f["message"] or (f["expected"] or "").startswith("-") for f in doc["findings"])
    # the one wrong cell is the total itself: D30 (（七）总计 / 自然人), one too high
    (only,) = doc["corrections"]
    assert [(c["cell"], c["actual"] - c["suggested"]) for c in only["cells"]] == [("D30", 1)]


def test_leaf_against_total_is_ambiguous(tmp_path):
    """A 表四 leaf in no other rule: leaf and total explain the failure alike — every cell
    that can take the value is listed, none preferred, and the relation finding gives no 应为."""
    vals = {k: 0 for k in S21.cells}
    vals.update(nb_t4_review_upheld=2, nb_t4_review_pending=1, nb_t4_review_total=2)
    report = in_memory(S21, vals)
    run_checks(report, S21)
    assert [[c["cell"] for c in s["cells"]] for s in report.corrections] == [["A7"], ["D7"], ["E7"]]
    (amb,) = [f for f in report.findings if f.code == "NB402"]
    # B7 and C7 (0) cannot go down: never proposed
    assert amb.message == (
        "以下任一处改正都能使勾稽关系成立：A7 改为 1；或 D7 改为 0；或 E7 改为 3。请核对原始台账"
    )
    (rel,) = [f for f in report.findings if f.code == "NB204"]
    assert rel.expected is None and "应为" not in rel.message


def test_text_cell_value_follows_from_the_relations():
    vals = consistent_values(S21, 5)
    vals["nb_t4_review_upheld"] = 3
    vals["nb_t4_review_total"] = sum(
        vals[f"nb_t4_review_{k}"] for k in ("upheld", "corrected", "other", "pending")
    )
    report = in_memory(S21, vals, texts={"nb_t4_review_upheld"})
    run_checks(report, S21)
    (f,) = [f for f in report.findings if f.code == "NB403"]
    assert (f.cell, f.message) == ("A7", "该格应为 3（由勾稽关系推得）")


@pytest.mark.parametrize("blank", ["zero", "error"])
def test_blank_policy(blank):
    """A blank leaf is an observed 0 under --blank zero, an unknown under --blank error."""
    vals = consistent_values(S21, 6)
    vals["nb_t4_review_corrected"] = 2
    vals["nb_t4_review_total"] = sum(
        vals[f"nb_t4_review_{k}"] for k in ("upheld", "corrected", "other", "pending")
    )
    report = in_memory(S21, vals)
    report.values["nb_t4_review_corrected"] = None
    report.blank = ["nb_t4_review_corrected"]
    run_checks(report, S21, blank=blank)
    codes = {f.code for f in report.findings}
    if blank == "zero":
        assert "NB402" in codes and len(report.corrections) > 1
    else:
        assert [c["cell"] for s in report.corrections for c in s["cells"]] == ["B7"]
        (f,) = [f for f in report.findings if f.code == "NB403"]
        assert f.message == "该格应为 2（由勾稽关系推得）"


def test_too_many_errors_keeps_the_relation_findings():
    vals = consistent_values(S21, 7)
    for i, k in enumerate(k for k in S21.cells if k.startswith("nb_t3_deny_")):
        vals[k] += 1 + i % 3
    report = in_memory(S21, vals)
    run_checks(report, S21)
    (f,) = [f for f in report.findings if f.code == "NB404"]
    assert f.message == "错误较多，无法判断哪一格有误" and report.corrections == []
    rel = [f for f in report.findings if f.code in ("NB201", "NB202")]
    assert rel and all(f.expected is not None and f.mark == "" for f in rel)


# ---- the annotated copy -------------------------------------------------------------------


def _annotated(src: Path, out: Path):
    import openpyxl

    res = _cli("annotate", src, "--out-dir", out)
    assert res.exit_code == 1, res.output
    (copy,) = out.glob("*_审核.xlsx")
    return openpyxl.load_workbook(copy)


RED_ORANGE = ("FFFF8F8F", "FFFFC000")  # annotate.ERROR_FILL, annotate.CANDIDATE_FILL (asserted below)


def _fills(wb) -> dict[str, str]:
    """sheet!cell -> fill colour of every filled cell outside 审核结果."""
    out = {}
    for ws in wb.worksheets[1:]:
        for row in ws.iter_rows():
            for c in row:
                if c.fill is not None and c.fill.fill_type == "solid":
                    out[f"{ws.title}!{c.coordinate}"] = c.fill.start_color.rgb
    return out


def _summary_rows(wb) -> list[tuple]:
    ws = wb["审核结果"]
    head = next(r for r in range(1, 30) if ws.cell(r, 1).value == "序号")
    return [r for r in ws.iter_rows(min_row=head + 1, values_only=True) if r[0] is not None]


def _relation_formats(ws) -> list[str]:
    return [r.formula[0] for cf in ws.conditional_formatting for r in cf.rules if "ROUND(" in r.formula[0]]


@pytest.mark.slow
def test_text_in_table_four_is_explained_on_the_summary(tmp_path):
    """ "无" in 表四 A7: the template's own live check (SUM skips text) would paint E7 red; in
    the copy A7 is red and explained, E7 is not painted, and every red cell has its line."""
    from nianbao.annotate import ERROR_FILL
    from nianbao.samples import build_samples

    made = {p.stem: p for p in build_samples(tmp_path / "样例")}
    src = made["错误-填写文字"]
    import openpyxl

    assert _relation_formats(openpyxl.load_workbook(src)["表四"])  # the template has them
    wb = _annotated(src, tmp_path / "批注")
    fills = _fills(wb)
    assert fills.get("表四!A7") == ERROR_FILL and fills.get("表四!E7") not in RED_ORANGE
    assert _relation_formats(wb["表四"]) == [] and _relation_formats(wb["表三"]) == []
    rows = _summary_rows(wb)
    explained = {r[6] for r in rows}
    assert {k for k, v in fills.items() if v == ERROR_FILL} <= explained
    assert rows[0][1] == "NB403" and rows[0][6] == "表四!A7" and rows[0][9].startswith("该格应为 ")
    assert wb["表四"]["A7"].comment.text.startswith("应改为 ")


@pytest.mark.slow
def test_copy_paints_only_the_cell_to_change(tmp_path):
    from nianbao.annotate import ERROR_FILL
    from nianbao.template import write_template

    vals = _new_total_359()
    vals["nb_t3_new_total"] = 360
    src = tmp_path / "县甲局.xlsx"
    write_template(src, S21, unit="县甲局", year=2025, values=vals)
    wb = _annotated(src, tmp_path / "批注")
    fills = _fills(wb)
    assert fills.get("表三!J7") == ERROR_FILL and fills.get("表三!J31") not in RED_ORANGE
    assert wb["表三"]["J7"].comment.text.startswith("应改为 359")
    assert "由 J7 引起" in wb["表三"]["J31"].comment.text
    rows = _summary_rows(wb)
    assert rows[0][1] == "NB401" and rows[0][6] == "表三!J7"  # the suggested change comes first


@pytest.mark.slow
def test_copy_paints_every_candidate_orange(tmp_path):
    from nianbao.annotate import CANDIDATE_FILL, ERROR_FILL
    from nianbao.template import write_template

    assert (ERROR_FILL, CANDIDATE_FILL) == RED_ORANGE

    vals = {k: 0 for k in S21.cells}
    vals.update(nb_t4_review_upheld=2, nb_t4_review_pending=1, nb_t4_review_total=2)
    src = tmp_path / "县乙局.xlsx"
    write_template(src, S21, unit="县乙局", year=2025, values=vals)
    wb = _annotated(src, tmp_path / "批注")
    fills = _fills(wb)
    assert {k: v for k, v in fills.items() if v in (CANDIDATE_FILL, ERROR_FILL)} == {
        "表四!A7": CANDIDATE_FILL,
        "表四!D7": CANDIDATE_FILL,
        "表四!E7": CANDIDATE_FILL,
    }
    assert wb["表四"]["D7"].comment.text.startswith("可能需要改为 0")
    assert "以下任一处改正都能使勾稽关系成立" in wb["表四"]["D7"].comment.text


@pytest.mark.slow
def test_web_page_names_the_cell_to_change(tmp_path):
    from markupsafe import escape

    from nianbao.template import write_template
    from test_web import browser, create_app, upload, wait

    vals = _new_total_359()
    vals["nb_t3_new_total"] = 360
    amb = {k: 0 for k in S21.cells}
    amb.update(nb_t4_review_upheld=2, nb_t4_review_pending=1, nb_t4_review_total=2)
    files = []
    for name, values in (("县甲局.xlsx", vals), ("县乙局.xlsx", amb)):
        write_template(tmp_path / name, S21, unit=name[:3], year=2025, values=values)
        files.append((name, (tmp_path / name).read_bytes()))
    with browser(create_app(tmp_path / "data")) as client:
        r = upload(client, files)
        batch = r.headers["location"].rsplit("/", 1)[1]
        assert wait(client, f"/api/batches/{batch}")["state"] == "done"
        page = client.get(f"/batches/{batch}").text
    cell = "<code>表三!J7</code>（一、本年新收政府信息公开申请数量 / 总计）"
    assert f"最可能填错：</strong>{cell}应为 359，实为 360" in page
    assert "以下任一处改正都能使勾稽关系成立" in page
    assert "<li><code>表四!A7</code> 改为 1</li><li><code>表四!D7</code> 改为 0</li>" in page
    assert str(escape("由 J7 引起")) in page


def test_aggregate_lists_the_suggested_change_first(tmp_path):
    import openpyxl

    from nianbao.template import write_template

    src = tmp_path / "报送"
    src.mkdir()
    vals = _new_total_359()
    write_template(src / "县丙局.xlsx", S21, unit="县丙局", year=2025, values=vals)
    vals["nb_t3_new_total"] = 360
    write_template(src / "县甲局.xlsx", S21, unit="县甲局", year=2025, values=vals)
    out = tmp_path / "汇总.xlsx"
    res = _cli("aggregate", src, "-o", out)
    assert res.exit_code == 1, res.output
    wb = openpyxl.load_workbook(out, read_only=True)
    issues = [r for r in wb["问题清单"].iter_rows(values_only=True)][1:]
    mine = [r for r in issues if r[0] == "县甲局"]
    assert [r[2] for r in mine] == ["NB401", "NB201", "NB203"]
    assert mine[0][11].startswith("最可能填错：表三 J7") and mine[2][9] in (None, "")
    status = {r[0]: r for r in wb["报送情况"].iter_rows(values_only=True)}
    assert "最可能填错：表三!J7 应为 359" in status["县甲局"][11]
    assert "最可能填错" not in (status["县丙局"][11] or "")


def test_import_json_points_at_the_written_workbook(tmp_path):
    import json

    import openpyxl

    from fixtures_import import report_text

    vals = _new_total_359()
    vals["nb_t3_new_total"] = 360
    src = tmp_path / "年报.txt"
    src.write_text(report_text({k: int(v) for k, v in vals.items()}, "pipe_lines"), encoding="utf-8")
    out = tmp_path / "导入.xlsx"
    res = _cli("import", src, "-o", out, "--format", "json")
    (doc,) = json.loads(res.stdout)["files"]
    assert doc["corrections_truncated"] is False
    (only,) = doc["corrections"]
    (cell,) = only["cells"]
    assert (cell["sheet"], cell["cell"], cell["actual"], cell["suggested"]) == ("表三", "J7", 360, 359)
    assert openpyxl.load_workbook(out)[cell["sheet"]][cell["cell"]].value == 360


def test_a_blank_cell_to_change_is_called_blank():
    """Under --blank zero a blank is an observed 0, and the message says it was blank."""
    vals = next(v for v in map(lambda n: consistent_values(S21, n), range(50)) if v["nb_t3_r_open_natural"])
    report = in_memory(S21, vals)  # consistent; now D9 is left blank
    assert localise(report, S21) is None
    report.values["nb_t3_r_open_natural"] = None
    report.blank = ["nb_t3_r_open_natural"]
    run_checks(report, S21)
    (f,) = [f for f in report.findings if f.code == "NB401"]
    assert f.cell == "D9" and f.actual == "空白（按 0 计）" and "实为 空白（按 0 计）" in f.message
    assert f.expected == str(vals["nb_t3_r_open_natural"])

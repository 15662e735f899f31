"""Property-based tests (hypothesis) of the relations between template, reader and checks.

Values are drawn cell by cell from hypothesis integers, then the totals are solved from the
spec's own rules (this file's small solver, independent of ``nianbao.samples``). For any such
report:
- template → fill → read → check finds nothing, and every value reads back exactly;
- changing any ONE value cell by a non-zero amount makes exactly the (current-year, equality)
  relations containing that cell fail, each failure named at a cell of its relation;
- a negative count is an error (NB103) at its cell.
The one-cell property runs on Report objects in memory and, for a few examples, through files.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import FORMS
from nianbao.checks import check_report
from nianbao.layout import workbook_layout
from nianbao.model import Report
from nianbao.spec import Spec, get_spec

SPECS = {v: get_spec(v) for v in FORMS}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def current(spec: Spec, op: str | None = None):
    return [
        r for r in spec.rules if not r.uses_previous and (op is None or (r.op.name == "eq") == (op == "eq"))
    ]


def refs(spec: Spec) -> dict[str, tuple[str, str]]:
    lay = workbook_layout(spec)
    return {k: (tl.sheet, b.ref) for tl in lay.tables for k, b in tl.values.items()}


def low(spec: Spec, key: str):
    return spec.kinds[spec.cells[key].kind].low


def side(vals, terms) -> Decimal:
    return sum((t.sign * vals[t.cell] for t in terms if not t.prev), Decimal(0))


def holds(rule, vals) -> bool:
    lhs, rhs = side(vals, rule.lhs), side(vals, rule.rhs)
    return {"eq": lhs == rhs, "ge": lhs >= rhs, "le": lhs <= rhs}[rule.op.name]


def solve(spec: Spec, vals: dict[str, Decimal]) -> dict[str, Decimal] | None:
    """Set the totals so that every current-year rule holds; None when that fails."""
    vals = dict(vals)
    eq, ineq = current(spec, "eq"), current(spec, "ne")
    targets = {r.target for r in eq}
    for _ in range(40):
        changed = False
        for r in eq:
            diff = side(vals, r.lhs) - side(vals, r.rhs)
            if not diff:
                continue
            in_lhs = any(t.cell == r.target for t in r.lhs)
            sign = next(t.sign for t in (r.lhs if in_lhs else r.rhs) if t.cell == r.target)
            want = vals[r.target] - diff * sign * (1 if in_lhs else -1)
            floor = low(spec, r.target)
            if floor is not None and want < floor:
                # too little on the other side: raise one of its terms instead
                other = [t for t in (r.rhs if in_lhs else r.lhs) if t.sign > 0 and not t.prev]
                if not other:
                    return None
                vals[other[0].cell] += floor - want
                want = floor
            vals[r.target] = want
            changed = True
        for r in ineq:
            if holds(r, vals):
                continue
            excess = abs(side(vals, r.lhs) - side(vals, r.rhs))
            big = r.rhs if r.op.name == "ge" else r.lhs  # the side that is too large
            for t in big:
                if t.sign > 0 and not t.prev and t.cell not in targets and excess:
                    floor = low(spec, t.cell) or Decimal(0)
                    cut = min(excess, vals[t.cell] - floor)
                    vals[t.cell] -= cut
                    excess -= cut
            changed = True
        if not changed:
            break
    ok = all(holds(r, vals) for r in current(spec)) and all(
        low(spec, k) is None or v >= low(spec, k) for k, v in vals.items()
    )
    return vals if ok else None


def cell_value(spec: Spec, key: str):
    kind = spec.kinds[spec.cells[key].kind]
    if not kind.integer:
        return st.decimals(min_value=0, max_value=9999, places=2, allow_nan=False, allow_infinity=False)
    if kind.min is None:
        return st.integers(-20, 20).map(Decimal)
    return st.one_of(st.just(0), st.integers(0, 60)).map(Decimal)


@st.composite
def reports(draw, version: str | None = None):
    """(spec, values) of a valid report: free values drawn per cell, totals solved."""
    spec = SPECS[version or draw(st.sampled_from(sorted(SPECS)))]
    free = {k: draw(cell_value(spec, k)) for k in spec.cells}
    vals = solve(spec, free)
    assume(vals is not None)
    return spec, vals


def in_memory(spec: Spec, vals: dict) -> Report:
    return Report(
        path="内存.xlsx",
        form=spec.version,
        unit="县测试局",
        year=2025,
        values=dict(vals),
        where=refs(spec),
        source="template",
    )


@st.composite
def one_change(draw, version: str | None = None):
    """(spec, values, key, delta): a valid report and a non-zero change of one value cell
    that keeps the cell within its kind (never below its minimum, same decimal places)."""
    spec, vals = draw(reports(version))
    key = draw(st.sampled_from(sorted(spec.cells)))
    delta = Decimal(draw(st.integers(1, 50)))
    floor = low(spec, key)
    if draw(st.booleans()) and (floor is None or vals[key] - delta >= floor):
        delta = -delta
    return spec, vals, key, delta


def expected_failures(spec: Spec, key: str, where) -> Counter:
    """(code, cell) of every current-year equality relation that contains ``key``."""
    return Counter((r.code, where[r.target][1]) for r in current(spec, "eq") if key in r.cells())


def assert_exactly_its_relations(spec: Spec, key: str, findings, where) -> None:
    eq_codes = {r.code for r in current(spec, "eq")}
    got = Counter((f.code, f.cell) for f in findings if f.code in eq_codes)
    assert got == expected_failures(spec, key, where), (key, [f.message for f in findings])
    containing = [r for r in current(spec) if key in r.cells()]
    for f in findings:
        rel = [r for r in containing if r.code == f.code and where[r.target][1] == f.cell]
        assert rel, f  # nothing else fails: no other relation, no kind check
        cells = {where[c][1] for c in rel[0].cells()}
        assert f.cell in cells and set(f.related) <= cells  # named at a cell of its relation
        assert f.severity == rel[0].severity and f.sheet == where[rel[0].target][0]


# ---- the properties ------------------------------------------------------------------------


@pytest.mark.slow
@FAST
@given(reports())
def test_solved_report_has_no_findings(case):
    spec, vals = case
    r = in_memory(spec, vals)
    assert check_report(r, spec) == []


@pytest.mark.slow
@FAST
@given(one_change())
def test_one_changed_cell_fails_exactly_its_relations(case):
    spec, vals, key, delta = case
    vals = dict(vals)
    vals[key] += delta
    r = in_memory(spec, vals)
    assert_exactly_its_relations(spec, key, check_report(r, spec), r.where)


@pytest.mark.slow
@FAST
@given(reports(), st.data())
def test_negative_count_is_an_error_at_its_cell(case, data):
    spec, vals = case
    counts = sorted(k for k in spec.cells if spec.cells[k].kind == "count")
    key = data.draw(st.sampled_from(counts))
    vals = dict(vals)
    vals[key] = -Decimal(data.draw(st.integers(1, 1000)))
    r = in_memory(spec, vals)
    found = [f for f in check_report(r, spec) if f.code == "NB103"]
    assert [(f.cell, f.severity, f.key) for f in found] == [(r.where[key][1], "error", key)]
    assert str(vals[key]) in found[0].message


def _write_read(spec: Spec, vals: dict, folder: Path):
    from nianbao.inputs import collect
    from nianbao.reader import read_report
    from nianbao.template import write_template

    p = folder / "填报表.xlsx"
    write_template(p, spec, unit="县测试局", year=2025, values=vals)
    return read_report(collect([p]).items[0])


@pytest.mark.slow
@FILES
@given(reports())
def test_template_fill_read_check_round_trip(case):
    spec, vals = case
    with tempfile.TemporaryDirectory() as tmp:
        r = _write_read(spec, vals, Path(tmp))
    assert r.status == "passed" and r.form == spec.version and r.source == "template"
    assert r.values == vals  # every value reads back exactly
    assert r.findings == [] and check_report(r, spec) == []


@pytest.mark.slow
@FILES
@given(one_change())
def test_one_changed_cell_through_a_real_file(case):
    spec, vals, key, delta = case
    vals = dict(vals)
    vals[key] += delta
    with tempfile.TemporaryDirectory() as tmp:
        r = _write_read(spec, vals, Path(tmp))
    assert r.findings == [] and r.values[key] == vals[key]
    assert_exactly_its_relations(spec, key, check_report(r, spec), r.where)


@pytest.mark.parametrize("version", sorted(SPECS))
def test_each_cell_changed_alone_from_an_all_zero_report(version):
    """Exhaustively, every value cell of the form: an all-zero report is valid, and raising any
    one cell fails exactly its relations (none, for the 表二 cells that stand alone)."""
    spec = SPECS[version]
    zeros = {k: Decimal(0) for k in spec.cells}
    assert check_report(in_memory(spec, zeros), spec) == []
    alone = 0
    for key in spec.cells:
        r = in_memory(spec, {**zeros, key: Decimal(3)})
        findings = check_report(r, spec)
        assert_exactly_its_relations(spec, key, findings, r.where)
        alone += not expected_failures(spec, key, r.where)
    assert 0 < alone < len(spec.cells) // 5

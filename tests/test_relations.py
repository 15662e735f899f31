"""The relation ops (nianbao.relations): the Python check, the spreadsheet formula and the solver
of each op say the same thing, on random inputs; a rule's linear form means the rule."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nianbao.checks import evaluate
from nianbao.model import Report
from nianbao.relations import OPS, PLACES, balance, difference_formula
from nianbao.spec import all_specs

# ---------------------------------------------------------------- a tiny formula evaluator
# The subset the template's live checks use: numbers, A1 references and ranges, SUM, ROUND,
# + and -, and one comparison. Evaluated the spreadsheet's way: ROUND halves away from zero.
_TOKEN = re.compile(
    r"\s*(?:(\$?[A-Z]{1,3}\$?\d+(?::\$?[A-Z]{1,3}\$?\d+)?)|(\d+(?:\.\d+)?)|(<>|<=|>=|[-+(),<>=])|([A-Z]+)(?=\())"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m and m.end() > pos, f"formula outside the evaluator's subset: {text[pos:]!r}"
        ref, num, sym, fn = m.groups()
        out.append(("ref", ref) if ref else ("num", num) if num else ("sym", sym) if sym else ("fn", fn))
        pos = m.end()
    return out


def _cells(ref: str) -> list[str]:
    def split(a1):
        m = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", a1)
        return m.group(1), int(m.group(2))

    first, _, last = ref.partition(":")
    (c1, r1), (c2, r2) = split(first), split(last or first)
    col = lambda s: sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(s)))  # noqa: E731
    letters = lambda n: "" if n == 0 else letters((n - 1) // 26) + chr(65 + (n - 1) % 26)  # noqa: E731
    return [f"{letters(c)}{r}" for r in range(r1, r2 + 1) for c in range(col(c1), col(c2) + 1)]


def _excel_round(x, places: int, num):
    q = Decimal(repr(x)) if isinstance(x, float) else x
    return num(q.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def excel_eval(formula: str, cells: dict, num=Decimal):
    """Evaluate ``formula`` over ``cells`` (A1 -> number) with arithmetic in ``num``: Decimal
    (exact) or float (as a spreadsheet computes)."""
    toks = _tokens(formula.lstrip("="))
    pos = 0

    def peek():
        return toks[pos] if pos < len(toks) else ("end", "")

    def take(kind=None, val=None):
        nonlocal pos
        t = peek()
        assert (kind is None or t[0] == kind) and (val is None or t[1] == val), (t, formula)
        pos += 1
        return t

    def args():
        take("sym", "(")
        out = [expr()]
        while peek() == ("sym", ","):
            take()
            out.append(expr())
        take("sym", ")")
        return out

    def atom():
        kind, val = take()
        if kind == "num":
            return [num(val)]
        if kind == "ref":
            return [num(cells.get(c, 0)) for c in _cells(val)]
        if kind == "fn" and val == "SUM":
            return [sum((x for a in args() for x in a), num(0))]
        if kind == "fn" and val == "ROUND":
            (x,), (p,) = args()
            return [_excel_round(x, int(p), num)]
        raise AssertionError(f"unknown token {val!r} in {formula}")

    def expr():
        first = atom()
        if len(first) != 1:  # a range stands alone, as a function's argument
            return first
        (v,) = first
        while peek() in (("sym", "+"), ("sym", "-")):
            op = take()[1]
            (w,) = atom()
            v = v + w if op == "+" else v - w
        return [v]

    def comparison():
        (left,) = expr()
        kind, op = peek()
        if kind != "sym" or op not in ("<>", "<", ">", "=", "<=", ">="):
            return left
        take()
        (right,) = expr()
        return {"<>": left != right, "<": left < right, ">": left > right, "=": left == right}.get(
            op, left <= right if op == "<=" else left >= right
        )

    result = comparison()
    assert pos == len(toks), f"unparsed rest of {formula}"
    return result


def test_the_evaluator_reads_what_the_template_writes():
    cells = {"B5": 1, "C5": 2, "D5": 3, "B6": 4, "E9": Decimal("0.5")}
    assert excel_eval("SUM($B$5:$D$5,$B$6)-SUM($E$9)", cells) == Decimal("9.5")
    assert excel_eval("ROUND(0-SUM($E$9),0)<0", cells) is True  # -0.5 rounds away from zero
    assert excel_eval("ROUND(0.1+0.2-0.3,6)<>0", {}, float) is False
    assert excel_eval("0.1+0.2-0.3<>0", {}, float) is True  # why the formula rounds


# ---------------------------------------------------------------- the three agree
def _decimals(places: int):
    return st.decimals(min_value=-(10**6), max_value=10**6, places=places, allow_nan=False)


def _terms(places: int):
    return st.lists(_decimals(places), min_size=0, max_size=5)


def _formula_and_cells(op, pos: list, neg: list) -> tuple[str, dict]:
    cells = {f"A{i + 1}": v for i, v in enumerate(pos)}
    cells |= {f"B{i + 1}": v for i, v in enumerate(neg)}
    refs = lambda col, n: [f"${col}${i + 1}" for i in range(n)]  # noqa: E731
    return op.formula(difference_formula(refs("A", len(pos)), refs("B", len(neg)))), cells


@pytest.mark.slow
@pytest.mark.parametrize("op", OPS.values(), ids=str)
@settings(max_examples=300, deadline=None)
@given(pos=_terms(PLACES + 2), neg=_terms(PLACES + 2))
def test_check_holds_exactly_when_the_formula_says_so(op, pos, neg):
    formula, cells = _formula_and_cells(op, pos, neg)
    fails = excel_eval(formula, cells)
    assert op.holds(sum(pos, Decimal(0)), sum(neg, Decimal(0))) is (not fails), formula


@pytest.mark.slow
@pytest.mark.parametrize("op", OPS.values(), ids=str)
@settings(max_examples=300, deadline=None)
@given(pos=_terms(PLACES), neg=_terms(PLACES))
def test_spreadsheet_floats_agree_with_the_check_on_valid_values(op, pos, neg):
    # amounts have at most PLACES decimals: the spreadsheet's binary sums, rounded, agree
    formula, cells = _formula_and_cells(op, pos, neg)
    fails = excel_eval(formula, {k: float(v) for k, v in cells.items()}, float)
    assert op.holds(sum(pos, Decimal(0)), sum(neg, Decimal(0))) is (not fails), formula


@pytest.mark.slow
@pytest.mark.parametrize("op", OPS.values(), ids=str)
@settings(max_examples=300, deadline=None)
@given(coeff=st.sampled_from([1, -1, 2, -3]), rest=_decimals(PLACES), current=_decimals(PLACES))
def test_the_solver_always_satisfies_the_check(op, coeff, rest, current):
    x = op.solve(coeff, rest, current)
    assert op.holds(coeff * x + rest, Decimal(0))
    if op.holds(coeff * current + rest, Decimal(0)):
        assert x == current  # what holds is left alone
    else:
        # else the nearest value: both sides equal (to the precision of the division)
        assert OPS["eq"].holds(coeff * x + rest, Decimal(0))
        assert abs(coeff) != 1 or coeff * x + rest == 0


@settings(max_examples=200, deadline=None)
@given(
    lhs=_decimals(PLACES), rhs=_decimals(PLACES), current=_decimals(PLACES), coeff=st.sampled_from([1, -1])
)
def test_balance_makes_both_sides_equal(lhs, rhs, current, coeff):
    x = balance(coeff, lhs, rhs, current)
    # the cell moves from current to x: lhs - rhs changes by coeff * (x - current)
    assert lhs - rhs + coeff * (x - current) == 0


def test_every_op_has_check_formula_solver_and_sense():
    assert set(OPS) == {"eq", "le", "ge"}
    for op in OPS.values():
        assert callable(op.holds) and callable(op.solve)
        assert op.formula("X").startswith(f"ROUND(X,{PLACES})")
        assert op.sense in ("==", "<=", ">=")


@pytest.mark.parametrize(
    "name,lhs,rhs,ok",
    [
        ("eq", "3", "3.0000004", True),
        ("eq", "3", "3.0000005", False),
        ("le", "3.0000004", "3", True),
        ("le", "3.000001", "3", False),
        ("ge", "2.9999996", "3", True),
        ("ge", "2.999999", "3", False),
    ],
)
def test_precision_is_six_decimals(name, lhs, rhs, ok):
    assert OPS[name].holds(Decimal(lhs), Decimal(rhs)) is ok


# ---------------------------------------------------------------- a rule's linear form
def _values_strategy(spec):
    keys = sorted(spec.cells)
    return st.lists(st.integers(0, 30), min_size=len(keys), max_size=len(keys)).map(
        lambda xs: {k: Decimal(x) for k, x in zip(keys, xs, strict=True)}
    )


@pytest.mark.slow
@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.version)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_linear_form_holds_exactly_when_the_rule_does(spec, data):
    this, last = data.draw(_values_strategy(spec)), data.draw(_values_strategy(spec))
    report, previous = Report(path="x", values=this), Report(path="y", values=last)
    for rule in spec.rules:
        lin = rule.linear(last if rule.uses_previous else None)
        assert set(lin.coeffs) <= set(rule.cells()) and all(lin.coeffs.values())
        assert bool(lin.prev) is rule.uses_previous
        lhs, rhs, ok = evaluate(rule, report, previous)
        assert lin.holds(this) is ok, rule.code
        # solving for the target makes the rule hold, and is the 应为 value a finding states
        fixed = dict(this, **{rule.target: lin.solve(rule.target, this)})
        assert evaluate(rule, Report(path="x", values=fixed), previous)[2], rule.code
        if not ok and rule.op.name == "eq":
            assert fixed[rule.target] == balance(lin.coeffs[rule.target], lhs, rhs, this[rule.target])


def test_linear_form_of_a_known_rule():
    spec = next(s for s in all_specs() if s.version == "2021")
    nb302 = next(r for r in spec.rules if r.code == "NB302")  # valid = prev:valid + issued - repealed
    lin = nb302.linear()
    assert lin.sense == "==" and lin.constant == 0
    assert lin.coeffs == {"nb_t2_rules_valid": 1, "nb_t2_rules_issued": -1, "nb_t2_rules_repealed": 1}
    assert lin.prev == {"nb_t2_rules_valid": -1}
    assert nb302.linear({"nb_t2_rules_valid": Decimal(7)}).constant == 7


# ---------------------------------------------------------------- a real spreadsheet
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.libreoffice
@pytest.mark.skipif(SOFFICE is None, reason="未安装 LibreOffice（soffice）")
def test_libreoffice_agrees_with_the_check(tmp_path):
    import random

    import xlsxwriter

    from test_libreoffice import RECALC_ALWAYS

    rng = random.Random(12)
    cases = []
    for _ in range(300):
        op = rng.choice(list(OPS.values()))
        pos = [Decimal(rng.randint(-(10**9), 10**9)).scaleb(-PLACES) for _ in range(rng.randint(0, 4))]
        neg = [Decimal(rng.randint(-(10**9), 10**9)).scaleb(-PLACES) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.5:  # make the sides equal, or one unit of the last place apart
            neg[0] += (
                sum(pos, Decimal(0))
                - sum(neg, Decimal(0))
                + rng.choice([0, 0, 1, -1]) * Decimal(1).scaleb(-PLACES)
            )
        cases.append((op, pos, neg))
    src = tmp_path / "ops.xlsx"
    wb = xlsxwriter.Workbook(src)
    ws = wb.add_worksheet()
    for r, (op, pos, neg) in enumerate(cases):
        row = r + 1
        for i, v in enumerate(pos):
            ws.write_number(r, i, float(v))
        for i, v in enumerate(neg):
            ws.write_number(r, 4 + i, float(v))
        refs = lambda first, n, row=row: [f"{chr(65 + first + i)}{row}" for i in range(n)]  # noqa: E731
        ws.write_formula(
            r, 8, f"=IF({op.formula(difference_formula(refs(0, len(pos)), refs(4, len(neg))))},1,0)", None, -1
        )
    wb.close()
    out, profile = tmp_path / "out", tmp_path / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "csv",
            "--outdir",
            str(out),
            str(src),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    rows = (out / "ops.csv").read_text(encoding="utf-8").splitlines()
    got = [int(line.split(",")[8]) for line in rows]
    want = [0 if op.holds(sum(pos, Decimal(0)), sum(neg, Decimal(0))) else 1 for op, pos, neg in cases]
    assert got == want
    assert 0 < sum(want) < len(want)

"""What a relation of the form means, defined once for every use of it.

A rule of a form spec says ``sum(lhs) <op> sum(rhs)``. Each op (``eq``, ``le``, ``ge``) is one
:class:`Op` holding everything that gives the relation its meaning:

- :meth:`Op.holds` — the check on the Decimal sums (``nianbao.checks``);
- :meth:`Op.formula` — the spreadsheet condition that is TRUE when the relation fails, built
  from the formula text of ``lhs - rhs`` (the template's live checks);
- :meth:`Op.solve` — the value a cell must take, or may keep, for the relation to hold
  (consistent sample reports; the expected value a finding states);
- :attr:`Op.sense` — the comparison of the linear form ``lhs - rhs`` with 0 (``==``, ``<=``,
  ``>=``) for exact solvers (error localisation): see :class:`Linear`.

Precision, settled once: the difference of the two sides is rounded to ``PLACES`` (6) decimal
places, half away from zero as a spreadsheet's ROUND does, before it is compared with 0. Amounts
are in 万元 and may be given to 6 decimals (to the 分); counts are whole numbers. For values of
at most 6 decimals the rounding changes nothing; it removes the binary floating-point noise of a
spreadsheet's sums, so that the Python check and the template's formula agree on every input.
A kind of cell may therefore allow at most ``PLACES`` decimals (checked when a spec is loaded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

PLACES = 6
_QUANTUM = Decimal(1).scaleb(-PLACES)
_ZERO = Decimal(0)


def rounded(d: Decimal) -> Decimal:
    """``d`` rounded to ``PLACES`` decimals, half away from zero (the spreadsheet's ROUND).

    Only the comparison with 0 matters, so a difference of 1 or more is returned as it is (no
    quantize overflow on huge numbers)."""
    if not d or d.adjusted() >= 0 or not d.is_finite():
        return d
    return d.quantize(_QUANTUM, rounding=ROUND_HALF_UP)


def _eq(lhs: Decimal, rhs: Decimal) -> bool:
    return lhs == rhs or not rounded(lhs - rhs)


def _le(lhs: Decimal, rhs: Decimal) -> bool:
    return lhs <= rhs or rounded(lhs - rhs) <= 0


def _ge(lhs: Decimal, rhs: Decimal) -> bool:
    return lhs >= rhs or rounded(lhs - rhs) >= 0


@dataclass(frozen=True)
class Op:
    """One relation op of the form specs (see the module docstring)."""

    name: str  # as written in the yaml: eq, le, ge
    sense: str  # lhs - rhs <sense> 0: "==", "<=", ">="
    fails_when: str  # spreadsheet comparison of the rounded difference with 0 that means failure
    # holds(lhs, rhs): whether lhs <op> rhs holds to PLACES decimals. The exact comparison comes
    # first: rounding keeps a difference's sign or makes it 0, so what holds exactly holds
    # rounded (and most relations of a report hold: no rounding in the common case).
    holds: Callable[[Decimal, Decimal], bool] = field(repr=False)
    word: str = ""  # Chinese, for the rule table

    def formula(self, difference: str) -> str:
        """Spreadsheet condition, TRUE when the relation fails, over the text of lhs - rhs."""
        return f"ROUND({difference},{PLACES}){self.fails_when}"

    def solve(self, coeff: int, rest: Decimal, current: Decimal) -> Decimal:
        """The value ``x`` of a cell with coefficient ``coeff`` (≠ 0) in ``lhs - rhs`` such that
        ``coeff * x + rest <sense> 0`` holds: ``current`` when it already does (an inequality
        leaves it), else the value at which both sides are equal."""
        if self.holds(coeff * current + rest, _ZERO):
            return current
        x = -rest / coeff
        return x if x else _ZERO  # never -0

    def __str__(self) -> str:
        return self.name


EQ = Op("eq", "==", "<>0", _eq, "等于")
LE = Op("le", "<=", ">0", _le, "不大于")
GE = Op("ge", ">=", "<0", _ge, "不小于")
OPS: dict[str, Op] = {op.name: op for op in (EQ, LE, GE)}


def balance(coeff: int, lhs: Decimal, rhs: Decimal, current: Decimal) -> Decimal:
    """The value at which a cell now at ``current``, with coefficient ``coeff`` in ``lhs - rhs``,
    makes both sides equal (what a finding states as 应为)."""
    return current - (lhs - rhs) / coeff


def difference_formula(positive: Iterable[str], negative: Iterable[str]) -> str:
    """Spreadsheet text of ``sum(positive) - sum(negative)`` over cell or range references."""
    pos, neg = list(positive), list(negative)
    text = f"SUM({','.join(pos)})" if pos else "0"
    return text + (f"-SUM({','.join(neg)})" if neg else "")


@dataclass(frozen=True)
class Linear:
    """A rule as a linear form over cell keys, for exact solvers:

        sum(coeffs[k] * x[k]) + sum(prev[k] * last_year[k])  <sense>  0

    ``coeffs`` are this year's cells, ``prev`` last year's (both without zero coefficients, in
    the order the rule names them); ``constant`` is the right-hand side once last year's values
    are moved over (``-sum(prev[k] * last_year[k])``, 0 when none are given), so that
    ``sum(coeffs[k] * x[k]) <sense> constant``."""

    coeffs: Mapping[str, int]
    op: Op
    constant: Decimal = _ZERO
    prev: Mapping[str, int] = field(default_factory=dict)

    @property
    def sense(self) -> str:
        return self.op.sense

    def value(self, values: Mapping[str, Decimal]) -> Decimal:
        """This year's side ``sum(coeffs[k] * x[k])``; a missing value counts as 0."""
        get = values.get
        return sum((c * (get(k) or _ZERO) for k, c in self.coeffs.items()), _ZERO)

    def holds(self, values: Mapping[str, Decimal]) -> bool:
        return self.op.holds(self.value(values), self.constant)

    def solve(self, key: str, values: Mapping[str, Decimal]) -> Decimal:
        """The value of cell ``key`` that makes the relation hold, the others as in ``values``
        (its own value when the relation already holds)."""
        coeff = self.coeffs[key]
        current = values.get(key) or _ZERO
        rest = self.value(values) - coeff * current - self.constant
        return self.op.solve(coeff, rest, current)


def linear_form(
    terms: Iterable[tuple[str, int, bool]], op: Op, previous: Mapping[str, Decimal] | None = None
) -> Linear:
    """The :class:`Linear` of ``lhs - rhs`` given as (cell, coefficient, is last year) terms."""
    coeffs: dict[str, int] = {}
    prev: dict[str, int] = {}
    for cell, coeff, last_year in terms:
        d = prev if last_year else coeffs
        d[cell] = d.get(cell, 0) + coeff
    coeffs = {k: c for k, c in coeffs.items() if c}
    prev = {k: c for k, c in prev.items() if c}
    constant = _ZERO
    if previous is not None:
        constant = -sum((c * (previous.get(k) or _ZERO) for k, c in prev.items()), _ZERO)
    return Linear(coeffs, op, constant, prev)


_SYMBOL = {"eq": "=", "le": "≤", "ge": "≥"}


def describe(rule, cells) -> str:
    """The relation of one expanded rule in words, from the labels of its cells: "每行：总计 =
    自然人 + …" when its cells share a row, "每列：…" when they share a column (``cells``: the
    spec's cell map; last year's terms are marked 上年)."""
    terms = [*rule.lhs, *rule.rhs]
    rows = {cells[t.cell].row_label for t in terms}
    cols = {cells[t.cell].col_label for t in terms}
    if len(rows) == 1 and len(cols) > 1:
        lead, label = "每行：", lambda c: c.col_label
    elif len(cols) == 1 and len(rows) > 1:
        lead, label = "每列：", lambda c: c.row_label
    else:
        lead, label = "", lambda c: f"{c.row_label} / {c.col_label}"

    def side(ts) -> str:
        parts: list[str] = []
        for t in ts:
            text = ("上年" if t.prev else "") + f"“{label(cells[t.cell])}”"
            sign = "−" if t.sign < 0 else ("+" if parts else "")
            parts.append(f"{sign} {text}".strip() if parts else f"{sign}{text}")
        return " ".join(parts) or "0"

    return f"{lead}{side(rule.lhs)} {_SYMBOL[rule.op.name]} {side(rule.rhs)}"

"""The localisation of one report: every minimum set per connected part of the failing rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from ..spec import Rule, Spec
from .search import GaveUp, Search, fits
from .system import Form, Problem, build_problem, components, form_system

MAX_EXTRA = 6  # more cells than this to change: "错误较多"
CAP = 10  # sets shown at most
LARGEST = 10**12  # a part with a value beyond this is not localised (错误较多)


@dataclass(frozen=True)
class Change:
    """One cell of a correction. ``actual`` None: the cell has no usable value. ``suggested``
    None: the relations leave the value open within [low, high] (high None: no upper bound)."""

    key: str
    actual: Decimal | None
    suggested: Decimal | None
    low: Decimal | None = None
    high: Decimal | None = None
    unknown: bool = False  # no usable value (text, formula error, blank under --blank error)


@dataclass
class Part:
    """The localisation of one connected part of the failing rules (e.g. 表三, or one 表四
    group): its minimum sets, in the stable order of their cells."""

    sets: list[tuple[Change, ...]] = field(default_factory=list)
    truncated: bool = False  # more minimum sets than shown
    too_many: bool = False  # no set within MAX_EXTRA cells (or none at all)
    failing: list[Rule] = field(default_factory=list)  # its edit rules that do not hold
    rules: list[Rule] = field(default_factory=list)  # every edit rule of the part

    @property
    def unique(self) -> bool:
        return len(self.sets) == 1 and not self.too_many

    @property
    def tables(self) -> list[str]:
        return list(dict.fromkeys(r.table.name for r in self.rules))


@dataclass
class Localisation:
    parts: list[Part] = field(default_factory=list)

    def corrections(self, cap: int = CAP) -> tuple[list[tuple[Change, ...]], bool]:
        """Every minimum set of the whole report (the combinations of the parts' sets) up to
        ``cap``, and whether there are more. Parts with too many errors are left out."""
        sets: list[tuple[Change, ...]] = [()]
        more = False
        for part in self.parts:
            if part.too_many:
                continue
            more = more or part.truncated
            sets = [a + b for a in sets for b in part.sets]
            if len(sets) > cap:
                sets, more = sets[:cap], True
        return ([] if sets == [()] else sets), more


def to_decimal(v: Fraction) -> Decimal:
    if v.denominator == 1:
        return Decimal(v.numerator)
    q = Decimal(v.numerator) / Decimal(v.denominator)
    return q.quantize(Decimal("0.000001")).normalize() if q.as_tuple().exponent < -6 else q


def unknown_keys(report, blank: str) -> set[str]:
    """Cells with no usable value: not a number, or blank under --blank error (any mode but the
    default "zero", in which a blank is an observed 0)."""
    out = set(report.invalid)
    if blank != "zero":
        out.update(report.blank)
    return out


def problem_of(report, spec: Spec, blank: str = "zero") -> Problem:
    return build_problem(form_system(spec), report.values, unknown_keys(report, blank))


def _values(problem: Problem, cells: tuple[int, ...], lin) -> list[Change]:
    form: Form = problem.form
    open_ = {}
    if not lin.unique:
        from .milp import ranges

        open_ = ranges(problem, lin)
    out = []
    for i in cells:
        key = form.keys[i]
        actual = None if i in problem.unknown else to_decimal(problem.x[i])
        if i in open_:
            lo, hi = open_[i]
            low = None if lo is None else to_decimal(lo)
            high = None if hi is None else to_decimal(hi)
            fixed = low if low is not None and low == high else None  # the domains decide it
            out.append(Change(key, actual, fixed, low, high, i in problem.unknown))
        else:
            v = to_decimal(problem.x[i] + lin.delta[i])
            out.append(Change(key, actual, v, v, v, i in problem.unknown))
    return out


def _minimum_sets(problem: Problem, method: str) -> tuple[list, bool] | None:
    """[(cells, Linear)], truncated — or None when more than MAX_EXTRA cells are needed."""
    if method == "search":
        s = Search(problem, MAX_EXTRA)
        try:
            if s.run() is None:
                return None
            return s.found, s.truncated or len(s.found) > CAP
        except GaveUp:
            pass
    from .linalg import solve_linear
    from .milp import minimum_sets

    res = minimum_sets(problem, MAX_EXTRA, CAP + 1)
    if res is None:
        return None
    found = []
    for cells in sorted(tuple(sorted(c)) for c in res[1]):
        lin = solve_linear(problem, cells)
        if fits(problem, lin):  # verified exactly; a solver's rounding never names a cell
            found.append((cells, lin))
    return (found, len(res[1]) > CAP) if found else None


def _part(problem: Problem, method: str) -> Part:
    form = problem.form
    part = Part(
        failing=[form.rules[j] for j in problem.failing], rules=[form.rules[j] for j in problem.rules]
    )
    cells = {i for j in problem.rules for i in form.coeffs[j]}
    if any(abs(problem.x[i]) > LARGEST for i in cells):  # no office counts in trillions: not guessed
        part.too_many = True
        return part
    res = _minimum_sets(problem, method)
    if res is None:
        part.too_many = True
        return part
    found, part.truncated = res
    part.sets = [tuple(_values(problem, cells, lin)) for cells, lin in found[:CAP]]
    return part


def localise(report, spec: Spec, blank: str = "zero", method: str = "search") -> Localisation | None:
    """The localisation of ``report`` (None when every edit rule holds and every cell in one
    has a usable value). ``method``: "search" (exact search, MILP when it runs out of budget)
    or "milp" (the mixed-integer program alone)."""
    problem = problem_of(report, spec, blank)
    if not problem.needed:
        return None
    return Localisation([_part(p, method) for p in components(problem)])

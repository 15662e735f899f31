"""The edit rules of one report as a linear system: which cells, which rules, what is observed.

The rules are the form's error-severity equalities within one report (every relation of 表三
and 表四 in both forms; no warnings, no last-year terms, no inequalities), read from the spec.
Cells are numbered in the spec's cell order (table, section, row, column), so every ordering
derived from the numbers is the stable order findings are shown in.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cache

from ..model import SMALL_DECIMALS
from ..spec import Rule, Spec
from ..vocab import Severity


@dataclass(frozen=True)
class Domain:
    """What a cell may hold: a lower bound (None: any) and whether it must be whole."""

    low: int | Fraction | None
    integer: bool

    def admits(self, v: Fraction) -> bool:
        return (self.low is None or v >= self.low) and (not self.integer or v.denominator == 1)


def rule_terms(rule: Rule) -> dict[str, int]:
    """cell key -> coefficient of the rule written as sum(coefficient * value) = 0."""
    return dict(rule.linear().coeffs)


def is_edit_rule(rule: Rule) -> bool:
    """An equality every clean report satisfies on its own values (an error, not a warning)."""
    lin = rule.linear()
    return rule.severity == Severity.ERROR and lin.sense == "==" and not lin.prev


@cache
def edit_keys(spec: Spec) -> frozenset[str]:
    """Every cell in at least one edit rule."""
    return frozenset(k for r in spec.rules if is_edit_rule(r) for k in rule_terms(r))


def wanted(report, spec: Spec, findings, blank: str) -> bool:
    """Cheap test whether localisation has anything to say: an error at a cell of an edit rule
    (a relation that fails, a negative or fractional count, a blank under --blank error), or a
    cell in one with no usable value."""
    cells = edit_keys(spec)
    if report.invalid and not cells.isdisjoint(report.invalid):
        return True
    return any(f.severity == Severity.ERROR and f.key in cells for f in findings)


@dataclass(eq=False)
class Form:
    """The edit rules of one spec, numbered: built once per spec."""

    spec: Spec
    keys: list[str]  # cell number -> key, every value cell of the spec
    index: dict[str, int]
    rules: list[Rule]  # the edit rules
    coeffs: list[dict[int, int]]  # per rule: cell number -> coefficient
    rules_of: dict[int, list[int]]  # cell number -> the rules it is in
    domains: list[Domain]
    parts: list[list[int]]  # the connected parts of the rules (through shared cells)
    part_of: list[int]  # rule -> its part

    @property
    def cells(self) -> frozenset[int]:
        """Every cell in at least one edit rule."""
        return frozenset(self.rules_of)


@cache
def form_system(spec: Spec) -> Form:
    keys = list(spec.cells)
    index = {k: i for i, k in enumerate(keys)}
    rules = [r for r in spec.rules if is_edit_rule(r)]
    coeffs = [{index[k]: c for k, c in rule_terms(r).items()} for r in rules]
    rules_of: dict[int, list[int]] = {}
    for j, co in enumerate(coeffs):
        for i in co:
            rules_of.setdefault(i, []).append(j)
    domains = []
    for k in keys:
        kind = spec.kinds[spec.cells[k].kind]
        low = None if kind.low is None else exact(kind.low)
        domains.append(Domain(low, kind.integer))
    parts: list[list[int]] = []
    part_of = [-1] * len(rules)
    for j in range(len(rules)):
        if part_of[j] < 0:
            parts.append(_component(coeffs, rules_of, {j}))
            for j2 in parts[-1]:
                part_of[j2] = len(parts) - 1
    return Form(spec, keys, index, rules, coeffs, rules_of, domains, parts, part_of)


@dataclass(eq=False)
class Problem:
    """One report's values against the edit rules."""

    form: Form
    x: dict[int, Fraction]  # observed value of each rule cell (unknowns: 0)
    forced: frozenset[int]  # cells that must change: no usable value, or one the form forbids
    unknown: frozenset[int]  # the forced cells with no value at all
    residual: list[Fraction]  # per rule: sum(coefficient * x)
    failing: list[int]  # rules that do not hold (unknowns counted as 0)
    rules: list[int]  # the connected part of the failing rules and of the forced cells' rules

    @property
    def needed(self) -> bool:
        return bool(self.failing or self.forced)


_SMALL = {id(d): i for i, d in SMALL_DECIMALS.items()}  # the shared Decimals readers store


def exact(v) -> int | Fraction:
    """A value as an exact rational: an int when whole (the common case, and fast)."""
    if v is None:
        return 0
    n = _SMALL.get(id(v))
    if n is not None:
        return n
    n = int(v)
    return n if n == v else Fraction(v)


def _observed(form: Form, values: dict, unknown_keys: set[str]) -> tuple[dict, set[int], set[int]]:
    x: dict[int, int | Fraction] = {}
    unknown: set[int] = set()
    bad: set[int] = set()
    domains, keys, get = form.domains, form.keys, values.get
    for i in form.rules_of:
        key = keys[i]
        if key in unknown_keys:
            unknown.add(i)
            x[i] = 0
            continue
        v = x[i] = exact(get(key))
        if v.__class__ is int and v >= 0:  # whole and non-negative: fits every domain
            continue
        if not domains[i].admits(v):
            bad.add(i)
    return x, unknown, bad


def _component(coeffs: list[dict], rules_of: dict, seeds: set[int]) -> list[int]:
    """The rules connected to ``seeds`` through shared cells."""
    seen, todo = set(seeds), list(seeds)
    while todo:
        j = todo.pop()
        for i in coeffs[j]:
            for j2 in rules_of[i]:
                if j2 not in seen:
                    seen.add(j2)
                    todo.append(j2)
    return sorted(seen)


def components(problem: Problem) -> list[Problem]:
    """The problem split into its connected parts (each solved on its own: the minimum sets of
    the whole are the combinations of the parts' minimum sets)."""
    form, out = problem.form, []
    for p in sorted({form.part_of[j] for j in problem.rules}):
        part = form.parts[p]
        cells = frozenset(i for j in part for i in form.coeffs[j])
        failing = [j for j in problem.failing if form.part_of[j] == p]
        forced, unknown = problem.forced & cells, problem.unknown & cells
        out.append(Problem(form, problem.x, forced, unknown, problem.residual, failing, part))
    return out


def build_problem(form: Form, values: dict, unknown_keys: set[str]) -> Problem:
    """The problem for one report: ``values`` by cell key (None: blank), ``unknown_keys`` the
    cells with no usable value (text, formula errors; blanks under --blank error)."""
    x, unknown, bad = _observed(form, values, unknown_keys)
    residual = [sum([c * x[i] for i, c in co.items()]) for co in form.coeffs]
    forced = unknown | bad
    failing = [j for j, r in enumerate(residual) if r]
    seeds = set(failing).union(*(form.rules_of[i] for i in forced))
    hit = {form.part_of[j] for j in seeds}
    comp = sorted(j for p in hit for j in form.parts[p])
    return Problem(form, x, frozenset(forced), frozenset(unknown), residual, failing, comp)

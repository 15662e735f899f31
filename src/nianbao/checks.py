"""Run every rule of a spec over a report: cell kinds, totals, 勾稽关系, year-over-year."""

from __future__ import annotations

from decimal import Decimal
from functools import cache

from .findings import ERROR, WARNING, Finding, fmt_number, make
from .model import SMALL_DECIMALS, SMALL_IDS, Report
from .relations import balance
from .spec import Rule, Spec

BLANK_MODES = ("zero", "error")


def _loc(report: Report, key: str) -> dict:
    sheet, cell = report.where.get(key, ("", ""))
    return {"sheet": sheet, "cell": cell, "key": key}


def _labels(spec: Spec, key: str) -> dict:
    c = spec.cells[key]
    return {"table": c.table.name, "row": c.row_label, "column": c.col_label}


def check_blanks(report: Report, spec: Spec, blank: str = "zero") -> list[Finding]:
    if report.empty:
        return [make("NB001", "未填写：所有数值格均为空，不能当作全部为 0 的报告")]
    out: list[Finding] = []
    by_table: dict[str, list[str]] = {}
    for key in report.blank:
        by_table.setdefault(spec.cells[key].table.name, []).append(key)
    for tname, keys in by_table.items():
        if blank == "error":
            for k in keys:
                lab = _labels(spec, k)
                out.append(
                    make(
                        "NB101",
                        f"{tname}“{lab['row']} / {lab['column']}”未填写（没有发生请填 0）",
                        severity=ERROR,
                        actual="",
                        **lab,
                        **_loc(report, k),
                    )
                )
        else:
            refs = [report.where[k][1] for k in keys if k in report.where]
            first = keys[0]
            shown = "、".join(refs[:20]) + ("等" if len(refs) > 20 else "")
            out.append(
                make(
                    "NB101",
                    f"{tname}有 {len(keys)} 个空白格按 0 计：{shown}（没有发生请填 0）",
                    severity=WARNING,
                    table=tname,
                    row=_labels(spec, first)["row"],
                    column=_labels(spec, first)["column"],
                    sheet=report.where.get(first, ("", ""))[0],
                    cell=refs[0] if refs else "",
                    expected="0",
                    actual="",
                    related=refs[1:],
                )
            )
    return out


@cache
def _kind_limits(spec: Spec) -> dict[str, tuple]:
    """cell key -> (min or None, must be integer, max decimal places or None), once per spec."""
    out = {}
    for key, cell in spec.cells.items():
        kind = spec.kinds[cell.kind]
        out[key] = (kind.low, kind.integer, kind.places)
    return out


@cache
def _kind_groups(spec: Spec) -> tuple:
    """The value cells grouped by their limits: ((min, integer, places), keys), once per spec."""
    groups: dict[tuple, list[str]] = {}
    for key, lim in _kind_limits(spec).items():
        groups.setdefault(lim, []).append(key)
    return tuple(
        (lim, tuple(keys), all(_within(v, *lim) for v in SMALL_DECIMALS.values()))
        for lim, keys in groups.items()
    )


def _within(v: Decimal, low, integer: bool, places) -> bool:
    return not (
        (low is not None and v < low)
        or (integer and v != v.to_integral_value())
        or (places is not None and v.as_tuple().exponent < -places and v != round(v, places))
    )


def _off_limits(values: dict, keys: tuple, low, integer: bool, places, small_ok: bool) -> list[str]:
    """The keys among ``keys`` whose value breaks the limits. Usually none: the values are the
    shared small whole numbers (``small_ok``: known to pass), which are passed over unseen."""
    got = list(map(values.get, keys))
    if small_ok and SMALL_IDS.issuperset(map(id, got)):
        return []
    vals = [(k, v) for k, v in zip(keys, got, strict=False) if v is not None]
    bad = set()
    if low is not None:
        bad.update(k for k, v in vals if v < low)
    if integer:
        bad.update(k for k, v in vals if v != v.to_integral_value())
    if places is not None:
        bad.update(k for k, v in vals if v.as_tuple().exponent < -places and v != round(v, places))
    return [k for k in keys if k in bad]


def check_kinds(report: Report, spec: Spec) -> list[Finding]:
    out: list[Finding] = []
    limits = _kind_limits(spec)
    rules = {r.check: r for r in spec.cell_rules}
    values = report.values
    bad_keys: set[str] = set()
    for (low, integer, places), keys, small_ok in _kind_groups(spec):
        bad_keys.update(_off_limits(values, keys, low, integer, places, small_ok))
    for key, v in values.items():  # in the report's order
        if key not in bad_keys:
            continue
        low, integer, places = limits[key]
        checks = []
        if low is not None and v < low:
            checks.append(("min", fmt_number(low)))
        if integer and v != v.to_integral_value():
            checks.append(("integer", None))
        if places is not None and v.as_tuple().exponent < -places and v != round(v, places):
            checks.append(("places", str(places)))
        for name, expected in checks:
            r = rules.get(name)
            if r is None:
                continue
            lab = _labels(spec, key)
            actual = fmt_number(v)
            msg = r.message.format(expected=expected, actual=actual, **lab)
            out.append(
                make(
                    r.code,
                    msg,
                    severity=r.severity,
                    expected=expected,
                    actual=actual,
                    **lab,
                    **_loc(report, key),
                )
            )
    return out


_ZERO = Decimal(0)


def _side(terms, report: Report, previous: Report | None) -> Decimal | None:
    total = _ZERO
    for t in terms:
        src = previous if t.prev else report
        if src is None:
            return None
        vals = src.values
        if t.cell in src.invalid or (t.prev and t.cell not in vals):
            return None
        v = vals.get(t.cell)
        if v is not None:
            total = total + v if t.sign > 0 else total - v
    return total


def _sum(cells: tuple, get) -> Decimal:
    # filter(None, …) drops blanks and zeros alike: neither changes a sum
    return sum(filter(None, map(get, cells)), _ZERO)


class _Compiled:
    """A rule without last year's terms, as the cells added and taken on each side."""

    __slots__ = ("cells", "lm", "lp", "op", "rm", "rp", "rule")

    def __init__(self, rule: Rule):
        self.rule = rule
        self.lp = tuple(t.cell for t in rule.lhs if t.sign > 0)
        self.lm = tuple(t.cell for t in rule.lhs if t.sign < 0)
        self.rp = tuple(t.cell for t in rule.rhs if t.sign > 0)
        self.rm = tuple(t.cell for t in rule.rhs if t.sign < 0)
        self.cells = frozenset(t.cell for t in rule.lhs + rule.rhs)
        self.op = rule.op.holds

    def sides(self, vals: dict) -> tuple[Decimal, Decimal]:
        get = vals.get
        lhs, rhs = _sum(self.lp, get), _sum(self.rp, get)
        if self.lm:
            lhs -= _sum(self.lm, get)
        if self.rm:
            rhs -= _sum(self.rm, get)
        return lhs, rhs


@cache
def _compiled(rule: Rule) -> _Compiled:
    return _Compiled(rule)


@cache
def _spec_rules(spec: Spec) -> tuple:
    """(rule, compiled or None when it uses last year's values) for every rule, once per spec."""
    return tuple((r, None if r.uses_previous else _compiled(r)) for r in spec.rules)


def evaluate(rule: Rule, report: Report, previous: Report | None = None, compiled: _Compiled | None = None):
    """(lhs, rhs, ok) for one rule, or None when it cannot be evaluated."""
    if compiled is None and not rule.uses_previous:
        compiled = _compiled(rule)
    if compiled is None:
        if previous is None:
            return None
        lhs, rhs = _side(rule.lhs, report, previous), _side(rule.rhs, report, previous)
        if lhs is None or rhs is None:
            return None
        return lhs, rhs, rule.op.holds(lhs, rhs)
    if report.invalid and not compiled.cells.isdisjoint(report.invalid):
        return None
    lhs, rhs = compiled.sides(report.values)
    return lhs, rhs, compiled.op(lhs, rhs)


def check_rule(
    rule: Rule, spec: Spec, report: Report, previous: Report | None = None, compiled: _Compiled | None = None
) -> Finding | None:
    res = evaluate(rule, report, previous, compiled)
    if res is None or res[2]:
        return None
    lhs, rhs, _ = res
    actual = report.value(rule.target)
    expected = balance(rule.linear().coeffs[rule.target], lhs, rhs, actual)
    lab = _labels(spec, rule.target)
    e, a = fmt_number(expected), fmt_number(actual)
    applies = rule.applies_at(issuer_level(report)) if rule.levels else True
    if applies is False:  # not at this issuer's level (规章 at a 设区的市, say)
        return None
    msg = (rule.message if applies else rule.question).format(
        expected=e, actual=a, lhs_value=fmt_number(lhs), rhs_value=fmt_number(rhs), **lab
    )
    related = [report.where[c][1] for c in rule.cells() if c != rule.target and c in report.where]
    return Finding(
        code=rule.code,
        severity=rule.severity,
        message=msg,
        expected=e,
        actual=a,
        related=related,
        **lab,
        **_loc(report, rule.target),
    )


def issuer_level(report: Report) -> str | None:
    """The level of the report's issuer: the roster's 层级 when known, else from its name."""
    if report.level:
        return report.level
    from .levels import issuer_level as from_name

    return from_name(report.unit)


def check_report(
    report: Report, spec: Spec, previous: Report | None = None, blank: str = "zero"
) -> list[Finding]:
    """All findings of the spec's rules over ``report`` (reader findings are not repeated)."""
    if report.unreadable:
        return []
    out = check_blanks(report, spec, blank)
    if report.empty:
        return out
    out += check_kinds(report, spec)
    invalid, vals = report.invalid, report.values
    for rule, comp in _spec_rules(spec):
        if comp is not None and not (invalid and not comp.cells.isdisjoint(invalid)):
            lhs, rhs = comp.sides(vals)  # the common case, inline: most rules hold
            if comp.op(lhs, rhs):
                continue
        f = check_rule(rule, spec, report, previous, comp)
        if f is not None:
            out.append(f)
    return out


def _scoped_where(report: Report, spec: Spec, old: list[Finding]) -> dict:
    """Where the cells of a (slim) checked report are: its own map, else our template's layout."""
    if report.where:
        return report.where
    where = {f.key: (f.sheet, f.cell) for f in old if f.key and f.sheet}
    if report.source == "template":
        from .layout import workbook_layout

        lay = workbook_layout(spec)
        where.update({k: (tl.sheet, b.ref) for tl in lay.tables for k, b in tl.values.items()})
    return where


def apply_level(report: Report, spec: Spec, level: str) -> None:
    """Decide again the rules that depend on the issuer's level (NB303), now that a roster
    states it (the checks took it from the name). Uses the report's values, or the compact
    tuple a worker left (pipeline.compact_values)."""
    scoped = [r for r in spec.rules if r.levels and not r.uses_previous]
    report.level = level
    if not scoped:
        return
    keys = {(r.code, r.target) for r in scoped}
    old = [f for f in report.findings if (f.code, f.key) in keys]
    values = report.values
    if not values and report.compact is not None:
        packed = zip(spec.cells, report.compact, strict=True)
        values = {k: (None if v is None else Decimal(v)) for k, v in packed}
    if not values:
        return
    probe = Report(path=report.path, unit=report.unit, level=level, values=values, invalid=report.invalid)
    probe.where = _scoped_where(report, spec, old)
    report.findings = [f for f in report.findings if (f.code, f.key) not in keys]
    report.findings += [f for f in (check_rule(r, spec, probe) for r in scoped) if f is not None]


def run_checks(
    report: Report,
    spec: Spec | None,
    previous: Report | None = None,
    blank: str = "zero",
    localise: bool = True,
) -> Report:
    """Append the check findings to the report's own (reader) findings and return it. With
    ``localise``, a report whose relations fail also gets its error localisation (the
    corrections, and findings naming the cells to change, first among the check findings)."""
    if spec is not None:
        found = check_report(report, spec, previous, blank)
        if localise and not report.unreadable and not report.empty:
            from .localize.system import wanted

            if wanted(report, spec, found, blank):
                from .localize.explain import apply

                found = apply(report, spec, found, blank)
        report.findings.extend(found)
    return report

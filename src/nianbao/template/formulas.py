"""The live checks of the template as spreadsheet formulas (the same rules as nianbao.checks),
and the texts of the input validations."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from ..layout import Box, TableLayout
from ..relations import difference_formula
from ..spec import Rule, Spec
from ..specschema import Kind
from .base import PASS, UNFILLED, as_decimal, box_ranges


# ---------------------------------------------------------------- rule formulas
class RuleFormula:
    """Spreadsheet formula and Python evaluation of one rule's failure condition (the meaning of
    the rule's op is nianbao.relations')."""

    def __init__(self, rule: Rule, tl: TableLayout):
        self.rule = rule
        pos, neg = [], []
        for t in rule.lhs:
            (pos if t.sign > 0 else neg).append(tl.values[t.cell])
        for t in rule.rhs:
            (neg if t.sign > 0 else pos).append(tl.values[t.cell])
        self.pos, self.neg = pos, neg
        diff = difference_formula(box_ranges(pos) if pos else [], box_ranges(neg) if neg else [])
        self.condition = rule.op.formula(diff)

    def fails(self, values: Mapping[str, object]) -> bool:
        def total(boxes):
            return sum((as_decimal(values.get(b.key)) or Decimal(0) for b in boxes), Decimal(0))

        return not self.rule.op.holds(total(self.pos), total(self.neg))


def live_rules(spec: Spec, tl: TableLayout, severity: str) -> list[RuleFormula]:
    """Rules of one table that a formula can check (no last-year terms)."""
    return [
        RuleFormula(r, tl)
        for r in spec.rules
        if r.table.key == tl.table.key and r.severity == severity and not r.uses_previous
    ]


def invalid_condition(ref: str, kind: Kind) -> str:
    """Formula true when the cell at ``ref`` holds something other than a valid number."""
    checks = []
    if kind.min is not None:
        checks.append(f"{ref}<{kind.min}")
    if kind.integer:
        checks.append(f"{ref}<>INT({ref})")
    elif kind.places is not None:
        checks.append(f"ROUND({ref},{kind.places})<>{ref}")
    numeric = f"OR({','.join(checks)})" if checks else "FALSE"
    return f"IF(ISBLANK({ref}),FALSE,IF(ISNUMBER({ref}),{numeric},TRUE))"


def invalid_count_formula(spec: Spec, tl: TableLayout) -> str:
    """Formula counting value cells holding text, negatives, fractions or too many decimals."""
    parts: list[str] = []
    by_section: dict[str, list[Box]] = {}
    for cell in tl.table.cells:
        by_section.setdefault(cell.section.key, []).append(tl.values[cell.key])
    for boxes in by_section.values():
        for rng in box_ranges(boxes):
            parts.append(f"COUNTA({rng})-COUNT({rng})")
    by_kind: dict[str, list[Box]] = {}
    for cell in tl.table.cells:
        by_kind.setdefault(cell.kind, []).append(tl.values[cell.key])
    for kind_name, boxes in by_kind.items():
        kind = spec.kinds[kind_name]
        for rng in box_ranges(boxes):
            if kind.min is not None:
                parts.append(f'COUNTIF({rng},"<{kind.min}")')
            if kind.integer:
                parts.append(f"IFERROR(SUMPRODUCT(--({rng}<>INT({rng}))),0)")
            elif kind.places is not None:
                p = kind.places
                parts.append(f"IFERROR(SUMPRODUCT(--(ROUND({rng},{p})<>{rng})),0)")
    return "+".join(parts) if parts else "0"


def invalid_count(spec: Spec, tl: TableLayout, values: Mapping[str, object]) -> int:
    """Python twin of :func:`invalid_count_formula` (for cached formula results)."""
    n = 0
    for cell in tl.table.cells:
        v = values.get(cell.key)
        if v is None:
            continue
        d = as_decimal(v)
        if d is None:
            n += 1
            continue
        kind = spec.kinds[cell.kind]
        if kind.min is not None and d < kind.low:
            n += 1
        if kind.integer:
            n += d != d.to_integral_value(rounding="ROUND_FLOOR")
        elif kind.places is not None:
            n += round(d, kind.places) != d
    return n


def blank_count_formula(tl: TableLayout) -> str:
    """Formula counting the value cells of a table left empty (COUNTA takes at most 255 ranges)."""
    ranges = box_ranges(list(tl.values.values()))
    filled = "+".join(f"COUNTA({','.join(ranges[i : i + 200])})" for i in range(0, len(ranges), 200))
    return f"{len(tl.values)}-({filled or '0'})"


def blank_count(tl: TableLayout, values: Mapping[str, object]) -> int:
    """Python twin of :func:`blank_count_formula`."""
    return sum(values.get(key) in (None, "") for key in tl.values)


def status_text(relations: int, invalid: int, blank: int = 0, cells: int = 0) -> str:
    """The live status of one table: 未填写 untouched, else what is missing or wrong, else 通过."""
    if cells and blank >= cells:
        return UNFILLED
    parts = []
    if blank:
        parts.append(f"尚有{blank}格未填")
    if relations:
        parts.append(f"有{relations}处勾稽关系不符")
    if invalid:
        parts.append(f"有{invalid}格填写有误")
    return "，".join(parts) or PASS


def status_formula(n_ref: str, m_ref: str, b_ref: str, cells: int) -> str:
    """Spreadsheet twin of :func:`status_text` over the helper cells (relations, invalid, blank)."""
    parts = [
        (b_ref, f'"尚有"&{b_ref}&"格未填"'),
        (n_ref, f'"有"&{n_ref}&"处勾稽关系不符"'),
        (m_ref, f'"有"&{m_ref}&"格填写有误"'),
    ]
    pieces = []
    for i, (ref, text) in enumerate(parts):
        before = "+".join(r for r, _ in parts[:i])
        sep = f'&IF(AND({before}>0,{ref}>0),"，","")' if before else ""
        pieces.append(f'{sep}&IF({ref}>0,{text},"")')
    body = "".join(pieces)[1:]
    return f'=IF({b_ref}>={cells},"{UNFILLED}",IF(AND({n_ref}=0,{m_ref}=0,{b_ref}=0),"{PASS}",{body}))'


# ---------------------------------------------------------------- validation texts
def validation_for(kind: Kind, ref: str) -> tuple[dict, str]:
    """xlsxwriter data-validation options and a Chinese hint for a cell kind."""
    lo = kind.min
    if kind.integer:
        if lo is not None:
            return {"validate": "integer", "criteria": ">=", "value": lo}, f"请填写不小于 {lo} 的整数"
        return (
            {"validate": "integer", "criteria": "between", "minimum": -(10**9), "maximum": 10**9},
            "请填写整数，减少时填负数（如 -3）",
        )
    places = kind.places
    if places is not None:
        cond = [f"ISNUMBER({ref})", f"ROUND({ref},{int(places)})={ref}"]
        if lo is not None:
            cond.insert(1, f"{ref}>={lo}")
        hint = (f"请填写不小于 {lo} 的数字" if lo is not None else "请填写数字") + f"，最多 {places} 位小数"
        return {"validate": "custom", "value": f"=AND({','.join(cond)})"}, hint
    if lo is not None:
        return {"validate": "decimal", "criteria": ">=", "value": lo}, f"请填写不小于 {lo} 的数字"
    return ({"validate": "decimal", "criteria": "between", "minimum": -1e12, "maximum": 1e12}, "请填写数字")


def cut_text(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"

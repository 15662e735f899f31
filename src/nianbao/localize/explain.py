"""What a localisation means, in Chinese, at the cells; and the ``corrections`` JSON contract.

- one minimum set: one finding per cell (最可能填错：…应为 X，实为 Y；改正后…全部勾稽关系成立);
- several: one finding listing every set (以下任一处改正都能使勾稽关系成立：…), none preferred;
- a cell with no usable value that the relations determine: 该格应为 X（由勾稽关系推得）;
- more than MAX_EXTRA cells, or no solution: 错误较多，无法判断哪一格有误.
The relation findings stay; their "应为" is kept only for a cell of the unique set, otherwise
they name the cells that explain them. ``Finding.mark`` tells the annotated copy how to paint.
"""

from __future__ import annotations

from decimal import Decimal

from ..findings import Finding, fmt_number, make
from ..spec import Spec
from ..vocab import Mark
from .core import Change, Localisation, Part, localise

FIX, CANDIDATE, EXPLAINED = Mark.FIX, Mark.CANDIDATE, Mark.EXPLAINED


def _labels(spec: Spec, key: str) -> dict:
    c = spec.cells[key]
    return {"table": c.table.name, "row": c.row_label, "column": c.col_label}


def _ref(report, key: str) -> str:
    return report.where.get(key, ("", ""))[1]


def _loc(report, key: str) -> dict:
    sheet, cell = report.where.get(key, ("", ""))
    return {"sheet": sheet, "cell": cell, "key": key}


def value_text(ch: Change) -> str:
    """The value a cell must take: "3", or "0 至 5 之间的数" / "不小于 2 的数" when open."""
    if ch.suggested is not None:
        return fmt_number(ch.suggested)
    if ch.high is None:
        return f"不小于 {fmt_number(ch.low)} 的数" if ch.low is not None else "某个数"
    return f"{fmt_number(ch.low)} 至 {fmt_number(ch.high)} 之间的数"


def correction_text(c: dict) -> str:
    """The value a cell of a ``corrections`` entry (the JSON contract) must take, as shown."""
    if c.get("suggested") is not None:
        return fmt_number(c["suggested"])
    low, high = c.get("range") or (None, None)
    if high is None:
        return f"不小于 {fmt_number(low or 0)} 的数"
    return f"{fmt_number(low)} 至 {fmt_number(high)} 之间的数"


def _name(report, spec: Spec, key: str, with_table: bool = True) -> str:
    ref = _ref(report, key) or spec.cells[key].key
    return f"{spec.cells[key].table.name} {ref}" if with_table else ref


def _unique(report, spec: Spec, part: Part) -> list[Finding]:
    out = []
    tables = "、".join(part.tables)
    for ch in part.sets[0]:
        lab, loc, want = _labels(spec, ch.key), _loc(report, ch.key), value_text(ch)
        if ch.unknown and ch.suggested is None and ch.high is None:
            continue  # the relations say nothing about it: the reader's finding stands alone
        if ch.unknown:
            text = f"该格应为 {want}" if ch.suggested is not None else f"该格应为{want}"
            f = make("NB403", f"{text}（由勾稽关系推得）", expected=want, **lab, **loc)
        else:
            actual = fmt_number(ch.actual)
            if ch.key in report.blank:  # --blank zero: an empty cell is an observed 0
                actual = "空白（按 0 计）"
            msg = (
                f"最可能填错：{_name(report, spec, ch.key)}（{lab['row']} / {lab['column']}）"
                f"应为 {want}，实为 {actual}；改正后{tables}全部勾稽关系成立"
            )
            f = make("NB401", msg, expected=want, actual=actual, **lab, **loc)
        f.mark = FIX
        out.append(f)
    return out


def _alternatives(report, spec: Spec, part: Part) -> str:
    keys = [ch.key for s in part.sets for ch in s]
    one_table = len({spec.cells[k].table.name for k in keys}) == 1
    alts = [
        "、".join(f"{_name(report, spec, ch.key, not one_table)} 改为 {value_text(ch)}" for ch in s)
        for s in part.sets
    ]
    more = "（另有其他改法，未全部列出）" if part.truncated else ""
    return f"以下任一处改正都能使勾稽关系成立：{'；或 '.join(alts)}{more}。请核对原始台账"


def _ambiguous(report, spec: Spec, part: Part) -> list[Finding]:
    first = part.sets[0][0].key
    keys = list(dict.fromkeys(ch.key for s in part.sets for ch in s))
    related = [_ref(report, k) for k in keys if k != first and _ref(report, k)]
    f = make(
        "NB402",
        _alternatives(report, spec, part),
        related=related,
        **_labels(spec, first),
        **_loc(report, first),
    )
    f.mark = CANDIDATE
    return [f]


def _too_many(report, spec: Spec, part: Part) -> list[Finding]:
    target = part.failing[0].target if part.failing else part.rules[0].target
    sheet = report.where.get(target, ("", ""))[0]
    return [make("NB404", "错误较多，无法判断哪一格有误", table="、".join(part.tables), sheet=sheet)]


def _relation_text(report, spec: Spec, f: Finding, rule, part: Part) -> None:
    """Rewrite a relation finding of ``part``: its 应为 only at a cell of the unique set."""
    sides = ""
    if report.invalid.isdisjoint(rule.cells()):
        lhs, rhs = (
            sum((t.sign * report.value(t.cell) for t in ts), Decimal(0)) for ts in (rule.lhs, rule.rhs)
        )
        sides = f"（{fmt_number(lhs)} ≠ {fmt_number(rhs)}）"
    in_rule = {t.cell for t in rule.lhs + rule.rhs}
    head = f"{f.table}“{f.row} / {f.column}”所在的“{rule.name}”不成立{sides}"
    if part.unique:
        sugg = {ch.key: ch for ch in part.sets[0]}
        if f.key in sugg:
            f.mark = FIX
            f.expected = value_text(sugg[f.key])
            return
        cause = "、".join(_name(report, spec, ch.key, False) for ch in part.sets[0] if ch.key in in_rule)
        f.message = (
            f"{f.table}“{f.row} / {f.column}”所在的“{rule.name}”不成立{sides}，由 {cause} 引起；本格无需改动"
        )
    else:
        cands = list(dict.fromkeys(ch.key for s in part.sets for ch in s if ch.key in in_rule))
        names = "、".join(_name(report, spec, k, False) for k in cands)
        f.message = f"{head}，可能由 {names} 之一引起，见“以下任一处改正”一条"
    f.expected = None
    f.mark = EXPLAINED


def _part_findings(report, spec: Spec, part: Part, findings: list[Finding]) -> list[Finding]:
    if part.too_many:
        return _too_many(report, spec, part)
    by_target = {(r.code, r.target): r for r in part.failing}
    for f in findings:
        rule = by_target.get((f.code, f.key))
        if rule is not None:
            _relation_text(report, spec, f, rule, part)
    return _unique(report, spec, part) if part.unique else _ambiguous(report, spec, part)


def correction_dicts(report, spec: Spec, loc: Localisation) -> tuple[list[dict], bool]:
    """The ``corrections`` of the JSON contract and ``corrections_truncated``."""
    sets, more = loc.corrections()
    out = []
    for s in sets:
        cells = []
        for ch in s:
            d = {**_loc(report, ch.key), **_labels(spec, ch.key)}
            d.pop("key")
            d["actual"] = _num(ch.actual)
            d["suggested"] = _num(ch.suggested)
            if ch.suggested is None:
                d["range"] = [_num(ch.low), _num(ch.high)]
            cells.append(d)
        out.append({"cells": cells})
    return out, more


def _num(v):
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


def apply(report, spec: Spec, findings: list[Finding], blank: str = "zero") -> list[Finding]:
    """Localise ``report`` when a relation fails; store its corrections on the report and return
    ``findings`` with the localisation's own first (the relation findings rewritten in place)."""
    report.corrections, report.corrections_truncated = [], False
    loc = localise(report, spec, blank)
    if loc is None:
        return findings
    report.corrections, report.corrections_truncated = correction_dicts(report, spec, loc)
    own: list[Finding] = []
    for part in loc.parts:
        own += _part_findings(report, spec, part, findings)
    return own + findings


def suggestions_first(findings: list[Finding]) -> list[Finding]:
    """The findings with the suggested changes (cells to change, candidates) first, otherwise in
    their order: what a reader should look at before the relations they explain."""
    return sorted(findings, key=lambda f: f.mark not in (FIX, CANDIDATE))


def unit_note(findings: list[Finding]) -> str:
    """One line for a unit's row of a list (报送情况): the localisation of its errors."""
    fixes = [f for f in findings if f.code in ("NB401", "NB403") and f.expected]
    parts = []
    if fixes:
        cells = "、".join(f"{f.location} 应为 {f.expected}" for f in fixes)
        parts.append(f"最可能填错：{cells}")
    if any(f.code == "NB402" for f in findings):
        parts.append("有多种改法都能使勾稽关系成立，请核对原始台账（见问题清单）")
    if any(f.code == "NB404" for f in findings):
        parts.append("错误较多，无法判断哪一格有误")
    return "；".join(parts)

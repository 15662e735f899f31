"""Cell values of the located tables: numbers, formulas, error cells, merged value cells.

A table placed by our template's layout is read in one go (a plan worked out once per layout);
anything unusual in it (a formula, text, a blank) is read cell by cell, with the same result.
"""

from __future__ import annotations

from decimal import Decimal, DivisionByZero, InvalidOperation
from functools import lru_cache

from ..findings import make
from ..layout import a1
from ..model import SMALL_DECIMALS, Report
from ..normalize import parse_number, shorten
from ..spec import Spec
from .book import Book
from .cover import cell_text
from .formulas import FormulaErrorValue, FormulaUnsupported
from .locate import Pos

_a1 = lru_cache(maxsize=65536)(a1)

# ---- values -----------------------------------------------------------------------------

# floats that are small whole numbers, as Decimals (a dict keyed by int matches the float too)
_SMALL = SMALL_DECIMALS
_FLOAT = {float}


class _Sheet:
    """What reading the value cells of one sheet needs; error cells are scanned when first needed."""

    def __init__(self, book: Book, name: str):
        g = book.grid(name)
        self.book, self.name = book, name
        self.rows = g.rows if g else []
        self.formulas = book.formulas(name)
        self.at = self.formulas.at
        self._errors: dict | None = None
        self.pos: dict[tuple[int, int], str] = {}  # (row, col) -> cell key
        self.shared = False  # pos is a plan's own dict (copied before any change)

    def own_pos(self) -> dict[tuple[int, int], str]:
        if self.shared:
            self.pos, self.shared = dict(self.pos), False
        return self.pos

    @property
    def errors(self) -> dict:
        if self._errors is None:
            self._errors = self.book.errors(self.name)
        return self._errors


class _Plan:
    """A table placed by the template layout, worked out once per layout."""

    def __init__(self, cells: dict[str, Pos]):
        self.cells = cells
        self.sheets = {s for s, _, _ in cells.values()}
        self.sheet = next(iter(self.sheets), "")
        self.keys = tuple(cells)
        self.poss = tuple((r, c) for _, r, c in cells.values())
        self.pos_set = frozenset(self.poss)
        self.pos = dict(zip(self.poss, self.keys, strict=False))  # shared by every read: never changed
        _SHARED_POS[id(self.pos)] = self.pos
        self.where = tuple((k, (s, _a1(r, c))) for k, (s, r, c) in cells.items())
        self.rows_used = tuple(sorted({r for r, _ in self.poss}))
        self.max_c = max((c for _, c in self.poss), default=-1)


_PLANS: dict[int, _Plan] = {}
_SHARED_POS: dict[int, dict] = {}


def _plan(cells: dict[str, Pos]) -> _Plan:
    plan = _PLANS.get(id(cells))
    if plan is None or plan.cells is not cells:
        plan = _PLANS[id(cells)] = _Plan(cells)
    return plan


def read_values(book: Book, spec: Spec, report: Report, tables: list) -> dict[str, dict]:
    """Fill report.values/where/blank/invalid from the located tables (in order); return each
    sheet's {(row, col): cell key}."""
    sheets: dict[str, _Sheet] = {}
    for loc in tables:
        plan = _plan(loc.layout) if loc.layout is not None and len(loc.layout) == len(loc.cells) else None
        if plan is not None and len(plan.sheets) == 1:
            ctx = sheets.get(plan.sheet) or sheets.setdefault(plan.sheet, _Sheet(book, plan.sheet))
            if _read_planned(spec, report, ctx, plan):
                continue
        for key, (sheet, r, c) in loc.cells.items():
            ctx = sheets.get(sheet) or sheets.setdefault(sheet, _Sheet(book, sheet))
            ctx.own_pos()[(r, c)] = key
            ref = _a1(r, c)
            report.where[key] = (sheet, ref)
            _read_cell(spec, report, ctx, key, r, c, ref)
    return {s: ctx.pos for s, ctx in sheets.items()}


def _read_planned(spec: Spec, report: Report, ctx: _Sheet, plan: _Plan) -> bool:
    """The whole table at once when no value cell holds a formula; False: read cell by cell."""
    rows = ctx.rows
    if (
        (ctx.at and not plan.pos_set.isdisjoint(ctx.at))
        or not plan.keys
        or plan.rows_used[-1] >= len(rows)
        or min(len(rows[r]) for r in plan.rows_used) <= plan.max_c
    ):
        return False
    report.where.update(plan.where)
    if ctx.pos:
        ctx.own_pos().update(plan.pos)
    else:
        ctx.pos, ctx.shared = plan.pos, True
    raws = [rows[r][c] for r, c in plan.poss]
    if set(map(type, raws)) == _FLOAT and all(map(_SMALL.__contains__, raws)):  # C speed
        report.values.update(zip(plan.keys, map(_SMALL.__getitem__, raws), strict=False))
        return True
    values = report.values
    for key, (r, c), raw in zip(plan.keys, plan.poss, raws, strict=False):
        if type(raw) is float and raw in _SMALL:
            values[key] = _SMALL[raw]
        else:
            _read_value(spec, report, ctx, key, r, c, _a1(r, c), raw)
    return True


def _read_cell(spec: Spec, report: Report, ctx: _Sheet, key: str, r: int, c: int, ref: str) -> None:
    rows, sheet = ctx.rows, ctx.name
    row = rows[r] if r < len(rows) else ()
    raw = row[c] if c < len(row) else ""
    if ctx.at and (r, c) in ctx.at:
        cell = spec.cells[key]
        formula = ctx.formulas.get((r, c)) or ""
        try:
            report.values[key] = _tidy(ctx.book.evaluate(sheet, r, c))
            return
        except FormulaErrorValue as e:
            raw = str(e)
        except (FormulaUnsupported, InvalidOperation, DivisionByZero, RecursionError, OverflowError):
            pkg = ctx.book.pkg  # were cached values computed by a spreadsheet program?
            if pkg is not None and not pkg.trusted_cache:
                report.values[key] = None
                report.invalid.add(key)
                shown = "=" + shorten(formula, 60)
                report.findings.append(
                    make(
                        "NB105",
                        f"{_where(cell, sheet, ref)}的公式“{shown}”无法计算，请直接填写数字",
                        actual=shown,
                        **cell.location(sheet, ref),
                    )
                )
                return
    _read_value(spec, report, ctx, key, r, c, ref, raw)


def _read_value(spec: Spec, report: Report, ctx: _Sheet, key: str, r: int, c: int, ref: str, raw) -> None:
    """A cell's value once formulas are dealt with."""
    if type(raw) is float:
        d = _SMALL.get(raw)
        if d is None and raw.is_integer():
            d = Decimal(int(raw))
        if d is not None:
            report.values[key] = d
            return
    if raw == "":
        errors = ctx.errors
        if errors and (r, c) in errors:
            raw = errors[(r, c)]
    value, problem = parse_number(raw)
    report.values[key] = value
    if problem:
        cell = spec.cells[key]
        report.invalid.add(key)
        shown = shorten(cell_text(raw) if not isinstance(raw, bool) else ("TRUE" if raw else "FALSE"))
        report.findings.append(
            make(
                "NB102",
                f"{_where(cell, ctx.name, ref)}填写了“{shown}”，{problem}",
                actual=shown,
                **cell.location(ctx.name, ref),
            )
        )
    elif value is None:
        report.blank.append(key)


def _where(cell, sheet: str, ref: str) -> str:
    return f"{cell.table.name}“{cell.row_label} / {cell.col_label}”（{sheet}!{ref}）"


def _tidy(d: Decimal) -> Decimal:
    v, _ = parse_number(d)
    return v if v is not None else d


def merged_value_cells(
    book: Book,
    spec: Spec,
    report: Report,
    cells: dict[str, Pos],
    by_sheet: dict[str, dict[tuple[int, int], str]] | None = None,
) -> None:
    """NB107 for a value cell hidden under a merge or sharing one with another value cell.
    ``by_sheet``: each sheet's {(row, col): cell key}, when the caller has it (from read_values)."""
    if by_sheet is None:
        by_sheet = {}
        for key, (s, r, c) in cells.items():
            by_sheet.setdefault(s, {})[(r, c)] = key
    for sheet, pos in by_sheet.items():
        g = book.grid(sheet)
        if g is None or not g.merged or not pos:
            continue
        if _SHARED_POS.get(id(pos)) is pos:  # a template table: its merges are usually the template's
            memo = (id(pos), tuple(g.merged))
            hits = _MERGE_MEMO.get(memo)
            if hits is None:
                if len(_MERGE_MEMO) > 256:
                    _MERGE_MEMO.clear()
                hits = _MERGE_MEMO[memo] = _merge_hits(pos, g.merged)
        else:
            hits = _merge_hits(pos, g.merged)
        for rng, inside in hits:
            for (r, c), key in inside:
                cell = spec.cells[key]
                report.findings.append(
                    make(
                        "NB107",
                        f"{cell.table.name}“{cell.row_label} / {cell.col_label}”（{sheet}!{a1(r, c)}）"
                        f"所在单元格被合并（{rng}），请取消合并，每个数值单独填写",
                        table=cell.table.name,
                        row=cell.row_label,
                        column=cell.col_label,
                        sheet=sheet,
                        cell=a1(r, c),
                        key=key,
                    )
                )


_MERGE_MEMO: dict[tuple, list] = {}


def _merge_hits(pos: dict[tuple[int, int], str], merged: list) -> list[tuple[str, list]]:
    """(range, sorted [((row, col), key)]) for every merge that hides a value cell."""
    out = []
    rs, cs = zip(*pos, strict=False)
    r_lo, r_hi, c_lo, c_hi = min(rs), max(rs), min(cs), max(cs)
    for m in merged:
        if m[2] < r_lo or m[0] > r_hi or m[3] < c_lo or m[1] > c_hi:
            continue
        area = (m[2] - m[0] + 1) * (m[3] - m[1] + 1)
        if area <= len(pos):
            inside = [
                ((r, c), pos[(r, c)])
                for r in range(m[0], m[2] + 1)
                for c in range(m[1], m[3] + 1)
                if (r, c) in pos
            ]
        else:
            inside = [(p, k) for p, k in pos.items() if m[0] <= p[0] <= m[2] and m[1] <= p[1] <= m[3]]
        if not inside or (len(inside) == 1 and inside[0][0] == (m[0], m[1])):
            continue
        out.append((f"{a1(m[0], m[1])}:{a1(m[2], m[3])}", sorted(inside)))
    return out

"""Formula cells and error cells of a sheet part, and a small evaluator for the formulas a
returned report may hold (+ - * / ( ) SUM over cells and numbers).
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from ..guard import xml_attrs
from ..layout import col_letter
from .extent import col_number, sheet_data_span

_F_OPEN = re.compile(rb"<(?:\w+:)?f\b")
_C_OPEN = re.compile(rb"<(?:\w+:)?c\b([^>]*)>")
_F_ELEM = re.compile(rb"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", re.DOTALL)
_E_CELL = re.compile(rb"""<(?:\w+:)?c\b([^>]*\bt\s*=\s*["']e["'][^>]*)>(.*?)</(?:\w+:)?c>""", re.DOTALL)
_V_ELEM = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.DOTALL)
_A1RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def cell_pos(ref: str) -> tuple[int, int] | None:
    """0-based (row, col) of an A1 reference ($ allowed), or None."""
    return _pos_cached(ref) if len(ref) <= 12 else _parse_pos(ref)


def _parse_pos(ref: str) -> tuple[int, int] | None:
    m = _A1RE.match(ref)
    if not m:
        return None
    return int(m.group(2)) - 1, col_number(m.group(1)) - 1


_pos_cached = lru_cache(maxsize=8192)(_parse_pos)


def _formula_starts(xml: bytes, s: int, e: int, prefixed: bool):
    """Positions of <f> elements inside <sheetData> (not <formula> of conditional formats)."""
    if prefixed and xml.find(b":f", s, e) >= 0:  # namespace-prefixed XML
        yield from (m.start() for m in _F_OPEN.finditer(xml, s, e))
        return
    i = xml.find(b"<f", s, e)
    while i >= 0:
        if xml[i + 2 : i + 3] in (b" ", b">", b"/"):
            yield i
        i = xml.find(b"<f", i + 2, e)


class Formulas:
    """The formula cells of one sheet part; formula text is extracted only when asked for
    (templates carry long status formulas nobody needs to read)."""

    def __init__(
        self,
        xml: bytes,
        region: tuple[int, int] | None = None,
        prefixed: bool | None = None,
        starts: list[int] | None = None,
    ):
        self.xml = xml
        self.at: dict[tuple[int, int], int] = {}  # position -> offset of its <f
        self.shared: dict[tuple[int, int], str] = {}  # child position -> si
        self.masters: dict[str, tuple[int, int]] = {}
        self._text: dict[tuple[int, int], str | None] = {}
        s, e = region or sheet_data_span(xml)
        if starts is None:
            if xml.find(b"<f", s, e) < 0 and xml.find(b":f", s, e) < 0:
                return
            if prefixed is None:
                prefixed = xml.find(b":c ", s, e) >= 0
            starts = _formula_starts(xml, s, e, prefixed)
        for p in starts:
            j = xml.rfind(b"<c ", 0, p)
            j = max(j, xml.rfind(b"<c>", max(0, p - 4096, j), p))  # only a later <c> matters
            if prefixed:
                k = xml.rfind(b":c ", 0, p)
                if k > j:
                    j = xml.rfind(b"<", 0, k)
            if j < 0:
                continue
            if xml.startswith(b'<c r="', j):  # the usual spelling: the reference comes first
                q = xml.find(b'"', j + 6, p)
                raw = xml[j + 6 : q] if q > 0 else b">"
                ref = raw.decode("utf-8", "replace") if b">" not in raw and b"&" not in raw else None
            else:
                ref = None
            if ref is None:
                c_open = _C_OPEN.match(xml, j)
                if c_open is None:
                    continue
                ref = xml_attrs(c_open.group(1)).get("r", "")
            pos = cell_pos(ref)
            if pos is None:
                continue
            self.at[pos] = p
            head = xml[p : xml.find(b">", p) + 1]
            if b"shared" in head:
                fa = xml_attrs(head)
                if fa.get("t") == "shared" and "si" in fa:
                    self.shared[pos] = fa["si"]
                    if not head.endswith(b"/>"):
                        self.masters[fa["si"]] = pos

    def __contains__(self, pos) -> bool:
        return pos in self.at

    def __len__(self) -> int:
        return len(self.at)

    def _raw(self, pos) -> str:
        fm = _F_ELEM.match(self.xml, self.at[pos])
        return html.unescape((fm.group(2) or b"").decode("utf-8", "replace")).strip() if fm else ""

    def get(self, pos, default=None) -> str | None:
        if pos not in self.at:
            return default
        if pos not in self._text:
            text = self._raw(pos)
            if not text and pos in self.shared:
                master = self.masters.get(self.shared[pos])
                if master is not None and master != pos:
                    base = self._raw(master)
                    text = shift_formula(base, pos[0] - master[0], pos[1] - master[1]) if base else ""
            self._text[pos] = text or None
        return self._text[pos] if self._text[pos] is not None else default

    def __getitem__(self, pos) -> str:
        v = self.get(pos)
        if v is None:
            raise KeyError(pos)
        return v


def scan_formulas(
    xml: bytes,
    region: tuple[int, int] | None = None,
    prefixed: bool | None = None,
    starts: list[int] | None = None,
) -> Formulas:
    """Formula cells of a sheet part: ``.get((row, col))`` gives the text without '='
    (shared formulas translated to each cell). When the caller already knows them: ``prefixed``,
    whether the region holds namespace-prefixed cells (``:c ``); ``starts``, the offsets of the
    <f> elements of a part without prefixes."""
    return Formulas(xml, region, prefixed, starts)


def scan_errors(xml: bytes, region: tuple[int, int] | None = None) -> dict[tuple[int, int], str]:
    """Cells holding an error value (#DIV/0! …), which calamine reports as blank."""
    out: dict[tuple[int, int], str] = {}
    s, e = region or sheet_data_span(xml)
    if xml.find(b'"e"', s, e) < 0 and (xml.find(b"'", s, e) < 0 or xml.find(b"'e'", s, e) < 0):
        return out
    for m in _E_CELL.finditer(xml, s, e):
        pos = cell_pos(xml_attrs(m.group(1)).get("r", ""))
        v = _V_ELEM.search(m.group(2))
        if pos is not None:
            out[pos] = html.unescape(v.group(1).decode("utf-8", "replace")) if v else "#VALUE!"
    return out


# ---- formulas ---------------------------------------------------------------------------

_SHEET_PREFIX = r"(?:(?:'(?:[^']|'')+'|[^\s'!:(),+\-*/^&=<>;\"{}]+)!)?"
_CELLREF = r"\$?[A-Za-z]{1,3}\$?\d+"
_TOKEN = re.compile(
    rf"""\s*(?:
    (?P<ref>{_SHEET_PREFIX}{_CELLREF}(?::{_CELLREF})?)(?![\w(])
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<func>[A-Za-z_][A-Za-z0-9_.]*)\s*\(
  | (?P<op>[-+*/(),;])
)""",
    re.VERBOSE,
)
_SHIFT = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\")|(\$?)([A-Za-z]{1,3})(\$?)(\d+)(?![\w(])")


def shift_formula(text: str, dr: int, dc: int) -> str:
    """Move the relative references of a shared formula by (dr, dc)."""

    def sub(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)
        cabs, col, rabs, row = m.group(2), m.group(3), m.group(4), m.group(5)
        c = col_number(col) - 1 + (0 if cabs else dc)
        r = int(row) + (0 if rabs else dr)
        if c < 0 or r < 1:
            return "#REF!"
        return f"{cabs}{col_letter(c)}{rabs}{r}"

    return _SHIFT.sub(sub, text)


class FormulaUnsupported(Exception):
    """The formula uses something this evaluator does not do."""


class FormulaErrorValue(Exception):
    """The formula evaluates to a spreadsheet error such as #DIV/0!."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, i, text = [], 0, text.strip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            if text[i:].strip() == "":
                break
            raise FormulaUnsupported(text[i : i + 10])
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


class CellSource(Protocol):
    """What :class:`Evaluator` reads from a workbook (:class:`reader.book.Book` provides it)."""

    def ref_cells(self, sheet: str, ref: str) -> tuple[str, list[tuple[int, int]]]: ...

    def cell_number(
        self, sheet: str, r: int, c: int, depth: int, stack: frozenset, in_range: bool
    ) -> Decimal: ...


class Evaluator:
    """Recursive-descent evaluation of + - * / ( ) SUM over cell references and numbers."""

    def __init__(self, book: CellSource, sheet: str, depth: int, stack: frozenset):
        self.book, self.sheet, self.depth, self.stack = book, sheet, depth, stack

    def run(self, text: str) -> Decimal:
        self.toks = _tokens(text.lstrip("="))
        self.i = 0
        v = self.expr()
        if self.i != len(self.toks):
            raise FormulaUnsupported(text)
        return v

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expr(self) -> Decimal:
        v = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self) -> Decimal:
        v = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            w = self.unary()
            if op == "*":
                v = v * w
            else:
                if w == 0:
                    raise FormulaErrorValue("#DIV/0!")
                v = v / w
        return v

    def unary(self) -> Decimal:
        if self.peek() == ("op", "-"):
            self.take()
            return -self.unary()
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self) -> Decimal:
        kind, val = self.take()
        if kind == "num":
            return Decimal(val)
        if kind == "ref":
            sheet, cells = self.book.ref_cells(self.sheet, val)
            if len(cells) != 1:
                raise FormulaUnsupported(val)
            return self.book.cell_number(sheet, *cells[0], self.depth + 1, self.stack, in_range=False)
        if kind == "func":
            if val.upper() not in ("SUM", "_XLFN.SUM"):
                raise FormulaUnsupported(val)
            total = Decimal(0)
            while True:
                if self.peek() == ("op", ")"):
                    self.take()
                    break
                k, v = self.peek()
                nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else (None, None)
                if k == "ref" and nxt in (("op", ","), ("op", ";"), ("op", ")")):
                    self.take()
                    sheet, cells = self.book.ref_cells(self.sheet, v)
                    for r, c in cells:
                        n = self.book.cell_number(
                            sheet, r, c, self.depth + 1, self.stack, in_range=len(cells) > 1
                        )
                        total += n
                else:
                    total += self.expr()
                if self.peek() in (("op", ","), ("op", ";")):
                    self.take()
                elif self.peek() != ("op", ")"):
                    raise FormulaUnsupported(val)
            return total
        if (kind, val) == ("op", "("):
            v = self.expr()
            if self.take() != ("op", ")"):
                raise FormulaUnsupported("(")
            return v
        raise FormulaUnsupported(str(val))

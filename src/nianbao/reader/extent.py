"""The extent of a sheet part before python-calamine sees it: calamine 0.9.1 aborts the whole
process on a cell at XFD1048576, and allocates every cell up to the farthest one. Cells right of
MAX_COLS or below MAX_ROWS are dropped (and reported) before the sheet is parsed.
"""

from __future__ import annotations

import re

from ..guard import MAX_COLS, MAX_ROWS, parse_attrs
from ..layout import a1

# ---- the full scan, and the trimming of far-out cells ------------------------------------

_REF_ATTR = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{0,3})(\d+)["']""")
_REF_FAST = re.compile(rb' r="([A-Z]{0,3})(\d+)"')
_ODD_TAG = re.compile(rb'<(?:c|row)(?![\w:]|\sr=")')  # a cell or row whose first attribute is not r
_CELL_OR_ROW_TAG = re.compile(rb"<(?:\w+:)?(?:c|row)(?=[\s>/])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']""")
_ROW_BLOCK = re.compile(rb"<((?:\w+:)?row)\b([^>]*?)(?:/>|>(.*?)</\1>)", re.DOTALL)
_CELL_BLOCK = re.compile(rb"<((?:\w+:)?c)\b([^>]*?)(?:/>|>(.*?)</\1>)", re.DOTALL)
_HAS_CONTENT = re.compile(rb"<(?:\w+:)?(?:v|f|is)\b")


def col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.decode("ascii").upper():
        n = n * 26 + ord(ch) - 64
    return n  # 1-based


def sheet_data_span(xml: bytes) -> tuple[int, int]:
    """Byte range of the <sheetData> element(s): the only place cells live."""
    s = xml.find(b"sheetData")
    return (s, xml.rfind(b"sheetData")) if s >= 0 else (0, 0)


# an r attribute spelt unusually, or a reference that may lie beyond MAX_ROWS (five digits) or
# MAX_COLS (IW and right of it); one pass, anchored on the letter r
_MAYBE_FAR = re.compile(rb"""r(?: =|='|="(?:[A-Z]{0,3}\d{5}|[A-Z]{3}\d|[J-Z][A-Z]\d|I[W-Z]\d))""")
# a cell or row tag not starting with r="…" (as _ODD_TAG), or (group 1) the start of a formula
_ODD_OR_FORMULA = re.compile(rb'<(?:c(?![\w:]| r=")|row(?![\w:]| r=")|(f)[ >/])')


def plain_formula_starts(xml: bytes, s: int, e: int) -> list[int] | None:
    """A cheap pre-check of the sheetData range [s, e) of a part without namespace prefixes:
    when every cell and row tag starts with r="…" and no reference can lie beyond MAX_ROWS ×
    MAX_COLS (what scan_extent would find), the offsets of its <f> elements; None means: run
    the full scan. (A small part can still hold one cell at XFD1048576: sizes prove nothing.)"""
    starts = []
    for m in _ODD_OR_FORMULA.finditer(xml, s, e):
        if m.group(1) is None:
            return None
        starts.append(m.start())
    return None if _MAYBE_FAR.search(xml, s, e) else starts


def scan_extent(xml: bytes, region: tuple[int, int] | None = None) -> tuple[int, int, bool]:
    """(max row, max column, every cell and row has an r attribute), 1-based."""
    s, e = region or sheet_data_span(xml)
    if s == e:
        return 0, 0, True
    odd = (
        _ODD_TAG.search(xml, s, e) is not None
        or xml.find(b":c ", s, e) >= 0
        or xml.find(b"r='", s, e) >= 0
        or xml.find(b" r =", s, e) >= 0
    )
    refs = _REF_ATTR.findall(xml, s, e) if odd else _REF_FAST.findall(xml, s, e)
    max_row = max_col = 0
    letters: set[bytes] = set()
    for col, row in refs:
        r = int(row)
        max_row = max(max_row, r)
        if col:
            letters.add(col)
    if letters:
        max_col = max(col_number(c) for c in letters)
    all_refs = not odd or all(_R_ATTR.search(m.group(1)) for m in _CELL_OR_ROW_TAG.finditer(xml, s, e))
    return max_row, max_col, all_refs


def trim_sheet(xml: bytes) -> tuple[bytes, str | None]:
    """Drop rows beyond MAX_ROWS and cells beyond MAX_COLS; (new xml, farthest dropped cell
    that held content, or None)."""
    far: list[tuple[int, int]] = []

    def cell(m: re.Match) -> bytes:
        a = parse_attrs(m.group(2))
        ref = a.get("r", "")
        mm = re.match(r"([A-Za-z]{1,3})(\d+)$", ref)
        if mm and (col_number(mm.group(1)) > MAX_COLS or int(mm.group(2)) > MAX_ROWS):
            if m.group(3) and _HAS_CONTENT.search(m.group(3)):
                far.append((int(mm.group(2)), col_number(mm.group(1))))
            return b""
        return m.group(0)

    def row(m: re.Match) -> bytes:
        r = parse_attrs(m.group(2)).get("r", "")
        if r.isdigit() and int(r) > MAX_ROWS:
            body = m.group(3) or b""
            if _HAS_CONTENT.search(body):
                refs = [(int(x[1]), col_number(x[0]) if x[0] else 1) for x in _REF_ATTR.findall(body)]
                far.append(max(refs) if refs else (int(r), 1))
            return b""
        if m.group(3) is None:
            return m.group(0)
        inner = _CELL_BLOCK.sub(cell, m.group(3))
        return m.group(0).replace(m.group(3), inner, 1) if inner != m.group(3) else m.group(0)

    out = _ROW_BLOCK.sub(row, xml)
    if not far:
        return out, None
    r, c = max(far)
    return out, a1(r - 1, c - 1)

"""The flat form every published report is turned into before its tables are matched.

A document is a list of text lines (for the body sections and the issuer) and a stream of
tokens: one token per table cell or per piece of text, each either a label (text) or a value
(a number, a blank cell, or a short non-label such as “无”).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from ..normalize import label_key, parse_number
from ..spec import all_specs

# Written in a numeric cell instead of a number; always read as a (bad) value, never a label.
NULL_WORDS = {
    "无",
    "空",
    "没有",
    "暂无",
    "不详",
    "未知",
    "不适用",
    "-",
    "--",
    "/",
    "\\",
    "×",
    "x",
    "X",
    "N/A",
    "n/a",
    "NA",
    "na",
    "*",
}
_NUMLIKE = re.compile(r"^[+\-−]?[\d.,，]*\d[\d.,，]*\s*(件|个|条|项|起|万元|元|%)?$")
_NUM_UNIT = re.compile(r"^[+\-−]?\d+(?:[.,，]\d+)*\s*[\u4e00-\u9fff]{1,3}$")  # 24千元: a (bad) value
_DASHES = re.compile(r"^[\-—–－_]+$")


@dataclass
class Tok:
    text: str  # the cell or text as written (stripped)
    key: str  # matching key (label_key: no width, space, punctuation differences)
    value: bool  # a value cell (number, blank, or short non-label) rather than a label
    line: int  # index into Doc.lines
    block: int = -1  # table number for cells of a table grid; -1 for running text
    sep: bool = False  # a separator between the groups of numbers of several rows on one line


@dataclass
class Doc:
    lines: list[str] = field(default_factory=list)
    tokens: list[Tok] = field(default_factory=list)
    title: str = ""  # an explicit title (HTML <title>, Word heading) when the format has one
    notes: list[str] = field(default_factory=list)  # things the extractor could not keep


@lru_cache(maxsize=1)
def _all_label_keys() -> str:
    keys: set[str] = set()
    for spec in all_specs():
        for t in spec.tables:
            keys.add(label_key(t.title))
            for sec in t.sections:
                keys.update(label_key(x) for x in (sec.title, sec.corner) if x)
                for tree in (sec.columns, sec.rows):
                    keys.update(label_key(n.label) for root in tree for n in root.walk() if n.label)
        keys.update(label_key(b) for b in spec.body)
    return "\n".join(sorted(keys))


def is_value_text(text: str) -> bool:
    """Is a cell's text a value (possibly blank or unreadable) rather than a label?"""
    s = text.strip()
    if not s:
        return True
    if s in NULL_WORDS or _DASHES.match(s):
        return True
    num, _ = parse_number(s)
    if num is not None or _NUMLIKE.match(s) or _NUM_UNIT.match(s):
        return True
    key = label_key(s)
    return len(s) <= 2 and (not key or key not in _all_label_keys())


def is_number_word(word: str) -> bool:
    """A space-separated word at the end of a PDF-style line that is one value."""
    w = word.strip()
    if not w:
        return False
    if w in NULL_WORDS or _DASHES.match(w):
        return True
    return parse_number(w)[0] is not None or bool(_NUMLIKE.match(w))


class DocBuilder:
    """Collects lines and tokens; the readers of every format feed it."""

    def __init__(self) -> None:
        self.doc = Doc()
        self._blocks = 0

    def line(self, text: str) -> int:
        self.doc.lines.append(text)
        return len(self.doc.lines) - 1

    def token(self, text: str, line: int, block: int = -1, value: bool | None = None) -> None:
        text = (text or "").strip()
        if value is None:
            value = is_value_text(text)
        self.doc.tokens.append(
            Tok(text=text, key="" if value else label_key(text), value=value, line=line, block=block)
        )

    def free_line(self, text: str) -> None:
        """A line of running text: a label, possibly followed by space-separated numbers."""
        text = text.strip()
        if not text:
            return
        ln = self.line(text)
        words = text.split()
        k = len(words)
        while k > 0 and is_number_word(words[k - 1]):
            k -= 1
        if k:
            self.token(" ".join(words[:k]), ln, value=False)
        for w in words[k:]:
            self.token(w, ln, value=True)

    def row(self, cells: list[str], block: int = -1, header: bool = False) -> None:
        """One table row; in a ``header`` row every cell that is not a number is a label."""
        cells = [c.strip() for c in cells]
        ln = self.line(" | ".join(cells))
        first_label = next((i for i, c in enumerate(cells) if not is_value_text(c)), 0)
        if header:
            first_label = next((i for i, c in enumerate(cells) if c and parse_number(c)[0] is None), 0)
        if not any(cells[:first_label]):  # blank cells before a row's label are merge padding
            cells = cells[first_label:]
        for c in cells:
            if header and c and parse_number(c)[0] is None:
                self.token(c, ln, block, value=False)
            elif not header or c:
                self.token(c, ln, block)

    def run_on(self, label: str, groups: list[list[str]], ln: int) -> None:
        """A label followed by several rows' numbers, the groups divided by separators."""
        self.token(label, ln, value=False)
        for n, words in enumerate(groups):
            if n:
                self.doc.tokens.append(Tok(text="", key="", value=True, line=ln, sep=True))
            for w in words:
                self.token(w, ln, value=True)

    def grid(self, rows: list[list[tuple[str | None, object]]]) -> None:
        """A table as a grid of (text, identity): a merged cell repeats its identity over the
        grid positions it covers. Repeats to the right are dropped (as is a position whose text
        is None: covered by a merge, as pdfplumber reports it); repeats downwards keep a label's
        text (a vertical group label) but blank a value."""
        block = self._blocks
        self._blocks += 1
        prev: list[object] = []
        for r in rows:
            cells: list[str] = []
            for j, (text, ident) in enumerate(r):
                if text is None and ident is None:
                    continue
                text = (text or "").strip()
                if ident is not None and j > 0 and r[j - 1][1] is not None and ident == r[j - 1][1]:
                    continue
                elif ident is not None and j < len(prev) and prev[j] is not None and prev[j] == ident:
                    cells.append("" if is_value_text(text) else text)
                else:
                    cells.append(text)
            prev = [ident for _, ident in r]
            if any(cells):
                self.row(cells, block)

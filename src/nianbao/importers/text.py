"""Flattened text of a published report (reference §5, shapes 1–5) -> a Doc.

1. one table row per line, cells separated by `` | `` (trailing ``|``);
2. one cell per line ending in `` |`` (extra pipes for merged cells; a line of pipes is a blank);
3. one cell per line with ``|`` on a line of its own between cells;
4. one cell per line, no separators, blank cells dropped;
5. PDF text: labels wrapped or one character per line, numbers space-separated at line ends.

Markdown as converters write it is read as shape 1: ``|---|`` separator rows are dropped, a
``-`` cell of a pipe table is a blank cell, ``#`` heading marks and ``**`` emphasis go, and a
cell holding several space-separated numbers (a PDF converter merging columns) is several cells.
"""

from __future__ import annotations

import re

from .tokens import Doc, DocBuilder, is_number_word

_PAGE_FOOTER = re.compile(
    r"^(?:[\-—–]\s*\d{1,4}\s*[\-—–]|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?)$"
)


_MD_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_RULE_LINE = re.compile(r"^[\-=+:|\s]*[\-=]{3,}[\-=+:|\s]*$")  # borders of plain-text tables
_MD_BLANK = {"-", "—", "–"}  # what Markdown converters write in an empty table cell


_NUMS = r"[+\-−]?\d[\d.,]*(?:\s+[+\-−]?\d[\d.,]*)*"
# a row's numbers followed by the next rows' numbers, groups divided by a separator token
_SEP = r"[|│｜/／;；]"
# (a separator stands between spaces: 2024/01/15 is a date, not three rows)
_RUN_ON = re.compile(rf"^(?P<label>.*?[^\d\s.,|│｜/／;；])\s+(?P<nums>{_NUMS}(?:\s+{_SEP}\s+{_NUMS})+)$")
_RUN_SEP = re.compile(rf"\s+{_SEP}\s+")


def _markdown(lines: list[str]) -> tuple[list[str], bool, set[int]]:
    """Lines without Markdown marks; whether the text has Markdown pipe tables; the indexes
    (in the returned lines) of table header rows (the row above a ``|---|`` line)."""
    tables = any(_MD_SEPARATOR.match(ln) and "|" in ln for ln in lines)
    out: list[str] = []
    headers: set[int] = set()
    for ln in lines:
        if tables and _MD_SEPARATOR.match(ln) and "|" in ln:
            prev = next((i for i in range(len(out) - 1, -1, -1) if out[i]), None)
            if prev is not None and "|" in out[prev]:
                headers.add(prev)
            continue
        ln = _MD_EMPHASIS.sub(r"\2", _MD_HEADING.sub("", ln))
        out.append(ln)
    return out, tables, headers


def _pipe_only(s: str) -> bool:
    return bool(s) and set(s) <= {"|", " "}


def _cells(s: str, markdown: bool) -> list[str]:
    t = s.removesuffix("|")
    if markdown:
        t = t.removeprefix("|")
    cells = []
    for c in (c.strip() for c in t.split("|")):
        words = c.split()
        if markdown and c in _MD_BLANK:
            cells.append("")
        elif len(words) > 1 and all(is_number_word(w) for w in words):
            cells.extend(words)  # columns merged by the converter
        else:
            cells.append(c)
    return cells


def text_doc(text: str) -> Doc:
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln.replace("\u3000", " ").replace("\xa0", " ").strip() for ln in lines]
    lines, markdown, headers = _markdown(lines)
    nonblank = [(i, ln) for i, ln in enumerate(lines) if ln]
    pipe_only = sum(1 for _, ln in nonblank if _pipe_only(ln))
    ends_pipe = sum(1 for _, ln in nonblank if ln.endswith("|") and not _pipe_only(ln))
    separators = pipe_only > 0 and ends_pipe * 4 < pipe_only  # shape 3
    b = DocBuilder()
    last_sep = False
    for i, s in nonblank:
        if _PAGE_FOOTER.match(s) or _RULE_LINE.match(s):
            continue
        if _pipe_only(s):
            if separators:
                if last_sep:  # two separators in a row enclose a blank cell
                    b.token("", b.line(""), value=True)
                last_sep = True
            elif s.count("|") == 1:  # an empty cell; "||", "|||": the columns a merged cell spans
                b.token("", b.line(s), value=True)
            continue
        last_sep = False
        run_on = _RUN_ON.match(s)
        if run_on and not markdown:
            groups = [g.split() for g in _RUN_SEP.split(run_on.group("nums"))]
            b.run_on(run_on.group("label"), groups, b.line(s))
        elif "|" in s:
            cells = _cells(s, markdown)
            if i in headers:
                b.row(cells, header=True)
            elif sum(1 for c in cells if c) >= 2:
                b.row(cells)
            else:
                b.token(next((c for c in cells if c), ""), b.line(s))
        elif "\t" in s:
            b.row(s.split("\t"))
        else:
            b.free_line(s)
    return b.doc

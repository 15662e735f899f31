"""Prose of the report: the six parts from the user's --text file, and sentences from the data.

Headings in the user's text are found the way published reports are read: by their number
(一、…六、) and by the words they share with the official heading, so that variants such as
``五、政府信息公开工作存在的主要问题及改进情况`` are recognised.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from fnmatch import fnmatchcase

from ..findings import fmt_number
from ..model import Report
from ..spec import Spec
from .document import BODY, PLACEHOLDER, SUB, Para, texts

_NUM = re.compile(r"^([一二三四五六七八九十]+)[、.．]")
_SUBHEAD = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")
_MD_MARK = re.compile(r"^\s{0,3}(#{1,6})\s*")
_BULLET = re.compile(r"^\s*[-*+]\s+")
_EMPH = re.compile(r"(\*\*|__|\*|`)")


def _norm(s: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", s))


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def heading_number(heading: str) -> str:
    m = _NUM.match(_norm(heading))
    return m.group(1) if m else ""


def match_heading(line: str, headings: list[str], after: int = -1) -> int | None:
    """Index of the official heading ``line`` stands for (only those after ``after``), else None."""
    s = _norm(_EMPH.sub("", _MD_MARK.sub("", line)))
    m = _NUM.match(s)
    if not m:
        return None
    rest = s[m.end() :].rstrip(":：。")
    for i, h in enumerate(headings):
        if i <= after or heading_number(h) != m.group(1):
            continue
        official = _norm(h)[len(m.group(0)) :]
        if not rest or "。" in rest or len(rest) > 2 * len(official) + 10:
            return None
        grams = _bigrams(official)
        if grams and len(grams & _bigrams(rest)) / len(grams) >= 0.5:
            return i
        return None
    return None


def _looks_like_title(line: str) -> bool:
    s = _norm(line)
    return s.endswith("年度报告") and len(s) <= 60


def parse_text(
    raw: str, headings: list[str], markdown: bool = False
) -> tuple[list[Para], dict[int, list[Para]]]:
    """(paragraphs before the first heading, {part index: paragraphs}) of the user's text.

    Plain text: every non-empty line is a paragraph. Markdown: blank lines separate paragraphs,
    ``#`` lines are sub-headings, emphasis and bullet marks are dropped.
    """
    preamble: list[Para] = []
    parts: dict[int, list[Para]] = {}
    current: list[Para] = preamble
    last = -1
    pending: list[str] = []  # markdown lines of the paragraph being read

    def flush() -> None:
        if pending:
            current.append(Para("".join(pending)))
            pending.clear()

    for raw_line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw_line.strip().replace("\ufeff", "")
        if not line:
            flush()
            continue
        idx = match_heading(line, headings, last)
        if idx is not None:
            flush()
            last = idx
            current = parts.setdefault(idx, [])
            continue
        if current is preamble and last < 0 and not preamble and not pending and _looks_like_title(line):
            continue  # the user's own title line: the title is generated
        if markdown:
            md = _MD_MARK.match(line)
            text = _EMPH.sub("", _BULLET.sub("", line[md.end() :] if md else line)).strip()
            if md:
                flush()
                current.append(Para(text, SUB))
            elif _BULLET.match(line):
                flush()
                current.append(Para(text))
            else:
                pending.append(text)
            continue
        kind = SUB if _SUBHEAD.match(line) and len(line) <= 30 and "。" not in line else BODY
        current.append(Para(line, kind))
    flush()
    placeholder = texts().placeholder
    for paras in [preamble, *parts.values()]:
        for p in paras:
            if p.text == placeholder:
                p.kind = PLACEHOLDER
    return preamble, parts


def _keys(spec: Spec, ref) -> list[str]:
    refs = ref if isinstance(ref, list | tuple) else [ref]
    out: list[str] = []
    for r in refs:
        r = str(r)
        if any(ch in r for ch in "*?["):
            out += sorted(k for k in spec.cells if fnmatchcase(k, r))
        elif r in spec.cells:
            out.append(r)
    return out


def _value(spec: Spec, report: Report, ref) -> Decimal | None:
    keys = _keys(spec, ref)
    if not keys:
        return None
    return sum((report.value(k) for k in keys), Decimal(0))


def change_phrase(current: Decimal, previous: Decimal) -> str:
    conf = texts().change
    diff = current - previous
    if diff == 0:
        return conf["same"]
    return conf["up" if diff > 0 else "down"].format(n=fmt_number(abs(diff)))


def sentences(
    spec: Spec, table_key: str, report: Report, previous: Report | None = None, prev_spec: Spec | None = None
) -> list[str]:
    """The generated sentences of one table (t3, t4) stating its key figures."""
    out: list[str] = []
    for conf in texts().sentences.get(table_key, ()):
        vals = {name: _value(spec, report, ref) for name, ref in conf.values.items()}
        if any(v is None for v in vals.values()):
            continue  # this form version lacks a cell the sentence needs
        out.append(conf.text.format(**{k: fmt_number(v) for k, v in vals.items()}))
        if previous is None or conf.previous is None:
            continue
        pspec = prev_spec or spec
        fields = {}
        for name, ref in conf.values.items():
            pv = _value(pspec, previous, ref)
            if pv is not None:
                fields[f"{name}_change"] = change_phrase(vals[name], pv)
        try:
            out.append(conf.previous.format(**fields))
        except KeyError:
            continue  # last year's form lacks a figure the sentence compares
    return out

"""Normalise label text and cell contents the way people actually type them.

Labels are compared after NFKC normalisation, whitespace removal and unification of the
punctuation that differs between copies of the official form (reference §5). Numbers may
arrive as text, with full-width digits, stray spaces, thousands separators or ``4.0``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

_SPACE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
_QUOTES = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "〝": '"',
        "〞": '"',
        "「": '"',
        "」": '"',
        "‘": "'",
        "’": "'",
        "`": "'",
        "、": ",",
        "，": ",",
        ";": ",",
        "；": ",",
        "—": "-",
        "–": "-",
        "−": "-",
        "─": "-",
    }
)
_TRAILING_PAREN = re.compile(r"\([^()]*\)$")

# Known misspellings in real returned workbooks (reference §5), mapped to the official text.
# Applied to punctuation-free keys, so they hold whatever punctuation the cell used.
TYPO_FRAGMENTS = {
    "只计这一情况": "只计这一情形",
    "三类内容事务信息": "三类内部事务信息",
}
TYPO_WHOLE = {
    "现行有效件": "现行有效件数",  # truncated header
}


def norm_label(text) -> str:
    """NFKC, no whitespace, one form of quotes and list punctuation, no framing ``|``."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    s = _SPACE.sub("", s).translate(_QUOTES)
    return s.strip("|")


def _loose(norm: str) -> str:
    """Drop every punctuation mark and symbol: ``(一)予以公开`` -> ``一予以公开``."""
    out = "".join(ch for ch in norm if not unicodedata.category(ch).startswith(("P", "S")))
    for wrong, right in TYPO_FRAGMENTS.items():
        out = out.replace(wrong, right)
    return TYPO_WHOLE.get(out, out)


@lru_cache(maxsize=4096)
def label_keys(text: str) -> tuple[str, ...]:
    """Matching keys of a label: its loose form, and the loose form without a trailing note
    in parentheses (``现行有效件数(历史累计)``, or a row label typed without its note)."""
    n = norm_label(text)
    full = _loose(n)
    base = _loose(_TRAILING_PAREN.sub("", n))
    keys = [k for k in (full, base) if k]
    return tuple(dict.fromkeys(keys))


def label_key(text: str) -> str:
    """The primary matching key of a label ('' for an empty one)."""
    keys = label_keys(str(text) if text is not None else "")
    return keys[0] if keys else ""


def label_matches(cell_text, official_label: str) -> bool:
    """Does the text of a cell stand for ``official_label`` (tolerating width, spaces, punctuation,
    known typos and a trailing parenthetical note)?"""
    if not isinstance(cell_text, str) or not cell_text.strip():
        return False
    mine, theirs = label_keys(cell_text), label_keys(official_label)
    return bool(theirs) and any(k in theirs for k in mine)


# ---- numbers ---------------------------------------------------------------------------

_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d*)?$")
_NUM_WITH_TEXT = re.compile(r"^[+-]?\d+(?:\.\d+)?\D+$")
ERROR_VALUES = (
    "#DIV/0!",
    "#REF!",
    "#VALUE!",
    "#NAME?",
    "#N/A",
    "#NUM!",
    "#NULL!",
    "#SPILL!",
    "#CALC!",
    "#GETTING_DATA",
)

NOT_A_NUMBER = "不是有效数字"


def _tidy(d: Decimal) -> Decimal:
    """4.0 -> 4, 0.50 -> 0.5, never an exponent form such as 1E+2."""
    if d == d.to_integral_value():
        try:
            return d.quantize(Decimal(1))
        except InvalidOperation:  # more digits than the context holds (1e308): kept as it is
            return d
    return d.normalize()


def parse_number(raw) -> tuple[Decimal | None, str | None]:
    """(value, None) for a number, (None, None) for a blank, (None, reason) otherwise."""
    if raw is None:
        return None, None
    if isinstance(raw, bool):
        return None, "是逻辑值（TRUE/FALSE），" + NOT_A_NUMBER
    if isinstance(raw, int):
        return Decimal(raw), None
    if isinstance(raw, float):
        if math.isnan(raw) or math.isinf(raw):
            return None, NOT_A_NUMBER
        return _tidy(Decimal(repr(raw))), None
    if isinstance(raw, Decimal):
        return (None, NOT_A_NUMBER) if not raw.is_finite() else (_tidy(raw), None)
    if isinstance(raw, (datetime, date, time, timedelta)):
        return None, "是日期或时间，" + NOT_A_NUMBER
    s = unicodedata.normalize("NFKC", str(raw))
    s = _SPACE.sub(" ", s).strip()
    if not s:
        return None, None
    if s.upper() in ERROR_VALUES or (s.startswith("#") and s.endswith(("!", "?", "A"))):
        return None, "是公式错误值，" + NOT_A_NUMBER
    t = s.replace(" ", "").replace("−", "-")
    if _NUMBER.match(t) and any(ch.isdigit() for ch in t):
        try:
            return _tidy(Decimal(t.replace(",", "").rstrip("."))), None
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid forms
            return None, NOT_A_NUMBER
    if _NUM_WITH_TEXT.match(t):
        return None, NOT_A_NUMBER + "（数字后带有文字，请只填数字）"
    return None, NOT_A_NUMBER


def shorten(text, limit: int = 30) -> str:
    """Cell text as quoted in a message: one line, at most ``limit`` characters."""
    s = _SPACE.sub(" ", str(text)).strip()
    return s if len(s) <= limit else s[: limit - 1] + "…"

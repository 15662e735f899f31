"""Statuses of the rows of 报送情况, unit names and dates as they are compared."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from ..spec import all_specs
from ..vocab import Status

# the statuses of a unit (see vocab.Status), by their short names
PASSED, WARNINGS, FAILED, EMPTY, UNREADABLE = (
    Status.PASSED,
    Status.WARNINGS,
    Status.FAILED,
    Status.EMPTY,
    Status.UNREADABLE,
)
WRONG_FORM, WRONG_YEAR, DUPLICATE = Status.WRONG_FORM, Status.WRONG_YEAR, Status.DUPLICATE
MISSING, NOT_IN_ROSTER = Status.MISSING, Status.NOT_IN_ROSTER
STATUS_ORDER = Status.ordered()  # problems first: the order of the 报送情况 sheet
COUNTY = "（汇总）"  # the unit name of the county sums
UNCATEGORISED = "（未分类）"

_SPACE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
ALIAS_SEP = re.compile(r"[、,，;；]")


def norm_name(name) -> str:
    """Unit names compare after NFKC (full/half width) and without any whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(name or "")))


def prev_cells() -> frozenset[str]:
    """Cells that any spec reads from last year's report (``prev:`` terms)."""
    return frozenset(t.cell for s in all_specs() for r in s.rules for t in r.lhs + r.rhs if t.prev)


NO_ROSTER = -1  # the roster row of a unit not on the roster


def date_key(text) -> date | None:
    """填报日期 as a date: 2025-01-15, 2025/1/15, 2025年1月15日, 20250115 or an Excel serial."""
    s = unicodedata.normalize("NFKC", str(text or "")).strip()
    if not s:
        return None
    try:
        m = re.search(r"(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})", s)
        if m:
            return date(*map(int, m.groups()))
        if re.fullmatch(r"\d{8}", s):
            return date(int(s[:4]), int(s[4:6]), int(s[6:]))
        if re.fullmatch(r"\d{5}(\.0+)?", s) and 20000 < float(s) < 80000:
            return date(1899, 12, 30) + timedelta(days=int(float(s)))
    except ValueError:
        return None
    return None

"""Statuses of the rows of 报送情况, unit names and dates as they are compared."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from ..spec import all_specs

PASSED, WARNINGS, FAILED, EMPTY, UNREADABLE = "passed", "warnings", "failed", "empty", "unreadable"
WRONG_FORM, WRONG_YEAR, DUPLICATE = "wrong_form", "wrong_year", "duplicate"
MISSING, NOT_IN_ROSTER = "missing", "not_in_roster"
# Problems first: the order of the 报送情况 sheet.
STATUS_ORDER = (
    MISSING,
    UNREADABLE,
    FAILED,
    EMPTY,
    WRONG_FORM,
    WRONG_YEAR,
    DUPLICATE,
    NOT_IN_ROSTER,
    WARNINGS,
    PASSED,
)
STATUS_ZH = {
    MISSING: "未报送",
    UNREADABLE: "无法读取",
    FAILED: "有错误",
    EMPTY: "未填写",
    WRONG_FORM: "表式不符",
    WRONG_YEAR: "年度不符",
    DUPLICATE: "重复报送",
    NOT_IN_ROSTER: "不在名单中",
    WARNINGS: "仅有警告",
    PASSED: "通过",
}
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
STATUS_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}  # a row's status is stored as its rank


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

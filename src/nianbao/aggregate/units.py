"""The roster, and the rows of 报送情况 packed in memory (their details in a spool file)."""

from __future__ import annotations

import os
import pickle
import tempfile
import unicodedata
from array import array
from collections.abc import Iterator, Sequence

from ..findings import Finding
from .status import (
    ALIAS_SEP,
    DUPLICATE,
    EMPTY,
    FAILED,
    MISSING,
    NO_ROSTER,
    NOT_IN_ROSTER,
    PASSED,
    STATUS_ORDER,
    UNREADABLE,
    WARNINGS,
    WRONG_FORM,
    WRONG_YEAR,
    date_key,
    norm_name,
)


# ---------------------------------------------------------------- roster
class Roster:
    """The units that must report, matched by name or alias after normalisation."""

    def __init__(self, units: list[dict]):
        from ..roster import ALIAS, CATEGORY, NAME

        self.units = units
        self.index: dict[str, int] = {}
        for i, u in enumerate(units):
            for n in [u[NAME], *ALIAS_SEP.split(unicodedata.normalize("NFKC", u.get(ALIAS, "")))]:
                k = norm_name(n)
                if k:
                    self.index.setdefault(k, i)
        self.has_category = any(u.get(CATEGORY) for u in units)
        seen: dict[str, None] = {}
        for u in units:
            for h in u:
                if h not in (NAME, ALIAS, CATEGORY):
                    seen.setdefault(h)
        self.extra_columns = list(seen)
        self._name, self._category = NAME, CATEGORY

    def match(self, name) -> int | None:
        return self.index.get(norm_name(name))

    def guess(self, text) -> int | None:
        """The roster unit whose longest name or alias occurs in ``text`` (a file name)."""
        t = norm_name(text)
        hits = [(len(k), i) for k, i in self.index.items() if len(k) >= 2 and k in t]
        return max(hits)[1] if hits else None

    def name(self, i: int) -> str:
        return self.units[i][self._name]

    def category(self, i: int) -> str:
        return self.units[i].get(self._category, "")

    def level(self, i: int) -> str | None:
        """The unit's level from the roster's 层级 column (nianbao.levels), None when not stated."""
        from ..levels import LEVEL_COLUMN, level_of_label

        return level_of_label(self.units[i].get(LEVEL_COLUMN))

    def __len__(self) -> int:
        return len(self.units)


# ---------------------------------------------------------------- per-unit summary
# What a row keeps on disk (the spool) rather than in memory, in this order:
DETAILS = (
    "file",
    "reported",
    "filler",
    "phone",
    "date",
    "mtime",
    "errors",
    "warnings",
    "annotated",
    "reason",
)
_NO_DETAILS = ("", "", "", "", "", 0.0, 0, 0, "", "")


class Spool:
    """Per row, on disk until the outputs are written: its details (file, 填报人, counts…),
    its values and its findings, three pickles one after the other."""

    def __init__(self):
        self._f = tempfile.TemporaryFile(prefix="nianbao-")  # noqa: SIM115 - lives with the Result

    def put(self, details: tuple, values, findings: list[Finding]) -> int:
        off = self._f.seek(0, os.SEEK_END)
        for part in (details, values, findings):
            pickle.dump(part, self._f, protocol=pickle.HIGHEST_PROTOCOL)
        return off

    def details(self, off: int) -> tuple:
        self._f.seek(off)
        return pickle.load(self._f)

    def get(self, off: int):
        """(values, findings) of the row stored at ``off``."""
        self._f.seek(off)
        pickle.load(self._f)
        return pickle.load(self._f), pickle.load(self._f)

    def close(self) -> None:
        self._f.close()


class Units:
    """The rows of 报送情况, packed so that 100,000 files cost a few MB: per row only its unit
    name, status, roster row, form and year and its place in the spool (well under 0.1 KB), in
    input order. Everything else is read back from the spool when a row is shown. Names of
    units off the roster are kept as UTF-8 (half the size of a str of Chinese characters, and
    sorted the same way); names on the roster are the roster's."""

    def __init__(self, spool: Spool, roster: Roster | None):
        self.spool, self.ros = spool, roster
        self.names: list[bytes] = []  # b"" for rows on the roster
        self.status = bytearray()  # rank in STATUS_ORDER
        self.roster = array("i")  # roster row, NO_ROSTER when none
        self.fy = array("H")  # index into self.fys
        self.fys: list[tuple[str | None, int | None]] = [(None, None)]  # distinct (form, year)
        self.offsets = array("q")  # where the row is in the spool, -1 for none
        self.norms: dict[int, bytes] = {}  # rows off the roster whose normalised name differs
        self.winner: dict[int, int] = {}  # a duplicate row -> the row used instead
        self.order = array("i")  # the rows sorted for output (problems first), once settled
        self.form: str | None = None  # the form and year that won, once settled
        self.year: int | None = None
        self.include_failed = False
        self._fy_index = {(None, None): 0}

    def __len__(self) -> int:
        return len(self.names)

    def put(
        self,
        i: int,
        name: str,
        status: str,
        roster: int | None = None,
        form=None,
        year=None,
        offset: int = -1,
    ) -> None:
        grow = i + 1 - len(self.names)  # rows arrive in any order: make room
        if grow > 0:
            self.names.extend([b""] * grow)
            self.status.extend(bytes(grow))
            self.roster.extend([NO_ROSTER] * grow)
            self.fy.extend([0] * grow)
            self.offsets.extend([-1] * grow)
        self.names[i] = b"" if roster is not None else name.encode("utf-8", "surrogatepass")
        self.status[i] = status.rank
        self.roster[i] = NO_ROSTER if roster is None else roster
        code = self._fy_index.get((form, year))
        if code is None:  # each distinct (form, year) is held once
            code = self._fy_index[(form, year)] = len(self.fys)
            self.fys.append((form, year))
        self.fy[i] = code
        self.offsets[i] = offset
        if roster is None:
            norm = norm_name(name)
            if norm != name:
                self.norms[i] = norm.encode("utf-8", "surrogatepass")

    def compact(self, drop: list[int]) -> None:
        """Remove rows (inputs found to be skipped after their row number was given)."""
        if not drop:
            return
        gone = set(drop)
        keep = [i for i in range(len(self.names)) if i not in gone]
        new = {old: n for n, old in enumerate(keep)}
        self.names = [self.names[i] for i in keep]
        self.status = bytearray(self.status[i] for i in keep)
        self.roster = array("i", (self.roster[i] for i in keep))
        self.fy = array("H", (self.fy[i] for i in keep))
        self.offsets = array("q", (self.offsets[i] for i in keep))
        self.norms = {new[i]: v for i, v in self.norms.items() if i in new}

    def name(self, i: int) -> str:
        r = self.roster[i]
        if r != NO_ROSTER and self.ros is not None:
            return self.ros.name(r)
        return self.names[i].decode("utf-8", "surrogatepass")

    def details(self, i: int) -> tuple:
        off = self.offsets[i]
        return self.spool.details(off) if off >= 0 else _NO_DETAILS

    def summed(self, i: int) -> bool:
        s = STATUS_ORDER[self.status[i]]
        return s in (PASSED, WARNINGS) or (s == FAILED and self.include_failed)

    def group(self, i: int) -> tuple[int, bytes]:
        """Identity of the unit for duplicates and order: roster row, else normalised name."""
        return self.roster[i], self.norms.get(i) or self.names[i]


def _detail(k: str) -> property:
    i = DETAILS.index(k)
    return property(lambda self: self._details()[i])


class Entry:
    """One row of 报送情况 (a file, or a roster unit that sent none): a view of a row of
    :class:`Units`; the details are read from the spool on first use."""

    __slots__ = ("_d", "_u", "idx")

    def __init__(self, units: Units, i: int):
        self._u, self.idx, self._d = units, i, None

    def _details(self) -> tuple:
        if self._d is None:
            self._d = self._u.details(self.idx)
        return self._d

    file = _detail("file")  # display path ('' for 未报送)
    reported = _detail("reported")  # 填报单位 as written in the file, when it differs from name
    filler = _detail("filler")
    phone = _detail("phone")
    date = _detail("date")
    mtime = _detail("mtime")
    errors = _detail("errors")
    warnings = _detail("warnings")
    annotated = _detail("annotated")  # path of the annotated copy, when one was written

    @property
    def name(self) -> str:
        return self._u.name(self.idx)

    @property
    def status(self) -> str:
        return STATUS_ORDER[self._u.status[self.idx]]

    @property
    def status_zh(self) -> str:
        return self.status.zh

    @property
    def roster(self) -> int | None:
        r = self._u.roster[self.idx]
        return None if r == NO_ROSTER else r

    @property
    def category(self) -> str:
        r = self.roster
        return self._u.ros.category(r) if r is not None and self._u.ros else ""

    @property
    def form(self) -> str | None:
        return self._u.fys[self._u.fy[self.idx]][0]

    @property
    def year(self) -> int | None:
        return self._u.fys[self._u.fy[self.idx]][1]

    @property
    def spool(self) -> int:
        return self._u.offsets[self.idx]

    @property
    def unreadable(self) -> bool:
        return self.status == UNREADABLE

    @property
    def empty(self) -> bool:
        return self.status == EMPTY

    @property
    def summed(self) -> bool:
        return self._u.summed(self.idx)

    @property
    def note(self) -> str:
        """Why the row has its status (Chinese), '' for units summed without remark; for a
        lower level's aggregate, which units it covers (计入 37/40 个单位) first."""
        why = self._why()
        if self.status in (UNREADABLE, MISSING):
            return why
        covers = self._details()[DETAILS.index("reason")]
        return "；".join(x for x in (covers, why) if x)

    def _why(self) -> str:
        u, s = self._u, self.status
        if s == UNREADABLE:
            return self._details()[DETAILS.index("reason")]
        if s == EMPTY:
            return "所有数值格均为空，不能当作全部为 0 的报告"
        if s == NOT_IN_ROSTER:
            return f"填报单位“{self.reported or self.name}”不在单位名单中（如是别称，可在名单“别名”列补充）"
        if s == WRONG_FORM:
            return (
                f"使用的是 {self.form} 版表式，本次汇总采用 {u.form} 版表式" if self.form else "未能识别表式"
            )
        if s == WRONG_YEAR:
            return f"报告年度为 {self.year}，本次汇总的年度为 {u.year}"
        if s == FAILED:
            return "已计入汇总（含错误，按 --include-failed）" if self.summed else "有错误，未计入汇总"
        if s == MISSING:
            return "名单中的单位没有报送文件"
        if s == DUPLICATE:
            win = Entry(u, u.winner[self.idx])
            a, b = date_key(win.date), date_key(self.date)
            why = "填报日期较晚" if a and b and a > b else "较新（填报日期相同或未填，按文件修改时间）"
            return f"同一单位另有{why}的文件 {win.file}，本文件未计入汇总"
        return ""

    @property
    def group(self) -> str:
        """Identity of the unit for duplicates and last year's data."""
        return f"r{self.roster}" if self.roster is not None else "n:" + norm_name(self.name)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "category": self.category or None,
            "status": self.status,
            "status_zh": self.status_zh,
            "errors": self.errors,
            "warnings": self.warnings,
            "file": self.file or None,
            "unit_in_file": self.reported or (self.name if self.form else None),
            "form": self.form,
            "year": self.year,
            "filler": self.filler or None,
            "phone": self.phone or None,
            "date": self.date or None,
            "summed": self.summed,
            "annotated": self.annotated or None,
            "note": self.note or None,
        }


class Rows(Sequence):
    """Rows of :class:`Units` in a given order, as :class:`Entry` views made on demand."""

    def __init__(self, units: Units, order: array):
        self._u, self._order = units, order

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [Entry(self._u, i) for i in self._order[k]]
        return Entry(self._u, self._order[k])

    def __iter__(self) -> Iterator[Entry]:
        u = self._u
        for i in self._order:
            yield Entry(u, i)

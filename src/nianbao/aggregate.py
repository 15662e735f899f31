"""``nianbao aggregate``: who reported, whose data is wrong, and the county totals.

Every input is read and checked by the same code as ``nianbao check`` in worker processes, as
the folder walk finds it (:func:`inputs.iter_collect`). Each result is reduced at once to a
packed row of :class:`Units` (unit name, status, roster row, form and year: about 0.1 KB); its
details, values and findings go to a temporary spool file, and the workbook is released, so
memory stays nearly flat however many files there are. Statuses are settled once every file is
known (duplicates, majority form and year), then the units that count are summed exactly
(Decimal).
"""
from __future__ import annotations

import os
import pickle
import re
import tempfile
import unicodedata
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from itertools import chain, islice
from pathlib import Path

from .findings import Finding
from .model import Report, _json_num
from .spec import Spec, all_specs, form_for_year, get_spec

PASSED, WARNINGS, FAILED, EMPTY, UNREADABLE = "passed", "warnings", "failed", "empty", "unreadable"
WRONG_FORM, WRONG_YEAR, DUPLICATE = "wrong_form", "wrong_year", "duplicate"
MISSING, NOT_IN_ROSTER = "missing", "not_in_roster"
# Problems first: the order of the 报送情况 sheet.
STATUS_ORDER = (MISSING, UNREADABLE, FAILED, EMPTY, WRONG_FORM, WRONG_YEAR, DUPLICATE,
                NOT_IN_ROSTER, WARNINGS, PASSED)
STATUS_ZH = {MISSING: "未报送", UNREADABLE: "无法读取", FAILED: "有错误", EMPTY: "未填写",
             WRONG_FORM: "表式不符", WRONG_YEAR: "年度不符", DUPLICATE: "重复报送",
             NOT_IN_ROSTER: "不在名单中", WARNINGS: "仅有警告", PASSED: "通过"}
COUNTY = "（汇总）"  # the unit name of the county sums
UNCATEGORISED = "（未分类）"

_SPACE = re.compile(r"[\s\u200b-\u200d\u2060\ufeff]+")
_ALIAS_SEP = re.compile(r"[、,，;；]")


def norm_name(name) -> str:
    """Unit names compare after NFKC (full/half width) and without any whitespace."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(name or "")))


def prev_cells() -> frozenset[str]:
    """Cells that any spec reads from last year's report (``prev:`` terms)."""
    return frozenset(t.cell for s in all_specs() for r in s.rules for t in r.lhs + r.rhs if t.prev)


# ---------------------------------------------------------------- roster
class Roster:
    """The units that must report, matched by name or alias after normalisation."""

    def __init__(self, units: list[dict]):
        from .roster import ALIAS, CATEGORY, NAME

        self.units = units
        self.index: dict[str, int] = {}
        for i, u in enumerate(units):
            for n in [u[NAME], *_ALIAS_SEP.split(unicodedata.normalize("NFKC", u.get(ALIAS, "")))]:
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

    def __len__(self) -> int:
        return len(self.units)


# ---------------------------------------------------------------- per-unit summary
NO_ROSTER = -1
_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}  # a row's status is stored as its rank
# What a row keeps on disk (the spool) rather than in memory, in this order:
_DETAILS = ("file", "reported", "filler", "phone", "date", "mtime", "errors", "warnings",
            "annotated", "reason")
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

    def put(self, i: int, name: str, status: str, roster: int | None = None, form=None,
            year=None, offset: int = -1) -> None:
        grow = i + 1 - len(self.names)  # rows arrive in any order: make room
        if grow > 0:
            self.names.extend([b""] * grow)
            self.status.extend(bytes(grow))
            self.roster.extend([NO_ROSTER] * grow)
            self.fy.extend([0] * grow)
            self.offsets.extend([-1] * grow)
        self.names[i] = b"" if roster is not None else name.encode("utf-8", "surrogatepass")
        self.status[i] = _RANK[status]
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
    i = _DETAILS.index(k)
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
        return STATUS_ZH[self.status]

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
        """Why the row has its status (Chinese), '' for units summed without remark."""
        u, s = self._u, self.status
        if s == UNREADABLE:
            return self._details()[_DETAILS.index("reason")]
        if s == EMPTY:
            return "所有数值格均为空，不能当作全部为 0 的报告"
        if s == NOT_IN_ROSTER:
            return f"填报单位“{self.reported or self.name}”不在单位名单中（如是别称，可在名单“别名”列补充）"
        if s == WRONG_FORM:
            return f"使用的是 {self.form} 版表式，本次汇总采用 {u.form} 版表式" if self.form else "未能识别表式"
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
        return {"name": self.name, "category": self.category or None, "status": self.status,
                "status_zh": self.status_zh, "errors": self.errors, "warnings": self.warnings,
                "file": self.file or None,
                "unit_in_file": self.reported or (self.name if self.form else None),
                "form": self.form, "year": self.year, "filler": self.filler or None,
                "phone": self.phone or None, "date": self.date or None, "summed": self.summed,
                "annotated": self.annotated or None, "note": self.note or None}


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


# ---------------------------------------------------------------- reading, streamed
def stream_reports(items: Iterable, blank: str = "zero", jobs: int | None = None,
                   progress: Callable[[int], None] | None = None,
                   parallel: bool | None = None, shape=None) -> Iterator[tuple[int, object, Report]]:
    """Yield (index, item, checked Report) for every item as soon as it is done (any order).
    ``shape`` "compact": reports from the workers carry their values only as
    ``meta["compact"]`` (see :func:`pipeline.compact_values`), without the cell map.

    ``items`` may be any iterable (a generator keeps memory flat). Unlike
    :func:`pipeline.process` nothing is accumulated: at most a few chunks per worker are in
    flight. A worker that dies is pinned on its file by re-running the suspects one by one.
    """
    from .pipeline import (
        CHUNK,
        PARALLEL_MIN,
        _alone,
        _work,
        internal_error,
        read_and_check,
    )

    jobs = jobs or os.cpu_count() or 1
    it = enumerate(items)
    if parallel is None:
        head = list(islice(it, PARALLEL_MIN))
        parallel = len(head) >= PARALLEL_MIN
        it = chain(head, it)
    if not parallel or jobs == 1:
        for i, item in it:
            yield i, item, read_and_check(item, blank)
            if progress:
                progress(1)
        return
    from . import checks, reader  # noqa: F401 - loaded once here, inherited by forked workers

    all_specs()
    window = jobs * 4
    redo: list[list[tuple[int, object]]] = []  # chunks that were in flight when a worker died
    while True:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            pending: dict = {}
            broken = False
            while not broken:
                while len(pending) < window:
                    chunk = list(islice(it, CHUNK))
                    if not chunk:
                        break
                    pending[ex.submit(_work, ([x for _, x in chunk], blank, None, shape))] = chunk
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    chunk = pending.pop(fut)
                    try:
                        reports = fut.result()
                    except BrokenProcessPool:
                        redo.append(chunk)
                        broken = True
                        continue
                    except Exception as exc:  # noqa: BLE001 - the batch must go on
                        reports = [internal_error(x.display, exc) for _, x in chunk]
                    for (i, x), r in zip(chunk, reports):
                        yield i, x, r
                    if progress:
                        progress(len(chunk))
            redo.extend(pending.values())
        if not redo:
            return
        for chunk in redo:
            for i, x in chunk:
                yield i, x, _alone(x, blank, None)
                if progress:
                    progress(1)
        redo = []


# ---------------------------------------------------------------- last year's data
@dataclass
class Previous:
    """Last year's county sums and per-unit values of the cells the year-over-year rules read."""

    county: Report | None = None
    units: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # unit name -> values
    source: str = ""
    _index: dict | None = field(default=None, repr=False)

    @staticmethod
    def _key(name: str, roster: Roster | None) -> str:
        i = roster.match(name) if roster else None
        return f"r{i}" if i is not None else "n:" + norm_name(name)

    def for_unit(self, name: str, roster: Roster | None) -> Report | None:
        """Last year's report of the unit ``name`` (matched like this year's files), or None."""
        if self._index is None:
            self._index = {}
            for n, vals in self.units.items():
                self._index.setdefault(self._key(n, roster), vals)
        vals = self._index.get(self._key(name, roster))
        return Report(path=self.source, unit=name, values=dict(vals)) if vals is not None else None


def load_previous(path: Path, roster: Roster | None = None, blank: str = "zero",
                  progress_factory=None) -> Previous:
    """Last year's aggregate workbook, or last year's folder (aggregated here the same way).

    Raises FileNotFoundError when there is nothing to read."""
    from .aggregate_xlsx import read_aggregate

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(str(path))
    if path.is_file():
        prev = read_aggregate(path)
        if prev is not None:
            return prev
    res = aggregate([path], roster=roster, blank=blank, progress_factory=progress_factory)
    try:
        if not res.entries or all(e.status == MISSING for e in res.entries):
            raise FileNotFoundError(str(path))
        keep = prev_cells()
        units: dict[str, dict[str, Decimal]] = {}
        for e in res.entries:
            if e.status in (PASSED, WARNINGS, FAILED):
                vals = res.values(e)
                units[e.name] = {k: Decimal(v) for k, v in vals.items() if k in keep and v is not None}
        county = None
        if path.is_dir() or path.suffix.lower() == ".zip":  # one unit's workbook is no county
            county = Report(path=str(path), form=res.form, unit=COUNTY, year=res.year,
                            values=dict(res.sums))
        return Previous(county=county, units=units, source=str(path))
    finally:
        res.close()


def previous_findings(report: Report, spec: Spec, prev: Report | None) -> list[Finding]:
    """The year-over-year findings (rules with ``prev:`` terms) of one report."""
    from .checks import check_rule

    if prev is None:
        return []
    out = []
    for rule in spec.rules:
        if rule.uses_previous:
            f = check_rule(rule, spec, report, prev)
            if f is not None:
                out.append(f)
    return out


# ---------------------------------------------------------------- the aggregate
@dataclass
class Result:
    spec: Spec
    year: int | None
    units: Units
    sums: dict[str, Decimal]
    categories: dict[str, tuple[int, dict[str, Decimal]]]  # 类别 -> (units summed, sums)
    county: Report
    skipped: list[tuple[str, str]]
    roster: Roster | None
    spool: Spool
    include_failed: bool = False
    annotate_messages: list[str] = field(default_factory=list)
    annotate_failed: bool = False  # an annotated copy could not be written (exit 2)
    early_detail: bool = False  # the rows handed to ``early`` while reading are the final ones

    @property
    def form(self) -> str:
        return self.spec.version

    @property
    def entries(self) -> Rows:
        """Every row, problems first (the order of 报送情况)."""
        return Rows(self.units, self.units.order)

    def rows_in_input_order(self) -> Rows:
        """Every row in the order the files were found (the order of 明细)."""
        return Rows(self.units, array("i", range(len(self.units))))

    @property
    def summed(self) -> Rows:
        u = self.units
        return Rows(u, array("i", (i for i in u.order if u.summed(i))))

    def values(self, e: Entry) -> dict[str, int | Decimal | None]:
        vals = self.value_tuple(e)
        return dict(zip(get_spec(e.form).cells, vals)) if vals else {}

    def value_tuple(self, e: Entry) -> tuple | None:
        """The entry's values in the order of its form's cells (see pipeline.compact_values)."""
        return self.spool.get(e.spool)[0] if e.spool >= 0 else None

    def findings(self, e: Entry) -> list[Finding]:
        return self.spool.get(e.spool)[1] if e.spool >= 0 else []

    def counts(self) -> dict[str, int]:
        c = Counter(self.units.status)
        return {s: c.get(_RANK[s], 0) for s in STATUS_ORDER}

    def has_problems(self) -> bool:
        ok = {_RANK[PASSED], _RANK[WARNINGS]}
        return any(s not in ok for s in self.units.status) or self.county.errors > 0

    def close(self) -> None:
        self.spool.close()


def _reason(report: Report) -> str:
    """Why a file could not be read, without the file name the message starts with."""
    msg = report.findings[0].message if report.findings else "无法读取"
    return msg.removeprefix(f"{report.path}：")


def _identify(item, report: Report, roster: Roster | None) -> tuple[str, int | None, str]:
    """(unit name, roster row, 填报单位 as written) of a file: by its cover, else its file name."""
    reported = (report.unit or "").strip()
    stem = Path(item.name).stem if item is not None else Path(report.path).stem
    ridx = roster.match(reported) if roster and reported else None
    if roster and ridx is None and not reported:
        ridx = roster.guess(stem)
    name = roster.name(ridx) if ridx is not None else (reported or stem)
    return name, ridx, reported


def _settle(u: Units, year: int | None, include_failed: bool) -> None:
    """Give every row its final status, choose the form and year that win, sort the rows."""
    ros = u.ros
    base = {_RANK[s] for s in (PASSED, WARNINGS, FAILED)}  # rows read and checked
    usable = Counter(u.fy[i] for i in range(len(u)) if u.status[i] in base
                     and u.fys[u.fy[i]][0] and (ros is None or u.roster[i] != NO_ROSTER))
    if year is not None:
        form = form_for_year(year)
    else:
        forms, years = Counter(), Counter()
        for code, n in usable.items():
            forms[u.fys[code][0]] += n
        form = max(forms, key=lambda f: (forms[f], f)) if forms else form_for_year(None)
        for code, n in usable.items():
            f, y = u.fys[code]
            if f == form and y:
                years[y] += n
        year = max(years, key=lambda y: (years[y], y)) if years else None
    u.form, u.year, u.include_failed = form, year, include_failed
    for i in range(len(u)):
        if u.status[i] not in base:
            continue
        f, y = u.fys[u.fy[i]]
        if ros is not None and u.roster[i] == NO_ROSTER:
            u.status[i] = _RANK[NOT_IN_ROSTER]
        elif f != form:
            u.status[i] = _RANK[WRONG_FORM]
        elif year is not None and y is not None and y != year:
            u.status[i] = _RANK[WRONG_YEAR]
    # Sorting by unit brings a unit's files together (duplicates are neighbours); the sort
    # keys are the names already held (no key object is built per row).
    order = sorted(range(len(u)), key=lambda i: u.norms.get(i) or u.names[i])
    order.sort(key=lambda i: u.roster[i] if u.roster[i] != NO_ROSTER else 1 << 30)
    run: list[int] = []
    for i in chain(order, [None]):
        if run and (i is None or u.group(i) != u.group(run[0])):
            if len(run) > 1:
                _duplicates(u, run)
            run = []
        if i is not None and u.status[i] in base:
            run.append(i)
    order.sort(key=u.status.__getitem__)  # problems first; stable, so by unit within a status
    u.order = array("i", order)


def _duplicates(u: Units, rows: list[int]) -> None:
    """Several files of one unit: the latest 填报日期 wins; the file's modification time
    stands in or breaks ties, then the input order."""
    def newest(i: int):
        d = u.details(i)
        mtime = d[_DETAILS.index("mtime")]
        day = date_key(d[_DETAILS.index("date")]) or (date.fromtimestamp(mtime) if mtime > 0 else date.min)
        return day, mtime, i

    rows = sorted(rows, key=newest, reverse=True)
    for i in rows[1:]:
        u.status[i] = _RANK[DUPLICATE]
        u.winner[i] = rows[0]


def aggregate(paths: list[Path], *, roster: list[dict] | Roster | None = None,
              previous: Previous | None = None, annotate_dir: Path | None = None,
              include_failed: bool = False, year: int | None = None, blank: str = "zero",
              force: bool = False, progress_factory=None, jobs: int | None = None,
              early=None) -> Result:
    """Read, check, identify, settle and sum. The caller writes the outputs and calls close().

    Inputs are streamed (:func:`inputs.iter_collect`): each file is read and checked, reduced
    to a row of :class:`Units` and a record in the spool, and forgotten. ``early`` (an
    :class:`aggregate_xlsx.EarlyBook`) gets the rows of 明细 in input order as the files are
    read; ``Result.early_detail`` tells whether they turned out final."""
    from .checks import run_checks
    from .inputs import SKIPPED, UNSUPPORTED, count_inputs, iter_collect
    from .pipeline import annotate_one, compact_values

    ros = Roster(roster) if isinstance(roster, list) else roster
    paths = [Path(p) for p in paths]
    spool = Spool()
    units = Units(spool, ros)
    skipped: list[tuple[str, str]] = []
    dropped: list[int] = []  # input rows that turned out to be our own outputs
    messages: list[str] = []
    annotate_failed = False
    detail = _EarlyRows(early, ros, include_failed) if early is not None else None

    def feed():
        for tag, x in iter_collect(paths, defer_output_check=True):
            if tag == SKIPPED:
                skipped.append(x)
                continue
            if tag == UNSUPPORTED:
                x.error = "不支持的文件类型"  # read as unreadable, with the other files
            yield x

    total = count_inputs(paths) if progress_factory else 0
    bar = progress_factory(total) if progress_factory and total else None
    try:
        lean = "compact" if previous is None and annotate_dir is None else None
        for idx, item, report in stream_reports(feed(), blank, jobs, bar.advance if bar else None, shape=lean):
            if report.skipped:  # one of our own outputs (the reader looked at its properties)
                skipped.append((report.path, report.skipped))
                dropped.append(idx)
                if detail:
                    detail.put(idx, None)
                continue
            name, ridx, reported = _identify(item, report, ros)
            if previous is not None and report.form and not report.unreadable and not report.empty:
                spec = get_spec(report.form)
                report.findings.extend(previous_findings(report, spec, previous.for_unit(name, ros)))
            annotated = ""
            if annotate_dir is not None and report.errors and not report.unreadable:
                report.meta["input"] = item
                msg, ok = annotate_one(report, Path(annotate_dir), force=force)
                messages.append(msg)
                annotate_failed |= not ok
                if ok and msg.startswith("已生成"):
                    from .annotate import output_name

                    annotated = str(Path(annotate_dir) / output_name(item.name))
            vals = report.meta.pop("compact") if "compact" in report.meta else compact_values(report)
            mtime = report.mtime or (item.mtime if item is not None else 0.0) or 0.0
            details = (report.path, reported if reported != name else "", report.filler,
                       report.phone, str(report.date or ""), mtime, report.errors,
                       report.warnings, annotated, _reason(report) if report.unreadable else "")
            status = (UNREADABLE if report.unreadable else EMPTY if report.empty
                      else FAILED if report.errors else WARNINGS if report.warnings else PASSED)
            units.put(idx, name, status, ridx, report.form, report.year,
                      spool.put(details, vals, report.findings))
            if detail:
                detail.put(idx, (name, ridx, status, report.path, report.form, vals))
    finally:
        if bar:
            bar.close()
    units.compact(dropped)
    if ros is not None:
        have = set(units.roster)
        for i in range(len(ros)):
            if i not in have:
                units.put(len(units), ros.name(i), MISSING, i)
    _settle(units, year, include_failed)
    form, year = units.form, units.year
    early_detail = detail is not None and detail.final(units)

    spec = get_spec(form)
    keys = list(spec.cells)
    zero = [0] * len(keys)
    total = zero  # column sums; ints and Decimals add up exactly together
    cats: dict[str, list] = {}  # 类别 -> [units, column sums]
    for i in units.order:
        if not units.summed(i):
            continue
        vals = spool.get(units.offsets[i])[0]
        total = [t if v is None else t + v for t, v in zip(total, vals)]
        if ros is not None and ros.has_category:
            bucket = cats.setdefault(ros.category(units.roster[i]) or UNCATEGORISED, [0, zero])
            bucket[0] += 1
            bucket[1] = [t if v is None else t + v for t, v in zip(bucket[1], vals)]
    sums = {k: Decimal(t) for k, t in zip(keys, total)}
    cats = {c: [n, {k: Decimal(t) for k, t in zip(keys, col)}] for c, (n, col) in cats.items()}
    from .aggregate_xlsx import county_where

    county = Report(path=COUNTY, form=form, unit=COUNTY, year=year, values=dict(sums),
                    where=county_where(spec), source="aggregate")
    run_checks(county, spec, previous.county if previous else None, blank)
    return Result(spec=spec, year=year, units=units, sums=sums,
                  categories={c: (n, s) for c, (n, s) in cats.items()}, county=county,
                  skipped=skipped, roster=ros, spool=spool, include_failed=include_failed,
                  annotate_messages=messages, annotate_failed=annotate_failed, early_detail=early_detail)


class _EarlyRows:
    """The rows of 明细 for an early book (see aggregate_xlsx.EarlyBook), in input order
    although the files come back from the workers in any order (a few chunks are held), each
    with the status its file has when read. :meth:`final` tells whether the statuses the
    rows were written with are the final ones."""

    def __init__(self, book, roster: Roster | None, include_failed: bool):
        self.book, self.ros, self.include_failed = book, roster, include_failed
        self.held: dict[int, tuple | None] = {}
        self.next = 0
        self.written = bytearray()  # status rank of every row written, in input order
        self.ok = True

    def put(self, idx: int, row: tuple | None) -> None:
        self.held[idx] = row
        while self.next in self.held:
            row = self.held.pop(self.next)
            self.next += 1
            if row is not None and self.ok:
                self._write(*row)

    def _write(self, name, ridx, status, file, form, vals) -> None:
        if status in (UNREADABLE, EMPTY):
            return  # not in 明细
        if self.ros is not None and ridx is None:
            status = NOT_IN_ROSTER  # as _settle will say
        summed = status in (PASSED, WARNINGS) or (status == FAILED and self.include_failed)
        category = self.ros.category(ridx) if ridx is not None and self.ros else ""
        if self.book.row(name, category, STATUS_ZH[status], summed, file, form, vals):
            self.written.append(_RANK[status])
        else:
            self.ok = False

    def final(self, u: Units) -> bool:
        """After _settle: was every row written with its final status, under the winning form?"""
        if not self.ok or self.held or self.book.spec is None or self.book.spec.version != u.form:
            return False
        out = {_RANK[UNREADABLE], _RANK[EMPTY]}
        final = bytearray(u.status[i] for i in range(len(u)) if u.offsets[i] >= 0 and u.status[i] not in out)
        return final == self.written


# ---------------------------------------------------------------- JSON
def to_json(res: Result) -> str:
    def nums(d: dict) -> dict:
        return {k: _json_num(v) for k, v in d.items()}

    findings = [{"unit": COUNTY, "file": None, **f.to_dict()} for f in res.county.findings]
    for e in res.entries:
        for f in res.findings(e):
            findings.append({"unit": e.name, "file": e.file or None, **f.to_dict()})
    counts = res.counts()
    doc = {
        "form": res.form, "form_id": res.spec.form_id, "year": res.year,
        "units": [e.to_dict() for e in res.entries],
        "sums": nums(res.sums),
        "categories": {c: {"units": n, "sums": nums(s)} for c, (n, s) in res.categories.items()},
        "findings": findings,
        "summary": {"units": len(res.entries), "summed": len(res.summed),
                    "statuses": counts, "county_errors": res.county.errors,
                    "county_warnings": res.county.warnings, "skipped": len(res.skipped)},
        "skipped": [{"path": p, "reason": why} for p, why in res.skipped],
    }
    from .render import dumps

    return dumps(doc)


def summary_line(res: Result) -> str:
    parts = [f"{STATUS_ZH[s]} {n}" for s, n in res.counts().items() if n]
    return (f"共 {len(res.entries)} 行（{'，'.join(parts) or '无'}）；计入汇总 {len(res.summed)} 个单位；"
            f"汇总表校验：错误 {res.county.errors}，警告 {res.county.warnings}；跳过 {len(res.skipped)} 个文件。")


def print_text(res: Result, output: Path | None, console=None, limit: int = 200) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    con = console or Console(highlight=False)
    colours = {PASSED: "green", WARNINGS: "yellow", DUPLICATE: "magenta", NOT_IN_ROSTER: "magenta"}
    shown = islice((e for e in res.entries if e.status != PASSED), limit)
    rows = list(shown)
    if rows:
        t = Table(show_header=True, header_style="bold")
        for col in ("单位名称", "状态", "错误", "警告", "文件", "说明"):
            t.add_column(col, overflow="fold")
        for e in rows:
            c = colours.get(e.status, "red")
            t.add_row(escape(e.name), f"[{c}]{e.status_zh}[/]", str(e.errors), str(e.warnings),
                      escape(e.file), escape(e.note))
        con.print(t)
        more = len(res.entries) - res.counts()[PASSED] - len(rows)
        if more > 0:
            con.print(f"……另有 {more} 行，见汇总表“报送情况”。")
    for f in res.county.findings:
        sev = "[red]错误[/]" if f.is_error else "[yellow]警告[/]"
        con.print(f"{COUNTY} {sev} [{f.code}] {escape(f.message)}")
    if len(res.units) == sum(1 for s in res.units.status if s == _RANK[MISSING]):
        con.print("[yellow]没有找到任何填报表（.xlsx、.xlsm、.xls 或 .zip）[/]")
    con.print(summary_line(res))
    if output is not None:
        con.print(f"汇总表已写入：{escape(str(output))}")

"""Reading, identifying, settling and summing: :func:`aggregate` and its :class:`Result`."""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import chain
from pathlib import Path

from ..findings import Finding
from ..model import Report
from ..spec import Spec, form_for_year, get_spec
from ..vocab import Status
from .coverage import Coverage
from .previous import Previous, previous_findings
from .status import (
    COUNTY,
    DUPLICATE,
    EMPTY,
    FAILED,
    MISSING,
    NO_ROSTER,
    NOT_IN_ROSTER,
    PASSED,
    STATUS_ORDER,
    UNCATEGORISED,
    UNREADABLE,
    WARNINGS,
    WRONG_FORM,
    WRONG_YEAR,
    date_key,
)
from .stream import compact_values, stream_reports
from .units import DETAILS, Entry, Roster, Rows, Spool, Units

SKIP_MIXED = "nianbao 生成的汇总表，不与单位填报表一起汇总，已跳过（如需一并汇总请加 --mixed）"


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
    unit: str = ""  # whose aggregate this is (``--unit``, e.g. 某县人民政府): its report's author

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
        return dict(zip(get_spec(e.form).cells, vals, strict=False)) if vals else {}

    def value_tuple(self, e: Entry) -> tuple | None:
        """The entry's values in the order of its form's cells (see stream.compact_values)."""
        return self.spool.get(e.spool)[0] if e.spool >= 0 else None

    def findings(self, e: Entry) -> list[Finding]:
        return self.spool.get(e.spool)[1] if e.spool >= 0 else []

    def counts(self) -> dict[str, int]:
        c = Counter(self.units.status)
        return {s: c.get(s.rank, 0) for s in STATUS_ORDER}

    def coverage(self) -> Coverage:
        """How many of the units that should be in the sums are (duplicates and units off the
        roster are no units of their own)."""
        c = self.counts()
        expected = sum(n for s, n in c.items() if s not in (DUPLICATE, NOT_IN_ROSTER))
        left = {s: n for s, n in c.items() if n and s not in (PASSED, WARNINGS, DUPLICATE, NOT_IN_ROSTER)}
        failed_in = c[FAILED] if self.include_failed else 0
        if failed_in:
            left.pop(FAILED, None)
        return Coverage(len(self.summed), expected, left, failed_in)

    def has_problems(self) -> bool:
        ok = {PASSED.rank, WARNINGS.rank}
        return any(s not in ok for s in self.units.status) or self.county.errors > 0

    def close(self) -> None:
        self.spool.close()


def _reason(report: Report) -> str:
    """Why a file could not be read, without the file name the message starts with."""
    msg = report.findings[0].message if report.findings else UNREADABLE.zh
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
    base = {s.rank for s in (PASSED, WARNINGS, FAILED)}  # rows read and checked
    usable = Counter(
        u.fy[i]
        for i in range(len(u))
        if u.status[i] in base and u.fys[u.fy[i]][0] and (ros is None or u.roster[i] != NO_ROSTER)
    )
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
            u.status[i] = NOT_IN_ROSTER.rank
        elif f != form:
            u.status[i] = WRONG_FORM.rank
        elif year is not None and y is not None and y != year:
            u.status[i] = WRONG_YEAR.rank
    # Sorting by unit brings a unit's files together (duplicates are neighbours); the sort
    # keys are the names already held (no key object is built per row).
    order = sorted(range(len(u)), key=lambda i: u.norms.get(i) or u.names[i])
    order.sort(key=lambda i: u.roster[i] if u.roster[i] != NO_ROSTER else 1 << 30)
    run: list[int] = []
    unreadable = UNREADABLE.rank  # loses to any file of the unit that was read
    for i in chain(order, [None]):
        if run and (i is None or u.group(i) != u.group(run[0])):
            if len(run) > 1 and any(u.status[j] in base for j in run):
                _duplicates(u, run, base)
            run = []
        if i is not None and (u.status[i] in base or u.status[i] == unreadable):
            run.append(i)
    order.sort(key=u.status.__getitem__)  # problems first; stable, so by unit within a status
    u.order = array("i", order)


def _duplicates(u: Units, rows: list[int], read: set[int]) -> None:
    """Several files of one unit: a file that was read wins over one that could not be; then
    the latest 填报日期 wins; the file's modification time stands in or breaks ties, then the
    input order."""

    def newest(i: int):
        d = u.details(i)
        mtime = d[DETAILS.index("mtime")]
        day = date_key(d[DETAILS.index("date")]) or (date.fromtimestamp(mtime) if mtime > 0 else date.min)
        return u.status[i] in read, day, mtime, i

    rows = sorted(rows, key=newest, reverse=True)
    for i in rows[1:]:
        u.status[i] = DUPLICATE.rank
        u.winner[i] = rows[0]


def _status(report: Report) -> Status:
    """The row status of a file as read and checked (before settling)."""
    if report.unreadable:
        return UNREADABLE
    if report.empty:
        return EMPTY
    if report.errors:
        return FAILED
    return WARNINGS if report.warnings else PASSED


@dataclass
class _Intake:
    """What reading the inputs gathers: each checked file becomes a row of ``units`` and a
    record in the spool; outputs found among the inputs are skipped; annotated copies made."""

    units: Units
    previous: Previous | None
    annotate_dir: Path | None
    force: bool
    detail: _EarlyRows | None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)  # input rows that turned out to be our own outputs
    messages: list[str] = field(default_factory=list)
    annotate_failed: bool = False
    aggregates: list[tuple[int, str]] = field(default_factory=list)  # lower levels' aggregates read
    returns: int = 0  # units' own returns read

    def unmix(self, mixed: bool) -> None:
        """Aggregates and units' returns are not summed together unless ``mixed``: among
        returns, aggregates (such as last run's output left in the folder) are skipped."""
        if mixed or not self.aggregates or not self.returns:
            return
        for idx, path in self.aggregates:
            self.skipped.append((path, SKIP_MIXED))
            self.dropped.append(idx)

    def feed(self, paths: list[Path]):
        """The inputs under ``paths``; what the walk skips is noted."""
        from ..inputs import READ_AGGREGATES, SKIPPED, UNSUPPORTED, iter_collect

        for tag, x in iter_collect(paths, defer_output_check=True):
            if tag == SKIPPED:
                self.skipped.append(x)
                continue
            if tag == UNSUPPORTED:
                x.error = "不支持的文件类型"  # read as unreadable, with the other files
            if x.output_check:
                x.output_check = READ_AGGREGATES  # a lower level's aggregate is a unit of a roll-up
            yield x

    def _annotated(self, item, report: Report) -> str:
        """The annotated copy of a file with errors (when asked for): its path, or ""."""
        from ..pipeline import annotate_one

        if self.annotate_dir is None or not report.errors or report.unreadable:
            return ""
        report.input = item
        res = annotate_one(report, Path(self.annotate_dir), force=self.force)
        self.messages.append(res.markup())
        self.annotate_failed |= not res.ok
        return str(res.target) if res.made else ""

    def _is_output(self, item) -> bool:
        """Is ``item`` the file this run writes (a roll-up run again with --force)?"""
        out = getattr(getattr(self.detail, "book", None), "out", None)
        path = getattr(item, "path", None)
        try:
            return out is not None and path is not None and Path(path).resolve() == Path(out).resolve()
        except OSError:
            return False

    def _kind(self, idx: int, report: Report) -> str:
        """Note a lower level's aggregate (a unit of this one, named by its --unit) or a unit's
        return; for an aggregate, the units it covers (计入 37/40 个单位), flagged (NB008) when
        they are not all of them."""
        if report.source != "aggregate":
            self.returns += not report.unreadable
            return ""
        from ..findings import make

        self.aggregates.append((idx, report.path))
        if self.detail:
            self.detail.ok = False  # 明细 is written afresh once it is known whether it counts
        if report.unit == COUNTY:
            report.unit = ""  # made without --unit: named after its file
        cov = report.coverage
        if cov is None:
            return "下级汇总表"
        if not cov.complete:
            report.findings.append(make("NB008", f"该汇总表{cov.text()}，不是全部单位的合计"))
        return f"下级汇总表，{cov.text()}"

    def put(self, idx: int, item, report: Report) -> None:
        """Reduce one checked file to its row and spool record."""
        if report.source == "aggregate" and self._is_output(item):
            from ..inputs import SKIP_OUTPUT

            report.skipped = SKIP_OUTPUT  # last run's output, about to be replaced: never a unit
        if report.skipped:  # one of our own outputs (the reader looked at its properties)
            self.skipped.append((report.path, report.skipped))
            self.dropped.append(idx)
            if self.detail:
                self.detail.put(idx, None)
            return
        covers = self._kind(idx, report)
        ros, prev = self.units.ros, self.previous
        name, ridx, reported = _identify(item, report, ros)
        level = ros.level(ridx) if ros is not None and ridx is not None else None
        if level and report.form and not report.unreadable and not report.empty:
            from ..checks import apply_level

            apply_level(report, get_spec(report.form), level)
        if prev is not None and report.form and not report.unreadable and not report.empty:
            spec = get_spec(report.form)
            report.findings.extend(previous_findings(report, spec, prev.for_unit(name, ros)))
        annotated = self._annotated(item, report)
        vals = report.compact if report.compact is not None else compact_values(report)
        mtime = report.mtime or (item.mtime if item is not None else 0.0) or 0.0
        details = (
            report.path,
            reported if reported != name else "",
            report.filler,
            report.phone,
            str(report.date or ""),
            mtime,
            report.errors,
            report.warnings,
            annotated,
            _reason(report) if report.unreadable else covers,
        )
        status = _status(report)
        spooled = self.units.spool.put(details, vals, report.findings)
        self.units.put(idx, name, status, ridx, report.form, report.year, spooled)
        if self.detail:
            self.detail.put(idx, (name, ridx, status, report.path, report.form, vals, str(report.date or "")))


def _sums(units: Units, spec: Spec) -> tuple[dict[str, Decimal], dict[str, tuple[int, dict]]]:
    """The county sums over the units that count, and per 类别 (units, sums) when the roster
    has categories."""
    ros, spool = units.ros, units.spool
    keys = list(spec.cells)
    zero = [0] * len(keys)
    total = zero  # column sums; ints and Decimals add up exactly together
    cats: dict[str, list] = {}  # 类别 -> [units, column sums]
    for i in units.order:
        if not units.summed(i):
            continue
        vals = spool.get(units.offsets[i])[0]
        total = [t if v is None else t + v for t, v in zip(total, vals, strict=False)]
        if ros is not None and ros.has_category:
            bucket = cats.setdefault(ros.category(units.roster[i]) or UNCATEGORISED, [0, zero])
            bucket[0] += 1
            bucket[1] = [t if v is None else t + v for t, v in zip(bucket[1], vals, strict=False)]
    sums = {k: Decimal(t) for k, t in zip(keys, total, strict=False)}
    return sums, {
        c: (n, {k: Decimal(t) for k, t in zip(keys, col, strict=False)}) for c, (n, col) in cats.items()
    }


def _county(spec: Spec, form: str, year: int | None, sums: dict, previous, blank: str) -> Report:
    """The county sums as a report, checked like a unit's (without error localisation)."""
    from ..checks import run_checks
    from .sheets import county_where

    county = Report(
        path=COUNTY,
        form=form,
        unit=COUNTY,
        year=year,
        values=dict(sums),
        where=county_where(spec),
        source="aggregate",
    )
    run_checks(county, spec, previous.county if previous else None, blank, localise=False)
    return county


def aggregate(
    paths: list[Path],
    *,
    roster: list[dict] | Roster | None = None,
    previous: Previous | None = None,
    annotate_dir: Path | None = None,
    include_failed: bool = False,
    year: int | None = None,
    blank: str = "zero",
    force: bool = False,
    progress_factory=None,
    jobs: int | None = None,
    early=None,
    mixed: bool = False,
) -> Result:
    """Read, check, identify, settle and sum. The caller writes the outputs and calls close().

    Inputs are streamed (:func:`inputs.iter_collect`): each file is read and checked, reduced
    to a row of :class:`Units` and a record in the spool, and forgotten. ``early`` (an
    :class:`aggregate.workbook.EarlyBook`) gets the rows of 明细 in input order as the files are
    read; ``Result.early_detail`` tells whether they turned out final. Aggregates made here are
    read as units of a roll-up (a city of its counties' 汇总.xlsx) when no unit's return is among
    the inputs, or with ``mixed``; annotated copies are always skipped."""
    from ..inputs import count_inputs

    ros = Roster(roster) if isinstance(roster, list) else roster
    paths = [Path(p) for p in paths]
    units = Units(Spool(), ros)
    detail = _EarlyRows(early, ros, include_failed) if early is not None else None
    got = _Intake(units, previous, annotate_dir, force, detail)
    total = count_inputs(paths) if progress_factory else 0
    bar = progress_factory(total) if progress_factory and total else None
    try:
        lean = "compact" if previous is None and annotate_dir is None else None
        for idx, item, report in stream_reports(
            got.feed(paths), blank, jobs, bar.advance if bar else None, shape=lean
        ):
            got.put(idx, item, report)
    finally:
        if bar:
            bar.close()
    got.unmix(mixed)
    units.compact(got.dropped)
    if ros is not None:
        have = set(units.roster)
        for i in range(len(ros)):
            if i not in have:
                units.put(len(units), ros.name(i), MISSING, i)
    _settle(units, year, include_failed)
    early_detail = detail is not None and detail.final(units)
    spec = get_spec(units.form)
    sums, cats = _sums(units, spec)
    return Result(
        spec=spec,
        year=units.year,
        units=units,
        sums=sums,
        categories=cats,
        county=_county(spec, units.form, units.year, sums, previous, blank),
        skipped=got.skipped,
        roster=ros,
        spool=units.spool,
        include_failed=include_failed,
        annotate_messages=got.messages,
        annotate_failed=got.annotate_failed,
        early_detail=early_detail,
    )


class _EarlyRows:
    """The rows of 明细 for an early book (see aggregate.workbook.EarlyBook), in input order
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

    def _write(self, name, ridx, status, file, form, vals, date="") -> None:
        if status in (UNREADABLE, EMPTY):
            return  # not in 明细
        if not vals:  # read, yet no values: let the workbook be written afresh
            self.ok = False
            return
        if self.ros is not None and ridx is None:
            status = NOT_IN_ROSTER  # as _settle will say
        summed = status in (PASSED, WARNINGS) or (status == FAILED and self.include_failed)
        category = self.ros.category(ridx) if ridx is not None and self.ros else ""
        if self.book.row(name, category, status.zh, summed, file, form, vals, date):
            self.written.append(status.rank)
        else:
            self.ok = False

    def final(self, u: Units) -> bool:
        """After _settle: was every row written with its final status, under the winning form?"""
        if not self.ok or self.held or self.book.spec is None or self.book.spec.version != u.form:
            return False
        out = {UNREADABLE.rank, EMPTY.rank}
        final = bytearray(u.status[i] for i in range(len(u)) if u.offsets[i] >= 0 and u.status[i] not in out)
        return final == self.written

"""Read and check a batch of inputs: every input gets a Report, whatever happens to it.

Work is spread over the CPU cores in worker processes. A worker that dies (a native library
aborting on a hostile file) is reported against the file it was reading; the batch goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from .model import Report, internal_error_report, unreadable_report
from .vocab import Incident, Status

PARALLEL_MIN = 16  # below this many files a pool costs more than it saves
CHUNK = 32


def read_and_check(item, blank: str = "zero", previous: Report | None = None) -> Report:
    """Read one input and run the checks of its form. Never raises."""
    from .checks import run_checks
    from .reader import read_report
    from .spec import get_spec

    try:
        report = read_report(item)
        if not report.unreadable and report.form:
            run_checks(report, get_spec(report.form), previous, blank)
        return report
    except Exception as exc:
        return internal_error_report(item.display, exc)


def _slim(report: Report) -> Report:
    """What crosses back from a worker for check/annotate: the findings and the cover, not the
    200 values and their cell map (aggregate streams values through its own path)."""
    report.values, report.where, report.blank, report.invalid = {}, {}, [], set()
    return report


def compact_values(report: Report) -> tuple | None:
    """The values as aggregate keeps them: a tuple in the spec's cell order, whole numbers as
    int (small ints are shared objects), others as Decimal; None when there are none."""
    if not report.form or report.unreadable:
        return None
    from .spec import get_spec

    vals = report.values
    return tuple(
        None if v is None else int(v) if v == v.to_integral_value() else v
        for v in map(vals.get, get_spec(report.form).cells)
    )


def _compact(report: Report) -> Report:
    """For aggregate without last year's data or annotated copies: the values as the tuple it
    keeps (worked out in the worker), no cell map."""
    report.compact = compact_values(report)
    return _slim(report)


_SHAPES = {True: _slim, "slim": _slim, "compact": _compact}


def read_chunk(args) -> list[Report]:
    items, blank, previous, shape = (*args, False)[:4]
    out = [read_and_check(i, blank, previous) for i in items]
    shrink = _SHAPES.get(shape)
    return [shrink(r) for r in out] if shrink else out


def _warm() -> None:
    """Import the reader and load the specs before the pool forks, so workers inherit them."""
    from . import checks, reader  # noqa: F401
    from .layout import workbook_layout
    from .spec import all_specs

    for spec in all_specs():
        workbook_layout(spec)


def _chunks(items: list, jobs: int) -> list[list]:
    """Chunks of at most CHUNK items, shrinking towards the end of the batch (guided
    scheduling): no worker is left with a long last chunk while the others sit idle."""
    out, i, n = [], 0, len(items)
    while i < n:
        size = max(1, min(CHUNK, (n - i) // (jobs * 4)))
        out.append(items[i : i + size])
        i += size
    return out


def read_isolated(item, blank, previous) -> Report:
    """Run one item in its own process, so that a crash is pinned on this file."""
    try:
        with ProcessPoolExecutor(max_workers=1) as ex:
            return ex.submit(read_chunk, ([item], blank, previous)).result()[0]
    except BrokenProcessPool:
        return unreadable_report(
            item.display, "读取时程序异常退出（文件可能已损坏或含有异常巨大的区域），已跳过"
        )


def process(
    items: list,
    blank: str = "zero",
    previous: Report | None = None,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    slim: bool = False,
) -> Iterator[Report]:
    """Yield one Report per item, in input order (``slim``: findings only, see _slim)."""
    jobs = jobs or os.cpu_count() or 1
    if len(items) < PARALLEL_MIN or jobs == 1:
        for it in items:
            # in this process: the reader pre-scans every sheet part (sizes, far-away cells)
            # before python-calamine sees it, so a hostile file cannot abort the interpreter
            yield read_and_check(it, blank, previous)
            if progress:
                progress(1)
        return
    _warm()
    chunks = _chunks(items, jobs)
    results: dict[int, list[Report]] = {}
    broken: list[int] = []
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        futs = {ex.submit(read_chunk, (c, blank, previous, slim)): n for n, c in enumerate(chunks)}
        for fut in as_completed(futs):
            n = futs[fut]
            try:
                results[n] = fut.result()
            except BrokenProcessPool:
                broken.append(n)
            except Exception as exc:
                results[n] = [internal_error_report(i.display, exc) for i in chunks[n]]
            if progress:
                progress(len(chunks[n]))
    for n in broken:
        results[n] = [read_isolated(i, blank, previous) for i in chunks[n]]
    for n in range(len(chunks)):
        yield from results[n]


def collect_reports(
    paths: Iterable[Path],
    blank: str = "zero",
    previous: Report | None = None,
    progress_factory=None,
    slim: bool = True,
):
    """(reports, skipped) for the user's paths: files, folders and zips. ``slim`` reports carry
    findings and cover fields but not the values (nothing downstream of check needs them)."""
    from .inputs import collect

    col = collect([Path(p) for p in paths], defer_output_check=True)
    reports: list[Report] = []
    skipped = list(col.skipped)
    items = list(col.items)
    bar = progress_factory(len(items)) if progress_factory else None
    for item, r in zip(
        items, process(items, blank, previous, progress=bar.advance if bar else None, slim=slim), strict=False
    ):
        if r.skipped:  # one of our own outputs, found by the reader
            skipped.append((r.path, r.skipped))
            continue
        r.input = item
        reports.append(r)
    if bar:
        bar.close()
    for it in col.unsupported:
        reports.append(unreadable_report(it.display, "不支持的文件类型"))
    return reports, skipped


def load_previous(path: Path | None) -> Report | None:
    """Last year's data for the year-over-year rules (a unit workbook or an aggregate)."""
    if path is None:
        return None
    from .inputs import collect
    from .reader import read_report

    col = collect([Path(path)], skip_outputs=False)  # last year's aggregate is one of ours
    if not col.items:
        raise FileNotFoundError(str(path))
    return read_report(col.items[0])


@dataclass
class Annotation:
    """What became of one report's annotated copy: written to ``target``, or not (``reason``).
    ``ok`` is False only when an output could not be written (exit code 2)."""

    path: str  # the report's path as shown
    target: Path | None = None
    reason: str = ""  # plain text: why no copy was made
    notes: int = 0  # items of the input that the copy could not keep
    ok: bool = True
    minor: bool = False  # not made because the input is not a workbook (not a problem)

    @property
    def made(self) -> bool:
        return self.target is not None

    @property
    def text(self) -> str:
        """The line for the user, plain text."""
        if self.target is None:
            return f"未生成 {self.path}：{self.reason}"
        extra = f"（{self.notes} 项内容未能保留，见“审核结果”页）" if self.notes else ""
        return f"已生成 {self.target}{extra}"

    def markup(self) -> str:
        """The line for the user as rich markup (the user's paths and messages are escaped)."""
        from rich.markup import escape

        if self.target is None:
            colour = "yellow" if self.minor else "red"
            return f"[{colour}]未生成[/] {escape(self.path)}：{escape(self.reason)}"
        return escape(self.text)


def annotate_one(report: Report, out_dir: Path, force: bool = False) -> Annotation:
    """Write the annotated copy of one checked report (the input it was read from is
    ``report.input``)."""
    from .annotate import AnnotateError, annotate_workbook, output_name
    from .fileio import OutputError
    from .inputs import SPREADSHEET_SUFFIXES

    item = report.input

    def failed(text: str, ok: bool = True) -> Annotation:
        text = text[len(report.path) + 1 :] if text.startswith(report.path + "：") else text
        return Annotation(report.path, reason=text, ok=ok)

    if report.unreadable or item is None:
        return failed(report.findings[0].message if report.findings else Status.UNREADABLE.zh)
    if item.suffix not in SPREADSHEET_SUFFIXES:
        return Annotation(report.path, reason="只为 Excel 填报表生成批注副本", minor=True)
    target = Path(out_dir) / output_name(item.name)
    try:
        src = item.data if item.data is not None else Path(item.path).read_bytes()
        notes = annotate_workbook(src, item.name, report, target, force=force)
    except AnnotateError as e:  # the input cannot be annotated: an input problem (exit 1)
        return failed(str(e))
    except OutputError as e:
        return failed(str(e), ok=False)
    except Exception as exc:
        return failed(f"生成批注副本时出错（{Incident.of(exc)}）")
    return Annotation(report.path, target=target, notes=len(notes))

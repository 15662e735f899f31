"""Read and check a batch of inputs: every input gets a Report, whatever happens to it.

The batch runs through :func:`nianbao.engine.run_batch` (worker processes, crash isolation);
this module says what is done to each input and what an input that failed or crashed reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from .engine import run_batch
from .model import Report, internal_error_report, unreadable_report
from .vocab import Incident, Status

CRASHED = "读取时程序异常退出（文件可能已损坏或含有异常巨大的区域），已跳过"


def failed_input(item, exc: BaseException) -> Report:
    """The report of an input whose reading raised (for :func:`engine.run_batch`)."""
    return internal_error_report(item.display, exc)


def crashed_input(item) -> Report:
    """The report of an input whose worker process died (for :func:`engine.run_batch`)."""
    return unreadable_report(item.display, CRASHED)


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


def slim_report(report: Report) -> Report:
    """What crosses back from a worker for check/annotate: the findings and the cover, not the
    200 values and their cell map."""
    report.values, report.where, report.blank, report.invalid = {}, {}, [], set()
    return report


def read_slim(item, blank: str = "zero", previous: Report | None = None) -> Report:
    return slim_report(read_and_check(item, blank, previous))


def warm() -> None:
    """Import the reader and load the specs before the pool forks, so workers inherit them."""
    from . import checks, reader  # noqa: F401
    from .layout import workbook_layout
    from .spec import all_specs

    for spec in all_specs():
        workbook_layout(spec)


def process(
    items: list,
    blank: str = "zero",
    previous: Report | None = None,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    slim: bool = False,
) -> Iterator[Report]:
    """Yield one Report per item, in input order (``slim``: findings only, see :func:`slim_report`)."""
    work = partial(read_slim if slim else read_and_check, blank=blank, previous=previous)
    for _, _, report in run_batch(
        items, work, failed=failed_input, crashed=crashed_input, jobs=jobs, progress=progress, warm=warm
    ):
        yield report


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
    from .guard import ANNOTATABLE_SUFFIXES

    item = report.input

    def failed(text: str, ok: bool = True) -> Annotation:
        text = text[len(report.path) + 1 :] if text.startswith(report.path + "：") else text
        return Annotation(report.path, reason=text, ok=ok)

    if report.unreadable or item is None:
        return failed(report.findings[0].message if report.findings else Status.UNREADABLE.zh)
    if item.suffix not in ANNOTATABLE_SUFFIXES:
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

"""Reading and checking the inputs of an aggregate, one result at a time, and the values as
aggregate keeps them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

from ..engine import run_batch
from ..model import Report
from ..pipeline import crashed_input, failed_input, read_and_check, slim_report
from ..spec import all_specs, get_spec


def compact_values(report: Report) -> tuple | None:
    """The values as aggregate keeps them: a tuple in the spec's cell order, whole numbers as
    int (small ints are shared objects), others as Decimal; None when there are none."""
    if not report.form or report.unreadable:
        return None
    vals = report.values
    return tuple(
        None if v is None else int(v) if v == v.to_integral_value() else v
        for v in map(vals.get, get_spec(report.form).cells)
    )


def read_compact(item, blank: str = "zero") -> Report:
    """For aggregate without last year's data or annotated copies: the values as the tuple it
    keeps (worked out in the worker, see :func:`compact_values`), no cell map."""
    report = read_and_check(item, blank)
    report.compact = compact_values(report)
    return slim_report(report)


def _warm() -> None:
    from .. import checks, reader  # noqa: F401 - loaded once here, inherited by forked workers

    all_specs()


def stream_reports(
    items: Iterable,
    blank: str = "zero",
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
    shape=None,
) -> Iterator[tuple[int, object, Report]]:
    """Yield (index, item, checked Report) for every item as soon as it is done (any order).
    ``shape`` "compact": reports carry their values only as ``compact`` (see
    :func:`read_compact`), without the cell map.

    ``items`` may be any iterable (a generator keeps memory flat): at most a few chunks per
    worker are in flight (see :func:`nianbao.engine.run_batch`)."""
    work = partial(read_compact if shape == "compact" else read_and_check, blank=blank)
    return run_batch(
        items,
        work,
        failed=failed_input,
        crashed=crashed_input,
        ordered=False,
        jobs=jobs,
        progress=progress,
        parallel=parallel,
        warm=_warm,
    )

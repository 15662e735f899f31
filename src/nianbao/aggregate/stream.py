"""Reading and checking the inputs in worker processes, one result at a time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice

from ..model import Report, internal_error_report
from ..spec import all_specs


# ---------------------------------------------------------------- reading, streamed
def stream_reports(
    items: Iterable,
    blank: str = "zero",
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
    shape=None,
) -> Iterator[tuple[int, object, Report]]:
    """Yield (index, item, checked Report) for every item as soon as it is done (any order).
    ``shape`` "compact": reports from the workers carry their values only as
    ``meta["compact"]`` (see :func:`pipeline.compact_values`), without the cell map.

    ``items`` may be any iterable (a generator keeps memory flat). Unlike
    :func:`pipeline.process` nothing is accumulated: at most a few chunks per worker are in
    flight. A worker that dies is pinned on its file by re-running the suspects one by one.
    """
    from ..pipeline import (
        CHUNK,
        PARALLEL_MIN,
        read_and_check,
        read_chunk,
        read_isolated,
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
    from .. import checks, reader  # noqa: F401 - loaded once here, inherited by forked workers

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
                    pending[ex.submit(read_chunk, ([x for _, x in chunk], blank, None, shape))] = chunk
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
                    except Exception as exc:
                        reports = [internal_error_report(x.display, exc) for _, x in chunk]
                    for (i, x), r in zip(chunk, reports, strict=False):
                        yield i, x, r
                    if progress:
                        progress(len(chunk))
            redo.extend(pending.values())
        if not redo:
            return
        for chunk in redo:
            for i, x in chunk:
                yield i, x, read_isolated(x, blank, None)
                if progress:
                    progress(1)
        redo = []

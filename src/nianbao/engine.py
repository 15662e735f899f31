"""The batch engine: one piece of work run over every input of a batch, a result for each.

check, annotate, aggregate, import and the web app all read their batches through
:func:`run_batch`. Large batches are spread over the CPU cores in worker processes; results come
back in input order (``ordered``) or as soon as they are done. Crash isolation lives here and
nowhere else: work that raises becomes that input's ``failed`` result, and a worker process
that dies (a native library aborting on a hostile file) is pinned on its file by running the
inputs that were in flight again one by one, each in a process of its own; the batch goes on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import chain, islice
from typing import Any

PARALLEL_MIN = 16  # below this many inputs a pool costs more than it saves
CHUNK = 32  # inputs sent to a worker at once (at most)

Work = Callable[[Any], Any]  # input -> result; must pickle (a module-level function or a partial)
Failed = Callable[[Any, BaseException], Any]  # (input, exception) -> the input's result
Crashed = Callable[[Any], Any]  # input whose worker died -> its result


def run_chunk(work: Work, items: list, failed: Failed) -> list:
    """Run ``work`` on each item (in a worker, or here); an exception costs only its item."""
    out = []
    for item in items:
        try:
            out.append(work(item))
        except Exception as exc:
            out.append(failed(item, exc))
    return out


def run_isolated(work: Work, item, failed: Failed, crashed: Crashed, initializer=None):
    """Run one item in a process of its own, so that a crash is pinned on this input."""
    try:
        with ProcessPoolExecutor(max_workers=1, initializer=initializer) as ex:
            return ex.submit(run_chunk, work, [item], failed).result()[0]
    except BrokenProcessPool:
        return crashed(item)


def _chunks(it: Iterator[tuple[int, Any]], total: int | None, jobs: int) -> Iterator[list]:
    """Chunks of at most CHUNK (index, item) pairs. With a known total they shrink towards the
    end of the batch (guided scheduling): no worker is left with a long last chunk while the
    others sit idle."""
    left = total
    while True:
        size = CHUNK if left is None else max(1, min(CHUNK, left // (jobs * 4)))
        chunk = list(islice(it, size))
        if not chunk:
            return
        if left is not None:
            left -= len(chunk)
        yield chunk


def _pooled(
    chunks: Iterator[list], work, failed, crashed, jobs: int, progress, initializer
) -> Iterator[tuple]:
    """(index, item, result) in the order they are done; at most a few chunks per worker are in
    flight, so a generator of inputs keeps memory flat."""
    window = jobs * 4
    redo: list[list[tuple[int, Any]]] = []  # chunks that were in flight when a worker died
    while True:
        with ProcessPoolExecutor(max_workers=jobs, initializer=initializer) as ex:
            pending: dict = {}
            broken = False
            while not broken:
                while len(pending) < window:
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    pending[ex.submit(run_chunk, work, [x for _, x in chunk], failed)] = chunk
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    chunk = pending.pop(fut)
                    try:
                        results = fut.result()
                    except BrokenProcessPool:
                        redo.append(chunk)
                        broken = True
                        continue
                    except Exception as exc:  # e.g. a result that does not pickle
                        results = [failed(x, exc) for _, x in chunk]
                    for (i, x), r in zip(chunk, results, strict=True):
                        yield i, x, r
                    if progress:
                        progress(len(chunk))
            redo.extend(pending.values())
        if not redo:
            return
        for chunk in redo:
            for i, x in chunk:
                yield i, x, run_isolated(work, x, failed, crashed, initializer)
                if progress:
                    progress(1)
        redo = []


def _in_order(results: Iterator[tuple]) -> Iterator[tuple]:
    held: dict[int, tuple] = {}
    nxt = 0
    for i, x, r in results:
        held[i] = (x, r)
        while nxt in held:
            x, r = held.pop(nxt)
            yield nxt, x, r
            nxt += 1


def run_batch(
    items: Iterable,
    work: Work,
    *,
    failed: Failed,
    crashed: Crashed,
    ordered: bool = True,
    jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool | None = None,
    warm: Callable[[], None] | None = None,
    initializer: Callable[[], None] | None = None,
) -> Iterator[tuple[int, Any, Any]]:
    """Yield (index, item, result) for every item: in input order when ``ordered``, else as each
    is done. ``parallel`` None: worker processes when there are at least PARALLEL_MIN items.
    ``warm`` runs once before the pool forks (imports and caches the workers then inherit).
    ``progress`` is called with the number of items just finished; ``initializer`` runs in
    each worker process as it starts."""
    jobs = jobs or os.cpu_count() or 1
    total = len(items) if isinstance(items, (list, tuple)) else None
    it = enumerate(items)
    if parallel is None:
        head = list(islice(it, PARALLEL_MIN))
        parallel = len(head) >= PARALLEL_MIN
        it = chain(head, it)
    if not parallel or jobs == 1:
        # in this process: the reader pre-scans every sheet part (sizes, far-away cells)
        # before python-calamine sees it, so a hostile file cannot abort the interpreter
        for i, x in it:
            yield i, x, run_chunk(work, [x], failed)[0]
            if progress:
                progress(1)
        return
    if warm is not None:
        warm()
    results = _pooled(_chunks(it, total, jobs), work, failed, crashed, jobs, progress, initializer)
    yield from _in_order(results) if ordered else results

"""Background work of the web app: checking a batch and aggregating it.

The server never reads a user's file itself. Each job runs in a child process
(``python -m nianbao.web batch|aggregate DIR``) started from one background thread, so a
hostile file that makes a native library abort, or a batch that needs much memory, can never
take the server down; the page polls the job's ``progress.json`` meanwhile. The child writes
the results into the job's ``manifest.json``; a job left unfinished by a restart is run again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..inputs import SPREADSHEET_SUFFIXES
from ..vocab import Incident
from .progress import ProgressFile
from .storage import DONE, FAILED, RUNNING, Storage, read_json, write_json

ANNOTATABLE = SPREADSHEET_SUFFIXES
CHECK_SHARE = 0.15  # of the progress bar: reading is fast, writing annotated copies is not


def _result(i: int, r, annotated: str | None, note: str) -> dict:
    d = r.to_dict()
    d.update(index=i, status_zh=r.outcome.zh, annotated=annotated, note=note)
    return d


def _annotate(args) -> tuple[int, str | None, str]:
    """Annotated copy of result i in its own folder: (i, path relative to the batch, message)."""
    from ..pipeline import annotate_one

    i, report, out, batch = args
    res = annotate_one(report, out, force=True)
    return i, (res.target.relative_to(batch).as_posix() if res.made else None), res.text


def annotate_all(folder: Path, todo: list, bar: ProgressFile) -> dict[int, tuple[str | None, str]]:
    """Write the annotated copies, spread over the CPU cores; a crashed worker costs only a note."""
    from concurrent.futures import ProcessPoolExecutor, as_completed

    args = [(i, r, folder / "annotated" / str(i), folder) for i, r in todo]
    out: dict[int, tuple[str | None, str]] = {}
    jobs = min(os.cpu_count() or 1, len(args))
    if jobs <= 1 or len(args) < 4:
        for a in args:
            i, rel, msg = _annotate(a)
            out[i] = (rel, msg)
            bar.advance()
        return out
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        futs = {ex.submit(_annotate, a): a[0] for a in args}
        for fut in as_completed(futs):
            try:
                i, rel, msg = fut.result()
                out[i] = (rel, msg)
            except Exception:
                out[futs[fut]] = (None, "生成批注副本时程序异常退出，未生成")
            bar.advance()
    return out


def run_batch(folder: Path) -> None:
    """Check every upload of the batch in ``folder`` and write its annotated copies."""
    from ..pipeline import collect_reports
    from ..render import summary

    m = read_json(folder / "manifest.json")
    m.update(state=RUNNING, error=None)
    write_json(folder / "manifest.json", m)
    os.chdir(folder / "uploads")  # so that every path shown is the uploaded name
    names = [Path(f["name"]) for f in m["files"] if (folder / "uploads" / f["name"]).is_file()]
    reports, skipped = collect_reports(
        names,
        m.get("blank", "zero"),
        None,
        progress_factory=lambda n: ProgressFile(folder, "正在读取并审核", n, 0, CHECK_SHARE),
    )
    todo = [
        (i, r)
        for i, r in enumerate(reports)
        if not r.unreadable and r.input is not None and str(r.input.suffix).lower() in ANNOTATABLE
    ]
    bar = ProgressFile(folder, "正在生成批注副本", len(todo), CHECK_SHARE, 1 - CHECK_SHARE)
    annotated = annotate_all(folder, todo, bar)
    bar.close()
    m["results"] = [_result(i, r, *annotated.get(i, (None, ""))) for i, r in enumerate(reports)]
    m["skipped"] = [{"path": str(p), "reason": why} for p, why in skipped]
    m["summary"] = summary(reports, skipped)
    m.update(state=DONE, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    write_json(folder / "manifest.json", m)


def run_aggregate(folder: Path) -> None:
    """Aggregate the uploads of the batch two levels up, with the roster/previous given."""
    from .aggregating import aggregate_batch

    m = read_json(folder / "manifest.json")
    m.update(state=RUNNING, error=None)
    write_json(folder / "manifest.json", m)
    m.update(aggregate_batch(folder.parent.parent / "uploads", folder, m))
    ProgressFile(folder, "汇总完成", 1, 1, 0).close()
    m.update(state=DONE, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    write_json(folder / "manifest.json", m)


def _fail(folder: Path, message: str) -> None:
    m = read_json(folder / "manifest.json") or {}
    m.update(state=FAILED, error=message)
    write_json(folder / "manifest.json", m)


class Runner:
    """Runs jobs one after another in a background thread, each in a child process."""

    def __init__(self, storage: Storage, timeout: float = 6 * 3600):
        self.storage, self.timeout = storage, timeout
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nianbao-job")
        self._lock = threading.Lock()
        self._pending: set[tuple[str, str | None]] = set()
        self._procs: set[subprocess.Popen] = set()
        self._closed = False

    def submit(self, batch_id: str, agg_id: str | None = None) -> None:
        key = (batch_id, agg_id)
        with self._lock:
            if key in self._pending or self._closed:
                return
            self._pending.add(key)
        self._pool.submit(self._run, key)

    def resume(self) -> None:
        for batch_id, agg_id in self.storage.unfinished():
            self.submit(batch_id, agg_id)

    def busy(self, batch_id: str, agg_id: str | None = None) -> bool:
        with self._lock:
            return (batch_id, agg_id) in self._pending

    def _run(self, key: tuple[str, str | None]) -> None:
        batch_id, agg_id = key
        try:
            folder = (
                self.storage.aggregate_dir(batch_id, agg_id) if agg_id else self.storage.batch_dir(batch_id)
            )
            if folder is None or self._closed:
                return
            kind = "aggregate" if agg_id else "batch"
            cmd = [sys.executable, "-m", "nianbao.web", kind, str(folder)]
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            with self._lock:
                self._procs.add(proc)
            try:
                _, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                _fail(folder, "处理超时，已停止。请把文件分成几批上传。")
                return
            finally:
                with self._lock:
                    self._procs.discard(proc)
            if self._closed:
                return
            state = (read_json(folder / "manifest.json") or {}).get("state")
            if proc.returncode == 0 and state in (DONE, FAILED):
                return
            incident = Incident.of()
            sys.stderr.write(
                f"[nianbao] 后台任务 {folder} 异常（退出码 {proc.returncode}，任务编号 {incident.ref}）：\n"
                + err.decode("utf-8", "replace")[-4000:]
                + "\n"
            )
            if state != FAILED:
                _fail(
                    folder,
                    f"处理过程意外中断（{incident}）。其他批次不受影响；"
                    "可以把文件分成几批重新上传，以找出有问题的文件。",
                )
        finally:
            with self._lock:
                self._pending.discard(key)

    def close(self) -> None:
        """Stop: running children are ended; unfinished jobs stay queued for the next start."""
        self._closed = True
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            p.kill()
        self._pool.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str]) -> int:
    from .aggregating import JobError

    kind, folder = argv[0], Path(argv[1])
    try:
        (run_batch if kind == "batch" else run_aggregate)(folder)
        return 0
    except JobError as e:
        _fail(folder, str(e))
        return 0
    except Exception as exc:
        import traceback

        incident = Incident.of(exc)
        sys.stderr.write(f"{Incident(incident.ref)}\n")
        traceback.print_exc()
        _fail(folder, f"处理时发生内部错误（{incident}）。请把文件与编号反馈给维护人员。")
        return 1

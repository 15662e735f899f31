"""Background work of the web app: checking a batch and aggregating it.

The server never reads a user's file itself. Each job runs in a worker process
(``python -m nianbao.web batch|aggregate DIR --data DATA --parent PID``) started from one
background thread, so a hostile file that makes a native library abort, or a batch that needs
much memory, can never take the server down; the page polls the job's ``progress.json``.

A worker holds its job's lease (:mod:`nianbao.web.leases`) while it runs and renews it, so one
job never has two workers, even across a crash and restart of the server. It watches the server
(:mod:`nianbao.web.watchdog`) and stops when the server is gone; its own pool processes watch it
the same way. A batch's results are stored as soon as every file is checked; annotated copies
follow (only for files with errors; a copy of a file that passed is made when asked for). A job
a stopped server left unfinished is continued by the next start, keeping the copies made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..guard import ANNOTATABLE_SUFFIXES
from ..vocab import Incident
from .leases import CANCELLED, LOST, OK, RENEW, TTL, Leases, job_key
from .progress import ProgressFile
from .storage import DONE, FAILED, RUNNING, Storage, read_json, write_json

CHECK_SHARE = 0.15  # of the progress bar: reading is fast, writing annotated copies is not
EXIT_BUSY = 75  # another worker holds the job's lease
EXIT_CANCELLED = 76  # the job was cancelled (its batch deleted) while running


def resumed_text(done: int, total: int) -> str:
    return f"服务重启后继续处理（已完成 {done}/{total}）"


# ---- the worker side ---------------------------------------------------------------------------
class Job:
    """A worker's hold on its job: the lease (renewed in a thread) and the watch on the server."""

    def __init__(self, data: Path, key: str, parent: int | None = None):
        self.leases, self.key, self.parent = Leases(data), key, parent
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()

    def start(self, wait: float = 3 * TTL) -> str:
        """Take the lease, waiting while a previous worker's lease runs out: OK, LOST or CANCELLED."""
        from .watchdog import watch_parent

        if self.parent:
            watch_parent(self.parent, on_gone=self._gone)
        end = time.monotonic() + wait
        got = self.leases.acquire(self.key, self.owner, os.getpid())
        while got == LOST and time.monotonic() < end:
            time.sleep(0.5)
            got = self.leases.acquire(self.key, self.owner, os.getpid())
        if got == OK:
            threading.Thread(target=self._renew, daemon=True, name="nianbao-lease").start()
        return got

    def _gone(self) -> None:
        """The server is gone: give the job up and end this worker with all its pool processes."""
        self.leases.release(self.key, self.owner)
        end_own_group()

    def _renew(self) -> None:
        while not self._stop.wait(RENEW):
            self.check()

    def check(self) -> None:
        """End this process at once if the job was cancelled or its lease taken over."""
        state = self.leases.renew(self.key, self.owner)
        if state != OK:
            self.leases.release(self.key, self.owner)
            end_own_group()
            os._exit(EXIT_CANCELLED if state == CANCELLED else EXIT_BUSY)

    def save(self, folder: Path, doc: dict) -> None:
        """Write the job's manifest, unless the job is no longer ours (never revive a deleted job)."""
        self.check()
        if (folder / "manifest.json").is_file():
            write_json(folder / "manifest.json", doc)

    def finish(self) -> None:
        self._stop.set()
        self.leases.release(self.key, self.owner)


def end_own_group() -> None:
    """POSIX: end this worker's process group (itself and its pool processes) at once, when the
    worker leads its own group (the Runner starts it so). Elsewhere the pool processes notice
    by themselves that the worker is gone (see watchdog.pool_initializer)."""
    if os.name == "posix" and os.getpgid(0) == os.getpid():
        import signal

        os.killpg(os.getpid(), signal.SIGKILL)


class _Unleased:
    """A job run directly (tests, tools): no lease, no watch."""

    def check(self) -> None:
        pass

    def save(self, folder: Path, doc: dict) -> None:
        write_json(folder / "manifest.json", doc)


def _annotatable(r) -> bool:
    return not r.unreadable and r.input is not None and r.input.suffix.lower() in ANNOTATABLE_SUFFIXES


def _result(i: int, r, annotated: str | None, note: str) -> dict:
    d = r.to_dict()
    d.update(index=i, status_zh=r.outcome.zh, annotated=annotated, note=note, can_annotate=_annotatable(r))
    return d


def existing_copy(folder: Path, i: int) -> str | None:
    """The annotated copy of result ``i`` a previous run finished (path relative to the batch)."""
    d = folder / "annotated" / str(i)
    made = sorted(p for p in d.glob("*") if p.is_file() and not p.name.startswith(".~")) if d.is_dir() else []
    return made[0].relative_to(folder).as_posix() if made else None


def _annotate(args) -> tuple[int, str | None, str]:
    """Annotated copy of result i in its own folder: (i, path relative to the batch, message)."""
    from ..pipeline import annotate_one

    i, report, out, batch = args
    res = annotate_one(report, out, force=True)
    return i, (res.target.relative_to(batch).as_posix() if res.made else None), res.text


NOT_ANNOTATED = "生成批注副本时程序异常退出，未生成"


def _not_annotated(args, exc: BaseException | None = None) -> tuple[int, None, str]:
    return args[0], None, NOT_ANNOTATED


def annotate_all(folder: Path, todo: list, bar: ProgressFile) -> dict[int, tuple[str | None, str]]:
    """Write the annotated copies through the batch engine, spread over the CPU cores; a crashed
    worker costs only its file's note."""
    from .. import engine
    from .watchdog import pool_initializer

    args = [(i, r, folder / "annotated" / str(i), folder) for i, r in todo]
    out: dict[int, tuple[str | None, str]] = {}
    done = engine.run_batch(
        args,
        _annotate,
        failed=_not_annotated,
        crashed=_not_annotated,
        ordered=False,
        jobs=min(os.cpu_count() or 1, len(args)),
        parallel=len(args) >= 4,
        progress=bar.advance,
        initializer=pool_initializer,
    )
    for _, _, (i, rel, msg) in done:
        out[i] = (rel, msg)
    return out


def check_batch(folder: Path, blank: str, files: list[dict], phase: str = "正在读取并审核"):
    """(reports, skipped) of the batch's uploads, read with the uploaded names as paths."""
    from ..pipeline import collect_reports

    os.chdir(folder / "uploads")  # so that every path shown is the uploaded name
    names = [Path(f["name"]) for f in files if (folder / "uploads" / f["name"]).is_file()]
    return collect_reports(
        names, blank, None, progress_factory=lambda n: ProgressFile(folder, phase, n, 0, CHECK_SHARE)
    )


def _needs_copy(r) -> bool:
    """Copies are made at once for files with errors; for files that passed, on request."""
    return bool(r.errors) and _annotatable(r)


def run_batch(folder: Path, job=None) -> None:
    """Check every upload of the batch in ``folder``, store the results, then write the copies."""
    from ..render import summary

    job = job or _Unleased()
    m = read_json(folder / "manifest.json")
    interrupted = m.get("state") == RUNNING
    if interrupted:  # a previous worker stopped midway: say so, keep what it made
        before = [r for r in m.get("results", []) if r.get("needs_copy")]
        done = sum(1 for r in before if existing_copy(folder, r["index"]))
        m["resumed"] = {"done": done, "total": len(before) or len(m.get("files", []))}
    m.update(state=RUNNING, error=None)
    job.save(folder, m)
    phase = resumed_text(**m["resumed"]) if interrupted else "正在读取并审核"
    reports, skipped = check_batch(folder, m.get("blank", "zero"), m["files"], phase)
    todo = [(i, r) for i, r in enumerate(reports) if _needs_copy(r)]
    made = {i: rel for i, _ in todo if (rel := existing_copy(folder, i))}
    m["results"] = [
        dict(_result(i, r, made.get(i), ""), needs_copy=_needs_copy(r)) for i, r in enumerate(reports)
    ]
    m["skipped"] = [{"path": str(p), "reason": why} for p, why in skipped]
    m["summary"] = summary(reports, skipped)
    m["copies"] = {"done": len(made), "total": len(todo)}
    if interrupted:
        m["resumed"] = {"done": len(made), "total": len(todo)}
    job.save(folder, m)  # the results show now; the copies follow
    phase = resumed_text(**m["resumed"]) if interrupted else "正在生成批注副本"
    bar = ProgressFile(folder, phase, len(todo), CHECK_SHARE, 1 - CHECK_SHARE)
    bar.advance(len(made))
    annotated = annotate_all(folder, [(i, r) for i, r in todo if i not in made], bar)
    bar.close()
    for res in m["results"]:
        if res["index"] in annotated:
            res["annotated"], res["note"] = annotated[res["index"]]
    m["copies"]["done"] = sum(1 for r in m["results"] if r["needs_copy"] and r["annotated"])
    m.update(state=DONE, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    job.save(folder, m)


def annotate_on_request(folder: str, index: int) -> tuple[str | None, str]:
    """The annotated copy of result ``index`` of a finished batch, made now (runs in a child
    process: it reads a user's file). Returns (path relative to the batch or None, message)."""
    folder_p = Path(folder)
    if rel := existing_copy(folder_p, index):
        return rel, ""
    m = read_json(folder_p / "manifest.json") or {}
    reports, _ = check_batch(folder_p, m.get("blank", "zero"), m.get("files", []))
    want = next((r for r in m.get("results", []) if r["index"] == index), None)
    if want is None or index >= len(reports) or reports[index].path != want["path"]:
        return None, "文件已变化，无法生成批注副本。"
    _, rel, msg = _annotate((index, reports[index], folder_p / "annotated" / str(index), folder_p))
    return rel, msg


def run_aggregate(folder: Path, job=None) -> None:
    """Aggregate the uploads of the batch two levels up, with the roster/previous given."""
    from .aggregating import aggregate_batch

    job = job or _Unleased()
    m = read_json(folder / "manifest.json")
    m.update(state=RUNNING, error=None)
    job.save(folder, m)
    m.update(aggregate_batch(folder.parent.parent / "uploads", folder, m))
    ProgressFile(folder, "汇总完成", 1, 1, 0).close()
    m.update(state=DONE, finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    job.save(folder, m)


def _fail(folder: Path, message: str, job=None) -> None:
    m = read_json(folder / "manifest.json")
    if m is None:  # deleted meanwhile: nothing to mark
        return
    m.update(state=FAILED, error=message)
    (job or _Unleased()).save(folder, m)


# ---- the server side ---------------------------------------------------------------------------
class Runner:
    """Runs jobs one after another in a background thread, each in a worker process."""

    def __init__(self, storage: Storage, timeout: float = 6 * 3600):
        self.storage, self.timeout = storage, timeout
        self.leases = Leases(storage.root)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nianbao-job")
        self._lock = threading.Lock()
        self._pending: set[tuple[str, str | None]] = set()
        self._procs: dict[tuple[str, str | None], subprocess.Popen] = {}
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

    def _start(self, key, folder: Path) -> subprocess.Popen:
        kind = "aggregate" if key[1] else "batch"
        cmd = [sys.executable, "-m", "nianbao.web", kind, str(folder)]
        cmd += ["--data", str(self.storage.root), "--parent", str(os.getpid())]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        with self._lock:
            self._procs[key] = proc
        return proc

    def _run(self, key: tuple[str, str | None]) -> None:
        batch_id, agg_id = key
        try:
            folder = (
                self.storage.aggregate_dir(batch_id, agg_id) if agg_id else self.storage.batch_dir(batch_id)
            )
            if folder is None or self._closed:
                return
            proc = self._start(key, folder)
            try:
                _, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                _fail(folder, "处理超时，已停止。请把文件分成几批上传。")
                return
            finally:
                with self._lock:
                    self._procs.pop(key, None)
            if not self._closed and proc.returncode not in (EXIT_BUSY, EXIT_CANCELLED):
                self._check_outcome(folder, proc.returncode, err)
        finally:
            with self._lock:
                self._pending.discard(key)

    def _check_outcome(self, folder: Path, code: int, err: bytes) -> None:
        state = (read_json(folder / "manifest.json") or {}).get("state")
        if (code == 0 and state in (DONE, FAILED)) or not (folder / "manifest.json").is_file():
            return
        incident = Incident.of()
        sys.stderr.write(
            f"[nianbao] 后台任务 {folder} 异常（退出码 {code}，任务编号 {incident.ref}）：\n"
            + err.decode("utf-8", "replace")[-4000:]
            + "\n"
        )
        if state != FAILED:
            _fail(
                folder,
                f"处理过程意外中断（{incident}）。其他批次不受影响；"
                "可以把文件分成几批重新上传，以找出有问题的文件。",
            )

    def cancel(self, batch_id: str, agg_ids: list[str] = ()) -> None:
        """Stop every job of a batch for good (before it is deleted): mark the leases cancelled,
        end our workers, and wait until no worker (also one of an earlier server) holds one."""
        keys = [(batch_id, None), *((batch_id, a) for a in agg_ids)]
        for key in keys:
            self.leases.cancel(job_key(*key))
        with self._lock:
            procs = [(k, self._procs.get(k)) for k in keys]
        for key, proc in procs:
            if proc is not None:
                _kill(proc)
                proc.wait(10)
                self.leases.release(job_key(*key))
        end = time.monotonic() + TTL + 2 * RENEW
        while time.monotonic() < end and any(self.leases.held(job_key(*k)) for k in keys):
            time.sleep(0.2)

    def close(self) -> None:
        """Stop: running workers are ended; unfinished jobs are continued at the next start."""
        self._closed = True
        with self._lock:
            procs = list(self._procs.items())
        for _key, p in procs:
            _kill(p)
        for key, p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                continue
            self.leases.release(job_key(*key))
        self._pool.shutdown(wait=False, cancel_futures=True)


def _kill(proc: subprocess.Popen) -> None:
    """End a worker and, on POSIX, its pool processes with it (elsewhere they notice it is gone)."""
    if os.name == "posix":
        import signal

        try:
            os.killpg(proc.pid, signal.SIGKILL)
            return
        except OSError:
            pass
    proc.kill()


def _job_of(kind: str, folder: Path, opts: dict) -> Job:
    data = Path(opts["--data"]) if "--data" in opts else folder.parents[3 if kind == "aggregate" else 1]
    key = job_key(folder.parent.parent.name, folder.name) if kind == "aggregate" else job_key(folder.name)
    return Job(data, key, int(opts["--parent"]) if opts.get("--parent") else None)


def main(argv: list[str]) -> int:
    from .aggregating import JobError

    kind, folder = argv[0], Path(argv[1])
    job = _job_of(kind, folder, dict(zip(argv[2::2], argv[3::2], strict=False)))
    got = job.start()
    if got != OK:
        return EXIT_CANCELLED if got == CANCELLED else EXIT_BUSY
    try:
        (run_batch if kind == "batch" else run_aggregate)(folder, job)
        return 0
    except JobError as e:
        _fail(folder, str(e), job)
        return 0
    except Exception as exc:
        import traceback

        incident = Incident.of(exc)
        sys.stderr.write(f"{Incident(incident.ref)}\n")
        traceback.print_exc()
        _fail(folder, f"处理时发生内部错误（{incident}）。请把文件与编号反馈给维护人员。", job)
        return 1
    finally:
        job.finish()

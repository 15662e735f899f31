"""Background jobs of `nianbao serve` survive a crash without ghosts (issue 16 item 3).

A real server process runs a batch of workbooks with errors (so each needs an annotated copy);
it is killed with SIGKILL or stopped with SIGTERM midway. Afterwards no worker may be left, a
restarted server continues the batch where it was (and says so), never two workers run it at
once, and a batch deleted while it ran stays deleted."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import consistent_values
from nianbao.spec import get_spec
from nianbao.template import write_template
from test_web import broken_rule

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads processes from /proc"),
]
SPEC = get_spec("2021")
FILES = 36


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> list[tuple[str, bytes]]:
    """Workbooks that each break one total, so every one of them gets an annotated copy."""
    folder = tmp_path_factory.mktemp("bad")
    rule = broken_rule()
    out = []
    for i in range(FILES):
        vals = dict(consistent_values(SPEC, i))
        vals[rule.target] = vals[rule.target] + 1
        p = folder / f"单位{i:02d}.xlsx"
        write_template(p, SPEC, unit=f"示例县第{i:02d}局", year=2025, values=vals)
        out.append((p.name, p.read_bytes()))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data: Path):
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> Server:
        code = "import sys; from nianbao.cli import main; sys.argv[0] = 'nianbao'; main()"
        cmd = [sys.executable, "-c", code, "serve", "--port", str(self.port), "--data", str(self.data)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            try:
                httpx.get(self.url + "/", timeout=2)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Origin": self.url}, timeout=60)

    def upload(self, files) -> str:
        with self.client() as c:
            r = c.post(
                "/batches", files=[("files", f) for f in files], headers={"Accept": "application/json"}
            )
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def api(self, batch: str) -> dict:
        with self.client() as c:
            r = c.get(f"/api/batches/{batch}")
        return r.json() if r.status_code == 200 else {"state": f"http {r.status_code}"}

    def stop(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)


GROUPS: set[int] = set()  # process groups of every worker seen (a worker leads its own group)


def workers(data: Path) -> list[tuple[int, int]]:
    """(pid, parent pid) of every process working for the server on ``data``: the workers and
    anything in their process groups (pool processes, whatever they started)."""
    procs = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            state, ppid, pgrp = (d / "stat").read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if state != "Z":
            procs.append((int(d.name), int(ppid), int(pgrp), cmd))
    ours = [
        (pid, ppid, pgrp)
        for pid, ppid, pgrp, cmd in procs
        if b"nianbao.web" in cmd and str(data).encode() in cmd
    ]
    GROUPS.update(pgrp for pid, _, pgrp in ours if pid == pgrp)
    return [(pid, ppid) for pid, ppid, pgrp, _ in procs if pgrp in GROUPS] + [
        (p, pp) for p, pp, g in ours if g not in GROUPS
    ]


def job_workers(data: Path) -> list[int]:
    """The worker processes proper (not their pool processes)."""
    procs = workers(data)
    pids = {p for p, _ in procs}
    return [p for p, parent in procs if parent not in pids]


def wait_for(what, timeout: float = 90, every: float = 0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(every)
    raise AssertionError("timed out")


def copies_made(data: Path, batch: str) -> int:
    d = data / "batches" / batch / "annotated"
    return sum(1 for p in d.glob("*/*.xlsx") if not p.name.startswith(".~")) if d.is_dir() else 0


def running_with_copies(server: Server, batch: str, at_least: int = 2):
    def ready():
        return copies_made(server.data, batch) >= at_least and server.api(batch)["state"] == "running"

    return wait_for(ready)


@pytest.fixture
def servers(tmp_path):
    started: list[Server] = []

    def make() -> Server:
        s = Server(tmp_path / "data").start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def test_kill_9_leaves_no_worker_and_a_restart_continues_once(servers, bad_files):
    first = servers()
    data = first.data
    batch = first.upload(bad_files)
    running_with_copies(first, batch)
    assert len(job_workers(data)) == 1
    first.stop(signal.SIGKILL)
    wait_for(lambda: not workers(data), timeout=10)  # the worker and its pool noticed and ended
    kept = copies_made(data, batch)
    assert 0 < kept < FILES

    second = servers()

    def phase() -> str:
        p = second.api(batch).get("progress", {}).get("phase", "")
        return p if p.startswith("服务重启") else ""

    assert wait_for(phase) == f"服务重启后继续处理（已完成 {kept}/{FILES}）"
    with second.client() as c:
        assert f"服务重启后继续处理（已完成 {kept}/{FILES}）" in c.get(f"/batches/{batch}").text
    most = 0
    while second.api(batch)["state"] == "running":
        most = max(most, len(job_workers(data)))
        time.sleep(0.1)
    assert most <= 1
    doc = second.api(batch)
    assert doc["state"] == "done" and doc["summary"]["failed"] == FILES
    assert copies_made(data, batch) == FILES


def test_sigterm_stops_every_worker_and_the_batch_resumes(servers, bad_files):
    first = servers()
    data = first.data
    batch = first.upload(bad_files)
    running_with_copies(first, batch)
    first.stop(signal.SIGTERM)
    assert first.proc.returncode is not None
    wait_for(lambda: not workers(data), timeout=10)
    kept = copies_made(data, batch)
    second = servers()
    wait_for(lambda: second.api(batch)["state"] == "done", timeout=180)
    with second.client() as c:
        m = c.get(f"/api/batches/{batch}").json()
    assert m["state"] == "done" and copies_made(data, batch) == FILES and kept > 0


def test_a_batch_deleted_while_running_stays_deleted(servers, bad_files):
    first = servers()
    data = first.data
    batch = first.upload(bad_files)
    running_with_copies(first, batch, at_least=1)
    with first.client() as c:
        r = c.post(f"/batches/{batch}/delete", follow_redirects=False)
    assert r.status_code == 303
    assert first.api(batch)["state"] == "http 404"
    wait_for(lambda: not workers(data), timeout=10)
    first.stop(signal.SIGKILL)
    second = servers()
    time.sleep(3)
    assert second.api(batch)["state"] == "http 404"
    assert not (data / "batches" / batch).exists()
    assert not workers(data)

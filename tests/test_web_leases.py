"""One background job, one worker: the leases in DATA/jobs.sqlite3 and the parent watchdog."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nianbao.web.leases import CANCELLED, LOST, OK, Leases


@pytest.mark.slow
def test_a_lease_has_one_holder_until_it_expires_or_is_released(tmp_path):
    leases = Leases(tmp_path)
    assert leases.acquire("b1", "old", 1, ttl=0.3) == OK
    assert leases.acquire("b1", "new", 2, ttl=0.3) == LOST  # the old worker still holds it
    assert leases.held("b1")
    time.sleep(0.4)  # the old worker stopped renewing
    assert not leases.held("b1")
    assert leases.acquire("b1", "new", 2, ttl=5) == OK
    assert leases.renew("b1", "old") == LOST  # a worker that lost its lease learns so
    assert leases.renew("b1", "new") == OK
    leases.release("b1", "new")
    assert leases.acquire("b1", "third", 3) == OK  # released: taken at once


def test_a_cancelled_job_is_never_taken_again(tmp_path):
    leases = Leases(tmp_path)
    assert leases.acquire("b2", "w", 1) == OK
    leases.cancel("b2")
    assert leases.renew("b2", "w") == CANCELLED
    leases.release("b2")
    assert leases.acquire("b2", "other", 2) == CANCELLED
    assert leases.acquire("b3", "other", 2) == OK  # other jobs are not touched
    assert (tmp_path / "jobs.sqlite3").is_file()
    assert Leases(tmp_path).acquire("b2", "after-restart", 3) == CANCELLED


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_a_child_ends_when_its_parent_is_killed(tmp_path):
    """parent → child (watches parent) : kill -9 the parent, the child ends by itself."""
    pidfile = tmp_path / "child.pid"
    child = (
        "import os, sys, time; from nianbao.web.watchdog import watch_parent; watch_parent(interval=0.1); "
        f"open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    parent = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent])
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text():
            break
        time.sleep(0.1)
    pid = int(pidfile.read_text())
    assert Path(f"/proc/{pid}").exists()
    proc.kill()
    proc.wait()
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists() or "Z" in _state(pid):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        raise AssertionError("the child outlived its parent")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"

"""报送台: kill the server while units upload — every upload answered as stored is there after a
restart, and no stored upload points at a missing or partial file."""

from __future__ import annotations

import hashlib
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import desk_uploads as bench  # the benchmark's server and upload helpers

pytestmark = pytest.mark.slow


def test_uploads_answered_before_a_kill_survive_it(tmp_path):
    data = tmp_path / "data"
    units = [f"示例县第{i:02d}单位" for i in range(40)]
    books = bench.make_books(tmp_path, units, 2025)
    links = bench.create_collection(data, units, 2025)
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    proc = bench.start_server(data, port)
    answered: list[tuple[int, str]] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        try:
            code, _dt, doc = bench.post_file(base + links[units[i]] + "/upload", books[i])
        except OSError:
            return  # the server died under this request: no promise was made
        with lock:
            answered.append((code, doc.get("upload", "")))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(units))]
    for i, t in enumerate(threads):
        t.start()
        if i == 15:
            while len(answered) < 5:
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        time.sleep(0.01)
    for t in threads:
        t.join()
    proc.wait(timeout=30)
    ok = {u for code, u in answered if code == 200}
    assert ok, "no upload was answered before the kill"
    restarted = bench.start_server(data, port)
    try:
        con = sqlite3.connect(data / "desk" / "desk.sqlite3")
        rows = con.execute("SELECT id, sha256, size FROM uploads").fetchall()
        con.close()
    finally:
        restarted.terminate()
        restarted.wait(timeout=30)
    stored = {r[0] for r in rows}
    assert ok <= stored
    for _id, sha, size in rows:
        blob = data / "desk" / "files" / sha[:2] / sha
        assert blob.stat().st_size == size and hashlib.sha256(blob.read_bytes()).hexdigest() == sha

"""报送台 under load: many units uploading within the same hour to one `nianbao serve`.

Measures, against a real server process on loopback:
1. the median answer time of one upload on an idle server (the baseline, same run);
2. N uploads arriving evenly over D seconds with at most C in flight at once: none may be lost
   (every upload answered 200 is in the database afterwards) and the 95th-percentile answer
   time should stay within 4× the idle median.

    python benchmarks/desk_uploads.py                       # 200 uploads over 60 s, 8 at once
    python benchmarks/desk_uploads.py --n 60 --seconds 15   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_books(folder: Path, units: list[str], year: int) -> list[bytes]:
    from conftest import consistent_values
    from nianbao.spec import get_spec
    from nianbao.template import write_template

    spec = get_spec("2021")
    out = []
    for i, u in enumerate(units):
        p = folder / f"b{i}.xlsx"
        write_template(p, spec, unit=u, year=year, values=consistent_values(spec, i % 40))
        out.append(p.read_bytes())
    return out


def post_file(url: str, data: bytes, name: str = "报表.xlsx") -> tuple[int, float, dict]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"},
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            doc = json.loads(r.read())
            return r.status, time.perf_counter() - t0, doc
    except urllib.error.HTTPError as e:
        return e.code, time.perf_counter() - t0, {}


def start_server(data: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nianbao.cli", "serve", "--port", str(port), "--data", str(data)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    for _ in range(400):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/static/style.css", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("服务未能启动")


def create_collection(data: Path, units: list[str], year: int) -> dict[str, str]:
    roster = data.parent / "名单.csv"
    roster.write_text("单位名称\n" + "\n".join(units) + "\n", "utf-8")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nianbao.cli",
            "desk",
            "create",
            "--roster",
            str(roster),
            "--year",
            str(year),
            "--data",
            str(data),
            "--public-url",
            "http://10.0.0.1:8765",
        ],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    return {u["unit"]: u["link"].replace("http://10.0.0.1:8765", "") for u in json.loads(out.stdout)["units"]}


def run(n: int, seconds: float, concurrency: int, idle_samples: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="nianbao-desk-bench-") as tmp:
        data = Path(tmp) / "data"
        units = [f"示例县第{i:03d}单位" for i in range(n)]
        books = make_books(Path(tmp), units, 2025)
        links = create_collection(data, units, 2025)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(data, port)
        try:
            post_file(base + links[units[0]] + "/upload", books[0])  # warm-up
            idle = [post_file(base + links[units[0]] + "/upload", books[0])[1] for _ in range(idle_samples)]
            results: list[tuple[int, float, str]] = []
            gate, lock = threading.Semaphore(concurrency), threading.Lock()

            def one(i: int) -> None:
                with gate:
                    code, dt, doc = post_file(base + links[units[i]] + "/upload", books[i])
                with lock:
                    results.append((code, dt, doc.get("upload", "")))

            threads, start = [], time.perf_counter()
            for i in range(n):
                delay = start + i * seconds / n - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                t = threading.Thread(target=one, args=(i,))
                t.start()
                threads.append(t)
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        con = sqlite3.connect(data / "desk" / "desk.sqlite3")
        stored = {r[0] for r in con.execute("SELECT id FROM uploads")}
        con.close()
    ok = [r for r in results if r[0] == 200]
    times = sorted(r[1] for r in ok)
    p95 = times[max(0, int(0.95 * len(times)) - 1)] if times else float("nan")
    med_idle = statistics.median(idle)
    return {
        "uploads": n,
        "answered_ok": len(ok),
        "lost": sum(1 for r in ok if r[2] not in stored),
        "idle_median_ms": round(med_idle * 1000, 1),
        "load_median_ms": round(statistics.median(times) * 1000, 1) if times else None,
        "load_p95_ms": round(p95 * 1000, 1),
        "p95_over_idle_median": round(p95 / med_idle, 2),
        "wall_s": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description="报送台上传压力测试")
    ap.add_argument("--n", type=int, default=200, help="上传次数（每个单位一次）")
    ap.add_argument("--seconds", type=float, default=60, help="上传在多少秒内均匀到达")
    ap.add_argument("--concurrency", type=int, default=8, help="同时进行的上传最多几个")
    ap.add_argument("--idle-samples", type=int, default=15, help="空闲时单次上传的计时次数")
    args = ap.parse_args()
    res = run(args.n, args.seconds, args.concurrency, args.idle_samples)
    print(json.dumps(res, ensure_ascii=False, indent=2))
    verdict = (
        "达标"
        if res["lost"] == 0 and res["answered_ok"] == res["uploads"] and res["p95_over_idle_median"] <= 4
        else "未达标"
    )
    print(
        f"95% 分位 / 空闲中位数 = {res['p95_over_idle_median']}×（目标 ≤ 4×），丢失 {res['lost']}：{verdict}"
    )


if __name__ == "__main__":
    main()

"""Speed and memory of ``nianbao check`` / ``nianbao aggregate`` against two plain loops.

    python benchmarks/bench.py                 # N=1000 filled workbooks, timings and ratios
    python benchmarks/bench.py --n 5000
    python benchmarks/bench.py --memory        # peak RSS of aggregate at growing N

The workbooks are made with the template writer: a few dozen distinct filled reports (a few
percent with a wrong total), each stamped with its own unit name (the name is replaced in the
package XML, which is much faster than writing every workbook from scratch).

Timed in the same run on the same files:
  check      ``nianbao check DIR --format json`` (a subprocess; every core)
  aggregate  ``nianbao aggregate DIR -o 汇总.xlsx`` (a subprocess; every core)
  calamine   one process reading every value of every sheet with python-calamine (the floor)
  openpyxl   one process with openpyxl's normal load, every value (what one writes by hand);
             run on a sample and extrapolated to N
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

PLACEHOLDER = "基准单位000000"
DISTINCT = 40  # distinct filled reports the files are stamped from
ERROR_SHARE = 0.03


def _values(spec, seed: int) -> dict:
    try:  # the test helper solves every rule generically; fall back to the samples' one
        from conftest import consistent_values
    except ImportError:  # pragma: no cover
        from nianbao.samples import consistent_values
    return consistent_values(spec, seed)


def base_workbooks(tmp: Path, year: int) -> tuple[list[bytes], list[bytes]]:
    """(good, wrong) template workbooks with the unit name still a placeholder."""
    from nianbao.spec import get_spec
    from nianbao.template import write_template

    spec = get_spec("2021")
    good, wrong = [], []
    for seed in range(DISTINCT):
        values = _values(spec, seed)
        p = tmp / f"base{seed}.xlsx"
        cover = {"filler": "张三", "phone": "0851-0000000", "date": f"{year + 1}-01-15"}
        write_template(p, spec, unit=PLACEHOLDER, year=year, values=values, cover=cover)
        good.append(p.read_bytes())
        if seed < 4:
            values = dict(values)
            values["nb_t3_r_total_natural"] += 1  # breaks （七）总计 and the balance
            write_template(p, spec, unit=PLACEHOLDER, year=year, values=values, cover=cover)
            wrong.append(p.read_bytes())
    return good, wrong


def stamp(data: bytes, unit: str) -> bytes:
    """The workbook with the placeholder unit name replaced in every XML part."""
    old, new = PLACEHOLDER.encode(), unit.encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            blob = zin.read(info)
            if info.filename.endswith(".xml"):
                blob = blob.replace(old, new)
            zout.writestr(info, blob)
    return out.getvalue()


def build(folder: Path, n: int, start: int = 0, bases=None, year: int = 2024) -> list[Path]:
    """Files ``start`` .. ``start+n-1`` under ``folder`` (at most 1,000 per sub-folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    if bases is None:
        with tempfile.TemporaryDirectory() as t:
            bases = base_workbooks(Path(t), year)
    good, wrong = bases
    every = max(round(1 / ERROR_SHARE), 1)
    paths = []
    for i in range(start, start + n):
        src = wrong[i % len(wrong)] if i % every == every - 1 else good[i % len(good)]
        unit = f"基准单位{i:06d}"
        sub = folder / f"{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        p = sub / f"{unit}.xlsx"
        p.write_bytes(stamp(src, unit))
        paths.append(p)
    return paths


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def ensure_bytecode() -> None:
    """Compile nianbao's modules, as ``pip install`` does: an installed copy never compiles its
    sources at start-up (this matters when PYTHONDONTWRITEBYTECODE is set, as on CI machines)."""
    import compileall

    import nianbao

    compileall.compile_dir(str(Path(nianbao.__file__).parent), quiet=1)


def run_cli(args: list[str]) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "nianbao.cli", *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.decode()[-2000:]}")
    return dt, proc.returncode


def calamine_loop(paths: list[Path]) -> int:
    from python_calamine import CalamineWorkbook

    n = 0
    for p in paths:
        wb = CalamineWorkbook.from_path(str(p))
        for name in wb.sheet_names:
            for row in wb.get_sheet_by_name(name).to_python():
                for v in row:
                    n += v is not None
        wb.close()
    return n


def openpyxl_loop(paths: list[Path]) -> int:
    import openpyxl

    n = 0
    for p in paths:
        wb = openpyxl.load_workbook(p)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                for v in row:
                    n += v is not None
        wb.close()
    return n


def speed(args) -> None:
    work = Path(args.dir or tempfile.mkdtemp(prefix="nianbao-bench-"))
    data = work / "报送"
    try:
        t_build, paths = timed(lambda: build(data, args.n))
        print(f"生成 {len(paths)} 个填报表：{t_build:.1f} 秒（{work}）", flush=True)
        print(f"CPU 核数：{os.cpu_count()}", flush=True)
        ensure_bytecode()
        # warm the page cache and the interpreter's imports once
        run_cli(["check", str(paths[0]), "--format", "json"])
        out = work / "汇总.xlsx"
        t_cal = t_check = t_agg = float("inf")
        for _ in range(args.rounds):  # interleaved rounds, the best of each (as timeit does)
            t_cal = min(t_cal, timed(lambda: calamine_loop(paths))[0])
            t_check = min(t_check, run_cli(["check", str(data), "--format", "json"])[0])
            t_agg = min(t_agg, run_cli(["aggregate", str(data), "-o", str(out), "--force"])[0])
        sample = paths[: min(args.openpyxl_sample, len(paths))]
        t_opx_s, _ = timed(lambda: openpyxl_loop(sample))
        t_opx = t_opx_s * len(paths) / len(sample)
        n = len(paths)
        rows = [
            ("calamine 单进程读取全部值（下限）", t_cal),
            ("nianbao check --format json", t_check),
            ("nianbao aggregate -o 汇总.xlsx", t_agg),
            (f"openpyxl 单进程普通加载（{len(sample)} 个外推）", t_opx),
        ]
        print()
        print(f"{'项目':<40}{'秒':>9}{'文件/秒':>10}")
        for name, t in rows:
            print(f"{name:<40}{t:9.2f}{n / t:10.0f}")
        print()
        r1, r2, r3 = t_check / t_cal, t_opx / t_check, t_agg / t_check

        def ok(b):
            return "达标" if b else "未达标"

        print(f"check / calamine 下限 = {r1:.2f}×（目标 ≤ 1.5×）{ok(r1 <= 1.5)}")
        print(f"openpyxl / check    = {r2:.1f}×（目标 ≥ 20×）{ok(r2 >= 20)}")
        print(f"aggregate / check   = {r3:.2f}×（目标 ≤ 2×）{ok(r3 <= 2)}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


_MEASURE = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss(cmd: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB of the largest process of the command's tree)."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    dt = time.perf_counter() - t0
    rc, kb = out.stdout.split()
    if int(rc) not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({rc})")
    return dt, int(kb) / 1024


def _first(data: Path, n: int) -> list[str]:
    """Paths naming exactly files 0..n-1 of a folder made by build() (whole sub-folders first)."""
    full, rest = divmod(n, 1000)
    out = [str(data / f"{i:03d}") for i in range(full)]
    if rest:
        out += [str(p) for p in sorted((data / f"{full:03d}").glob("*.xlsx"))[:rest]]
    return out


def memory(args) -> None:
    sizes = sorted(int(x) for x in args.sizes.split(","))
    work = Path(args.dir or tempfile.mkdtemp(prefix="nianbao-bench-mem-"))
    data = work / "报送"
    try:
        have = len(list(data.rglob("*.xlsx"))) if data.is_dir() else 0  # reuse a kept folder
        if sizes[-1] > have:
            t, _ = timed(lambda: build(data, sizes[-1] - have, start=have))
            print(f"生成 {sizes[-1] - have} 个填报表：{t:.0f} 秒（{work}）", flush=True)
        print(f"{'N':>8}{'秒':>9}{'文件/秒':>9}{'峰值内存 MB':>14}", flush=True)
        for n in sizes:
            dt, mb = peak_rss(
                [
                    sys.executable,
                    "-m",
                    "nianbao.cli",
                    "aggregate",
                    *_first(data, n),
                    "-o",
                    str(work / f"汇总-{n}.xlsx"),
                    "--force",
                ]
            )
            print(f"{n:>8}{dt:9.1f}{n / dt:9.0f}{mb:14.0f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="number of workbooks (default 1000)")
    ap.add_argument(
        "--openpyxl-sample", type=int, default=100, help="files the openpyxl loop reads (extrapolated to N)"
    )
    ap.add_argument(
        "--rounds", type=int, default=3, help="timing rounds; the best of each is shown (default 3)"
    )
    ap.add_argument("--memory", action="store_true", help="peak RSS of aggregate at growing N")
    ap.add_argument("--sizes", default="1000,4000,16000", help="N values for --memory")
    ap.add_argument("--dir", help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    memory(args) if args.memory else speed(args)


if __name__ == "__main__":
    main()

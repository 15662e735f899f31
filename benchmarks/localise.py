"""What error localisation costs (issue 13): per failing file, and for a batch.

    python benchmarks/localise.py                 # 1,000 files, 30 % failing; 300 reports in memory
    python benchmarks/localise.py --n 2000 --share 0.3 --reports 500 --rounds 3

1. In memory: reports of both forms made consistent (the tests' generator), then 1–2 random
   value cells of their relations changed (a few become text). After a warm-up, each report's
   localisation (nianbao.localize.explain.apply: every minimum set, the values, the findings)
   is timed on its own; the median, 90th percentile and maximum are shown, and how many
   needed the mixed-integer fallback. Aim: median ≤ 2 ms.
2. ``nianbao check DIR --format json`` (a subprocess, every core) over N files of which a
   share fails (1–2 wrong cells each), against the same N files all passing, timed in
   alternating rounds in the same run (the best of each, as timeit does). Aim: ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from bench import PLACEHOLDER, ensure_bytecode, run_cli, stamp  # noqa: E402


def _consistent(spec, seed: int) -> dict:
    from conftest import consistent_values

    return {k: Decimal(v) for k, v in consistent_values(spec, seed).items()}


def damage(spec, values: dict, rng: random.Random) -> tuple[dict, set[str]]:
    """``values`` with 1–2 cells of the form's relations changed (one in six becomes text)."""
    from nianbao.localize.system import edit_keys

    cells = sorted(edit_keys(spec))
    out, texts = dict(values), set()
    for key in rng.sample(cells, rng.choice((1, 2))):
        if rng.random() < 1 / 6:
            texts.add(key)
            out[key] = None
        else:
            out[key] += rng.choice([d for d in range(-5, 10) if d])
    return out, texts


def in_memory(n: int, seed: int = 1) -> None:
    from nianbao.checks import check_report
    from nianbao.layout import workbook_layout
    from nianbao.localize import search
    from nianbao.localize.explain import apply
    from nianbao.model import Report
    from nianbao.spec import get_spec

    rng = random.Random(seed)
    cases = []
    for i in range(n):
        spec = get_spec(("2021", "2019")[i % 2])
        where = {k: (tl.sheet, b.ref) for tl in workbook_layout(spec).tables for k, b in tl.values.items()}
        values, texts = damage(spec, _consistent(spec, rng.randrange(10**6)), rng)
        r = Report(path=f"{i}.xlsx", form=spec.version, values=values, where=where, invalid=texts)
        cases.append((r, spec, check_report(r, spec)))
    fallback = 0
    real_search = search.Search.run

    def counting_run(self):
        try:
            return real_search(self)
        except search.GaveUp:
            nonlocal fallback
            fallback += 1
            raise

    search.Search.run = counting_run
    for r, spec, found in cases[:20]:  # warm-up: imports, the per-spec tables, SciPy if needed
        apply(r, spec, list(found))
    fallback = 0
    times = []
    for r, spec, found in cases:
        t0 = time.perf_counter()
        apply(r, spec, list(found))
        times.append(time.perf_counter() - t0)
    search.Search.run = real_search
    ms = sorted(t * 1000 for t in times)
    med, p90 = statistics.median(ms), ms[int(0.9 * (len(ms) - 1))]
    print(f"单个有错文件的错误定位（内存中 {n} 份，1–2 处错误，预热后）：")
    print(f"  中位数 {med:.2f} 毫秒，90% 分位 {p90:.2f} 毫秒，最长 {ms[-1]:.1f} 毫秒；", end="")
    print(f"改用整数规划 {fallback} 份")
    print(f"  中位数 ≤ 2 毫秒：{'达标' if med <= 2 else '未达标'}")


def bases(tmp: Path, year: int, count: int, rng: random.Random) -> tuple[list[bytes], list[bytes]]:
    """(good, failing) workbooks, the unit name a placeholder; failing[i] is good[i] damaged."""
    import openpyxl

    from nianbao.layout import workbook_layout
    from nianbao.spec import get_spec
    from nianbao.template import write_template

    spec = get_spec("2021")
    where = {k: (tl.sheet, b.ref) for tl in workbook_layout(spec).tables for k, b in tl.values.items()}
    good, bad = [], []
    cover = {"filler": "张三", "phone": "0851-0000000", "date": f"{year + 1}-01-15"}
    for seed in range(count):
        values = _consistent(spec, seed)
        p = tmp / f"base{seed}.xlsx"
        write_template(p, spec, unit=PLACEHOLDER, year=year, values=values, cover=cover)
        good.append(p.read_bytes())
        damaged, texts = damage(spec, values, rng)
        write_template(p, spec, unit=PLACEHOLDER, year=year, values=damaged, cover=cover)
        if texts:
            wb = openpyxl.load_workbook(p)
            for k in texts:
                wb[where[k][0]][where[k][1]] = "无"
            wb.save(p)
        bad.append(p.read_bytes())
    return good, bad


def batch(args) -> None:
    rng = random.Random(2)
    work = Path(args.dir or tempfile.mkdtemp(prefix="nianbao-bench-loc-"))
    try:
        with tempfile.TemporaryDirectory() as t:
            good, bad = bases(Path(t), 2024, 40, rng)
        mixed, clean = work / "三成有错", work / "全部通过"
        failing = set(rng.sample(range(args.n), round(args.n * args.share)))
        for folder in (mixed, clean):
            folder.mkdir(parents=True, exist_ok=True)
        for i in range(args.n):
            unit = f"基准单位{i:06d}"
            (clean / f"{unit}.xlsx").write_bytes(stamp(good[i % len(good)], unit))
            src = bad[i % len(bad)] if i in failing else good[i % len(good)]
            (mixed / f"{unit}.xlsx").write_bytes(stamp(src, unit))
        ensure_bytecode()
        run_cli(["check", str(clean / "基准单位000000.xlsx"), "--format", "json"])  # warm caches
        t_clean = t_mixed = float("inf")
        for _ in range(args.rounds):
            t_clean = min(t_clean, run_cli(["check", str(clean), "--format", "json"])[0])
            t_mixed = min(t_mixed, run_cli(["check", str(mixed), "--format", "json"])[0])
        ratio = t_mixed / t_clean
        print(f"nianbao check --format json，{args.n} 个文件（最快的一轮，共 {args.rounds} 轮）：")
        print(f"  全部通过 {t_clean:.2f} 秒；", end="")
        print(f"其中 {len(failing)} 个（{args.share:.0%}）有 1–2 处错误 {t_mixed:.2f} 秒")
        print(f"  有错批次 / 全部通过 = {ratio:.2f}×（目标 ≤ 1.5×）{'达标' if ratio <= 1.5 else '未达标'}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="files of the batch (default 1000)")
    ap.add_argument("--share", type=float, default=0.3, help="share of failing files (default 0.3)")
    ap.add_argument("--reports", type=int, default=300, help="reports localised in memory (default 300)")
    ap.add_argument("--rounds", type=int, default=3, help="timing rounds of the batch (default 3)")
    ap.add_argument("--dir", help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    in_memory(args.reports)
    batch(args)


if __name__ == "__main__":
    main()

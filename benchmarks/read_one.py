"""Per-file cost of reading one workbook, against a plain python-calamine loop on the same file.

    python benchmarks/read_one.py [N] [workbook]     # default: 300 reads of the passing sample

Prints milliseconds per file (best of ten interleaved rounds) for ``read_report``,
``read_and_check`` and a loop that reads every value of every sheet with python-calamine.
A measurement, not a test: the numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))


def main() -> None:
    import python_calamine

    from nianbao.inputs import collect
    from nianbao.pipeline import read_and_check
    from nianbao.reader import read_report

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE.parent / "samples" / "示例县教育局-2025-通过.xlsx"
    item = collect([path]).items[0]
    r = read_and_check(item)
    print(f"{path.name}: {r.status}（{r.source}），{len(r.values)} 个数值，{len(r.findings)} 条问题")

    def calamine() -> None:
        wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
        for name in wb.sheet_names:
            wb.get_sheet_by_name(name).to_python()

    runs = {
        "read_report": lambda: read_report(item),
        "read+check": lambda: read_and_check(item),
        "calamine": calamine,
    }
    best = dict.fromkeys(runs, float("inf"))
    per = max(n // 10, 1)
    for fn in runs.values():
        for _ in range(20):
            fn()
    for _ in range(10):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            for _ in range(per):
                fn()
            best[name] = min(best[name], (time.perf_counter() - t0) / per * 1000)
    print(
        "  ".join(f"{k} {v:.3f} ms" for k, v in best.items()),
        f" read+check / calamine = {best['read+check'] / best['calamine']:.2f}×",
    )


if __name__ == "__main__":
    main()

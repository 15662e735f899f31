"""Measure the importer on the committed corpus and write docs/import-accuracy.md.

    python tests/corpus/measure.py [--print]

Per source shape (the converter or the damage): table cells imported exactly (recall), cells
given a value that is right (precision), and whether issuer and year are right.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOC = ROOT / "docs" / "import-accuracy.md"


@dataclass
class Score:
    cells: int = 0
    given: int = 0
    right: int = 0
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    files: int = 0
    issuer_ok: int = 0
    year_ok: int = 0
    bad_meta: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for k in ("cells", "given", "right", "files", "issuer_ok", "year_ok"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.wrong += other.wrong
        self.missed += other.missed
        self.bad_meta += other.bad_meta


def read(path: Path):
    from nianbao.importers import read_report_file
    from nianbao.inputs import Input

    return read_report_file(Input.of(path))


def score_file(rel: str, facts: dict) -> tuple[Score, object]:
    r = read(HERE / rel)
    s = Score(files=1)
    for key, want in facts["values"].items():
        s.cells += 1
        got = r.values.get(key)
        if want in ("", "?"):  # must come out blank / must not be imported
            ok = got is None and ((key in r.blank) if want == "" else (key in r.invalid))
            s.given += int(got is not None or ok)  # left blank / refused: a decision, and right
            s.right += int(ok)
            if got is not None:
                s.wrong.append(f"{key}: {got} ≠ {want or '空白'}")
            elif not ok:
                s.missed.append(key)
            continue
        if got is None:
            s.missed.append(key)
            continue
        s.given += 1
        if got == Decimal(want):
            s.right += 1
        else:
            s.wrong.append(f"{key}: {got} ≠ {want}")
    s.issuer_ok = int(r.unit == facts["unit"])
    s.year_ok = int(r.year == facts["year"])
    if not (s.issuer_ok and s.year_ok):
        s.bad_meta.append(f"{rel}: {r.unit or '（空）'} {r.year}")
    return s, r


def shape_of(rel: str) -> str:
    """published: the converter (r2021-gov.pandoc-docx.md -> pandoc-docx.md); damaged: the
    damage (md-grouped-2019.md -> md-grouped)."""
    folder, name = rel.split("/", 1)
    if folder == "damaged":
        return f"{folder}: {name.rsplit('.', 1)[0].rsplit('-', 1)[0]}"
    return f"{folder}: {name.split('.', 1)[1]}"


def measure() -> dict[str, Score]:
    truth = json.loads((HERE / "truth.json").read_text(encoding="utf-8"))
    by_shape: dict[str, Score] = defaultdict(Score)
    for rel in sorted(truth):
        if not (HERE / rel).exists():
            continue
        s, _ = score_file(rel, truth[rel])
        by_shape[shape_of(rel)].add(s)
    return dict(by_shape)


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} %" if b else "—"


def render(by_shape: dict[str, Score]) -> str:
    total = Score()
    for s in by_shape.values():
        total.add(s)
    lines = [
        "# 导入准确率（自建语料）",
        "",
        "由 `python tests/corpus/measure.py` 生成，请勿手工编辑。语料由 `python tests/corpus/make_corpus.py`",
        "生成：`published/` 是 `nianbao publish` 写出的年报（2021、2019 两种表式，各两份）经真实转换工具",
        "（LibreOffice、pdftotext、pdfplumber、pandoc、markitdown）转换后的文本；`damaged/` 是按真实年报中",
        "见到的损坏形态由脚本写出的文本（数字为自编）。",
        "",
        "- 召回率 = 导入正确的数值格 / 全部数值格；精确率 = 导入正确的数值格 / 导入了数值的格。",
        "- 原文为空（`-`、`&nbsp;`）的格按空白导入、带有表式不认可的单位（如“千元”）的格不导入并报错，",
        "  二者都算导入正确。",
        "- 未能确定所在行、列的数值不导入，并在问题清单中写明（因此精确率应始终为 100 %）。",
        "",
        "| 来源形态 | 文件数 | 数值格 | 召回率 | 精确率 | 单位正确 | 年度正确 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for shape in sorted(by_shape):
        s = by_shape[shape]
        lines.append(
            f"| {shape} | {s.files} | {s.cells} | {_pct(s.right, s.cells)} | {_pct(s.right, s.given)} | "
            f"{s.issuer_ok}/{s.files} | {s.year_ok}/{s.files} |"
        )
    lines.append(
        f"| **合计** | {total.files} | {total.cells} | {_pct(total.right, total.cells)} | "
        f"{_pct(total.right, total.given)} | {total.issuer_ok}/{total.files} | "
        f"{total.year_ok}/{total.files} |"
    )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    by_shape = measure()
    if "--print" in sys.argv:
        for shape, s in sorted(by_shape.items()):
            print(f"{shape:45s} {s.right}/{s.cells} given {s.given} wrong {len(s.wrong)}")
            for w in s.wrong[:5]:
                print("   WRONG", w)
            if s.missed:
                print("   missed", len(s.missed), s.missed[:6])
            for m in s.bad_meta:
                print("   META", m)
        return
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(render(by_shape), encoding="utf-8")
    print(DOC)


if __name__ == "__main__":
    main()

"""The aggregate workbook printed by a real spreadsheet program (LibreOffice → PDF): every
official table on pages of its own with its header rows on each page, and a page count that
grows with the units, not with the ~200 columns of 明细 and 分类汇总."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import consistent_values
from nianbao.cli import app
from nianbao.layout import workbook_layout
from nianbao.spec import get_spec
from nianbao.template import write_template

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(
        SOFFICE is None or shutil.which("pdftotext") is None, reason="需要 LibreOffice 与 poppler-utils"
    ),
]
SPEC = get_spec("2021")


def county(folder: Path, n: int) -> Path:
    """``n`` units (every fifth with an error), a roster with 类别 and one unit missing, aggregated."""
    (folder / "in").mkdir(parents=True)
    names = [f"示例县第{i}局" for i in range(n)]
    for i, unit in enumerate(names):
        values = consistent_values(SPEC, i)
        if i % 5 == 1:
            values["nb_t3_new_total"] += 1
        write_template(folder / "in" / f"{unit}.xlsx", SPEC, unit=unit, year=2025, values=values)
    rows = [f"{u},{'部门' if i % 2 else '乡镇'}" for i, u in enumerate([*names, "未报送局"])]
    (folder / "名单.csv").write_text("单位名称,类别\n" + "\n".join(rows) + "\n", "utf-8-sig")
    out = folder / "汇总.xlsx"
    args = ["aggregate", str(folder / "in"), "-o", str(out), "--roster", str(folder / "名单.csv")]
    res = CliRunner().invoke(app, [*args, "--unit", "示例县人民政府"])
    assert res.exit_code == 1 and out.exists(), res.output  # 1: some units have errors
    return out


def pdf_pages(books: list[Path], tmp: Path) -> dict[str, list[str]]:
    """Each workbook's PDF, page by page (text without spaces)."""
    profile = tmp / "profile"
    cmd = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore"]
    cmd += ["--convert-to", "pdf", "--outdir", str(tmp / "pdf"), *map(str, books)]
    proc = subprocess.run(cmd, capture_output=True, timeout=180)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    out = {}
    for book in books:
        pdf = tmp / "pdf" / (book.stem + ".pdf")
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
        out[book.parent.name] = [re.sub(r"\s+", "", page) for page in text.split("\f") if page.strip()]
    return out


def test_aggregate_prints_each_table_with_its_header_in_few_pages(tmp_path):
    books = [county(tmp_path / "4", 4), county(tmp_path / "100", 100)]
    pages = pdf_pages(books, tmp_path)
    assert len(pages["4"]) <= 20, len(pages["4"])
    assert len(pages["100"]) <= 45, len(pages["100"])
    assert len(pages["100"]) < 2 * len(pages["4"]) + 10  # 25 times the units, not 25 times the pages
    tables = workbook_layout(SPEC).tables
    for doc in pages.values():
        doc = [p if "工作表单元格应为实为" not in p else "" for p in doc]  # 问题清单 names rows too
        shown = {}
        for tl in tables:
            top = min(tl.header_rows)
            header = next(b.text for b in tl.boxes if b.row == top and b.role in ("colhead", "section"))
            others = {b.text for t in tables if t is not tl for b in t.boxes}
            labels = [b.text for b in tl.boxes if b.role in ("rowhead", "colhead") and 4 <= len(b.text) <= 12]
            labels = [x for x in labels if x not in others]
            shown[tl.sheet] = {i for i, p in enumerate(doc) if any(label in p for label in labels)}
            assert shown[tl.sheet], tl.table.name
            assert all(header in doc[i] for i in shown[tl.sheet]), (tl.table.name, header)
        # each table on pages of its own
        assert sum(len(v) for v in shown.values()) == len(set().union(*shown.values()))

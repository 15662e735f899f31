"""Open templates in a real spreadsheet program (LibreOffice headless), recalculate, and read
the live status cells back: 通过 on a consistent report, the failure count on a wrong one."""

from __future__ import annotations

import shutil
import subprocess
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook

import nianbao.template as template
from conftest import FORMS, consistent_values
from nianbao.checks import evaluate
from nianbao.layout import workbook_layout
from nianbao.model import Report
from nianbao.spec import get_spec

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = [
    pytest.mark.libreoffice,
    pytest.mark.skipif(SOFFICE is None, reason="未安装 LibreOffice（soffice），跳过真实电子表格重算测试"),
]

RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
 xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""
STALE = "未重算"


def wrong_values(spec, seed: int = 0) -> dict:
    """A consistent report with two totals of every checked table broken and one text cell."""
    values = consistent_values(spec, seed)
    for tkey in {r.table.key for r in spec.rules if r.severity == "error"}:
        targets = [
            r.target
            for r in spec.rules
            if r.table.key == tkey and r.severity == "error" and not r.uses_previous
        ]
        values[targets[0]] += 2
        values[targets[-1]] += 1
    values[spec.table("t2").cells[-1].key] = "无"
    return values


def failing(spec, values: dict, table_key: str) -> int:
    """Independent count (nianbao.checks) of failing error rules; text counts as 0 as in SUM."""
    nums = {k: Decimal(0) if v is None or isinstance(v, str) else Decimal(str(v)) for k, v in values.items()}
    report = Report(path="x", values=nums)
    return sum(
        1
        for r in spec.rules
        if r.table.key == table_key
        and r.severity == "error"
        and not r.uses_previous
        and not evaluate(r, report)[2]
    )


def partly_filled(spec, seed: int = 0) -> dict:
    """A consistent report with three value cells of every table left empty."""
    values = consistent_values(spec, seed)
    for table in spec.tables:
        for cell in table.cells[1:4]:
            values[cell.key] = None
    return values


def test_status_cells_recalculate_in_libreoffice(tmp_path, monkeypatch):
    # cached results written by xlsxwriter must not be what we read back: make them stale
    monkeypatch.setattr(template.writer, "status_text", lambda *a: STALE)  # where the writer looks it up
    cases = {}
    for form in FORMS:
        spec = get_spec(form)
        blank = dict.fromkeys(spec.cells)
        for name, values in (
            ("good", consistent_values(spec, 7)),
            ("bad", wrong_values(spec, 7)),
            ("blank", blank),
            ("partly", partly_filled(spec, 7)),
        ):
            path = tmp_path / f"{name}-{form}.xlsx"
            template.write_template(path, spec, values=values)
            cases[path.name] = (spec, values, name)
    profile = tmp_path / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS, encoding="utf-8")
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(out),
            *(str(tmp_path / n) for n in cases),
        ],
        capture_output=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    for fname, (spec, values, name) in cases.items():
        wb = CalamineWorkbook.from_path(str(out / fname))
        for tl in workbook_layout(spec).tables:
            rows = wb.get_sheet_by_name(tl.sheet).to_python(skip_empty_area=False)
            status = rows[tl.status.row][tl.status.col]
            n = failing(spec, values, tl.table.key)
            bad_cells = sum(isinstance(values[c.key], str) for c in tl.table.cells)
            empty = sum(values[c.key] is None for c in tl.table.cells)
            if name == "blank":  # an untouched table must never look approved
                assert status == "未填写", (fname, tl.sheet, status)
                continue
            if name == "good":
                assert (n, bad_cells, status) == (0, 0, template.PASS), (fname, tl.sheet)
                continue
            expected = [f"尚有{empty}格未填"] if empty else []
            if n:
                expected.append(f"有{n}处勾稽关系不符")
            if bad_cells:
                expected.append(f"有{bad_cells}格填写有误")
            assert expected, (fname, tl.sheet)  # every table of the wrong/partial report is flagged
            assert status == "，".join(expected), (fname, tl.sheet, status)
        cover = wb.get_sheet_by_name(spec.workbook["cover"]["sheet"]).to_python(skip_empty_area=False)
        shown = [row for row in cover if len(row) > 1 and row[0] in {t.name for t in spec.tables}]
        assert len(shown) == len(spec.tables) and all(r[1] != STALE for r in shown)
        if cases[fname][2] == "blank":  # the 填报信息 overview of an untouched template
            assert all(r[1] == "未填写" for r in shown), shown

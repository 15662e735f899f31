"""Returns saved as .ods, WPS .et/.ett (BIFF or OOXML inside) and LibreOffice-saved .xlsx/.xls
check exactly like the original; an unreadable WPS file says what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from nianbao.annotate import annotate_workbook, output_name
from nianbao.inputs import Input, collect
from nianbao.pipeline import read_and_check

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
ORIGINALS = ("示例县教育局-2025-通过.xlsx", "错误-勾稽关系不符.xlsx", "旧表式-2019.xlsx")


def facts(path: Path):
    r = read_and_check(Input.of(path))
    assert not r.unreadable, [f.message for f in r.findings]
    msgs = sorted((f.code, f.sheet, f.cell, f.message.replace(str(path), "")) for f in r.findings)
    return r.form, r.unit, r.year, dict(r.values), sorted(r.blank), msgs


def assert_same_as(copy: Path, original: Path) -> None:
    got, want = facts(copy), facts(original)
    assert got[:5] == want[:5]
    assert got[5] == want[5]


@pytest.mark.parametrize("name", ORIGINALS)
@pytest.mark.parametrize("suffix", [".et", ".ett"])
def test_wps_file_with_ooxml_inside_checks_like_the_original(tmp_path, name, suffix):
    copy = tmp_path / (Path(name).stem + suffix)
    shutil.copyfile(SAMPLES / name, copy)
    assert_same_as(copy, SAMPLES / name)


@pytest.mark.parametrize("suffix", [".et", ".ett"])
def test_wps_file_with_biff_inside_checks_like_the_xls(tmp_path, suffix):
    xls = SAMPLES / "旧版Excel-97-2003.xls"
    copy = tmp_path / ("旧版" + suffix)
    shutil.copyfile(xls, copy)
    assert_same_as(copy, xls)
    assert facts(copy)[3]  # values were read


def test_wps_files_are_collected_from_a_folder(tmp_path):
    shutil.copyfile(SAMPLES / "旧版Excel-97-2003.xls", tmp_path / "a.et")
    shutil.copyfile(SAMPLES / ORIGINALS[0], tmp_path / "b.ett")
    col = collect([tmp_path])
    assert sorted(i.name for i in col.items) == ["a.et", "b.ett"]
    assert all(i.kind == "workbook" for i in col.items)


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01WPS proprietary\x00" * 40,
        b"plain text renamed",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600,
    ],
)
def test_unreadable_wps_file_says_save_as_xlsx(tmp_path, data):
    p = tmp_path / "单位.et"
    p.write_bytes(data)
    r = read_and_check(Input.of(p))
    assert r.unreadable
    msg = r.findings[0].message
    assert "请在 WPS 中另存为 .xlsx 后重新报送" in msg
    assert "Error" not in msg and "Exception" not in msg


@pytest.mark.slow
def test_annotated_copy_of_a_wps_file_is_xlsx_with_a_note(tmp_path):
    for src_name, stem in (("旧版Excel-97-2003.xls", "旧版"), (ORIGINALS[1], "勾稽")):
        src = tmp_path / f"{stem}.et"
        shutil.copyfile(SAMPLES / src_name, src)
        r = read_and_check(Input.of(src))
        out = tmp_path / output_name(src.name)
        assert out.name == f"{stem}_审核.xlsx"
        notes = annotate_workbook(src, src.name, r, out)
        assert any("WPS 表格（.et）" in n and ".xlsx" in n for n in notes)
        ws = openpyxl.load_workbook(out)["审核结果"]
        text = " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)
        assert "WPS 表格（.et）" in text


# ------------------------------------------------------------------ made by LibreOffice
def _soffice():
    return shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    if not _soffice():
        pytest.skip("LibreOffice (soffice) not installed")
    d = tmp_path_factory.mktemp("lo")
    out: dict[tuple[str, str], Path] = {}
    for fmt in ("ods", "xls", "xlsx"):
        target = d / fmt
        subprocess.run(
            [
                _soffice(),
                f"-env:UserInstallation=file://{d}/profile",
                "--headless",
                "--convert-to",
                fmt,
                "--outdir",
                str(target),
                *(str(SAMPLES / n) for n in ORIGINALS),
            ],
            check=True,
            capture_output=True,
            timeout=300,
            env=dict(os.environ, HOME=str(d)),
        )
        for n in ORIGINALS:
            out[(n, fmt)] = target / f"{Path(n).stem}.{fmt}"
    return out


@pytest.mark.libreoffice
@pytest.mark.parametrize("fmt", ["ods", "xls", "xlsx"])
@pytest.mark.parametrize("name", ORIGINALS)
def test_libreoffice_saved_return_checks_like_the_original(converted, name, fmt):
    assert_same_as(converted[(name, fmt)], SAMPLES / name)


@pytest.mark.libreoffice
def test_ods_renamed_and_annotated(converted, tmp_path):
    ods = converted[(ORIGINALS[1], "ods")]
    as_et = tmp_path / "单位.et"  # a WPS name over OpenDocument content: read by content
    shutil.copyfile(ods, as_et)
    assert_same_as(as_et, SAMPLES / ORIGINALS[1])
    r = read_and_check(Input.of(ods))
    out = tmp_path / output_name(ods.name)
    assert out.suffix == ".xlsx"
    notes = annotate_workbook(ods, ods.name, r, out)
    assert any("OpenDocument 表格（.ods）" in n for n in notes)
    wb = openpyxl.load_workbook(out)
    assert "审核结果" in wb.sheetnames and "表三" in wb.sheetnames

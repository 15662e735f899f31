"""Streaming inputs and the packed per-unit rows of ``aggregate`` (flat memory for 100,000 files):
inputs are found one at a time (the output-marker check happens only when a file's turn comes),
overlapping paths and links list a file once, and the rows come back whole and in a stable order."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from conftest import consistent_values
from nianbao import inputs
from nianbao.aggregate import FAILED, PASSED, aggregate
from nianbao.inputs import (
    ITEM,
    SKIP_LINKED_DIR,
    SKIP_OUTPUT,
    SKIPPED,
    UNSUPPORTED,
    collect,
    count_inputs,
    iter_collect,
)
from nianbao.spec import get_spec
from nianbao.template import write_template

S21 = get_spec("2021")


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("wb") / "t.xlsx"
    write_template(p, S21, unit="某局", year=2024, values=consistent_values(S21, 3))
    return p.read_bytes()


def our_output(path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet()
    wb.set_custom_property("nianbao_output", "aggregate")
    wb.close()


def test_inputs_are_yielded_one_at_a_time(tmp_path, workbook, monkeypatch):
    root = tmp_path / "收件"
    (root / "子").mkdir(parents=True)
    for name in ("b.xlsx", "a.xlsx", "子/c.xlsx"):
        (root / name).write_bytes(workbook)
    our_output(root / "汇总.xlsx")
    (root / "~$a.xlsx").write_bytes(b"lock")
    (root / "旧.doc").write_bytes(b"\xd0\xcf")
    checked = []
    real = inputs.file_output_kind
    monkeypatch.setattr(inputs, "file_output_kind", lambda p: checked.append(p.name) or real(p))

    stream = iter_collect([root])
    tag, first = next(stream)
    assert (tag, first.name) == (ITEM, "a.xlsx") and checked == ["a.xlsx"]  # nothing else opened yet
    rest = list(stream)
    assert [(t, x.name if t != SKIPPED else Path(x[0]).name) for t, x in rest] == [
        (ITEM, "b.xlsx"),
        (SKIPPED, "~$a.xlsx"),
        (UNSUPPORTED, "旧.doc"),
        (SKIPPED, "汇总.xlsx"),
        (ITEM, "c.xlsx"),
    ]  # files of a folder in name order, then its sub-folders
    assert dict(x for t, x in rest if t == SKIPPED)[str(root / "汇总.xlsx")] == SKIP_OUTPUT

    col = collect([root])  # the same stream, gathered
    assert [i.name for i in col.items] == ["a.xlsx", "b.xlsx", "c.xlsx"]
    assert [i.name for i in col.unsupported] == ["旧.doc"] and len(col.skipped) == 2
    # the progress total counts what will be read, without opening any workbook
    assert count_inputs([root]) == len(col.items) + len(col.unsupported) + 1  # + 汇总.xlsx


def test_overlapping_paths_and_links_list_each_file_once(tmp_path, workbook):
    root = tmp_path / "收件"
    (root / "子").mkdir(parents=True)
    (root / "a.xlsx").write_bytes(workbook)
    (root / "子" / "b.xlsx").write_bytes(workbook)
    os.symlink(root / "子", root / "链接文件夹")
    os.symlink(root / "a.xlsx", tmp_path / "别处.xlsx")

    col = collect([root / "a.xlsx", root, root / "子", root / "子" / "b.xlsx", tmp_path / "别处.xlsx"])
    assert [Path(i.display).relative_to(tmp_path).as_posix() for i in col.items] == [
        "收件/a.xlsx",
        "收件/子/b.xlsx",
    ]
    assert col.skipped == [(str(root / "链接文件夹"), SKIP_LINKED_DIR)]  # not walked, not dropped


def test_zip_members_are_counted_and_streamed(tmp_path, workbook):
    z = tmp_path / "各单位.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("甲.xlsx", workbook)
        zf.writestr("乙/乙.xlsx", workbook)
        zf.writestr("说明.jpg", b"\xff\xd8")
    assert count_inputs([z]) == 3
    tags = [(t, x.name) for t, x in iter_collect([z])]
    assert tags == [(ITEM, "乙.xlsx"), (ITEM, "甲.xlsx"), (UNSUPPORTED, "说明.jpg")]  # by member name


@pytest.mark.slow
def test_rows_are_whole_and_stable_when_read_in_parallel(tmp_path, workbook):
    src = tmp_path / "报送"
    src.mkdir()
    n = 40  # enough for the worker pool
    for i in range(n):
        values = consistent_values(S21, i)
        if i % 10 == 3:
            values["nb_t3_r_total_natural"] += 1
        write_template(
            src / f"{i:02d}.xlsx",
            S21,
            unit=f"县第{i}局（办）",
            year=2024,
            values=values,
            cover={"filler": f"填报人{i}", "phone": f"0851-{i:07d}", "date": "2025-01-15"},
        )
    (src / "说明.doc").write_bytes(b"\xd0\xcf")

    def rows():
        res = aggregate([src], jobs=2)
        try:
            return [(e.name, e.status, e.file, e.filler, e.phone, e.errors, e.note) for e in res.entries]
        finally:
            res.close()

    first = rows()
    assert first == rows()  # the same order whatever order the workers finish in
    by_file = {
        Path(f).name: (name, st, filler, phone, err, note) for name, st, f, filler, phone, err, note in first
    }
    assert len(first) == n + 1
    for i in range(n):
        name, st, filler, phone, err, note = by_file[f"{i:02d}.xlsx"]
        assert (name, filler, phone) == (f"县第{i}局（办）", f"填报人{i}", f"0851-{i:07d}")
        assert (st, note) == ((FAILED, "有错误，未计入汇总") if i % 10 == 3 else (PASSED, ""))
        assert (err > 0) == (i % 10 == 3)
    assert by_file["说明.doc"][1] == "unreadable" and "不支持的文件类型" in by_file["说明.doc"][5]
    assert [r[1] for r in first][:5] == ["unreadable"] + [FAILED] * 4  # problems first

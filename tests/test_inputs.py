"""Collecting inputs: files, folders, zip archives (GBK names, nested folders, size guards),
skipped files (lock files, hidden files, nianbao's own outputs) and unsupported types."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from nianbao import guard
from nianbao.guard import member_name
from nianbao.inputs import SKIP_HIDDEN, SKIP_LOCK, SKIP_OUTPUT, collect
from nianbao.reader import read_report
from nianbao.spec import get_spec
from nianbao.template import write_template

S21 = get_spec("2021")


@pytest.fixture(scope="module")
def workbook(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("wb") / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values={"nb_t3_new_natural": 7})
    return p.read_bytes()


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_walk_classifies_everything(tmp_path, workbook):
    import xlsxwriter

    root = tmp_path / "收件"
    (root / "乙 单位").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "b.xlsx").write_bytes(workbook)
    (root / "乙 单位" / "A.XLSX").write_bytes(workbook)
    (root / "a.xlsm").write_bytes(workbook)
    (root / "~$b.xlsx").write_bytes(b"lock")
    (root / ".hidden.xlsx").write_bytes(workbook)
    (root / ".git" / "x.xlsx").write_bytes(workbook)
    (root / "b_审核.xlsx").write_bytes(workbook)
    out = root / "汇总.xlsx"
    wb = xlsxwriter.Workbook(str(out))
    wb.add_worksheet()
    wb.set_custom_property("nianbao_output", "aggregate")
    wb.close()
    (root / "说明.docx").write_bytes(b"PK")
    (root / "报告.PDF").write_bytes(b"%PDF")
    (root / "名单.csv").write_text("a,b", encoding="utf-8")
    (root / "旧.doc").write_bytes(b"\xd0\xcf")
    before = snapshot(root)

    col = collect([root])
    names = [Path(i.display).relative_to(root).as_posix() for i in col.items]
    assert names == ["a.xlsm", "b.xlsx", "报告.PDF", "说明.docx", "乙 单位/A.XLSX"]
    kinds = {Path(i.display).name: i.kind for i in col.items}
    assert kinds["报告.PDF"] == "report" and kinds["A.XLSX"] == "workbook"
    assert {Path(i.display).name: i.suffix for i in col.items}["A.XLSX"] == ".xlsx"
    skipped = {Path(p).name: why for p, why in col.skipped}
    assert skipped == {
        ".git": "隐藏文件夹，已跳过",
        "~$b.xlsx": SKIP_LOCK,
        ".hidden.xlsx": SKIP_HIDDEN,
        "b_审核.xlsx": SKIP_OUTPUT,
        "汇总.xlsx": SKIP_OUTPUT,
    }
    assert sorted(i.name for i in col.unsupported) == ["名单.csv", "旧.doc"]
    for item in col.items:
        read_report(item)
    assert snapshot(root) == before  # nothing renamed, modified or added

    kept = collect([out], skip_outputs=False)  # e.g. last year's aggregate for --previous
    assert [i.name for i in kept.items] == ["汇总.xlsx"]


def test_explicit_files(tmp_path, workbook):
    p = tmp_path / ".藏.xlsx"
    p.write_bytes(workbook)
    lock = tmp_path / "~$x.xlsx"
    lock.write_bytes(b"x")
    col = collect([p, p, tmp_path / "没有这个文件.xlsx", lock])
    assert [i.name for i in col.items] == [".藏.xlsx", "没有这个文件.xlsx"]  # given by name: read
    assert col.skipped == [(str(lock), SKIP_LOCK)]
    r = read_report(col.items[1])
    assert r.status == "unreadable" and "文件不存在" in r.findings[0].message


def test_long_chinese_path_with_spaces(tmp_path, workbook):
    d = tmp_path / "某某县 2025 年 各部门报送" / ("很长的文件夹名" * 6)
    d.mkdir(parents=True)
    p = d / (("某某县人民政府办公室政府信息公开工作年度报告 " * 3).strip() + ".xlsx")
    p.write_bytes(workbook)
    r = read_report(collect([tmp_path]).items[0])
    assert r.status == "passed" and r.values["nb_t3_new_natural"] == 7


def _zip_with_raw_names(path: Path, members: dict[str, bytes], encoding: str) -> None:
    """A zip whose member names are stored in ``encoding`` without the UTF-8 flag, the way
    Windows Explorer on a Chinese system writes them."""
    raw = {name: name.encode(encoding) for name in members}
    placeholders = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i, (name, data) in enumerate(members.items()):
            ph = f"{i:03d}".ljust(len(raw[name]), "_")
            assert len(ph) == len(raw[name])
            placeholders[name] = ph.encode("ascii")
            z.writestr(ph, data)
    blob = path.read_bytes()
    for name, ph in placeholders.items():
        assert blob.count(ph) == 2  # local header and central directory
        blob = blob.replace(ph, raw[name])
    path.write_bytes(blob)


def test_zip_with_gbk_names_and_nested_folders(tmp_path, workbook):
    z = tmp_path / "各单位报表.zip"
    _zip_with_raw_names(
        z,
        {
            "教育局/2025年报表.xlsx": workbook,
            "卫健委/子目录/卫健委.xlsx": workbook,
            "__MACOSX/._x.xlsx": b"x",
            "说明.txt": "说明".encode("gbk"),
            "照片.jpg": b"\xff\xd8",
        },
        "gbk",
    )
    with zipfile.ZipFile(z) as zf:
        assert not any(i.flag_bits & 0x800 for i in zf.infolist())
        assert min(member_name(i) for i in zf.infolist()) == "__MACOSX/._x.xlsx"
    before = z.read_bytes()
    col = collect([z])
    assert [i.display for i in col.items] == [
        f"{z}!卫健委/子目录/卫健委.xlsx",
        f"{z}!教育局/2025年报表.xlsx",
        f"{z}!说明.txt",
    ]
    assert [i.name for i in col.items] == ["卫健委.xlsx", "2025年报表.xlsx", "说明.txt"]
    assert all(i.data is not None and i.path is None for i in col.items)
    assert [i.name for i in col.unsupported] == ["照片.jpg"]
    assert col.skipped == [(f"{z}!__MACOSX/._x.xlsx", SKIP_HIDDEN)]
    r = read_report(col.items[1])
    assert r.status == "passed" and r.values["nb_t3_new_natural"] == 7
    assert z.read_bytes() == before


def test_zip_utf8_names_and_nested_zip(tmp_path, workbook):
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("内层/财政局.xlsx", workbook)
    outer = tmp_path / "outer.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.writestr("统计局.xlsx", workbook)
        zf.write(inner, "再打包.zip")
    col = collect([outer])
    assert [i.display for i in col.items] == [f"{outer}!再打包.zip!内层/财政局.xlsx", f"{outer}!统计局.xlsx"]
    assert all(read_report(i).status == "passed" for i in col.items)


def test_zip_size_guards_refuse_without_inflating(tmp_path, workbook, monkeypatch):
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xlsx", workbook)
        zf.writestr("bomb.xlsx", b"\0" * 3_000_000)  # ~3 KB packed
        zf.writestr("c.xlsx", workbook)
    monkeypatch.setattr(guard, "MAX_MEMBER_BYTES", 2_000_000)
    monkeypatch.setattr(guard, "MAX_ARCHIVE_BYTES", 2_000_000 + len(workbook) + 10)
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *a, **k):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *a, **k)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    col = collect([z])
    by_name = {i.name: i for i in col.items}
    assert "上限" in by_name["bomb.xlsx"].error and "bomb.xlsx" not in opened
    assert by_name["a.xlsx"].error is None and by_name["c.xlsx"].error is None

    monkeypatch.setattr(guard, "MAX_ARCHIVE_BYTES", len(workbook) + 10)
    monkeypatch.setattr(guard, "MAX_MEMBER_BYTES", 50_000_000)
    col = collect([z])
    errors = {i.name: i.error for i in col.items}
    assert errors["a.xlsx"] is None
    assert "压缩比异常" in errors["bomb.xlsx"] or "上限" in errors["bomb.xlsx"]
    assert "总大小" in errors["c.xlsx"]
    r = read_report(next(i for i in col.items if i.name == "c.xlsx"))
    assert r.status == "unreadable" and r.findings[0].message.startswith(f"{z}!c.xlsx：")


def test_broken_zip_archive(tmp_path):
    z = tmp_path / "坏.zip"
    z.write_bytes(b"PK\x03\x04 not really")
    col = collect([z])
    assert len(col.items) == 1 and "损坏" in col.items[0].error
    r = read_report(col.items[0])
    assert r.status == "unreadable" and "坏.zip" in r.findings[0].message

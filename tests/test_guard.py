"""One guard layer: only nianbao.guard opens the zip members of an input or parses package XML;
the limits, the DTD check, the own-output marker, the suffix registry and the year range live
there once."""

from __future__ import annotations

import ast
import io
import zipfile
from pathlib import Path

import pytest

import nianbao
from nianbao import guard

SRC = Path(nianbao.__file__).resolve().parent

XML_PARSERS = ("defusedxml", "xml.etree", "xml.dom", "xml.parsers", "xml.sax", "lxml")
XML_WRITING = ("xml.sax.saxutils",)  # escaping text for XML being written is not parsing
WRITE_MODES = {"w", "x", "a"}
# Reads that are not of a user's package: (file, what) -> why
ALLOWED = {
    ("publish/docx_writer.py", "lxml"): "edits the XML of the Word document nianbao itself is writing",
    ("publish/docx_writer.py", "fromstring"): "the same: a part of nianbao's own Word output",
}


def _mode(call: ast.Call) -> str | None:
    """The mode of a ZipFile(...) call when it is spelled as a constant ('r' by default)."""
    arg = (
        call.args[1]
        if len(call.args) > 1
        else next((k.value for k in call.keywords if k.arg == "mode"), None)
    )
    if arg is None:
        return "r"
    return arg.value if isinstance(arg, ast.Constant) else None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _violations(src: Path) -> dict[tuple[str, str], list[int]]:
    found: dict[tuple[str, str], list[int]] = {}

    def hit(rel: str, what: str, line: int) -> None:
        found.setdefault((rel, what), []).append(line)

    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src).as_posix()
        if rel == "guard.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for m in mods:
                    if m.startswith(XML_PARSERS) and not m.startswith(XML_WRITING):
                        hit(rel, m.split(".")[0], node.lineno)
            elif isinstance(node, ast.Call):
                name = _name(node.func)
                if name == "ZipFile" and _mode(node) not in WRITE_MODES:
                    hit(rel, "ZipFile(read)", node.lineno)
                elif name in ("is_zipfile", "zipfile", "_zipfile", "fromstring", "iterparse", "parseString"):
                    hit(rel, name, node.lineno)
            elif isinstance(node, ast.Attribute) and node.attr == "Path" and _name(node.value) == "zipfile":
                hit(rel, "zipfile.Path", node.lineno)
    return found


@pytest.mark.slow
def test_only_the_guard_opens_zip_members_or_parses_package_xml():
    stray = {k: v for k, v in _violations(SRC).items() if k not in ALLOWED}
    assert not stray, f"zip reading / XML parsing outside nianbao.guard (add it to the guard): {stray}"


@pytest.mark.slow
def test_allowances_are_all_used():
    assert set(ALLOWED) <= set(_violations(SRC))


def test_the_scan_finds_each_kind_of_read(tmp_path):
    pkg = tmp_path / "nianbao"
    pkg.mkdir()
    (pkg / "guard.py").write_text("import zipfile\nzipfile.ZipFile('x')\n", encoding="utf-8")
    (pkg / "bad.py").write_text(
        "import zipfile\nfrom defusedxml import ElementTree\nimport xml.etree.ElementTree as ET\n"
        "from xml.sax.saxutils import escape\n"
        "zipfile.ZipFile('a.zip')\nzipfile.ZipFile(b, 'r')\nzipfile.ZipFile(b, mode='w')\n"
        "zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED)\nzipfile.is_zipfile('a')\npkg.zipfile().read('x')\n"
        "ET.fromstring(b'<a/>')\n",
        encoding="utf-8",
    )
    got = {what: lines for (rel, what), lines in _violations(pkg).items()}
    assert got == {
        "defusedxml": [2],
        "xml": [3],
        "ZipFile(read)": [5, 6],
        "is_zipfile": [9],
        "zipfile": [10],
        "fromstring": [11],
    }


# ---- the guard's own behaviour ------------------------------------------------------------


def _zip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("xml", "dtd"),
    [
        (b'<?xml version="1.0"?><a/>', False),
        (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a/>', True),
        (b"<!-- c --><!entity x 'y'><a/>", True),
        (b"<!DocType a><a/>", True),
        (b"<a><!-- <!DOCTYPE in a comment after the root is not a DTD --></a>", False),
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a><a/>'.encode("utf-16"), True),
        ('<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16"), False),
    ],
)
def test_one_dtd_check(xml, dtd):
    assert guard.has_dtd(xml) is dtd


def test_the_dtd_check_is_the_same_for_workbooks_annotator_and_word(tmp_path):
    """One DTD check refuses the same part in all three places that open packages."""
    from nianbao.importers.docx import DocxError, docx_doc
    from nianbao.xlsxpkg import Package, PackageError

    evil = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r/>'
    with pytest.raises(PackageError, match="DOCTYPE/ENTITY"):
        Package(_zip({"[Content_Types].xml": evil}))
    with pytest.raises(DocxError, match="DOCTYPE/ENTITY"):
        docx_doc(_zip({"word/document.xml": b"<w/>", "word/styles.xml": evil}))
    with pytest.raises(guard.Unreadable, match="DOCTYPE/ENTITY"):
        guard.open_package(_zip({"xl/workbook.xml": b"<workbook/>", "xl/styles.xml": evil}))


def test_own_output_marker(tmp_path):
    from nianbao.reader.aggregate import is_aggregate

    def props(kind: str) -> bytes:
        return (
            '<Properties xmlns:vt="v"><property fmtid="x" pid="2" name="nianbao_output">'
            f"<vt:lpwstr>{kind}</vt:lpwstr></property></Properties>"
        ).encode()

    agg = _zip({"docProps/custom.xml": props("aggregate"), "xl/workbook.xml": b"<w/>"})
    ann = _zip({"docProps/custom.xml": props("annotated")})
    plain = _zip({"docProps/custom.xml": b"<Properties/>", "xl/workbook.xml": b"<w/>"})
    assert [guard.output_kind(x) for x in (agg, ann, plain, b"not a zip")] == [
        "aggregate",
        "annotated",
        "",
        "",
    ]
    assert is_aggregate(agg) and not is_aggregate(ann) and not is_aggregate(plain)
    p = tmp_path / "a.xlsx"
    p.write_bytes(agg)
    assert guard.file_output_kind(p) == "aggregate" and guard.file_output_kind(tmp_path / "none.xlsx") == ""
    assert guard.output_kind(agg, max_unzipped=3) == ""
    assert guard.is_own_output({"nianbao_output": "annotated"}) and not guard.is_own_output({"x": "y"})


def test_one_suffix_registry():
    from nianbao import importers, inputs, roster
    from nianbao.web import common

    assert importers.SUFFIXES == guard.REPORT_SUFFIXES == inputs.REPORT_SUFFIXES
    assert inputs.SPREADSHEET_SUFFIXES == guard.SPREADSHEET_SUFFIXES
    assert roster.ROSTER_SUFFIXES is guard.ROSTER_SUFFIXES
    assert not hasattr(common, "ROSTER_SUFFIXES")
    for name, kind in [("a.XLSX", "workbook"), ("b.htm", "report"), ("c.md", "report"), ("d.zip", "archive")]:
        assert guard.kind_of(name) == kind
    assert guard.kind_of("e.doc") is None


def test_one_year_range():
    assert (guard.YEAR_MIN, guard.YEAR_MAX) == (2000, 2100)
    assert (
        guard.year_ok(2025)
        and not guard.year_ok(1999)
        and not guard.year_ok(2101)
        and not guard.year_ok(None)
    )
    for rel in ("aggregate/command.py", "template/command.py", "web/common.py", "template/writer.py"):
        text = (SRC / rel).read_text(encoding="utf-8")
        assert "2100" not in text and "1990" not in text, rel


def test_archive_member_limits(monkeypatch):
    data = _zip({"a.xlsx": b"x" * 10, "b.xlsx": b"\0" * 3_000_000, "c.xlsx": b"y" * 10})
    arc = guard.Archive(data)
    assert [n for n, _ in arc.members] == ["a.xlsx", "b.xlsx", "c.xlsx"]
    a, b, c = (i for _, i in arc.members)
    assert arc.refusal(a) is None and arc.read(a) == b"x" * 10 and arc.total == 10
    assert "压缩炸弹" in arc.refusal(b)
    monkeypatch.setattr(guard, "MAX_ARCHIVE_BYTES", 15)
    assert "总大小" in arc.refusal(c)
    with pytest.raises(guard.ArchiveError):
        guard.Archive(b"PK\x03\x04 broken")


def test_guard_is_importable_alone():
    """The guard sits below everything that reads: it imports no other nianbao module."""
    tree = ast.parse((SRC / "guard.py").read_text(encoding="utf-8"))
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m is None or m.startswith("nianbao") for m in mods if m) and all(
        n.level == 0 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
    )


def test_a_desk_import_reads_its_archive_through_the_guard(tmp_path):
    from nianbao.desk import Desk
    from nianbao.desk.outputs import import_collection
    from nianbao.desk.store import DeskError

    desk = Desk(tmp_path / "d")
    try:
        for name, data in [("a.zip", b"not a zip"), ("b.zip", _zip({"x.txt": b"x"}))]:
            (tmp_path / name).write_bytes(data)
            with pytest.raises(DeskError, match="不是 nianbao 报送台导出的文件"):
                import_collection(desk, tmp_path / name)
        with pytest.raises(DeskError):
            import_collection(desk, tmp_path / "missing.zip")
    finally:
        desk.close()

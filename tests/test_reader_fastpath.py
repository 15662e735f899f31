"""The reader's shortcuts give exactly what the full work gives: the sheet-part pre-check against
the full extent scan, the zip directory against zipfile, and the whole-table read of our
template against the cell-by-cell read."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from conftest import consistent_values
from nianbao.guard import _directory, open_package
from nianbao.inputs import collect
from nianbao.layout import workbook_layout
from nianbao.model import Report
from nianbao.reader import MAX_COLS, MAX_ROWS, read_report, scan_extent
from nianbao.reader.book import Book
from nianbao.reader.extent import plain_formula_starts, sheet_data_span
from nianbao.reader.formulas import _formula_starts
from nianbao.reader.locate import Located, from_layout, spec_from_meta
from nianbao.reader.values import read_values
from nianbao.spec import get_spec
from nianbao.template import write_template

S21 = get_spec("2021")


def _sheet(cells: str) -> bytes:
    return (
        b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b"<sheetData>" + cells.encode() + b"</sheetData></worksheet>"
    )


ROW = '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f>A1*2</f><v>2</v></c></row>'
VARIANTS = {
    "plain": ROW,
    "formula only in text": ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t>&lt;f x</t></is></c></row>',
    "last column IV": ROW + '<row r="3"><c r="IV3"><v>1</v></c></row>',
    "column IW": ROW + '<row r="3"><c r="IW3"><v>1</v></c></row>',
    "column ZZ": ROW + '<row r="3"><c r="ZZ3"><v>1</v></c></row>',
    "column AAA": ROW + '<row r="3"><c r="AAA3"><v>1</v></c></row>',
    "XFD1048576": ROW + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>',
    "row 10000": ROW + f'<row r="{MAX_ROWS}"><c r="A{MAX_ROWS}"><v>1</v></c></row>',
    "row 10001": ROW + f'<row r="{MAX_ROWS + 1}"><c r="A{MAX_ROWS + 1}"><v>1</v></c></row>',
    "far cell in a near row": ROW + '<row r="4"><c r="A1000000"><v>1</v></c></row>',
    "far empty row": ROW + '<row r="1000000"/>',
    "cell without r": ROW + '<row r="5"><c><v>1</v></c></row>',
    "row without r": ROW + '<row><c r="A6"><v>1</v></c></row>',
    "single quotes": ROW + "<row r='7'><c r='XFD7'><v>1</v></c></row>",
    "spaces around =": ROW + '<row r="8"><c r = "XFD8"><v>1</v></c></row>',
    "tab before r": ROW + '<row r="9"><c\tr="XFD9"><v>1</v></c></row>',
    "style first": ROW + '<row r="10"><c s="1" r="XFD10"><v>1</v></c></row>',
    "leading zeros": ROW + '<row r="11"><c r="A0000011"><v>1</v></c></row>',
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_precheck_agrees_with_the_full_scan(name):
    xml = _sheet(VARIANTS[name])
    s, e = sheet_data_span(xml)
    max_row, max_col, all_refs = scan_extent(xml, (s, e))
    starts = plain_formula_starts(xml, s, e)
    if max_row > MAX_ROWS or max_col > MAX_COLS or not all_refs:
        assert starts is None  # the full scan runs, and trims or skips as before
    if starts is not None:
        assert max_row <= MAX_ROWS and max_col <= MAX_COLS and all_refs
        assert starts == list(_formula_starts(xml, s, e, False))
    if name in ("plain", "formula only in text", "last column IV"):
        assert starts == [xml.index(b"<f>")]
    if name == "row 10000":  # any five-digit row is left to the full scan, which keeps it
        assert starts is None and max_row == MAX_ROWS


def _zip(entries: dict[str, bytes], comment: bytes = b"", prefix: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
        z.comment = comment
    return prefix + buf.getvalue()


def test_zip_directory_read_like_zipfile(tmp_path):
    p = tmp_path / "t.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=consistent_values(S21))
    names = {"a.xml": b"<a/>", "目录/文件.xml": b"<b/>", "dir/": b""}
    for data in (p.read_bytes(), _zip(names)):
        fast = _directory(data)
        slow = zipfile.ZipFile(io.BytesIO(data)).infolist()
        assert fast is not None and len(fast) == len(slow)
        fields = (
            "filename",
            "flag_bits",
            "compress_type",
            "CRC",
            "compress_size",
            "file_size",
            "header_offset",
        )
        assert [[getattr(i, f) for f in fields] for i in fast] == [
            [getattr(i, f) for f in fields] for i in slow
        ]
        assert [i.is_dir() for i in fast] == [i.is_dir() for i in slow]
    # anything unusual is left to zipfile
    assert _directory(_zip(names, comment=b"note")) is None
    assert _directory(_zip(names, prefix=b"MZ" * 10)) is None
    assert _directory(b"PK\x05\x06" + b"\0" * 18) == []
    pkg = open_package(p.read_bytes())
    assert pkg.zf is None and pkg.read("xl/workbook.xml").startswith(b"<?xml")  # zipfile never opened
    odd = open_package(_zip({"xl/workbook.xml": b"<workbook/>"}, comment=b"note"))
    assert odd.zf is not None and odd.read("xl/workbook.xml") == b"<workbook/>"


def _values_both_ways(path: Path):
    """(report read through the layout plans, report read cell by cell) of one template workbook."""
    item = collect([path]).items[0]
    data = item.read_bytes()
    book = Book(item, data, open_package(data))
    spec = spec_from_meta(book.pkg.custom)
    tables = [from_layout(tl) for tl in workbook_layout(spec).tables]
    fast, slow = Report(path="fast"), Report(path="slow")
    by_fast = read_values(book, spec, fast, tables)
    by_slow = read_values(book, spec, slow, [Located(cells=dict(t.cells), found_any=True) for t in tables])
    return fast, slow, by_fast, by_slow


@pytest.mark.parametrize("case", ["numbers", "mixed"])
def test_whole_table_read_equals_cell_by_cell(tmp_path, case):
    vals = dict(consistent_values(S21, 3))
    if case == "mixed":  # text, blanks, negatives, fractions, big numbers, full-width digits
        for k, v in zip(
            list(vals)[::9], ["abc", None, -3, 2.5, 123456, "１２", "", " 7 ", True, 10**20], strict=False
        ):
            vals[k] = v
    p = tmp_path / f"{case}.xlsx"
    write_template(p, S21, unit="某局", year=2025, values=vals)
    fast, slow, by_fast, by_slow = _values_both_ways(p)
    assert list(fast.values.items()) == list(slow.values.items())
    assert fast.where == slow.where and list(fast.where) == list(slow.where)
    assert fast.blank == slow.blank and fast.invalid == slow.invalid
    assert [(f.code, f.message, f.cell) for f in fast.findings] == [
        (f.code, f.message, f.cell) for f in slow.findings
    ]
    assert by_fast == by_slow
    if case == "mixed":
        assert fast.findings and fast.blank
    r = read_report(collect([p]).items[0])
    assert r.source == "template" and r.values == fast.values

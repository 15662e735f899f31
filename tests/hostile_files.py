"""Generators of hostile and broken input files for the reliability tests.

Every file is written by code into a folder the test gives (tmp_path); nothing binary is kept
in the repository. Workbooks start from our own template filled with consistent values, then
one thing is broken: bytes, package parts, cells. Cell positions come from the spec's layout.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nianbao.layout import workbook_layout
from nianbao.samples import consistent_values
from nianbao.spec import Spec, get_spec
from nianbao.template import write_template

S21 = get_spec("2021")
LAY = workbook_layout(S21)
# a value cell of 表三 used for single-cell breakage (the first one of its first row)
T3 = LAY.table("t3")
KEY = next(iter(T3.values))
KEY2 = list(T3.values)[1]
SHEET, REF = T3.sheet, T3.values[KEY].ref
REF2 = T3.values[KEY2].ref


def good_workbook(
    path: Path, unit: str = "县教育局", seed: int = 1, spec: Spec = S21, values: dict | None = None, **kw
) -> Path:
    """A filled template that passes every check."""
    vals = dict(consistent_values(spec, seed))
    vals.update(values or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_template(path, spec, unit=unit, year=2025, values=vals, **kw)
    return path


# ---- package surgery -------------------------------------------------------------------


def rewrite(
    src: Path, dst: Path, edit: Callable[[str, bytes], bytes | None], extra: dict[str, bytes] | None = None
) -> Path:
    """Copy the zip package ``src`` to ``dst`` passing every part through ``edit`` (None drops
    the part); ``extra`` parts are appended."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


def sheet_part(path: Path, sheet: str) -> str:
    """The package part holding worksheet ``sheet``."""
    with zipfile.ZipFile(path) as z:
        wb = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(rf'<sheet name="{re.escape(sheet)}"[^>]*r:id="(\w+)"', wb).group(1)
    target = re.search(rf'<Relationship Id="{rid}"[^>]*Target="([^"]+)"', rels)
    if target is None:
        target = re.search(rf'Target="([^"]+)"[^>]*Id="{rid}"', rels)
    t = target.group(1)
    return t.lstrip("/") if t.startswith("/") else "xl/" + t


def set_cell(xml: bytes, ref: str, cell: str) -> bytes:
    """Replace the ``<c r="ref">`` element of a sheet part by ``cell`` (raw XML)."""
    pat = re.compile(rb'<c r="' + ref.encode() + rb'"(?: [^>]*?)?(?:/>|>.*?</c>)', re.DOTALL)
    out, n = pat.subn(cell.encode("utf-8"), xml, count=1)
    assert n == 1, f"cell {ref} not found"
    return out


def edit_sheet(src: Path, dst: Path, sheet: str, fn: Callable[[bytes], bytes], **kw) -> Path:
    part = sheet_part(src, sheet)
    return rewrite(src, dst, lambda n, d: fn(d) if n == part else d, **kw)


# ---- the hostile cases -------------------------------------------------------------------


@dataclass
class Case:
    """One hostile input and what the tool must say about it."""

    path: Path
    status: str  # 'unreadable' | 'failed' | 'passed' (the file's status in check)
    needles: tuple[str, ...] = ()  # Chinese words the file's first finding must contain
    cells: tuple[str, ...] = ()  # A1 refs that must be named by a finding
    codes: tuple[str, ...] = ()  # finding codes that must appear
    skipped: int = 0  # files beside it that must be skipped (lock files)
    member: str = ""  # for an archive: the member this case is about

    @property
    def display(self) -> str:
        """How the tool names the input (archive members as archive.zip!member)."""
        return f"{self.path}!{self.member}" if self.member else str(self.path)


def empty(d: Path) -> Case:
    p = d / "空文件.xlsx"
    p.write_bytes(b"")
    return Case(p, "unreadable", ("空的",))


def text_renamed(d: Path) -> Case:
    p = d / "其实是文本.xlsx"
    p.write_bytes("单位：县林业局\n收到申请 3 件\n".encode() * 20)
    return Case(p, "unreadable", ("文本文件",))


def pdf_renamed(d: Path) -> Case:
    p = d / "其实是PDF.xlsx"
    p.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
    return Case(p, "unreadable", ("PDF",))


def truncated(d: Path, tmp: Path) -> Case:
    src = good_workbook(tmp / "src_trunc.xlsx", unit="县司法局")
    p = d / "下载中断.xlsx"
    p.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    return Case(p, "unreadable", ("损坏",))


BOMB_BYTES = 300 * 1024 * 1024  # declared (and real) size of the inflated sheet part


def zip_bomb(d: Path, tmp: Path, size: int = BOMB_BYTES) -> Case:
    """A workbook whose 表三 part inflates to ``size`` bytes (a few hundred KB on disk)."""
    src = good_workbook(tmp / "src_bomb.xlsx", unit="县住建局")
    part = sheet_part(src, SHEET)
    p = d / "压缩炸弹.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename != part:
                zout.writestr(info.filename, data)
                continue
            head, tail = data.split(b"<sheetData>", 1)
            with zout.open(part, "w", force_zip64=True) as w:
                w.write(head + b"<sheetData>")
                chunk = b"<row/>" * (1 << 18)
                left = size - len(head) - len(tail)
                while left > 0:
                    w.write(chunk[:left])
                    left -= len(chunk)
                w.write(tail)
    assert p.stat().st_size < 3_000_000
    return Case(p, "unreadable", ("上限", "MB"))


_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)
    )
    + "]>"
)


ARCHIVE_BOMB_BYTES = 64 * 1024 * 1024


def archive_bomb(d: Path, tmp: Path) -> Case:
    """A .zip of returned workbooks: one good member, one that inflates to 64 MB."""
    good = good_workbook(tmp / "src_archive.xlsx", unit="县民政局", seed=12)
    p = d / "打包报送.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(good, "县民政局.xlsx")
        with z.open("炸弹.xlsx", "w", force_zip64=True) as w:
            chunk = b"\0" * (1 << 20)
            for _ in range(ARCHIVE_BOMB_BYTES // len(chunk)):
                w.write(chunk)
    assert p.stat().st_size < 1_000_000
    return Case(p, "unreadable", ("上限", "MB"), member="炸弹.xlsx")


def entity_expansion(d: Path, tmp: Path) -> Case:
    """Billion laughs in the shared strings, referenced from the unit cell."""
    src = good_workbook(tmp / "src_lol.xlsx", unit="县公安局")

    def edit(name, data):
        if name == "xl/sharedStrings.xml":
            body = data.split(b"?>", 1)[1].replace(b"<t>", b"<t>&lol9;", 1)
            return _LAUGHS.encode() + body
        return data

    p = rewrite(src, d / "实体膨胀.xlsx", edit)
    # refused (python-calamine does not expand entities), but named as a damaged file: see
    # test_hostile.test_entity_declaration_in_any_part_is_named
    return Case(p, "unreadable")


# where a billion-laughs DTD and a reference to it go, part by part
ENTITY_PARTS = {
    "xl/sharedStrings.xml": (b"<t>", b"<t>&lol9;"),
    "xl/styles.xml": (
        b"<fonts",
        b'<numFmts count="1"><numFmt numFmtId="200" formatCode="&lol9;"/></numFmts><fonts',
    ),
    "xl/theme/theme1.xml": (b'name="Office Theme"', b'name="&lol9;"'),
    "docProps/core.xml": (b"<dc:title>", b"<dc:title>&lol9;"),
}


def entity_in_part(path: Path, tmp: Path, part: str) -> Path:
    """A good workbook whose ``part`` declares the billion-laughs DTD and uses it."""
    src = good_workbook(tmp / "src_part_entity.xlsx", unit="县档案局")
    old, new = ENTITY_PARTS[part]

    def edit(name, data):
        if name == part:
            body = data.split(b"?>", 1)[1]
            assert old in body, part
            return _LAUGHS.encode() + body.replace(old, new, 1)
        return data

    return rewrite(src, path, edit)


def external_entity(d: Path, tmp: Path) -> Case:
    """An external entity (file:///etc/passwd) in the 表三 sheet part."""
    src = good_workbook(tmp / "src_xxe.xlsx", unit="县人社局")
    dtd = b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    p = edit_sheet(
        src,
        d / "外部实体.xlsx",
        SHEET,
        lambda x: set_cell(
            dtd + x.split(b"?>", 1)[1], REF, f'<c r="{REF}" t="inlineStr"><is><t>&xxe;</t></is></c>'
        ),
    )
    return Case(p, "unreadable", ("实体",))


def encrypted(d: Path, tmp: Path) -> Case:
    from msoffcrypto.format.ooxml import OOXMLFile

    src = good_workbook(tmp / "src_pw.xlsx", unit="县自然资源局")
    p = d / "设了密码.xlsx"
    with open(src, "rb") as f, open(p, "wb") as out:
        OOXMLFile(f).encrypt("123456", out)
    return Case(p, "unreadable", ("密码",))


MILLION = 1_048_576


def million_rows(d: Path, tmp: Path) -> Case:
    """表三 with a used range of a million rows: a dimension of A1:XFD1048576 and a styled,
    empty row at every one of the million rows below the table."""
    src = good_workbook(tmp / "src_million.xlsx", unit="县交通运输局")

    def fn(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', xml)
        last = max(int(x) for x in re.findall(rb'<row r="(\d+)"', xml))
        rows = b"".join(b'<row r="%d" s="1"/>' % r for r in range(last + 1, MILLION + 1))
        return xml.replace(b"</sheetData>", rows + b"</sheetData>", 1)

    p = edit_sheet(src, d / "百万行.xlsx", SHEET, fn)
    return Case(p, "passed")


def far_cell(d: Path, tmp: Path) -> Case:
    """One cell at XFD1048576 (python-calamine 0.9.1 aborts the process on it)."""
    src = good_workbook(tmp / "src_far.xlsx", unit="县农业农村局")
    extra = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    p = edit_sheet(
        src, d / "最远单元格.xlsx", SHEET, lambda x: x.replace(b"</sheetData>", extra + b"</sheetData>", 1)
    )
    return Case(p, "passed", ("XFD1048576",), ("XFD1048576",), ("NB006",))


def formula_errors(d: Path, tmp: Path) -> Case:
    """#DIV/0! typed as an error value and #REF! left by a formula, in two value cells."""
    src = good_workbook(tmp / "src_err.xlsx", unit="县商务局")

    def fn(xml):
        xml = set_cell(xml, REF, f'<c r="{REF}" s="9" t="e"><v>#DIV/0!</v></c>')
        return set_cell(xml, REF2, f'<c r="{REF2}" s="9" t="e"><f>#REF!+1</f><v>#REF!</v></c>')

    p = edit_sheet(src, d / "公式错误.xlsx", SHEET, fn)
    return Case(p, "failed", ("#DIV/0!",), (REF, REF2))


def huge_numbers(d: Path, tmp: Path) -> Case:
    """1e308 as a number in a value cell and in the year cell, 400 nines typed as text."""
    src = good_workbook(tmp / "src_huge.xlsx", unit="县发展改革局")
    year_ref = LAY.cover["year"][1].ref

    def edit(name, data):
        if name == sheet_part(src, SHEET):
            data = set_cell(data, REF, f'<c r="{REF}" s="9"><v>1e308</v></c>')
            return set_cell(data, REF2, f'<c r="{REF2}" t="inlineStr"><is><t>{"9" * 400}</t></is></c>')
        if name == sheet_part(src, LAY.cover_sheet):
            return set_cell(data, year_ref, f'<c r="{year_ref}"><v>1e308</v></c>')
        return data

    p = rewrite(src, d / "天文数字.xlsx", edit)
    return Case(p, "failed", codes=("NB201",))


LONG_TEXT = "很长的说明" * 2000  # 10,000 characters


def long_string(d: Path, tmp: Path) -> Case:
    p = good_workbook(d / "超长文字.xlsx", unit="县文化旅游局", values={KEY: LONG_TEXT})
    return Case(p, "failed", ("很长的说明",), (REF,), ("NB102",))


def merged_values(d: Path, tmp: Path) -> Case:
    """Two value cells of 表三 merged into one."""
    src = good_workbook(tmp / "src_merge.xlsx", unit="县卫健局")
    rng = f"{REF}:{REF2}"

    def fn(xml):
        return re.sub(
            rb'<mergeCells count="(\d+)">',
            lambda m: b'<mergeCells count="%d"><mergeCell ref="%s"/>' % (int(m.group(1)) + 1, rng.encode()),
            xml,
            count=1,
        )

    p = edit_sheet(src, d / "合并单元格.xlsx", SHEET, fn)
    return Case(p, "passed", (rng,), (REF, REF2), ("NB107",))


def sheet_renamed(d: Path, tmp: Path) -> Case:
    src = good_workbook(tmp / "src_ren.xlsx", unit="县应急管理局")

    def edit(name, data):
        if name == "xl/workbook.xml":
            return data.replace(f'name="{SHEET}"'.encode(), 'name="改过名的表"'.encode())
        if name == "docProps/app.xml":
            return data.replace(f">{SHEET}<".encode(), ">改过名的表<".encode())
        return data

    p = rewrite(src, d / "表改名.xlsx", edit)
    return Case(p, "passed")


def sheet_deleted(d: Path, tmp: Path) -> Case:
    """The 表三 sheet removed from the workbook (its part left dangling)."""
    src = good_workbook(tmp / "src_del.xlsx", unit="县审计局")

    def edit(name, data):
        if name == "xl/workbook.xml":
            return re.sub(rf'<sheet name="{SHEET}"[^>]*/>'.encode(), b"", data)
        return data

    p = rewrite(src, d / "表被删.xlsx", edit)
    return Case(p, "failed", (T3.table.name,), (), ("NB003",))


VBA = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"nianbao test macro project " * 20


def xlsm_with_macros(d: Path, tmp: Path) -> Case:
    """A macro-enabled workbook: vbaProject.bin, its relationship and content types."""
    src = good_workbook(tmp / "src_macro.xlsx", unit="县统计局")

    def edit(name, data):
        if name == "[Content_Types].xml":
            data = data.replace(
                b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
            )
            return data.replace(
                b"</Types>",
                b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>',
            )
        if name == "xl/_rels/workbook.xml.rels":
            return data.replace(
                b"</Relationships>",
                b'<Relationship Id="rIdVba" Type='
                b'"http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
                b'Target="vbaProject.bin"/></Relationships>',
            )
        return data

    p = rewrite(src, d / "带宏.xlsm", edit, extra={"xl/vbaProject.bin": VBA})
    return Case(p, "passed")


def open_in_excel(d: Path, tmp: Path) -> Case:
    """The real workbook and Excel's ``~$`` lock file beside it."""
    p = good_workbook(d / "正在编辑.xlsx", unit="县水利局", seed=5)
    (d / "~$正在编辑.xlsx").write_bytes(b"\x08nianbao " + b" " * 150)
    return Case(p, "passed", skipped=1)


def long_path(d: Path, tmp: Path) -> Case:
    """Chinese folder names with spaces, more than 200 characters of path."""
    deep = d
    for i in range(4):
        deep = deep / f"第{i + 1}批 政府信息公开 年度报告 收回材料 {'汇' * 20}"
    name = "县市场监督管理局 关于报送2025年度政府信息公开工作年度报告统计表的函（修改稿 第二版）.xlsx"
    p = good_workbook(deep / name, unit="县市场监督管理局", seed=6)
    assert len(str(p)) > 200
    return Case(p, "passed")


INJECT_UNIT = '=HYPERLINK("http://x","y")'
INJECT_CELL = "=1+1"


def injection(d: Path, tmp: Path) -> Case:
    """A unit name and a value cell that would be formulas if echoed carelessly."""
    p = good_workbook(d / "注入.xlsx", unit=INJECT_UNIT, seed=7, values={KEY: INJECT_CELL})
    return Case(p, "failed", ("=1+1",), (REF,), ("NB102",))


MARKUP = "[bold red]假[/][/]"


def markup(d: Path, tmp: Path) -> Case:
    """Square brackets in the file name, the unit and a cell (terminal markup must stay text)."""
    p = good_workbook(d / "[red]方括号[b].xlsx", unit=MARKUP, seed=8, values={KEY: "[/]"})
    return Case(p, "failed", ("[/]",), (REF,), ("NB102",))


# cases that need no scratch folder take (d,); the others (d, tmp)
SIMPLE = {"empty": empty, "text_renamed": text_renamed, "pdf_renamed": pdf_renamed}
CASES: dict[str, Callable] = {
    "truncated": truncated,
    "zip_bomb": zip_bomb,
    "archive_bomb": archive_bomb,
    "entity_expansion": entity_expansion,
    "external_entity": external_entity,
    "encrypted": encrypted,
    "million_rows": million_rows,
    "far_cell": far_cell,
    "formula_errors": formula_errors,
    "huge_numbers": huge_numbers,
    "long_string": long_string,
    "merged_values": merged_values,
    "sheet_renamed": sheet_renamed,
    "sheet_deleted": sheet_deleted,
    "xlsm_with_macros": xlsm_with_macros,
    "open_in_excel": open_in_excel,
    "long_path": long_path,
    "injection": injection,
    "markup": markup,
}


def make_case(name: str, d: Path, tmp: Path) -> Case:
    if name in SIMPLE:
        return SIMPLE[name](d)
    return CASES[name](d, tmp)


ALL = list(SIMPLE) + list(CASES)


# ---- published reports (for import) ------------------------------------------------------


def good_report_text(path: Path, seed: int = 3, unit: str = "测试县档案局") -> Path:
    """A flattened-text published report (reference shape 'rows') that imports cleanly."""
    from fixtures_import import report_text

    vals = consistent_values(S21, seed)
    text = report_text(
        {k: int(v) if v == int(v) else v for k, v in vals.items()},
        "rows",
        title=f"{unit}2025年政府信息公开工作年度报告",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def good_report_docx(path: Path, seed: int = 4) -> Path:
    from fixtures_import import report_docx

    vals = consistent_values(S21, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    return report_docx(path, {k: int(v) if v == int(v) else v for k, v in vals.items()})


def zip_bomb_docx(path: Path, tmp: Path, size: int = 100 * 1024 * 1024) -> Path:
    src = good_report_docx(tmp / "src_bomb.docx")
    with (
        zipfile.ZipFile(src) as zin,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout,
    ):
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename != "word/document.xml":
                zout.writestr(info.filename, data)
                continue
            with zout.open(info.filename, "w", force_zip64=True) as w:
                w.write(data[: -len(b"</w:body></w:document>")])
                chunk = b" " * (1 << 20)
                for _ in range(size // len(chunk)):
                    w.write(chunk)
                w.write(b"</w:body></w:document>")
    return path


def entity_docx(path: Path, tmp: Path, external: bool = False) -> Path:
    src = good_report_docx(tmp / "src_ent.docx")
    decl = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        if external
        else _LAUGHS
    )
    ref = "&xxe;" if external else "&lol9;"

    def edit(name, data):
        if name == "word/document.xml":
            body = data.split(b"?>", 1)[1]
            return decl.encode() + body.replace(b"<w:t>", b"<w:t>" + ref.encode(), 1)
        return data

    return rewrite(src, path, edit)


def encrypted_docx(path: Path, tmp: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    src = good_report_docx(tmp / "src_pw.docx")
    with open(src, "rb") as f, open(path, "wb") as out:
        OOXMLFile(f).encrypt("123456", out)
    return path


def minimal_pdf(text: str | None = "Hello") -> bytes:
    """A one-page PDF; with ``text`` None the page has no text layer (like a scan)."""
    content = b"" if text is None else b"BT /F1 12 Tf 72 720 Td (" + text.encode("latin-1") + b") Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>"
        ),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


REPORT_CASES = [
    "empty_txt",
    "empty_docx",
    "pdf_as_docx",
    "text_as_pdf",
    "scanned_pdf",
    "truncated_pdf",
    "truncated_docx",
    "zip_bomb_docx",
    "entity_docx",
    "external_entity_docx",
    "encrypted_docx",
    "long_string_txt",
    "long_path_txt",
    "open_in_word",
]


@dataclass
class ReportCase:
    path: Path
    status: str
    needles: tuple[str, ...] = ()


def report_cases(d: Path, tmp: Path) -> dict[str, ReportCase]:
    """Hostile published-report files for ``nianbao import`` (and ``check``)."""
    d.mkdir(parents=True, exist_ok=True)
    cases: dict[str, ReportCase] = {}

    def add(name, path, status, *needles):
        cases[name] = ReportCase(path, status, needles)

    p = d / "空报告.txt"
    p.write_bytes(b"")
    add("empty_txt", p, "unreadable", "空的")
    p = d / "空报告.docx"
    p.write_bytes(b"")
    add("empty_docx", p, "unreadable", "空的")
    p = d / "其实是PDF.docx"
    p.write_bytes(minimal_pdf())
    add("pdf_as_docx", p, "unreadable", "PDF")
    p = d / "其实是文本.pdf"
    p.write_bytes("这是一段文字，不是 PDF。\n".encode() * 10)
    add("text_as_pdf", p, "unreadable", "PDF")
    p = d / "扫描件.pdf"
    p.write_bytes(minimal_pdf(None))
    add("scanned_pdf", p, "unreadable", "文字层")
    p = d / "截断.pdf"
    p.write_bytes(minimal_pdf("Hello world")[:150])
    add("truncated_pdf", p, "unreadable", "PDF")
    src = good_report_docx(tmp / "src_trunc.docx")
    p = d / "截断.docx"
    p.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    add("truncated_docx", p, "unreadable", "docx")
    add("zip_bomb_docx", zip_bomb_docx(d / "压缩炸弹.docx", tmp), "unreadable", "压缩炸弹")
    add("entity_docx", entity_docx(d / "实体膨胀.docx", tmp), "unreadable", "实体")
    add("external_entity_docx", entity_docx(d / "外部实体.docx", tmp, external=True), "unreadable", "实体")
    add("encrypted_docx", encrypted_docx(d / "设了密码.docx", tmp), "unreadable", "密码")
    p = good_report_text(d / "超长文字.txt", seed=9)
    p.write_text(p.read_text(encoding="utf-8") + LONG_TEXT + "\n", encoding="utf-8")
    add("long_string_txt", p, "passed")
    deep = d
    for i in range(4):
        deep = deep / f"第{i + 1}批 已发布的 政府信息公开 年度报告 {'汇' * 20}"
    p = good_report_text(deep / "县档案局 2025年度政府信息公开工作年度报告（网页版 转存）.txt", seed=10)
    assert len(str(p)) > 200
    add("long_path_txt", p, "passed")
    p = good_report_docx(d / "正在编辑.docx", seed=11)
    (d / "~$正在编辑.docx").write_bytes(b"\x08nianbao " + b" " * 150)
    add("open_in_word", p, "passed")
    assert list(cases) == REPORT_CASES
    return cases

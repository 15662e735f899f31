"""Word .docx -> Doc with python-docx: paragraphs in order, each table as a grid whose merged
cells are recognised by their underlying ``<w:tc>`` element."""
from __future__ import annotations

import contextlib
import io
import zipfile

from .tokens import Doc, DocBuilder

MAX_PART = 60 * 1024 * 1024  # uncompressed size of any one part
MAX_RATIO = 200


class DocxError(Exception):
    pass


def _guard(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise DocxError("不是有效的 .docx 文件（可能已损坏，或是改了扩展名的旧版 .doc 文件）") from None
    names = {i.filename for i in infos}
    if "word/document.xml" not in names:
        raise DocxError("不是 Word 文档（缺少 word/document.xml）")
    for i in infos:
        if i.flag_bits & 0x1:
            raise DocxError("文件设有密码，无法读取")
        if i.file_size > MAX_PART or (i.file_size > 1024 * 1024 and i.file_size / max(i.compress_size, 1) > MAX_RATIO):
            raise DocxError("文件内容异常巨大（疑似压缩炸弹），未读取")


def docx_doc(data: bytes) -> Doc:
    _guard(data)
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        d = docx.Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on bad packages
        raise DocxError(f"Word 文件无法打开（{type(exc).__name__}）") from None
    b = DocBuilder()
    with contextlib.suppress(Exception):  # a broken core part only loses the title
        b.doc.title = (d.core_properties.title or "").strip()
    P, TBL, SDT, CONTENT = qn("w:p"), qn("w:tbl"), qn("w:sdt"), qn("w:sdtContent")

    def walk(parent) -> None:
        for el in parent.iterchildren():
            if el.tag == P:
                for line in Paragraph(el, d).text.split("\n"):
                    b.free_line(line)
            elif el.tag == TBL:
                table = Table(el, d)
                rows = []
                for row in table.rows:
                    cells = [("", None)] * row.grid_cols_before
                    cells += [(c.text, c._tc) for c in row.cells]
                    rows.append(cells)
                b.grid(rows)
            elif el.tag == SDT:
                for content in el.iterchildren(CONTENT):
                    walk(content)

    walk(d.element.body)
    return b.doc

"""Word .docx -> Doc with python-docx: paragraphs in order, each table as a grid whose merged
cells are recognised by their underlying ``<w:tc>`` element."""

from __future__ import annotations

import contextlib
import io

from .tokens import Doc, DocBuilder


class DocxError(Exception):
    pass


def _not_a_zip(data: bytes) -> str:
    """Why ``data`` is not a .docx package, in Chinese."""
    from ..guard import OLE_MAGIC, encrypted_ole

    if data[:8] == OLE_MAGIC:
        if encrypted_ole(data):
            return "文件设有打开密码（已加密），无法读取；请取消密码后重新导入"
        return "这是旧版 Word（.doc）文件，请在 Word 或 WPS 中另存为 .docx 后再导入"
    if data.lstrip()[:5] == b"%PDF-":
        return "这是 PDF 文件，不是 Word 文档（扩展名被改过）；请把扩展名改回 .pdf 后再导入"
    return "不是有效的 .docx 文件（可能已损坏，或是改了扩展名的旧版 .doc 文件）"


def _guard(data: bytes) -> None:
    from ..guard import NotAZip, PackageError, screen_docx

    try:
        screen_docx(data)
    except PackageError as e:
        raise DocxError(str(e)) from None
    except NotAZip:
        raise DocxError(_not_a_zip(data)) from None


def docx_doc(data: bytes) -> Doc:
    _guard(data)
    import docx
    from docx.oxml.ns import qn
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        d = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise DocxError(f"Word 文件无法打开（技术信息：{type(exc).__name__}）") from None
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

    try:
        walk(d.element.body)
    except Exception as exc:
        raise DocxError(
            f"Word 文件内容无法解析（技术信息：{type(exc).__name__}），请在 Word 中另存后再导入"
        ) from None
    return b.doc

"""Word .docx -> Doc with python-docx: paragraphs in order, each table as a grid whose merged
cells are recognised by their underlying ``<w:tc>`` element."""

from __future__ import annotations

import contextlib
import io
import zipfile
import zlib

from .tokens import Doc, DocBuilder

MAX_PART = 60 * 1024 * 1024  # uncompressed size of any one part
MAX_RATIO = 200


class DocxError(Exception):
    pass


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def _not_a_zip(data: bytes) -> str:
    """Why ``data`` is not a .docx package, in Chinese."""
    if data[:8] == OLE_MAGIC:
        if _ENCRYPTED in data[: 1 << 20] or _ENCRYPTED in data[-(1 << 20) :]:
            return "文件设有打开密码（已加密），无法读取；请取消密码后重新导入"
        return "这是旧版 Word（.doc）文件，请在 Word 或 WPS 中另存为 .docx 后再导入"
    if data.lstrip()[:5] == b"%PDF-":
        return "这是 PDF 文件，不是 Word 文档（扩展名被改过）；请把扩展名改回 .pdf 后再导入"
    return "不是有效的 .docx 文件（可能已损坏，或是改了扩展名的旧版 .doc 文件）"


def _guard(data: bytes) -> None:
    from ..xlsxpkg import XML_SUFFIXES, has_dtd

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "word/document.xml" not in names:
                raise DocxError("不是 Word 文档（缺少 word/document.xml）")
            for i in infos:
                if i.flag_bits & 0x1:
                    raise DocxError("文件设有密码，无法读取")
                if i.file_size > MAX_PART or (
                    i.file_size > 1024 * 1024 and i.file_size / max(i.compress_size, 1) > MAX_RATIO
                ):
                    raise DocxError("文件内容异常巨大（疑似压缩炸弹），未读取")
            for i in infos:  # python-docx must never see a DTD (entity expansion, external entities)
                if i.filename.lower().endswith(XML_SUFFIXES):
                    with zf.open(i) as f:
                        if has_dtd(f.read(1 << 16)):
                            raise DocxError(
                                f"文件中的 {i.filename} 含有 XML 实体声明（DOCTYPE/ENTITY），"
                                "可能是恶意构造的文件，已拒绝读取"
                            )
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
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

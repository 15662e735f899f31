"""Import published 政府信息公开工作年度报告 (text, HTML, Word, PDF) as Reports.

Every reader turns its format into a Doc (text lines + a stream of label/value tokens, see
tokens.py); build.py then reads 表二/表三/表四 by the labels of the spec whose labels it finds.
"""

from __future__ import annotations

from pathlib import Path

from ..guard import HTML_SUFFIXES, REPORT_SUFFIXES, TEXT_SUFFIXES
from ..model import Report, unreadable_report
from .build import build_report

SUFFIXES = REPORT_SUFFIXES  # what can be imported (the guard's registry)
MAX_BYTES = 50 * 1024 * 1024


class ReadError(Exception):
    """The file cannot be read at all; the message is Chinese."""


def decode_text(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ReadError("文本编码无法识别（请另存为 UTF-8 编码）")


def _stem(display: str) -> str:
    name = display.replace("\\", "/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def parse_text(text: str, display: str) -> Report:
    """A report as flattened text (any of the shapes of reference §5)."""
    from .text import text_doc

    low = text[:200_000].lower()
    if "<table" in low and ("</td>" in low or "<td" in low):
        return parse_html(text, display)
    return build_report(text_doc(text), display, _stem(display))


def parse_html(html: str | bytes, display: str) -> Report:
    """A report published as a web page (tables with rowspan/colspan)."""
    from .html import decode_html, html_doc

    if isinstance(html, bytes):
        html = decode_html(html)
    try:
        doc = html_doc(html)
    except ValueError:
        raise ReadError("网页中的表格过大或结构异常，无法读取") from None
    return build_report(doc, display, _stem(display))


def parse_docx(data: bytes, display: str) -> Report:
    """A report as a Word .docx file."""
    from .docx import DocxError, docx_doc

    try:
        doc = docx_doc(data)
    except DocxError as e:
        raise ReadError(str(e)) from None
    return build_report(doc, display, _stem(display))


def _quality(r: Report) -> tuple[int, int]:
    """Fewer rows or cells not read, then more numbers read, is better."""
    return (
        sum(1 for f in r.findings if f.code in ("NB003", "NB102", "NB006")),
        -sum(1 for v in r.values.values() if v is not None),
    )


def parse_pdf(data: bytes, display: str) -> Report:
    """A report as a PDF with a text layer: the ruled tables when they read better, else the
    plain page text."""
    from .pdf import PdfError, pdf_docs

    try:
        table_doc, text_doc = pdf_docs(data)
    except PdfError as e:
        raise ReadError(str(e)) from None
    stem = _stem(display)
    by_text = build_report(text_doc, display, stem)
    if table_doc is None:
        return by_text
    by_tables = build_report(table_doc, display, stem)
    if by_text.unreadable:
        return by_tables
    if by_tables.unreadable:
        return by_text
    best = by_tables if _quality(by_tables) <= _quality(by_text) else by_text
    if not best.body and by_text.body:
        best.body = by_text.body
    return best


def read_report_file(item) -> Report:
    """Read one published report (an inputs.Input-like item). Never raises for a bad file:
    an unreadable one comes back with ``unreadable`` set and a Chinese NB002 finding."""
    suffix = (item.suffix or "").lower()
    display = item.display
    try:
        if item.data is not None:
            data = item.data
        else:
            size = Path(item.path).stat().st_size
            if size > MAX_BYTES:
                raise ReadError(f"文件超过 {MAX_BYTES // 2**20} MB，未读取")
            data = Path(item.path).read_bytes()
        if len(data) > MAX_BYTES:
            raise ReadError(f"文件超过 {MAX_BYTES // 2**20} MB，未读取")
        if not data:
            raise ReadError("文件是空的（0 字节），请重新保存后再导入")
        if suffix in TEXT_SUFFIXES:
            report = parse_text(decode_text(data), display)
        elif suffix in HTML_SUFFIXES:
            report = parse_html(data, display)
        elif suffix == ".docx":
            report = parse_docx(data, display)
        elif suffix == ".pdf":
            report = parse_pdf(data, display)
        elif suffix == ".doc":
            raise ReadError("旧版 Word（.doc）文件无法直接读取，请在 Word 或 WPS 中另存为 .docx 后再导入")
        else:
            raise ReadError(f"不支持的文件类型“{suffix or '无扩展名'}”（支持 .txt、.html、.docx、.pdf）")
    except ReadError as e:
        return unreadable_report(display, str(e), source="import")
    except OSError as e:
        return unreadable_report(display, f"无法打开文件（{e.strerror or e}）", source="import")
    report.importer = suffix.lstrip(".")
    return report


__all__ = [
    "SUFFIXES",
    "ReadError",
    "parse_docx",
    "parse_html",
    "parse_pdf",
    "parse_text",
    "read_report_file",
]

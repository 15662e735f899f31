"""PDF with a text layer -> Docs with pdfplumber: one from the ruled tables it finds (text
outside them kept in reading order), one from the plain page text (shape 5)."""

from __future__ import annotations

import contextlib
import io
import re

from .text import text_doc
from .tokens import Doc, DocBuilder, is_value_text

MAX_PAGES = 60
NO_TEXT = "该 PDF 没有文字层（可能是扫描件），无法提取"
_NEW_ITEM = re.compile(r"^\s*[（(]?\s*[一二三四五六七八九十\d]+\s*[)）.、．]")


class PdfError(Exception):
    pass


def _open(data: bytes):
    import logging

    import pdfplumber

    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its English warnings are not for users

    try:
        return pdfplumber.open(io.BytesIO(data))
    except Exception as exc:
        name = type(exc).__name__
        if "Password" in name or "Encrypt" in name:
            raise PdfError("PDF 设有密码，无法读取") from None
        raise PdfError(PDF_BROKEN) from None


PDF_BROKEN = "PDF 文件无法打开：文件已损坏或不是有效的 PDF（可能在下载或拷贝时被截断），请重新获取该文件"


def _inside(obj: dict, boxes: list[tuple]) -> bool:
    cx, cy = (obj["x0"] + obj["x1"]) / 2, (obj["top"] + obj["bottom"]) / 2
    return any(x0 <= cx <= x1 and t <= cy <= btm for x0, t, x1, btm in boxes)


def _has_values(row: list) -> bool:
    return any(c and is_value_text(c) for c in row)


def _continues(prev: list, row: list) -> bool:
    """Is ``row`` (first row on a page) the rest of ``prev`` (last row on the page before), a
    table row cut by the page break? It holds label text only, and that text does not start a
    new numbered item."""
    if len(prev) != len(row) or _has_values(row) or not _has_values(prev):
        return False
    texts = [c for c in row if c]
    return bool(texts) and not any(_NEW_ITEM.match(c) for c in texts)


def _join_rows(prev: list, row: list) -> list:
    return [
        (a or "") + ("\n" if a and b else "") + (b or "") if (a or b) else a
        for a, b in zip(prev, row, strict=False)
    ]


def pdf_docs(data: bytes) -> tuple[Doc | None, Doc]:
    """(doc from ruled tables or None when the pages have none, doc from the plain text)."""
    pdf = _open(data)
    texts: list[str] = []
    items: list[tuple[str, object]] = []  # ("line", text) | ("table", rows), in reading order
    try:
        try:
            pages = pdf.pages[:MAX_PAGES]
        except Exception:
            raise PdfError(PDF_BROKEN) from None
        for page in pages:
            try:
                texts.append(page.extract_text() or "")
                tables = page.find_tables()
                boxes = [t.bbox for t in tables]
                outside = page.filter(
                    lambda o, bx=boxes: o.get("object_type") != "char" or not _inside(o, bx)
                )
                found = [(ln["top"], 0, "line", ln["text"]) for ln in outside.extract_text_lines()]
                found += [(t.bbox[1], 1 + n, "table", t.extract()) for n, t in enumerate(tables)]
            except PdfError:
                raise
            except Exception:
                raise PdfError(
                    "PDF 中有页面无法解析（文件可能已损坏），请重新获取该文件或另存为 PDF 后再试"
                ) from None
            page_items = [(kind, obj) for _, _, kind, obj in sorted(found, key=lambda x: (x[0], x[1]))]
            # a table row cut by the page break: glue its rest back on, column by column
            last_table = next((i for i in range(len(items) - 1, -1, -1) if items[i][0] == "table"), None)
            first_table = next((i for i, it in enumerate(page_items) if it[0] == "table"), None)
            if last_table is not None and first_table is not None and page_items[first_table][1]:
                prev_rows, rows = items[last_table][1], page_items[first_table][1]
                only_footers = all(
                    k == "line" and len(str(o)) < 12 for k, o in items[last_table + 1 :]
                ) and all(k == "line" and len(str(o)) < 12 for k, o in page_items[:first_table])
                if only_footers and prev_rows and _continues(prev_rows[-1], rows[0]):
                    prev_rows[-1] = _join_rows(prev_rows[-1], rows[0])
                    page_items[first_table] = ("table", rows[1:])
            items += page_items
    finally:
        with contextlib.suppress(Exception):
            pdf.close()  # pdfplumber's close walks the pages again: a broken page tree raises
    if not any(t.strip() for t in texts):
        raise PdfError(NO_TEXT)
    b = DocBuilder()
    n_tables = 0
    for kind, obj in items:
        if kind == "line":
            b.free_line(obj)
        elif obj:
            n_tables += 1
            b.grid(
                [[(c, None if c is None else (r, j)) for j, c in enumerate(row)] for r, row in enumerate(obj)]
            )
    return (b.doc if n_tables else None), text_doc("\n".join(texts))

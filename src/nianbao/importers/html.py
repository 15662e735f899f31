"""HTML pages -> Doc, with the stdlib parser (no entity expansion, no network).

A lenient tree is built first so that tables which only lay out the page (they contain other
tables) are read as running text, and each innermost table becomes a grid with its
rowspan/colspan expanded.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from .tokens import Doc, DocBuilder

VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "param",
    "source",
    "track",
    "wbr",
}
SKIP = {"script", "style", "noscript", "template", "svg", "object", "iframe", "select", "button"}
BLOCK = {
    "p",
    "div",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "section",
    "article",
    "header",
    "footer",
    "tr",
    "table",
    "blockquote",
    "pre",
    "dd",
    "dt",
    "dl",
    "center",
    "form",
    "nav",
    "aside",
    "main",
    "caption",
    "td",
    "th",
    "tbody",
    "thead",
    "tfoot",
    "title",
    "body",
}
MAX_DEPTH = 300
MAX_SPAN = 100
MAX_GRID = 200_000
_WS = re.compile(r"\s+")


class _Node:
    __slots__ = ("attrs", "children", "tag")

    def __init__(self, tag: str, attrs: dict | None = None):
        self.tag, self.attrs, self.children = tag, attrs or {}, []


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root")
        self.stack = [self.root]

    def _pop_until(self, stop: set[str]) -> None:
        while len(self.stack) > 1 and self.stack[-1].tag not in stop:
            self.stack.pop()

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            if tag == "br":
                self.stack[-1].children.append("\n")
            return
        if tag in ("td", "th"):
            self._pop_until({"tr", "table"})
        elif tag == "tr":
            self._pop_until({"table", "tbody", "thead", "tfoot"})
        elif tag in ("tbody", "thead", "tfoot"):
            self._pop_until({"table"})
        elif tag == "p" and self.stack[-1].tag == "p":
            self.stack.pop()
        node = _Node(tag, {k: v for k, v in attrs if k in ("rowspan", "colspan")})
        self.stack[-1].children.append(node)
        if len(self.stack) < MAX_DEPTH:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack[-1].tag == tag and len(self.stack) > 1:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return
            if self.stack[i].tag == "table" and tag != "table":
                return  # never close across a table boundary

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def _text(node: _Node) -> str:
    out: list[str] = []
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, str):
            out.append(n)
        elif n.tag not in SKIP:
            if n.tag in BLOCK:
                out.append(" ")
            todo.extend(reversed(n.children))
    return _WS.sub(" ", "".join(out)).strip()


def _has_table(node: _Node) -> bool:
    todo = list(node.children)
    while todo:
        n = todo.pop()
        if isinstance(n, _Node):
            if n.tag == "table":
                return True
            todo.extend(n.children)
    return False


def _rows(table: _Node) -> list[_Node]:
    out, todo = [], list(reversed(table.children))
    while todo:
        n = todo.pop()
        if not isinstance(n, _Node) or n.tag == "table":
            continue
        if n.tag == "tr":
            out.append(n)
        else:
            todo.extend(reversed(n.children))
    return out


def _span(v) -> int:
    try:
        return max(1, min(MAX_SPAN, int(str(v).strip() or 1)))
    except ValueError:
        return 1


def table_grid(table: _Node) -> list[list[tuple[str, object]]]:
    trs = _rows(table)
    grid: dict[tuple[int, int], tuple[str, object]] = {}
    width = 0
    for r, tr in enumerate(trs):
        c = 0
        for cell in (x for x in tr.children if isinstance(x, _Node) and x.tag in ("td", "th")):
            while (r, c) in grid:
                c += 1
            rs, cs = _span(cell.attrs.get("rowspan", 1)), _span(cell.attrs.get("colspan", 1))
            text = _text(cell)
            for dr in range(min(rs, len(trs) - r)):
                for dc in range(cs):
                    grid[(r + dr, c + dc)] = (text, (r, c))
            c += cs
            width = max(width, c)
            if len(grid) > MAX_GRID:
                raise ValueError("table too large")
    return [[grid.get((r, c), ("", None)) for c in range(width)] for r in range(len(trs))]


def _walk(node: _Node, b: DocBuilder, buf: list[str], doc: Doc, depth: int = 0) -> None:
    def flush() -> None:
        text = _WS.sub(" ", "".join(buf)).strip()
        buf.clear()
        if text:
            b.free_line(text)

    for ch in node.children:
        if isinstance(ch, str):
            if ch == "\n":
                flush()
            else:
                buf.append(ch)
            continue
        if ch.tag in SKIP:
            continue
        if ch.tag == "title":
            doc.title = doc.title or _text(ch)
            continue
        if ch.tag == "table" and not _has_table(ch):
            flush()
            b.grid(table_grid(ch))
            continue
        if ch.tag in BLOCK:
            flush()
            _walk(ch, b, buf, doc, depth + 1)
            flush()
        else:
            _walk(ch, b, buf, doc, depth + 1)


_CHARSET = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)


def decode_html(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    m = _CHARSET.search(data[:4096])
    declared = m.group(1).decode("ascii").lower() if m else ""
    for enc in ([declared] if declared else []) + ["utf-8", "gb18030"]:
        try:
            return data.decode("gb18030" if enc in ("gb2312", "gbk") else enc)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("utf-8", "replace")


def html_doc(html: str) -> Doc:
    tb = _TreeBuilder()
    tb.feed(html)
    tb.close()
    b = DocBuilder()
    buf: list[str] = []
    _walk(tb.root, b, buf, b.doc)
    text = _WS.sub(" ", "".join(buf)).strip()
    if text:
        b.free_line(text)
    return b.doc

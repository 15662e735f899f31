"""The .xlsx package (the zip of XML parts) seen directly, for what openpyxl cannot keep.

Used by the annotator to
- refuse packages too large to load (checked from the zip directory, before inflating);
- hide the sheets' drawings from openpyxl and carry the original drawing parts (shapes, text
  boxes, pictures, charts with all their dependencies) over into the saved copy unchanged;
- list what a package holds (drawing objects per sheet, extension data, macros, pivot tables…)
  so that anything missing from the output can be stated instead of dropped silently.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections import Counter
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from .guard import MAX_SHEET_CELLS, MAX_SHEET_ROWS, PackageError, iter_xml, parse_xml, unpack_parts

REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
DRAWING_REL = R_NS + "/drawing"
OFFICE_DOC_REL = R_NS + "/officeDocument"
WORKSHEET_REL = R_NS + "/worksheet"


__all__ = ["PackageError"]  # raised here, defined by the guard


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Package:
    """All parts of a zip package in memory, by name, in their original order."""

    def __init__(self, data: bytes):
        self.parts: dict[str, bytes] = unpack_parts(data)  # the guard's limits and DTD check
        self._ct_defaults, self._ct_overrides = self._read_content_types()

    # --- parts and relationships ---------------------------------------------------------
    def xml(self, name: str):
        return parse_xml(self.parts[name])

    @staticmethod
    def rels_name(part: str) -> str:
        d, base = posixpath.split(part)
        return posixpath.join(d, "_rels", base + ".rels")

    def rels(self, part: str) -> list[dict]:
        """Relationships of ``part``: id, type, target (absolute part name or URL), external."""
        name = self.rels_name(part)
        if name not in self.parts:
            return []
        out = []
        for el in self.xml(name):
            external = el.get("TargetMode") == "External"
            target = el.get("Target", "")
            if not external:
                target = resolve(part, target)
            out.append(
                {
                    "id": el.get("Id", ""),
                    "type": el.get("Type", ""),
                    "target": target,
                    "external": external,
                    "raw": el.attrib,
                }
            )
        return out

    def workbook_part(self) -> str:
        for r in self.rels(""):
            if r["type"] == OFFICE_DOC_REL:
                return r["target"]
        return "xl/workbook.xml"

    def sheets(self) -> dict[str, str]:
        """Sheet name -> sheet part (worksheets and chart sheets), in workbook order."""
        wb = self.workbook_part()
        if wb not in self.parts:
            return {}
        targets = {r["id"]: r["target"] for r in self.rels(wb)}
        out = {}
        for el in self.xml(wb).iter(f"{{{MAIN_NS}}}sheet"):
            part = targets.get(el.get(f"{{{R_NS}}}id", ""))
            if part in self.parts:
                out[el.get("name", "")] = part
        return out

    # --- content types -------------------------------------------------------------------
    def _read_content_types(self):
        defaults, overrides = {}, {}
        if "[Content_Types].xml" in self.parts:
            for el in self.xml("[Content_Types].xml"):
                if _local(el.tag) == "Default":
                    defaults[el.get("Extension", "").lower()] = el.get("ContentType", "")
                elif _local(el.tag) == "Override":
                    overrides[el.get("PartName", "")] = el.get("ContentType", "")
        return defaults, overrides

    def content_type(self, part: str) -> str | None:
        ext = part.rsplit(".", 1)[-1].lower()
        return self._ct_overrides.get("/" + part) or self._ct_defaults.get(ext)

    def add_part(self, name: str, data: bytes, content_type: str | None) -> None:
        self.parts[name] = data
        if content_type and not name.endswith(".rels"):
            self._ct_overrides["/" + name] = content_type

    def to_bytes(self) -> bytes:
        ct = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{CT_NS}">']
        ct += [
            f"<Default Extension={quoteattr(k)} ContentType={quoteattr(v)}/>"
            for k, v in self._ct_defaults.items()
        ]
        ct += [
            f"<Override PartName={quoteattr(k)} ContentType={quoteattr(v)}/>"
            for k, v in self._ct_overrides.items()
            if k[1:] in self.parts
        ]
        ct.append("</Types>")
        self.parts["[Content_Types].xml"] = "".join(ct).encode("utf-8")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("[Content_Types].xml", self.parts["[Content_Types].xml"])
            for name, data in self.parts.items():
                if name != "[Content_Types].xml":
                    zf.writestr(name, data)
        return buf.getvalue()

    def check_links(self) -> None:
        """Every internal relationship must point at a part that exists."""
        for name in list(self.parts):
            if not name.endswith(".rels"):
                continue
            d, base = posixpath.split(name)
            source = posixpath.join(posixpath.dirname(d), base[:-5])
            for r in self.rels(source):
                if not r["external"] and r["target"] not in self.parts:
                    raise PackageError(f"{name} 指向不存在的部件 {r['target']}")


def resolve(source_part: str, target: str) -> str:
    target = unquote(target)
    if target.startswith("/"):
        return posixpath.normpath(target[1:])
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def _rels_xml(rels: list[dict]) -> bytes:
    out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{REL_NS}">']
    for r in rels:
        attrs = "".join(f" {k}={quoteattr(v)}" for k, v in r.items())
        out.append(f"<Relationship{attrs}/>")
    out.append("</Relationships>")
    return "".join(out).encode("utf-8")


# --- hiding drawings from openpyxl and carrying them over -------------------------------


def without_drawings(pkg: Package) -> bytes:
    """A copy of the package (stored, not compressed) whose worksheets have no drawing links.

    openpyxl then neither parses nor rewrites the drawings; :func:`carry_drawings` puts the
    original parts back afterwards.
    """
    parts = dict(pkg.parts)
    for part in _worksheets(pkg).values():
        rels = pkg.rels(part)
        if any(r["type"] == DRAWING_REL for r in rels):
            parts[pkg.rels_name(part)] = _rels_xml([dict(r["raw"]) for r in rels if r["type"] != DRAWING_REL])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


def package_bytes(pkg: Package) -> bytes:
    """The parts as they are now, zipped (stored) for openpyxl."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in pkg.parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- sheets with a huge used range ------------------------------------------------------

_ROW_EL = re.compile(rb"<(?:\w+:)?row\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?row>)", re.DOTALL)
_ROW_NUM = re.compile(rb"""\sr\s*=\s*["'](\d+)["']""")
_CONTENT = re.compile(rb"<(?:\w+:)?(?:v|f|is)\b")


def drop_empty_rows(pkg: Package) -> list[str]:
    """Drop rows below row MAX_SHEET_ROWS that hold no value (only formatting: a whole column
    formatted down to row 1,048,576) from every worksheet, so that openpyxl does not build a
    million row objects. Returns Chinese notes of what was dropped; raises PackageError when a
    sheet still holds more cells than can be loaded."""
    notes = []
    for name, part in _worksheets(pkg).items():
        xml = pkg.parts[part]
        if xml.count(b"<row") > MAX_SHEET_ROWS or xml.count(b"<c") > MAX_SHEET_CELLS:
            dropped = 0

            def row(m: re.Match) -> bytes:
                nonlocal dropped
                r = _ROW_NUM.search(m.group(1))
                if (
                    r
                    and int(r.group(1)) > MAX_SHEET_ROWS
                    and not (m.group(2) and _CONTENT.search(m.group(2)))
                ):
                    dropped += 1
                    return b""
                return m.group(0)

            xml = _ROW_EL.sub(row, xml)
            if dropped:
                pkg.parts[part] = xml
                notes.append(
                    f"工作表“{name}”第 {MAX_SHEET_ROWS} 行以下的 {dropped} 个空白行"
                    "（只有格式，没有内容）未保留"
                )
        if xml.count(b"<c") > MAX_SHEET_CELLS:
            raise PackageError(f"工作表“{name}”的单元格超过 {MAX_SHEET_CELLS} 个，超出生成审核副本的处理上限")
    return notes


def _worksheets(pkg: Package) -> dict[str, str]:
    wb = pkg.workbook_part()
    kinds = {r["target"]: r["type"] for r in pkg.rels(wb)}
    return {n: p for n, p in pkg.sheets().items() if kinds.get(p) == WORKSHEET_REL}


_AFTER_DRAWING = re.compile(
    rb"<(?:\w+:)?(?:legacyDrawing|legacyDrawingHF|drawingHF|picture|oleObjects|controls|"
    rb"webPublishItems|tableParts|extLst)[\s/>]"
)
_SHEET_END = re.compile(rb"</(?:\w+:)?worksheet>\s*$")


def carry_drawings(src: Package, out: Package) -> None:
    """Copy every worksheet drawing of ``src`` (and all it links to) into ``out``, by sheet name.

    ``out`` must come from :func:`without_drawings` through openpyxl: its worksheets have no
    drawing of their own. Copied parts get an ``nb_`` prefix so names never collide.
    """
    out_sheets = _worksheets(out)
    copied: dict[str, str] = {}
    for name, part in _worksheets(src).items():
        drawings = [r for r in src.rels(part) if r["type"] == DRAWING_REL and not r["external"]]
        if not drawings or name not in out_sheets:
            continue
        target = out_sheets[name]
        rels = [dict(r["raw"]) for r in out.rels(target)]
        if any(r.get("Type") == DRAWING_REL for r in rels):
            raise PackageError(f"工作表“{name}”已有绘图部件")
        new = _copy_part(src, out, drawings[0]["target"], copied)
        rid = _free_id(rels)
        rels.append({"Id": rid, "Type": DRAWING_REL, "Target": "/" + new})
        out.parts[out.rels_name(target)] = _rels_xml(rels)
        xml = out.parts[target]
        tag = f'<drawing xmlns:r="{R_NS}" r:id="{rid}"/>'.encode()
        m = _AFTER_DRAWING.search(xml)
        if m:
            xml = xml[: m.start()] + tag + xml[m.start() :]
        else:
            end = _SHEET_END.search(xml)
            if not end:
                raise PackageError(f"工作表“{name}”的 XML 结构无法识别")
            xml = xml[: end.start()] + tag + xml[end.start() :]
        out.parts[target] = xml
    out.check_links()


def _free_id(rels: list[dict]) -> str:
    used = {r.get("Id") for r in rels}
    n = 1
    while f"rIdNb{n}" in used:
        n += 1
    return f"rIdNb{n}"


def _copy_part(src: Package, out: Package, part: str, copied: dict[str, str]) -> str:
    if part in copied:
        return copied[part]
    if part not in src.parts:
        raise PackageError(f"原文件缺少部件 {part}")
    d, base = posixpath.split(part)
    new, n = posixpath.join(d, "nb_" + base), 1
    while new in out.parts:
        n += 1
        new = posixpath.join(d, f"nb{n}_" + base)
    copied[part] = new
    out.add_part(new, src.parts[part], src.content_type(part))
    rels = []
    for r in src.rels(part):
        attrs = dict(r["raw"])
        if not r["external"]:
            attrs["Target"] = "/" + _copy_part(src, out, r["target"], copied)
        rels.append(attrs)
    if rels:
        out.parts[out.rels_name(new)] = _rels_xml(rels)
    return new


_FORMULA_CELL = re.compile(
    rb'<c r="([A-Z]{1,3}[0-9]{1,7})"((?:\s+s="[0-9]+")?)\s*>(<f\b[^>]*?(?:/>|>[^<]*</f>))'
    rb"<v\s*(?:/>|>\s*</v>)</c>"
)
_CACHED_TYPES = {"str", "b", "e", "n", None}


def carry_cached_values(src: Package, out: Package) -> None:
    """Put the cached results of formula cells back (openpyxl saves formulas without them)."""
    out_sheets = _worksheets(out)
    for name, part in _worksheets(src).items():
        if name not in out_sheets or b"<v" not in src.parts[part]:
            continue
        cached = _cached_values(src.parts[part])
        if not cached:
            continue

        def fill(m: re.Match, cached=cached) -> bytes:
            hit = cached.get(m.group(1).decode())
            if hit is None:
                return m.group(0)
            t, v = hit
            kind = f' t="{t}"'.encode() if t and t != "n" else b""
            return (
                b'<c r="'
                + m.group(1)
                + b'"'
                + m.group(2)
                + kind
                + b">"
                + m.group(3)
                + b"<v>"
                + escape(v).encode("utf-8")
                + b"</v></c>"
            )

        target = out_sheets[name]
        out.parts[target] = _FORMULA_CELL.sub(fill, out.parts[target])


def _cached_values(xml: bytes) -> dict[str, tuple[str | None, str]]:
    found: dict[str, tuple[str | None, str]] = {}
    for _, el in iter_xml(xml):
        if _local(el.tag) != "c":
            continue
        kids = {_local(k.tag): k for k in el}
        if "f" in kids and "v" in kids and kids["v"].text is not None and el.get("t") in _CACHED_TYPES:
            found[el.get("r", "")] = (el.get("t"), kids["v"].text)
        el.clear()
    return found


# --- inventory ----------------------------------------------------------------------------

# What a drawing anchor can hold, by the local name of its object element.
_OBJECTS = {
    "sp": "形状/文本框",
    "cxnSp": "形状/文本框",
    "grpSp": "组合图形",
    "pic": "图片",
    "contentPart": "墨迹等内容",
    "AlternateContent": "其他绘图对象（如切片器、新式图表）",
}
_FRAMES = {
    "/drawingml/2006/chart": "图表",
    "/drawingml/2006/diagram": "SmartArt 图形",
    "/drawingml/2014/chartex": "新式图表",
}
# Elements of a sheet's XML, counted by (prefixed) tag.
_SHEET_TAGS = {
    rb"<x14:dataValidation[\s/>]": "数据验证（扩展格式）",
    rb"<x14:conditionalFormatting[\s/>]": "条件格式（扩展格式）",
    rb"<(?:\w+:)?sparklineGroup[\s/>]": "迷你图",
    rb"<(?:\w+:)?slicerList[\s/>]": "切片器",
    rb"<(?:\w+:)?control[\s/>]": "表单控件",
    rb"<(?:\w+:)?oleObject[\s/>]": "嵌入对象（OLE）",
    rb"<(?:\w+:)?picture[\s/>]": "工作表背景图片",
    rb"<(?:\w+:)?legacyDrawingHF[\s/>]": "页眉页脚中的图片",
    rb"<(?:\w+:)?tablePart[\s/>]": "表格（列表）",
}
_CACHED_FORMULA = re.compile(rb"<(?:\w+:)?f(?:\s[^>]*)?(?:/>|>[^<]*</(?:\w+:)?f>)\s*<(?:\w+:)?v>")
# Package-level parts, by name prefix.
_PARTS = {
    "xl/pivotTables/": "数据透视表",
    "xl/slicers/": "切片器",
    "xl/slicerCaches/": "切片器缓存",
    "xl/timelines/": "日程表",
    "xl/threadedComments/": "会话批注（新式批注的回复）",
    "xl/cellimages.xml": "WPS 单元格图片",
    "xl/externalLinks/": "外部链接",
    "xl/connections.xml": "数据连接",
    "xl/queryTables/": "查询表",
    "xl/activeX/": "ActiveX 控件",
    "customUI/": "自定义功能区",
    "xl/customUI/": "自定义功能区",
}
VBA_PART, VBA_LABEL = "xl/vbaProject.bin", "宏（VBA 代码）"


def inventory(pkg: Package) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """(sheet name or '', what) -> (count, part names) for everything worth keeping."""
    inv: dict[tuple[str, str], tuple[int, list[str]]] = {}

    def add(where: str, what: str, n: int, part: str) -> None:
        if n:
            count, parts = inv.get((where, what), (0, []))
            inv[(where, what)] = (count + n, [*parts, part])

    for name, part in pkg.sheets().items():
        xml = pkg.parts[part]
        for pattern, what in _SHEET_TAGS.items():
            add(name, what, len(re.findall(pattern, xml)), part)
        add(name, "公式的缓存计算结果", len(_CACHED_FORMULA.findall(xml)), part)
        for r in pkg.rels(part):
            if r["type"] == DRAWING_REL and r["target"] in pkg.parts:
                for what, n in _drawing_objects(pkg, r["target"]).items():
                    add(name, what, n, r["target"])
    for prefix, what in _PARTS.items():
        for p in pkg.parts:
            if p.startswith(prefix) and not p.endswith(".rels") and "/_rels/" not in p:
                add("", what, 1, p)
    if VBA_PART in pkg.parts:
        add("", VBA_LABEL, 1, VBA_PART)
    return inv


def _drawing_objects(pkg: Package, part: str) -> Counter:
    found: Counter = Counter()
    try:
        root = pkg.xml(part)
    except Exception:
        found["无法解析的绘图内容"] += 1
        return found
    for anchor in root:
        for obj in anchor:
            name = _local(obj.tag)
            if name in ("from", "to", "pos", "ext", "clientData"):
                continue
            if name == "graphicFrame":
                uri = next((el.get("uri", "") for el in obj.iter() if _local(el.tag) == "graphicData"), "")
                found[next((v for k, v in _FRAMES.items() if uri.endswith(k)), "其他图形对象")] += 1
            else:
                found[_OBJECTS.get(name, "其他绘图对象")] += 1
    return found


def lost(before: dict, after: dict) -> list[str]:
    """Chinese notes for everything ``before`` has more of than ``after``."""
    notes = []
    for (where, what), (n, parts) in before.items():
        m = after.get((where, what), (0, []))[0]
        if m >= n:
            continue
        place = f"工作表“{where}”中" if where else "原文件中"
        src = "、".join(dict.fromkeys(parts))
        if what == "公式的缓存计算结果":
            notes.append(
                f"{place}{n} 个公式的缓存计算结果未保留（公式本身已保留，在 Excel/WPS 中打开时会重新计算）"
            )
        elif m:
            notes.append(f"{place}的{what}（{src}）有 {n - m} 个（共 {n} 个）未能保留")
        else:
            notes.append(f"{place}的{what}（{src}）未能保留")
    return notes

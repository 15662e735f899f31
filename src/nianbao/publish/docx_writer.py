"""Write the report as a Word document in the style of official documents (GB/T 9704, roughly).

A4 portrait; margins 37/35/28/26 mm; title 方正小标宋简体 二号; headings 黑体 三号; body 仿宋_GB2312
三号 with a fixed 28 pt line; tables as real Word tables with the official merges, fixed column
widths that add up to the text width; page number “— n —” in the footer. Fonts that may be
missing fall back (fontTable altName) to the ones every Chinese Windows has.
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor, Twips
from docx.table import _Cell

from .document import PLACEHOLDER, SUB, Doc, Grid

PAGE_W, PAGE_H = Mm(210), Mm(297)
MARGINS = {"top": Mm(37), "bottom": Mm(35), "left": Mm(28), "right": Mm(26)}
TEXT_WIDTH_TWIPS = int((PAGE_W - MARGINS["left"] - MARGINS["right"]) / 635)  # EMU -> twips

TITLE_FONT, BODY_FONT, HEAD_FONT, SUB_FONT, TABLE_FONT = (
    "方正小标宋简体",
    "仿宋_GB2312",
    "黑体",
    "楷体_GB2312",
    "宋体",
)
FALLBACK = {"方正小标宋简体": "宋体", "仿宋_GB2312": "仿宋", "楷体_GB2312": "楷体"}
BODY_SIZE, TITLE_SIZE, FOOTER_SIZE = Pt(16), Pt(22), Pt(14)
LINE = Pt(28)
WIDE_TABLE = 8  # tables with more grid columns use the smaller type size
RED = RGBColor(0xFF, 0x00, 0x00)


def _set_fonts(rpr_owner, name: str) -> None:
    """Set every script's font (w:ascii/hAnsi/eastAsia/cs), dropping theme fonts."""
    rpr = rpr_owner.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_owner.append(rpr)
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in list(rfonts.attrib):
        if attr.endswith("Theme"):
            del rfonts.attrib[attr]
    for attr in ("ascii", "hAnsi", "eastAsia", "cs"):
        rfonts.set(qn(f"w:{attr}"), name)


def _clear(style_el) -> None:
    for tag in ("w:pPr", "w:rPr"):
        el = style_el.find(qn(tag))
        if el is not None:
            style_el.remove(el)


def _style(
    doc,
    name: str,
    font: str,
    size,
    *,
    base=None,
    align=None,
    indent=True,
    line=LINE,
    builtin: bool = False,
    outline: int | None = None,
):
    styles = doc.styles
    st = styles[name] if builtin else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if builtin:
        _clear(st.element)
    if base is not None:
        st.base_style = base
    st.font.size = size
    st.font.bold = False
    st.font.color.rgb = RGBColor(0, 0, 0)
    _set_fonts(st.element, font)
    pf = st.paragraph_format
    pf.space_before = pf.space_after = Pt(0)
    if line is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, line
    if align is not None:
        pf.alignment = align
    pf.first_line_indent = Pt(size.pt * 2) if indent else Pt(0)
    if indent:  # two characters, as official documents indent every paragraph
        st.element.pPr.find(qn("w:ind")).set(qn("w:firstLineChars"), "200")
    if outline is not None:
        pf.keep_with_next = True
        lvl = OxmlElement("w:outlineLvl")  # schema order: after w:jc, before w:rPr
        lvl.set(qn("w:val"), str(outline))
        st.element.pPr.append(lvl)
    return st


def _setup(doc) -> None:
    # document defaults: Chinese language, no theme fonts
    rpr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    _set_fonts(rpr_default, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "zh-CN")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal = _style(doc, "Normal", BODY_FONT, BODY_SIZE, builtin=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _style(
        doc,
        "Title",
        TITLE_FONT,
        TITLE_SIZE,
        base=normal,
        builtin=True,
        indent=False,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        line=Pt(36),
        outline=0,
    )
    _style(doc, "Heading 1", HEAD_FONT, BODY_SIZE, base=normal, builtin=True, outline=1)
    _style(doc, "NB Sub", SUB_FONT, BODY_SIZE, base=normal, outline=2)
    for name, size in (("NB Table", Pt(10.5)), ("NB Table Small", Pt(9))):
        _style(
            doc,
            name,
            TABLE_FONT,
            size,
            base=normal,
            indent=False,
            line=Pt(size.pt * 1.25),
            align=WD_ALIGN_PARAGRAPH.CENTER,
        )
    footer = _style(
        doc,
        "Footer",
        TABLE_FONT,
        FOOTER_SIZE,
        base=normal,
        builtin=True,
        indent=False,
        line=None,
        align=WD_ALIGN_PARAGRAPH.CENTER,
    )
    footer.paragraph_format.tab_stops.clear_all()
    _font_fallbacks(doc)  # Word substitutes the altName of a font the computer lacks
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = PAGE_W, PAGE_H
    sec.top_margin, sec.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    sec.left_margin, sec.right_margin = MARGINS["left"], MARGINS["right"]
    sec.header_distance, sec.footer_distance = Mm(15), Mm(25)


def _font_fallbacks(doc) -> None:
    part = next((rel.target_part for rel in doc.part.rels.values() if rel.reltype == RT.FONT_TABLE), None)
    if part is None:
        return
    from lxml import etree

    root = etree.fromstring(part.blob)
    have = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
    for name, alt in {**FALLBACK, HEAD_FONT: "SimHei", TABLE_FONT: "SimSun"}.items():
        if name in have:
            continue
        font = etree.SubElement(root, qn("w:font"))
        font.set(qn("w:name"), name)
        for tag, val in (
            ("w:altName", alt),
            ("w:charset", "86"),
            ("w:family", "modern" if name == HEAD_FONT else "roman"),
            ("w:pitch", "variable"),
        ):
            el = etree.SubElement(font, qn(tag))
            el.set(qn("w:val"), val)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _drop_thumbnail(doc) -> None:
    pkg = doc.part.package
    for rid, rel in list(pkg.rels.items()):
        if rel.reltype == RT.THUMBNAIL:
            pkg.rels.pop(rid)


def _page_field(paragraph) -> None:
    def run_with(el):
        r = paragraph.add_run()
        r._r.append(el)
        return r

    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    run_with(begin)
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = " PAGE "
    run_with(instr)
    sep = OxmlElement("w:fldChar")
    sep.set(qn("w:fldCharType"), "separate")
    run_with(sep)
    paragraph.add_run("1")
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    run_with(end)


def _footer(doc, marks: tuple[str, str]) -> None:
    p = doc.sections[0].footer.paragraphs[0]
    p.style = doc.styles["Footer"]
    p.add_run(marks[0])
    _page_field(p)
    p.add_run(marks[1])


def _para(doc, text: str, kind: str, keep: bool = False) -> None:
    style = "NB Sub" if kind == SUB else "Normal"
    p = doc.add_paragraph(style=style)
    run = p.add_run(text)
    if kind == PLACEHOLDER:
        run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    if keep:  # the sentences stating a table's figures stay on the page of the table
        p.paragraph_format.keep_with_next = True


def _title(doc, model: Doc) -> None:
    """The title; when it is longer than a line, break it after the unit, as documents do."""
    p = doc.add_paragraph(style="Title")
    per_line = int((PAGE_W - MARGINS["left"] - MARGINS["right"]) / TITLE_SIZE)
    unit = model.unit
    if len(model.title) > per_line and unit and model.title.startswith(unit) and len(unit) <= per_line:
        p.add_run(unit).add_break()
        p.add_run(model.title[len(unit) :])
    else:
        p.add_run(model.title)


def _widths(grid: Grid) -> list[int]:
    total = sum(grid.weights)
    widths = [int(TEXT_WIDTH_TWIPS * w / total) for w in grid.weights]
    widths[-1] += TEXT_WIDTH_TWIPS - sum(widths)
    return widths


def _tbl_pr(table, el_name: str, **attrs):
    tbl_pr = table._tbl.tblPr
    el = tbl_pr.find(qn(el_name))
    if el is None:
        el = OxmlElement(el_name)
        tbl_pr.append(el)
    for k, v in attrs.items():
        el.set(qn(f"w:{k}"), v)
    return el


def _borders(table) -> None:
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        b = OxmlElement(f"w:{edge}")
        for k, v in (("val", "single"), ("sz", "4"), ("space", "0"), ("color", "000000")):
            b.set(qn(f"w:{k}"), v)
        borders.append(b)
    # schema order: tblBorders comes after tblW/jc/tblInd and before tblLayout/tblCellMar/tblLook
    anchor = next(
        (
            tbl_pr.find(qn(t))
            for t in ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook")
            if tbl_pr.find(qn(t)) is not None
        ),
        None,
    )
    if anchor is not None:
        anchor.addprevious(borders)
    else:
        tbl_pr.append(borders)


def _row_props(row, header: bool) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))
    if header:
        tr_pr.append(OxmlElement("w:tblHeader"))


def _table(doc, grid: Grid) -> None:
    table = doc.add_table(rows=grid.nrows, cols=grid.ncols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    widths = _widths(grid)
    _tbl_pr(table, "w:tblW", w=str(sum(widths)), type="dxa")
    _borders(table)
    for i, col in enumerate(table.columns):
        col.width = Twips(widths[i])
    # the grid's w:tc elements before any merge; (python-docx's table.cell() rescans the table)
    tcs = [list(tr.tc_lst) for tr in table._tbl.tr_lst]
    for row in tcs:
        for i, tc in enumerate(row):
            tc.width = Twips(widths[i])
    mar = OxmlElement("w:tblCellMar")  # schema order: before w:tblLook
    for side in ("left", "right"):
        m = OxmlElement(f"w:{side}")
        m.set(qn("w:w"), "45")
        m.set(qn("w:type"), "dxa")
        mar.append(m)
    look = table._tbl.tblPr.find(qn("w:tblLook"))
    if look is not None:
        look.addprevious(mar)
    else:
        table._tbl.tblPr.append(mar)
    caption = OxmlElement("w:tblCaption")
    caption.set(qn("w:val"), grid.caption)
    table._tbl.tblPr.append(caption)
    repeat = grid.top_header_rows() if len(grid.groups()) == 1 else 0
    for r, row in enumerate(table.rows):
        _row_props(row, r < repeat)
    style_id = doc.styles["NB Table Small" if grid.ncols > WIDE_TABLE else "NB Table"].style_id
    for gc in grid.cells:  # boxes never overlap, so each box's corner cells are still in place
        cell = _Cell(tcs[gc.row][gc.col], table)
        if gc.nrows > 1 or gc.ncols > 1:
            cell = cell.merge(_Cell(tcs[gc.row + gc.nrows - 1][gc.col + gc.ncols - 1], table))
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        p = cell.paragraphs[0]
        p._p.style = style_id
        if gc.row in grid.header_rows:  # a block's header rows stay with its first data row
            p.paragraph_format.keep_with_next = True
        if gc.role == "rowhead" and gc.nrows == 1 and gc.ncols * 4 < grid.ncols:
            p.alignment = WD_ALIGN_PARAGRAPH.LEFT
        if gc.text:
            p.add_run(gc.text)


def render_docx(doc_model: Doc) -> bytes:
    """The .docx file's bytes."""
    doc = Document()
    _setup(doc)
    _drop_thumbnail(doc)
    props = doc.core_properties
    props.title, props.author, props.language = doc_model.title, doc_model.unit, "zh-CN"
    props.comments = props.subject = props.keywords = ""
    body = doc.paragraphs[0] if doc.paragraphs else None
    if body is not None:  # the template's empty first paragraph
        body._p.getparent().remove(body._p)
    _title(doc, doc_model)
    if doc_model.notice:
        p = doc.add_paragraph(style="Normal")
        p.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
        p.paragraph_format.first_line_indent = Pt(0)
        run = p.add_run(doc_model.notice)
        run.font.color.rgb, run.font.bold = RED, True
    doc.add_paragraph(style="Normal")  # one blank line under the title, as official documents have
    for para in doc_model.preamble:
        _para(doc, para.text, para.kind)
    after_table = False
    for part in doc_model.parts:
        heading = doc.add_paragraph(part.heading, style="Heading 1")
        if after_table:  # a little air between a table and the next part
            heading.paragraph_format.space_before = Pt(8)
        after_table = part.table is not None
        for para in part.paras:
            _para(doc, para.text, para.kind, keep=part.table is not None)
        if part.table is not None:
            _table(doc, part.table)
    _footer(doc, doc_model.footer_page)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()

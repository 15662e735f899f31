"""nianbao publish: the Word report and the web page, from a checked workbook."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.oxml.ns import qn
from docx.shared import Mm
from typer.testing import CliRunner

from conftest import FORMS
from nianbao.cli import app
from nianbao.findings import fmt_number
from nianbao.layout import workbook_layout
from nianbao.publish import build_document
from nianbao.publish.command import publish_command
from nianbao.publish.docx_writer import TEXT_WIDTH_TWIPS
from nianbao.publish.text import match_heading, parse_text
from nianbao.samples import consistent_values
from nianbao.spec import get_spec
from nianbao.template import write_template

UNIT, YEAR = "某某县司法局", 2023


def make_workbook(path: Path, spec, values: dict, unit: str | None = UNIT, year: int | None = YEAR) -> Path:
    write_template(path, spec, unit=unit, year=year, values=values)
    return path


def publish(tmp_path: Path, workbook: Path, *extra: str, name: str = "年报") -> tuple[int, str, Path, Path]:
    out, html = tmp_path / f"{name}.docx", tmp_path / f"{name}.html"
    res = CliRunner().invoke(app, ["publish", str(workbook), "-o", str(out), "--html", str(html), *extra])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.output, out, html


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """For each form: (spec, values, docx path, html path) of a clean, fully filled report."""
    out = {}
    for form in FORMS:
        spec = get_spec(form)
        d = tmp_path_factory.mktemp(f"pub{form}")
        values = consistent_values(spec, seed=7)
        wb = make_workbook(d / "填报表.xlsx", spec, values)
        code, msg, docx_path, html_path = publish(d, wb)
        assert code == 0, msg
        out[form] = (spec, values, docx_path, html_path)
    return out


def expected_text(box, values) -> str:
    if box.role == "value":
        v = values.get(box.key)
        return "" if v is None else fmt_number(Decimal(str(v)))
    return box.text


# ---------------------------------------------------------------- reading a Word table back
def docx_grid(table) -> dict[tuple[int, int], dict]:
    """(row, col) of every w:tc -> its text, gridSpan and vMerge, by walking the XML."""
    out = {}
    for r, tr in enumerate(table._tbl.findall(qn("w:tr"))):
        c = 0
        for tc in tr.findall(qn("w:tc")):
            pr = tc.find(qn("w:tcPr"))
            span_el = pr.find(qn("w:gridSpan")) if pr is not None else None
            vm_el = pr.find(qn("w:vMerge")) if pr is not None else None
            span = int(span_el.get(qn("w:val"))) if span_el is not None else 1
            vmerge = None if vm_el is None else (vm_el.get(qn("w:val")) or "continue")
            text = "".join(t.text or "" for t in tc.iter(qn("w:t")))
            out[(r, c)] = {"text": text, "span": span, "vmerge": vmerge}
            c += span
    return out


def heading_texts(d) -> list[str]:
    return [p.text for p in d.paragraphs if p.style.name == "Heading 1"]


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_docx_tables_follow_the_layout(published, form):
    spec, values, path, _ = published[form]
    d = docx.Document(str(path))
    title = d.paragraphs[0]
    assert title.style.name == "Title"
    assert title.text.replace("\n", "") == f"{UNIT}{YEAR}年政府信息公开工作年度报告"
    assert heading_texts(d) == spec.body
    assert len(d.tables) == 3
    layout = workbook_layout(spec)
    for table, tl in zip(d.tables, layout.tables, strict=False):
        top, left = tl.first_row, min(b.col for b in tl.boxes)
        grid = docx_grid(table)
        assert len(table._tbl.findall(qn("w:tr"))) == tl.last_row - top + 1
        covered = set()
        for b in tl.boxes:
            r, c = b.row - top, b.col - left
            cell = grid[(r, c)]
            assert cell["text"] == expected_text(b, values), (tl.table.name, b)
            assert cell["span"] == b.ncols
            assert cell["vmerge"] == ("restart" if b.nrows > 1 else None)
            for rr in range(r + 1, r + b.nrows):  # the rows a vertical merge covers
                assert grid[(rr, c)] == {"text": "", "span": b.ncols, "vmerge": "continue"}
            covered |= {(rr, cc) for rr in range(r, r + b.nrows) for cc in range(c, c + b.ncols)}
        # nothing but the official boxes: every grid position belongs to exactly one box
        assert covered == {(r, c) for r in range(tl.last_row - top + 1) for c in range(tl.width)}
        merges = sum(1 for b in tl.boxes if b.merged)
        assert merges > 0
        starts = [v for v in grid.values() if v["vmerge"] != "continue" and (v["span"] > 1 or v["vmerge"])]
        assert len(starts) == merges
        # fixed layout whose columns add up to no more than the text width
        cols = [int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        assert len(cols) == tl.width and sum(cols) <= TEXT_WIDTH_TWIPS
        assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_docx_page_setup_fonts_and_page_numbers(published, form):
    _, _, path, _ = published[form]
    d = docx.Document(str(path))
    sec = d.sections[0]
    assert (round(sec.page_width.mm, 1), round(sec.page_height.mm, 1)) == (210, 297)  # A4
    assert sec.page_width < sec.page_height
    assert [round(m.mm) for m in (sec.top_margin, sec.bottom_margin, sec.left_margin, sec.right_margin)] == [
        37,
        35,
        28,
        26,
    ]
    instr = "".join(t.text for t in sec.footer._element.iter(qn("w:instrText")))
    assert instr.strip() == "PAGE"
    assert [f.get(qn("w:fldCharType")) for f in sec.footer._element.iter(qn("w:fldChar"))] == [
        "begin",
        "separate",
        "end",
    ]

    def east_asia(style):
        return style.element.find(qn("w:rPr")).find(qn("w:rFonts")).get(qn("w:eastAsia"))

    assert east_asia(d.styles["Title"]) == "方正小标宋简体"
    assert east_asia(d.styles["Heading 1"]) == "黑体"
    assert east_asia(d.styles["Normal"]) == "仿宋_GB2312"
    assert d.styles["Normal"].font.size.pt == 16
    assert 9 <= d.styles["NB Table Small"].font.size.pt <= 10.5
    font_table = next(r.target_part for r in d.part.rels.values() if r.reltype.endswith("/fontTable"))
    assert "方正小标宋简体" in font_table.blob.decode() and 'w:val="宋体"' in font_table.blob.decode()


# ---------------------------------------------------------------- reading the web page back
class Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.captions, self.cell, self.tags, self.lang = [], [], None, [], None
        self.headings, self._h = [], None
        self.attrs_seen: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.attrs_seen.append((tag, a))
        if tag == "html":
            self.lang = a.get("lang")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = {
                "tag": tag,
                "rowspan": int(a.get("rowspan", 1)),
                "colspan": int(a.get("colspan", 1)),
                "scope": a.get("scope"),
                "text": "",
            }
            self.tables[-1][-1].append(self.cell)
        elif tag == "caption":
            self.captions.append("")
        elif tag == "h2":
            self._h = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.cell = None
        elif tag == "h2":
            self.headings.append(self._h)
            self._h = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data
        elif self.tags and self.tags[-1] == "caption" and self.captions:
            self.captions[-1] += data
        if self._h is not None:
            self._h += data


def html_grid(rows) -> dict[tuple[int, int], dict]:
    """Place cells on the grid the way browsers do (rowspan/colspan)."""
    taken, out = set(), {}
    for r, row in enumerate(rows):
        c = 0
        for cell in row:
            while (r, c) in taken:
                c += 1
            out[(r, c)] = cell
            for rr in range(r, r + cell["rowspan"]):
                for cc in range(c, c + cell["colspan"]):
                    taken.add((rr, cc))
            c += cell["colspan"]
    return out


@pytest.mark.parametrize("form", FORMS)
def test_html_tables_follow_the_layout(published, form):
    spec, values, _, path = published[form]
    page = path.read_text("utf-8")
    p = Tables()
    p.feed(page)
    assert p.lang == "zh-CN"
    assert p.headings == spec.body
    assert len(p.tables) == 3 and len(p.captions) == 3
    assert all(t.name in cap for t, cap in zip(spec.tables, p.captions, strict=False))
    # self-contained: no external script, style sheet, image or font
    assert not re.search(r"""<(script|link|img|iframe)\b|\bsrc=|url\(|@import""", page)
    for rows, tl in zip(p.tables, workbook_layout(spec).tables, strict=False):
        top, left = tl.first_row, min(b.col for b in tl.boxes)
        grid = html_grid(rows)
        assert len(grid) == len(tl.boxes)
        for b in tl.boxes:
            cell = grid[(b.row - top, b.col - left)]
            assert (cell["rowspan"], cell["colspan"]) == (b.nrows, b.ncols)
            assert cell["text"] == expected_text(b, values)
            if b.role == "value":
                assert cell["tag"] == "td"
            elif b.role in ("colhead", "rowhead", "section"):
                assert cell["tag"] == "th"
                want = {
                    "colhead": "colgroup" if b.ncols > 1 else "col",
                    "rowhead": "rowgroup" if b.nrows > 1 else "row",
                    "section": "rowgroup",
                }[b.role]
                assert cell["scope"] == want


# ---------------------------------------------------------------- refusing unchecked data
def broken_values(spec) -> dict:
    values = consistent_values(spec, seed=3)
    values["nb_t3_new_total"] += 5  # breaks 表三's row total and the column's 勾稽关系
    values["nb_t4_review_total"] += 1
    return values


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_refuses_a_workbook_with_errors_unless_forced(tmp_path, form):
    from nianbao.inputs import collect
    from nianbao.pipeline import read_and_check

    spec = get_spec(form)
    wb = make_workbook(tmp_path / "有错.xlsx", spec, broken_values(spec))
    errors = read_and_check(collect([wb]).items[0]).errors
    assert errors >= 3
    code, msg, out, html = publish(tmp_path, wb)
    assert code == 1
    assert f"存在 {errors} 处错误" in msg and "nianbao check" in msg and "--force" in msg
    assert not out.exists() and not html.exists()

    code, msg, out, html = publish(tmp_path, wb, "--force")
    assert code == 0, msg
    notice = f"本报告数据未通过审核，存在 {errors} 处错误，仅供核对，不得公开发布"
    d = docx.Document(str(out))
    first = [p for p in d.paragraphs[:3] if notice in p.text]
    assert first, [p.text for p in d.paragraphs[:3]]
    assert all(r.font.color.rgb == docx.shared.RGBColor(0xFF, 0, 0) for r in first[0].runs)
    page = html.read_text("utf-8")
    assert page.index(notice) < page.index("<h2")
    assert re.search(r'<p class="notice"><strong>' + re.escape(notice) + "</strong>", page)


def test_clean_workbook_has_no_notice(published):
    _, _, path, html = published["2021"]
    assert "未通过审核" not in "".join(p.text for p in docx.Document(str(path)).paragraphs)
    assert "未通过审核" not in html.read_text("utf-8")


# ---------------------------------------------------------------- prose
HEADINGS = get_spec("2021").body


def test_headings_are_matched_by_number_and_words():
    assert match_heading("## 一、总体情况", HEADINGS) == 0
    assert match_heading("五、政府信息公开工作存在的主要问题及改进情况", HEADINGS) == 4
    assert match_heading("四、因政府信息公开工作被申请行政复议、提起行政诉讼情况", HEADINGS) == 3
    assert match_heading("**六、其他需要报告的事项**", HEADINGS) == 5
    assert match_heading("二、行政机关主动公开政府信息情况", HEADINGS) == 1
    # a numbered point inside the prose is not a heading
    assert match_heading("一、加强组织领导。本局成立了工作专班。", HEADINGS) is None
    assert match_heading("二、存在问题", HEADINGS) is None
    assert match_heading("一、总体情况", HEADINGS, after=2) is None  # parts only go forward


def test_parse_text_plain_and_markdown():
    plain = (
        "某某县司法局2023年政府信息公开工作年度报告\n"
        "本报告依据条例编制。\n"
        "一、总体情况\n2023年，本局认真贯彻条例。\n(一)主动公开政府信息情况\n通过网站公开信息46条。\n"
        "五、政府信息公开工作存在的主要问题及改进情况\n一、加强组织领导。继续改进。\n"
    )
    pre, parts = parse_text(plain, HEADINGS)
    assert [p.text for p in pre] == ["本报告依据条例编制。"]
    assert [(p.text, p.kind) for p in parts[0]] == [
        ("2023年，本局认真贯彻条例。", "body"),
        ("(一)主动公开政府信息情况", "sub"),
        ("通过网站公开信息46条。", "body"),
    ]
    assert [p.text for p in parts[4]] == ["一、加强组织领导。继续改进。"]
    assert set(parts) == {0, 4}

    md = (
        "# 一、总体情况\n\n本局**认真**贯彻\n条例要求。\n\n### （一）主动公开\n\n- 公开信息46条\n\n"
        "## 六、其他需要报告的事项\n\n无。\n"
    )
    pre, parts = parse_text(md, HEADINGS, markdown=True)
    assert pre == []
    assert [(p.text, p.kind) for p in parts[0]] == [
        ("本局认真贯彻条例要求。", "body"),
        ("（一）主动公开", "sub"),
        ("公开信息46条", "body"),
    ]
    assert [p.text for p in parts[5]] == ["无。"]


@pytest.mark.slow
def test_text_fills_parts_and_placeholders_mark_the_rest(tmp_path):
    spec = get_spec("2021")
    wb = make_workbook(tmp_path / "表.xlsx", spec, consistent_values(spec, seed=1))
    text = tmp_path / "正文.md"
    text.write_text(
        "## 一、总体情况\n\n本局全面推进政务公开。\n\n"
        "## 六、其他需要报告的事项\n\n本年度未收取信息处理费。\n",
        "utf-8",
    )
    code, msg, out, html = publish(tmp_path, wb, "--text", str(text))
    assert code == 0, msg
    assert "1 个部分没有正文" in msg
    d = docx.Document(str(out))
    paras = d.paragraphs
    idx = {p.text: i for i, p in enumerate(paras)}
    assert idx["本局全面推进政务公开。"] == idx[HEADINGS[0]] + 1
    assert idx["本年度未收取信息处理费。"] == idx[HEADINGS[5]] + 1
    placeholder = paras[idx[HEADINGS[4]] + 1]
    assert placeholder.text == "【待填写】"
    assert placeholder.runs[0].font.highlight_color == docx.enum.text.WD_COLOR_INDEX.YELLOW
    assert sum(p.text == "【待填写】" for p in paras) == 1
    page = html.read_text("utf-8")
    assert page.count("<mark>【待填写】</mark>") == 1 and "<p>本局全面推进政务公开。</p>" in page


@pytest.mark.slow
def test_text_file_in_gbk_is_read(tmp_path):
    spec = get_spec("2021")
    wb = make_workbook(tmp_path / "表.xlsx", spec, consistent_values(spec, seed=1))
    text = tmp_path / "正文.txt"
    text.write_bytes("一、总体情况\n本局全面推进政务公开。\n".encode("gbk"))
    code, msg, out, _ = publish(tmp_path, wb, "--text", str(text))
    assert code == 0, msg
    assert "本局全面推进政务公开。" in [p.text for p in docx.Document(str(out)).paragraphs]


# ---------------------------------------------------------------- generated sentences
def _sum(values, *keys) -> str:
    return fmt_number(sum(Decimal(str(values.get(k) or 0)) for k in keys))


def body_text(path: Path) -> str:
    return "\n".join(p.text for p in docx.Document(str(path)).paragraphs)


@pytest.mark.parametrize("form", FORMS)
def test_generated_sentences_state_the_table_figures(published, form):
    spec, v, path, html = published[form]
    text = body_text(path)
    t4 = workbook_layout(spec).table("t4").values
    expect = [
        f"本年度共收到政府信息公开申请{_sum(v, 'nb_t3_new_total')}件",
        f"上年结转{_sum(v, 'nb_t3_carried_total')}件",
        f"办结{_sum(v, 'nb_t3_r_total_total')}件",
        f"结转下年度继续办理{_sum(v, 'nb_t3_carry_next_total')}件",
        f"不予公开{_sum(v, *[k for k in spec.cells if k.startswith('nb_t3_deny_') and k.endswith('_total')])}"
        "件",
        f"行政复议{_sum(v, 'nb_t4_review_total')}件",
        f"结果维持{_sum(v, 'nb_t4_review_upheld')}件",
        f"行政诉讼{_sum(v, 'nb_t4_direct_total', 'nb_t4_after_total')}件",
    ]
    assert "nb_t4_direct_total" in t4
    for phrase in expect:
        assert phrase in text, phrase
        assert phrase in html.read_text("utf-8"), phrase
    # the sentences come right before their table: part 三's text ends with them
    d = docx.Document(str(path))
    body = d.element.body
    t3 = d.tables[1]._tbl
    prev = t3.getprevious()
    assert "办结的申请中" in "".join(t.text for t in prev.iter(qn("w:t")))
    assert body.index(t3) > 0
    assert "较上年" not in text and "与上年" not in text


@pytest.mark.slow
def test_previous_year_changes(tmp_path):
    spec = get_spec("2021")
    cur, old = consistent_values(spec, seed=11), consistent_values(spec, seed=12)
    old["nb_t3_new_total"] = (
        cur["nb_t3_new_total"] + 4
    )  # this year: 4 fewer (last year's errors do not matter)
    cur_wb = make_workbook(tmp_path / "本年.xlsx", spec, cur)
    prev_wb = make_workbook(tmp_path / "上年.xlsx", spec, old, year=YEAR - 1)
    code, msg, out, _ = publish(tmp_path, cur_wb, "--previous", str(prev_wb))
    assert code == 0, msg
    text = body_text(out)
    assert "新收申请数较上年减少4件" in text

    def change(key):
        d = Decimal(str(cur[key])) - Decimal(str(old[key]))
        return (
            "与上年持平" if d == 0 else ("较上年增加" if d > 0 else "较上年减少") + f"{fmt_number(abs(d))}件"
        )

    assert f"办结数{change('nb_t3_r_total_total')}" in text
    assert f"行政复议案件数{change('nb_t4_review_total')}" in text


@pytest.mark.slow
def test_previous_from_the_2019_form(tmp_path):
    """Last year on the 2019 form, this year on 2021: the shared totals still compare."""
    cur_spec, old_spec = get_spec("2021"), get_spec("2019")
    cur, old = consistent_values(cur_spec, seed=5), consistent_values(old_spec, seed=6)
    cur_wb = make_workbook(tmp_path / "本年.xlsx", cur_spec, cur)
    prev_wb = make_workbook(tmp_path / "上年.xlsx", old_spec, old, year=2020)
    code, msg, out, _ = publish(tmp_path, cur_wb, "--previous", str(prev_wb))
    assert code == 0, msg
    d = Decimal(cur["nb_t3_new_total"]) - Decimal(old["nb_t3_new_total"])
    word = "与上年持平" if d == 0 else ("较上年增加" if d > 0 else "较上年减少") + f"{fmt_number(abs(d))}件"
    assert f"新收申请数{word}" in body_text(out)


# ---------------------------------------------------------------- blanks, unit, year, CLI errors
@pytest.mark.slow
def test_blank_cells_stay_blank(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, seed=4)
    values["nb_t2_rules_issued"] = None
    wb = make_workbook(tmp_path / "表.xlsx", spec, values)
    code, msg, out, html = publish(tmp_path, wb)
    assert code == 0, msg
    tl = workbook_layout(spec).table("t2")
    box = tl.values["nb_t2_rules_issued"]
    cell = docx_grid(docx.Document(str(out)).tables[0])[(box.row - tl.first_row, box.col)]
    assert cell["text"] == ""
    p = Tables()
    p.feed(html.read_text("utf-8"))
    assert html_grid(p.tables[0])[(box.row - tl.first_row, box.col)]["text"] == ""


@pytest.mark.slow
def test_unit_and_year_options(tmp_path):
    spec = get_spec("2021")
    wb = make_workbook(tmp_path / "表.xlsx", spec, consistent_values(spec, seed=4), unit=None, year=None)
    code, msg, out, _ = publish(tmp_path, wb)
    assert code == 2 and "--unit" in msg and "--year" in msg and not out.exists()
    code, msg, out, html = publish(tmp_path, wb, "--unit", "某某县人民政府办公室", "--year", "2024")
    assert code == 0, msg
    title = "某某县人民政府办公室2024年政府信息公开工作年度报告"
    assert docx.Document(str(out)).paragraphs[0].text.replace("\n", "") == title
    assert f"<h1>{title}</h1>" in html.read_text("utf-8")


def test_bad_arguments_give_chinese_messages(tmp_path):
    spec = get_spec("2021")
    wb = make_workbook(tmp_path / "表.xlsx", spec, consistent_values(spec, seed=4))
    runner = CliRunner()
    res = runner.invoke(app, ["publish", str(wb), "-o", str(tmp_path / "年报.pdf")])
    assert res.exit_code == 2 and ".docx" in res.output
    res = runner.invoke(app, ["publish", str(tmp_path / "无此文件.xlsx"), "-o", str(tmp_path / "a.docx")])
    assert res.exit_code == 2 and "找不到文件" in res.output
    res = runner.invoke(app, ["publish", str(tmp_path), "-o", str(tmp_path / "a.docx")])
    assert res.exit_code == 2 and "文件夹" in res.output
    res = runner.invoke(
        app, ["publish", str(wb), "-o", str(tmp_path / "a.docx"), "--text", str(tmp_path / "无.md")]
    )
    assert res.exit_code == 2 and "找不到正文文件" in res.output and not (tmp_path / "a.docx").exists()
    res = runner.invoke(app, ["publish", str(wb), "-o", str(tmp_path / "a.docx"), "--html", str(wb)])
    assert res.exit_code == 2 and "网页" in res.output
    assert "Traceback" not in res.output


def test_document_model_is_shared_by_both_outputs():
    spec = get_spec("2019")
    from nianbao.model import Report

    values = {
        k: Decimal(v) if not isinstance(v, Decimal) else v for k, v in consistent_values(spec, 2).items()
    }
    doc = build_document(Report(path="x", form="2019", unit="甲", year=2020, values=values), spec)
    assert [p.heading for p in doc.parts] == spec.body
    assert [p.table.key if p.table else None for p in doc.parts] == [None, "t2", "t3", "t4", None, None]
    assert [p.paras[0].kind for p in doc.parts if p.table is None] == ["placeholder"] * 3


# ---------------------------------------------------------------- round trip through the importer
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("kind", ["docx", "html"])
def test_round_trip_through_import(published, form, kind):
    from nianbao import importers
    from nianbao.inputs import collect

    spec, values, docx_path, html_path = published[form]
    path = docx_path if kind == "docx" else html_path
    report = importers.read_report_file(collect([path]).items[0])
    assert report.form == form
    assert report.unit == UNIT and report.year == YEAR
    got = {k: report.values.get(k) for k in spec.cells}
    want = {k: Decimal(str(v)) for k, v in values.items()}
    assert got == want
    assert not [f for f in report.findings if f.is_error], [f.message for f in report.findings]


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_nianbao_import_cli_gives_the_workbook_back(published, form, tmp_path):
    """`nianbao import` of the .docx and the .html writes a workbook with the same data."""
    from nianbao.inputs import collect
    from nianbao.reader import read_report

    spec, values, docx_path, html_path = published[form]
    for path in (docx_path, html_path):
        back = tmp_path / f"{path.suffix[1:]}.xlsx"
        res = CliRunner().invoke(app, ["import", str(path), "-o", str(back)])
        assert res.exit_code == 0, res.output
        report = read_report(collect([back]).items[0])
        assert (report.form, report.unit, report.year) == (form, UNIT, YEAR)
        assert {k: report.values[k] for k in spec.cells} == {k: Decimal(v) for k, v in values.items()}


# ---------------------------------------------------------------- LibreOffice: PDF, page count, width
FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  {aliases}
</fontconfig>
"""
ALIASES = {
    "宋体": "Noto Serif CJK SC",
    "方正小标宋简体": "Noto Serif CJK SC",
    "仿宋_GB2312": "Noto Serif CJK SC",
    "楷体_GB2312": "Noto Serif CJK SC",
    "黑体": "Noto Sans CJK SC",
}
EXPECTED_PAGES = {"2021": 3, "2019": 3}


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_converts_to_pdf_within_the_page(published, tmp_path):
    import pdfplumber  # a runtime dependency: never a reason to skip

    conf = tmp_path / "fonts.conf"
    conf.write_text(
        FONTS_CONF.format(
            aliases="\n  ".join(
                f'<alias binding="same"><family>{a}</family><prefer><family>{b}</family></prefer></alias>'
                for a, b in ALIASES.items()
            )
        ),
        "utf-8",
    )
    env = {**os.environ, "FONTCONFIG_FILE": str(conf), "HOME": str(tmp_path)}
    docs = [published[f][2] for f in FORMS]
    srcs = []
    for f, p in zip(FORMS, docs, strict=False):
        srcs.append(tmp_path / f"{f}.docx")
        shutil.copy(p, srcs[-1])
    spec = get_spec("2021")  # and one published with --force: the notice is red on page 1
    wb = make_workbook(tmp_path / "有错.xlsx", spec, broken_values(spec))
    assert publish_command(wb, tmp_path / "forced.docx", force=True) == 0
    srcs.append(tmp_path / "forced.docx")
    subprocess.run(
        [
            "soffice",
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            *map(str, srcs),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    for form in FORMS:
        with pdfplumber.open(str(tmp_path / f"{form}.pdf")) as pdf:
            assert len(pdf.pages) == EXPECTED_PAGES[form]
            right = float(Mm(210 - 26).pt)
            left = float(Mm(28).pt)
            tables = 0
            for n, page in enumerate(pdf.pages, 1):
                assert round(page.width) == 595 and round(page.height) == 842  # A4 portrait
                for t in page.find_tables():  # every table inside the text width
                    tables += 1
                    assert t.bbox[0] >= left - 1.5 and t.bbox[2] <= right + 1.5, (form, n, t.bbox)
                things = page.edges + page.chars
                assert max(e["x1"] for e in things) <= right + 1.5, (form, n)
                assert min(e["x0"] for e in things) >= left - 1.5, (form, n)
                assert page.extract_text().splitlines()[-1] == f"— {n} —"  # the PAGE field
            assert tables >= 3
            first = pdf.pages[0].extract_text().replace(" ", "").replace("\n", "")
            assert f"{YEAR}年政府信息公开工作年度报告" in first
            assert "未通过审核" not in first
    with pdfplumber.open(str(tmp_path / "forced.pdf")) as pdf:
        page = pdf.pages[0]
        assert "仅供核对，不得公开发布" in page.extract_text().replace("\n", "")
        red = [c for c in page.chars if tuple(c["non_stroking_color"] or ()) == (1, 0, 0)]
        assert "".join(c["text"] for c in red).startswith("本报告数据未通过审核")


# ---------------------------------------------------------------- text vs tables, self-check, aggregate
@pytest.mark.slow
def test_text_that_contradicts_the_tables_is_reported(tmp_path):
    spec = get_spec("2021")
    values = consistent_values(spec, seed=8)
    wb = make_workbook(tmp_path / "表.xlsx", spec, values)
    wrong = int(values["nb_t3_new_total"]) + 7
    text = tmp_path / "正文.txt"
    text.write_text(f"三、收到和处理政府信息公开申请情况\n本年度收到政府信息公开申请{wrong}件。\n", "utf-8")
    code, msg, out, _ = publish(tmp_path, wb, "--text", str(text))
    assert code == 0, msg
    assert "正文与表格" in msg and f"申请{wrong}件" in msg.replace("\n", "")
    assert out.exists()


@pytest.mark.slow
def test_generated_text_never_contradicts_the_tables(tmp_path):
    """With last year's data and the user's text, the importer finds no number that disagrees."""
    from nianbao.importers import read_report_file
    from nianbao.inputs import collect

    spec = get_spec("2021")
    cur, old = consistent_values(spec, seed=21), consistent_values(spec, seed=22)
    cur_wb = make_workbook(tmp_path / "本年.xlsx", spec, cur)
    prev_wb = make_workbook(tmp_path / "上年.xlsx", spec, old, year=YEAR - 1)
    text = tmp_path / "正文.md"
    text.write_text(
        "# 一、总体情况\n\n本局推进公开。\n\n# 六、其他需要报告的事项\n\n本年度收取信息处理费0元。\n", "utf-8"
    )
    code, msg, out, html = publish(tmp_path, cur_wb, "--previous", str(prev_wb), "--text", str(text))
    assert code == 0, msg
    assert "正文与表格" not in msg
    for path in (out, html):
        back = read_report_file(collect([path]).items[0])
        assert not [f.message for f in back.findings if f.code == "NB310"]
        assert back.body[spec.body[0]] == "本局推进公开。"
        assert {k: back.values[k] for k in spec.cells} == {k: Decimal(v) for k, v in cur.items()}


@pytest.mark.slow
def test_nothing_is_written_when_the_document_does_not_read_back(tmp_path, monkeypatch):
    import nianbao.publish as pub

    spec = get_spec("2021")
    wb = make_workbook(tmp_path / "表.xlsx", spec, consistent_values(spec, seed=8))
    monkeypatch.setattr(pub, "read_back", lambda data, kind, report, spec: (["nb_t3_new_total"], []))
    code = publish_command(wb, tmp_path / "年报.docx", html=tmp_path / "年报.html")
    assert code == 2
    assert not (tmp_path / "年报.docx").exists() and not (tmp_path / "年报.html").exists()


@pytest.mark.slow
def test_publish_an_aggregate_workbook(tmp_path):
    from nianbao.aggregate import aggregate
    from nianbao.aggregate.workbook import write_aggregate

    spec = get_spec("2021")
    (tmp_path / "in").mkdir()
    units = {"甲局": consistent_values(spec, 31), "乙局": consistent_values(spec, 32)}
    for name, vals in units.items():
        make_workbook(tmp_path / "in" / f"{name}.xlsx", spec, vals, unit=name)
    res = aggregate([tmp_path / "in"], year=YEAR)
    try:
        write_aggregate(res, tmp_path / "汇总.xlsx")
    finally:
        getattr(res, "close", lambda: None)()
    code, msg, out, _ = publish(tmp_path, tmp_path / "汇总.xlsx")
    assert code == 2 and "--unit" in msg and not out.exists()  # the sums have no unit name
    code, msg, out, _ = publish(tmp_path, tmp_path / "汇总.xlsx", "--unit", "某某县")
    assert code == 0, msg
    tl = workbook_layout(spec).table("t3")
    grid = docx_grid(docx.Document(str(out)).tables[1])
    for key, box in tl.values.items():
        total = sum(Decimal(v[key]) for v in units.values())
        assert grid[(box.row - tl.first_row, box.col)]["text"] == fmt_number(total), key
    assert (
        docx.Document(str(out)).paragraphs[0].text.replace("\n", "")
        == f"某某县{YEAR}年政府信息公开工作年度报告"
    )


# ---------------------------------------------------------------- the county's own report
def _county(tmp_path: Path, units: dict, *extra: str, roster: list[str] | None = None) -> Path:
    """`nianbao aggregate` of the given units (name -> values, None: a file with an error)."""
    spec = get_spec("2021")
    folder = tmp_path / "收回"
    folder.mkdir(exist_ok=True)
    for name, vals in units.items():
        if vals is None:
            vals = dict(consistent_values(spec, 40))
            vals["nb_t3_new_total"] += 1
        make_workbook(folder / f"{name}.xlsx", spec, vals, unit=name)
    args = ["aggregate", str(folder), "-o", str(tmp_path / "汇总.xlsx"), "--year", str(YEAR), *extra]
    if roster:
        (tmp_path / "名单.csv").write_text("单位名称\n" + "\n".join(roster) + "\n", "utf-8-sig")
        args += ["--roster", str(tmp_path / "名单.csv")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code in (0, 1) and (tmp_path / "汇总.xlsx").exists(), res.output
    return tmp_path / "汇总.xlsx"


@pytest.mark.slow
def test_aggregate_unit_is_the_author_of_the_county_report(tmp_path):
    spec = get_spec("2021")
    units = {"甲局": consistent_values(spec, 31), "乙局": consistent_values(spec, 32)}
    agg = _county(tmp_path, units, "--unit", "某县人民政府")
    meta = openpyxl.load_workbook(agg)[spec.workbook["meta_sheet"]]
    assert {r[0]: r[1] for r in meta.iter_rows(values_only=True)}["unit"] == "某县人民政府"
    code, msg, out, html = publish(tmp_path, agg)  # no --unit: the aggregate says whose it is
    assert code == 0, msg
    title = f"某县人民政府{YEAR}年政府信息公开工作年度报告"
    assert docx.Document(str(out)).paragraphs[0].text.replace("\n", "") == title
    assert f"<h1>{title}</h1>" in html.read_text("utf-8")
    assert "仅供核对" not in body_text(out)  # both units counted: nothing partial about it


@pytest.mark.slow
def test_text_skeleton_is_a_text_to_start_from(tmp_path):
    spec = get_spec("2021")
    skeleton = tmp_path / "正文.md"
    res = CliRunner().invoke(app, ["publish", "--text-skeleton", str(skeleton)])
    assert res.exit_code == 0, res.output
    text = skeleton.read_text("utf-8")
    assert [line[2:] for line in text.splitlines() if line.startswith("# ")] == spec.body
    res = CliRunner().invoke(app, ["publish", "--text-skeleton", str(skeleton)])
    assert res.exit_code == 2 and "已存在" in res.output  # never overwrites a text being written
    wb = make_workbook(tmp_path / "表.xlsx", spec, consistent_values(spec, seed=4))
    # published untouched, the skeleton reads like no text: the parts keep their placeholders
    code, msg, out, _ = publish(tmp_path, wb, "--text", str(skeleton))
    assert code == 0, msg
    body = body_text(out)
    assert body.count("【待填写】") == 3 and "自动生成" not in body and "3 个部分没有正文" in msg
    # the clerk types below a placeholder line: the text replaces it
    skeleton.write_text(text.replace("监督保障等。\n", "监督保障等。\n本县推进政务公开。\n", 1), "utf-8")
    code, msg, out, _ = publish(tmp_path, wb, "--text", str(skeleton), name="年报2")
    assert code == 0, msg
    body = body_text(out)
    assert "本县推进政务公开。" in body and "概述本年度" not in body and body.count("【待填写】") == 2


@pytest.mark.slow
def test_partial_aggregate_is_not_published_silently(tmp_path):
    """3 of 8 units counted (2 未报送, 2 有错误, 1 无法读取): refused, or marked with --force."""
    spec = get_spec("2021")
    units = {f"单位{i}": consistent_values(spec, 50 + i) for i in range(3)}
    units.update({"错一": None, "错二": None})
    folder = tmp_path / "收回"
    folder.mkdir()
    (folder / "坏了.xlsx").write_bytes(b"PK\x03\x04 broken")
    roster = [*units, "坏了", "未报一", "未报二"]
    agg = _county(tmp_path, units, "--unit", "某县人民政府", roster=roster)
    code, msg, out, html = publish(tmp_path, agg)
    flat = msg.replace("\n", "")
    assert code == 1 and not out.exists() and not html.exists()
    assert "仅汇总了 3/8 个单位" in flat, flat
    assert "未报送 2" in flat and "有错误 2" in flat and "无法读取 1" in flat and "--force" in flat
    code, msg, out, html = publish(tmp_path, agg, "--force")
    assert code == 0, msg
    first = docx.Document(str(out)).paragraphs[1].text  # right below the title
    assert "计入 3/8 个单位" in first and "仅供核对" in first
    assert 'class="notice"' in html.read_text("utf-8") and "计入 3/8 个单位" in html.read_text("utf-8")

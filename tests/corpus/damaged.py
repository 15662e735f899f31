"""Damaged shapes seen in published reports, written here from the form specs with our own
numbers: Markdown from PDF→Markdown converters, broken PDF text, numbers with a unit, and the
title shapes that name (or fail to name) the issuer.

Truth values: a number, "" for a cell that must come out blank, "?" for one that must not be
imported (named by a finding instead).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

from corpus_values import realistic_values

from nianbao.findings import fmt_number
from nianbao.spec import Spec, get_spec

ASCII = str.maketrans({"（": "(", "）": ")", "，": ", ", "、": ", ", "：": ":", "“": '"', "”": '"'})


def _t(v) -> str:
    return fmt_number(Decimal(str(v)))


def _ascii(label: str) -> str:
    """Labels as some converters print them: ASCII punctuation, a space after an item number."""
    s = label.translate(ASCII)
    if len(s) > 2 and s[0].isdigit() and s[1] == ".":
        s = s[:2] + " " + s[2:]
    return s


def _rows(spec: Spec, key: str):
    """(section, leaf row, its group label or "", its cells) of one table, in order."""
    t = spec.table(key)
    for sec in t.sections:
        for leaf in sec.leaf_rows():
            cells = [c for c in t.cells if c.section is sec and c.row is leaf]
            group = leaf.parent.label if leaf.parent is not None else ""
            yield sec, leaf, group, cells


def _body(year: int, k: int) -> str:
    return {
        0: f"{year}年，本机关深入贯彻《中华人民共和国政府信息公开条例》，全年主动公开政府信息{k * 37}条。",
        4: "（一）存在的主要问题：信息公开的及时性有待提高。\n（二）改进情况：健全工作机制，加强培训。",
        5: "本年度未收取信息处理费。",
    }.get(k, "")


# ------------------------------------------------------------------ Markdown
def markdown(spec: Spec, vals: dict, title: list[str], year: int) -> tuple[str, dict]:
    truth = {k: _t(v) for k, v in vals.items()}
    out = [*title, ""]
    for k, heading in enumerate(spec.body):
        out.append(f"## {heading}")
        if heading == spec.table("t2").title:
            for sec in spec.table("t2").sections:
                cols = [c.label for c in sec.leaf_columns()]
                out += ["", f"### {_ascii(sec.title)}", "", f"| {sec.corner} | " + " | ".join(cols) + " |"]
                out.append("|" + "---|" * (len(cols) + 1))
                for leaf in sec.leaf_rows():
                    cells = [c for c in spec.table("t2").cells if c.section is sec and c.row is leaf]
                    texts = []
                    for c in cells:
                        if vals[c.key] == 0:  # converters write an empty cell as "-"
                            texts.append("-")
                            truth[c.key] = ""
                        else:
                            texts.append(_t(vals[c.key]))
                    out.append(f"| {leaf.label} | " + " | ".join(texts) + " |")
        elif heading == spec.table("t3").title:
            out += _md_t3(spec, vals)
        elif heading == spec.table("t4").title:
            cells = spec.table("t4").cells
            out += ["", "| " + " | ".join(c.col_label for c in cells) + " |", "|" + "---|" * len(cells)]
            out.append("| " + " | ".join(_t(vals[c.key]) for c in cells) + " |")
        else:
            out.append(_body(year, k))
        out.append("")
    return "\n".join(out) + "\n", truth


def _md_t3(spec: Spec, vals: dict) -> list[str]:
    n = len(spec.table("t3").sections[0].leaf_columns())
    header = [
        "",
        "| 类别 | " + " | ".join(f"数据{i}" for i in range(1, n)) + " | 总计 |",
        "|---" * (n + 1) + "|",
    ]
    out: list[str] = []
    group = None
    for _sec, leaf, g, cells in _rows(spec, "t3"):
        if g != group or not g:
            if g and g != group:
                out += ["", f"### {_ascii(g)}"]
            if g.startswith("（四）"):  # a header row of another table, in the middle
                out += ["", "| 项目 | 本年新收件数 | 上年结转件数 | 办结件数 |", "|---|---|---|---|"]
            if group is None or g != group:
                out += header
            group = g
        out.append(f"| {_ascii(leaf.label)} | " + " | ".join(_t(vals[c.key]) for c in cells) + " |")
    return out


# ------------------------------------------------------------------ broken PDF text
def pdf_broken(spec: Spec, vals: dict, title: list[str], year: int) -> tuple[str, dict]:
    truth = {k: _t(v) for k, v in vals.items()}
    out = list(title)
    for k, heading in enumerate(spec.body):
        out.append(heading)
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is None:
            out += _body(year, k).split("\n")
        elif table.key == "t2":
            for sec in table.sections:
                out.append(sec.title)
                out.append(" ".join([sec.corner, *(c.label for c in sec.leaf_columns())]))
                for _s, leaf, _g, cells in _rows(spec, "t2"):
                    if _s is sec:
                        out.append(" ".join([leaf.label, *(_t(vals[c.key]) for c in cells)]))
        elif table.key == "t3":
            out += _pdf_t3(spec, vals)
        else:
            cells = table.cells
            out += ["行政复议 行政诉讼", "未经复议直接起诉 复议后起诉"]
            out.append(" ".join(_t(vals[c.key]) for c in cells))
    return "\n".join(out) + "\n", truth


def _pdf_t3(spec: Spec, vals: dict) -> list[str]:
    rows = list(_rows(spec, "t3"))
    sec = rows[0][0]
    out = [sec.corner, "申请人情况", " ".join(c.label for c in sec.leaf_columns())]
    nums = {leaf.key: " ".join(_t(vals[c.key]) for c in cells) for _s, leaf, _g, cells in rows}
    i, prev = 0, ""
    while i < len(rows):
        _s, leaf, g, _cells = rows[i]
        lab = leaf.label
        prefix = f"{g} " if g and g != prev else ""
        prev = g
        if leaf.key == "carried":  # label over two lines, the values on a third
            out += [lab[:10], lab[10:], nums[leaf.key]]
        elif leaf.key == "r_open":  # this row's values and the next two rows' on one line
            following = [r[1] for r in rows[i + 1 : i + 3]]
            out.append(f"{prefix}{lab} " + " | ".join(nums[x.key] for x in [leaf, *following]))
            out.append(following[0].label)
            out.append(f"{rows[i + 2][2]} {following[1].label}")
            prev = rows[i + 2][2]
            i += 3
            continue
        elif leaf.key == "deny_2":  # one character missing
            out.append(f"{prefix}{lab.replace('禁止', '禁')} {nums[leaf.key]}")
        elif leaf.key == "deny_5":  # page break inside the table
            out += ["\f- 2 -", "第 2 页 共 3 页", f"{prefix}{lab} {nums[leaf.key]}"]
        elif leaf.key in ("ignore_1", "other_1"):  # group label cut into its rows' text
            half = len(g) // 2
            out += [f"{lab[:8]}{g[:half]}", f"{lab[8:]} {nums[leaf.key]}"]
            nxt = rows[i + 1][1]
            out += [f"{nxt.label[:6]}{g[half:]}{nxt.label[6:]} {nums[nxt.key]}"]
            prev = g
            i += 2
            continue
        else:
            out.append(f"{prefix}{lab} {nums[leaf.key]}")
        i += 1
    return out


# ------------------------------------------------------------------ numbers with a unit
def with_units(spec: Spec, vals: dict, title: list[str], year: int) -> tuple[str, dict]:
    """Pipe rows (shape 1) where the amount carries 元 or 万元 and a few counts carry 件/个/项."""
    truth = {k: _t(v) for k, v in vals.items()}
    amount = next(c for c in spec.cells.values() if not spec.kinds[c.kind].integer)
    unit = "万元" if "万元" in amount.col_label else "元"
    raw = Decimal(str(vals[amount.key]))
    text: dict[str, str] = {}
    if unit == "万元":  # the report gives 元: the column is in 万元
        text[amount.key] = f"{fmt_number(raw * 10000)}元"
    else:
        text[amount.key] = f"{fmt_number(raw)}元"
    counted = [c for c in spec.table("t3").cells if vals[c.key]][:3]
    for c, u in zip(counted, ("件", "个", "项"), strict=False):
        text[c.key] = f"{_t(vals[c.key])}{u}"
    t4 = spec.table("t4").cells
    text[t4[0].key] = f"{_t(vals[t4[0].key])}千元"  # no unit the column admits: not imported
    truth[t4[0].key] = "?"
    lines = list(title)
    for k, heading in enumerate(spec.body):
        lines.append(heading)
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is None:
            lines += _body(year, k).split("\n")
            continue
        for sec in table.sections:
            if sec.title:
                lines.append(f"{sec.title} |")
            head = [sec.corner] if sec.corner else []
            lines.append(" | ".join([*head, *(c.label for c in sec.leaf_columns())]) + " |")
            for _s, leaf, g, cells in _rows(spec, table.key):
                if _s is sec:
                    label = " | ".join(x for x in (g, leaf.label) if x)
                    vs = [text.get(c.key, _t(vals[c.key])) for c in cells]
                    lines.append(" | ".join([label, *vs] if label else vs) + " |")
    return "\n".join(lines) + "\n", truth


# ------------------------------------------------------------------ an irregular web table
def html_irregular(spec: Spec, vals: dict, title: list[str], year: int) -> tuple[str, dict]:
    """A web page whose 表二 grid does not line up (value cells merged over other columns than
    their headers), with line breaks inside header cells, empty cells as &nbsp; and the amount
    written with 元; 表三 zeros left empty."""
    truth = {k: _t(v) for k, v in vals.items()}
    td = "<td nowrap='nowrap'><p align='center'>{}</p></td>"
    td2 = "<td colspan='2' nowrap='nowrap'><p align='center'>{}</p></td>"
    out = [
        "<html><head><meta charset='utf-8'></head><body>",
        *(f"<p style='text-align:center'>{t}</p>" for t in title),
    ]
    for k, heading in enumerate(spec.body):
        out.append(f"<p>{heading}</p>")
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is None:
            out.append(f"<p>{_body(year, k)}</p>")
            continue
        out.append("<table border='1'><tbody>")
        for sec in table.sections:
            cols = sec.leaf_columns()
            if table.key == "t2":
                out.append(f"<tr><td colspan='5'><p>{sec.title}</p></td></tr>")
                heads = [c.label[:3] + "<br />" + c.label[3:] for c in cols]
                if len(heads) == 1:
                    cells = [td.format(sec.corner), f"<td colspan='4'><p>{heads[0]}</p></td>"]
                else:
                    cells = [td.format(sec.corner), td.format(heads[0]), td2.format(heads[1])]
                    cells += [td.format(h) for h in heads[2:]]
                out.append("<tr>" + "".join(cells) + "</tr>")
            elif table.key == "t3":
                out.append(
                    f"<tr><td colspan='3' rowspan='3'>{sec.corner}</td><td colspan='7'>申请人情况</td></tr>"
                )
                out.append(
                    "<tr><td rowspan='2'>自然人</td><td colspan='5'>法人或其他组织</td>"
                    "<td rowspan='2'>总计</td></tr>"
                )
                out.append("<tr>" + "".join(td.format(c.label) for c in cols[1:-1]) + "</tr>")
            else:
                out.append("<tr>" + "".join(td.format(c.label) for c in cols) + "</tr>")
            for _s, leaf, g, cells in _rows(spec, table.key):
                if _s is not sec:
                    continue
                texts = []
                for c in cells:
                    v = vals[c.key]
                    if not spec.kinds[c.kind].integer:
                        texts.append(f"{_t(v)}元" if "万元" not in c.col_label else _t(v))
                    elif table.key == "t3" and v == 0:
                        texts.append("&nbsp;")
                        truth[c.key] = ""
                    else:
                        texts.append(_t(v))
                label = f"<td colspan='3'>{g + ' ' if g else ''}{leaf.label}</td>" if leaf.label else ""
                if table.key == "t2" and len(texts) > 1:  # the values merged one column earlier
                    row = [td2.format(texts[0])] + [td.format(x) for x in texts[1:]]
                elif table.key == "t2":
                    row = [f"<td colspan='4'><p>{texts[0]}</p></td>"]
                else:
                    row = [td.format(x) for x in texts]
                out.append("<tr>" + label + "".join(row) + "</tr>")
        out.append("</tbody></table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n", truth


# ------------------------------------------------------------------ one cell per line
def cell_lines(spec: Spec, vals: dict, title: list[str], year: int) -> tuple[str, dict]:
    """A web page flattened one cell per line, each ending in " |": an empty cell is a line
    "|", the columns a merged label spans are a line "||" after the row; zeros left empty."""
    truth = {k: _t(v) for k, v in vals.items()}
    out = list(title)
    for k, heading in enumerate(spec.body):
        out.append(heading)
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is None:
            out.append(_body(year, k))
            continue
        for sec in table.sections:
            if sec.title:
                out += [f"{sec.title} |", "|||"]
            out += [
                f"{x} |" for x in ([sec.corner] if sec.corner else []) + [c.label for c in sec.leaf_columns()]
            ]
            for _s, leaf, g, cells in _rows(spec, table.key):
                if _s is not sec:
                    continue
                out += [f"{x} |" for x in (g, leaf.label) if x]
                for c in cells:
                    if vals[c.key] == 0 and table.key == "t3":
                        out.append("|")
                        truth[c.key] = ""
                    else:
                        out.append(f"{_t(vals[c.key])} |")
                if table.key == "t3":
                    out.append("||")
    return "\n".join(out) + "\n", truth


# ------------------------------------------------------------------ the set
CASES = [
    (
        "cell-lines-2021.txt",
        "2021",
        cell_lines,
        ["示例县统计局2023年政府信息公开工作年度报告"],
        "示例县统计局",
        2023,
        209,
    ),
    (
        "cell-lines-2019.txt",
        "2019",
        cell_lines,
        ["示例县统计局2020年政府信息公开工作年度报告"],
        "示例县统计局",
        2020,
        210,
    ),
    # (file, form, shape, title lines, issuer expected, year, seed)
    (
        "md-grouped-2021.md",
        "2021",
        markdown,
        ["# 某某市人民政府2024年政府信息公开工作年度报告"],
        "某某市人民政府",
        2024,
        201,
    ),
    (
        "md-grouped-2019.md",
        "2019",
        markdown,
        ["**某某区人民政府**", "**2020 年政府信息公开工作年度报告**"],
        "某某区人民政府",
        2020,
        202,
    ),
    ("pdf-broken-2021.txt", "2021", pdf_broken, ["2023 年政府信息公开工作年度报告"], "", 2023, 203),
    (
        "pdf-broken-2019.txt",
        "2019",
        pdf_broken,
        [
            "根据《中华人民共和国政府信息公开条例》规定，现公布示例县市场监督管理局2019年政府信息公开工作年度报告。"
        ],
        "示例县市场监督管理局",
        2019,
        204,
    ),
    (
        "units-2021.txt",
        "2021",
        with_units,
        ["某某镇人民政府2022年度政府信息公开工作年度报告"],
        "某某镇人民政府",
        2022,
        205,
    ),
    ("units-2019.txt", "2019", with_units, ["政府信息公开工作年度报告（2020年）"], "示例县财政局", 2020, 206),
    (
        "html-irregular-2019.html",
        "2019",
        html_irregular,
        ["2019年示例市人民政府办公厅政府信息公开工作年度报告"],
        "示例市人民政府办公厅",
        2019,
        207,
    ),
    (
        "html-irregular-2021.html",
        "2021",
        html_irregular,
        ["示例市某某区人民政府2022年", "政府信息公开工作年度报告"],
        "示例市某某区人民政府",
        2022,
        208,
    ),
]
# how the issuer is found when the title does not name it
TAILS = {
    "pdf-broken-2021.txt": "",  # named nowhere: left empty (NB004)
    "units-2019.txt": "本报告由示例县财政局根据《中华人民共和国政府信息公开条例》要求编制。\n\n"
    "示例县财政局\n2021年1月25日",
}


def DAMAGED() -> dict[str, tuple[str, dict]]:
    out = {}
    for fname, form, make, title, unit, year, seed in CASES:
        spec = get_spec(form)
        vals = realistic_values(spec, seed)
        text, truth = make(spec, vals, title, year)
        if TAILS.get(fname):
            text += TAILS[fname] + "\n"
        text = unicodedata.normalize("NFC", text)
        out[fname] = (text, {"form": form, "unit": unit, "year": year, "values": truth})
    return out

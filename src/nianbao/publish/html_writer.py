"""Write the report as one self-contained, accessible web page (no external assets).

Tables keep the official merges as rowspan/colspan; header cells are <th> with a scope, values
are <td>; each table has a <caption> and sits in a keyboard-scrollable region on narrow screens.
"""

from __future__ import annotations

from html import escape

from .document import PLACEHOLDER, SUB, Doc, Grid

CSS = """
body{margin:0;background:#f4f4f4;color:#111;font-family:"仿宋_GB2312","仿宋",FangSong,STFangsong,"Noto Serif CJK SC",serif;font-size:18px;line-height:1.8}
main{max-width:60em;margin:0 auto;padding:2em 1.5em;background:#fff}
h1{font-family:"方正小标宋简体","FZXiaoBiaoSong-B05S","宋体",SimSun,"Noto Serif CJK SC",serif;font-weight:normal;font-size:1.6em;text-align:center;line-height:1.5;margin:.5em 0 1em}
h2{font-family:"黑体",SimHei,"Noto Sans CJK SC",sans-serif;font-weight:normal;font-size:1em;margin:1em 0 .3em;text-indent:2em}
p{margin:0;text-indent:2em;text-align:justify}
p.sub{font-family:"楷体_GB2312","楷体",KaiTi,STKaiti,serif}
p.notice{color:#c00;font-weight:bold;text-align:center;text-indent:0;border:2px solid #c00;padding:.3em;margin:0 0 1em}
mark{background:#ff0;color:#000}
.table-wrap{overflow-x:auto;margin:.5em 0 1em}
.table-wrap:focus{outline:2px solid #06c}
table{border-collapse:collapse;width:100%;table-layout:fixed;font-family:"宋体",SimSun,"Noto Serif CJK SC",serif;font-size:14px;line-height:1.4}
caption{font-family:"黑体",SimHei,sans-serif;font-size:15px;padding:.3em;text-align:center}
th,td{border:1px solid #000;padding:.25em .3em;text-align:center;vertical-align:middle}
th{font-weight:normal;background:#f2f2f2}
th.row{text-align:left}
td.corner{background:#f2f2f2}
table.wide{min-width:46em;font-size:13px}
td{font-variant-numeric:tabular-nums}
@media print{body{background:#fff}main{max-width:none;padding:0}.table-wrap{overflow:visible}}
@page{size:A4 portrait;margin:37mm 26mm 35mm 28mm}
""".strip()


def _scope(role: str, nrows: int, ncols: int) -> str:
    if role == "colhead":
        return "colgroup" if ncols > 1 else "col"
    if role == "section":
        return "rowgroup"
    return "rowgroup" if nrows > 1 else "row"


def _cell(gc, grid: Grid) -> str:
    span = (f' rowspan="{gc.nrows}"' if gc.nrows > 1 else "") + (
        f' colspan="{gc.ncols}"' if gc.ncols > 1 else ""
    )
    text = escape(gc.text)
    if gc.role == "value":
        return f"<td{span}>{text}</td>"
    if gc.role == "corner":
        return f'<td class="corner"{span}>{text}</td>'
    cls = ' class="row"' if gc.role == "rowhead" and gc.nrows == 1 and gc.ncols * 4 < grid.ncols else ""
    return f'<th scope="{_scope(gc.role, gc.nrows, gc.ncols)}"{cls}{span}>{text}</th>'


def render_table(grid: Grid, table_id: str) -> str:
    by_row: dict[int, list] = {}
    for gc in grid.cells:
        by_row.setdefault(gc.row, []).append(gc)
    groups = grid.groups()
    total = sum(grid.weights)
    widths = [100 * w / total for w in grid.weights]
    wide = ' class="wide"' if grid.ncols > 8 else ""
    out = [
        f'<div class="table-wrap" role="region" tabindex="0" aria-labelledby="{table_id}-cap">',
        f'<table id="{table_id}"{wide}>',
        f'<caption id="{table_id}-cap">{escape(grid.caption)}</caption>',
        "<colgroup>" + "".join(f'<col style="width:{w:.2f}%">' for w in widths) + "</colgroup>",
    ]

    def rows(rs):
        return [
            "<tr>"
            + "".join(_cell(gc, grid) for gc in sorted(by_row.get(r, []), key=lambda c: c.col))
            + "</tr>"
            for r in rs
        ]

    if len(groups) == 1:
        head = grid.top_header_rows()
        out += [
            "<thead>",
            *rows(range(head)),
            "</thead>",
            "<tbody>",
            *rows(range(head, grid.nrows)),
            "</tbody>",
        ]
    else:
        for g in groups:
            out += ["<tbody>", *rows(g), "</tbody>"]
    out += ["</table>", "</div>"]
    return "\n".join(out)


def _para(text: str, kind: str) -> str:
    if kind == PLACEHOLDER:
        return f"<p><mark>{escape(text)}</mark></p>"
    cls = ' class="sub"' if kind == SUB else ""
    return f"<p{cls}>{escape(text)}</p>"


def render_html(doc: Doc) -> str:
    body = [f"<h1>{escape(doc.title)}</h1>"]
    if doc.notice:
        body.append(f'<p class="notice"><strong>{escape(doc.notice)}</strong></p>')
    body += [_para(p.text, p.kind) for p in doc.preamble]
    for i, part in enumerate(doc.parts, 1):
        body.append(f'<section aria-labelledby="part{i}">')
        body.append(f'<h2 id="part{i}">{escape(part.heading)}</h2>')
        body += [_para(p.text, p.kind) for p in part.paras]
        if part.table is not None:
            body.append(render_table(part.table, f"table-{part.table.key}"))
        body.append("</section>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(doc.title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + "\n</main>\n</body>\n</html>\n"
    )

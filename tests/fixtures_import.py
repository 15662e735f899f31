"""Generators of published-report fixtures for the import tests.

Everything is produced from the form specs and their workbook layout (the official grid with
its merges), so the fixtures follow the spec rather than restating labels: flattened text in
the five shapes of reference §5, HTML with rowspan/colspan, Word .docx with merged cells and
(via LibreOffice) PDF.
"""

from __future__ import annotations

import html as htmllib
import os
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from nianbao.findings import fmt_number
from nianbao.layout import Box, workbook_layout
from nianbao.spec import Spec, get_spec

ROLES = ("section", "corner", "colhead", "rowhead", "value")
SHAPES = ("rows", "cell_lines", "pipe_lines", "bare_lines", "pdf_text")


@dataclass
class Grid:
    """One official table: its boxes relative to the table's first row."""

    name: str
    title: str
    width: int
    height: int
    boxes: list[Box]  # with text filled in for value boxes

    def origin_rows(self) -> list[list[Box]]:
        rows: list[list[Box]] = [[] for _ in range(self.height)]
        for b in self.boxes:
            rows[b.row].append(b)
        return [sorted(r, key=lambda b: b.col) for r in rows]

    def covering(self, row: int, col: int) -> Box | None:
        return next(
            (b for b in self.boxes if b.row <= row <= b.last_row and b.col <= col <= b.last_col), None
        )


def text_of(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return fmt_number(Decimal(str(v)))


def grids(
    values: dict, forms: dict[str, str] | None = None, overrides: dict | None = None, spec: Spec | None = None
) -> list[Grid]:
    """The three tables filled with ``values`` (cell key -> number); ``forms`` picks the form of
    each table (t2/t3/t4 -> "2021"/"2019") for mixed documents; ``overrides`` replaces the text
    of some value cells."""
    forms = forms or {}
    overrides = overrides or {}
    out = []
    base = spec or get_spec("2021")
    for t in base.tables:
        sp = get_spec(forms.get(t.key, base.version))
        tl = workbook_layout(sp).table(t.key)
        top = tl.first_row
        boxes = []
        for b in tl.boxes:
            if b.role not in ROLES:
                continue
            text = b.text
            if b.role == "value":
                text = overrides[b.key] if b.key in overrides else text_of(values.get(b.key))
            boxes.append(Box(b.role, b.row - top, b.col, b.nrows, b.ncols, text, b.key))
        height = max(b.last_row for b in boxes) + 1
        out.append(Grid(t.name, t.title, tl.width, height, boxes))
    return out


# ------------------------------------------------------------------ text shapes
def _rows_shape(g: Grid) -> list[str]:
    lines = []
    for r, _row in enumerate(g.origin_rows()):
        cells = []
        for c in range(g.width):
            b = g.covering(r, c)
            if b is None:
                cells.append("")
            elif b.row == r and b.col == c:
                cells.append(b.text)
            elif b.row == r:
                cells.append("")  # colspan continuation
            # rowspan continuation: omitted, the label appears on the first row only
        lines.append(" | ".join(cells) + " |")
    return lines


def _cell_lines(g: Grid) -> list[str]:
    lines = []
    for row in g.origin_rows():
        for b in row:
            extra = (" " + "|" * (b.ncols - 1)) if b.ncols > 1 else ""
            lines.append(f"{b.text} |{extra}" if b.text else "|")
    return lines


def _pipe_lines(g: Grid) -> list[str]:
    lines = []
    for row in g.origin_rows():
        for b in row:
            if b.text:
                lines.append(b.text)
            lines.append("|")
    return lines


def _bare_lines(g: Grid) -> list[str]:
    return [b.text for row in g.origin_rows() for b in row if b.text]


def _pdf_text(g: Grid, wrap: int = 16) -> list[str]:
    """Like pdfplumber's text of a ruled table: vertical labels one character per line,
    long labels wrapped with the numbers after the tail, header cells interleaved."""
    lines: list[str] = []
    rows = g.origin_rows()
    values_only = not any(b.role == "rowhead" for b in g.boxes)
    for r, row in enumerate(rows):
        heads = [b for b in row if b.role != "value"]
        vals = [b.text for b in row if b.role == "value"]
        prefix = ""
        for v in g.boxes:  # a vertical label contributes one character to each of its rows
            if v.role == "rowhead" and v.nrows > 1 and v.ncols == 1 and v.row < r <= v.last_row:
                i = r - v.row
                if i < len(v.text):
                    prefix += v.text[i] + " "
        if values_only and heads and not vals:  # 表四 header: characters interleaved
            width = max(len(b.text) for b in heads)
            for i in range(width):
                lines.append(" ".join(b.text[i] for b in heads if i < len(b.text)))
            continue
        parts = []
        for b in heads:
            if b.role == "rowhead" and b.nrows > 1 and b.ncols == 1:
                parts.append(b.text[0])  # first character; the rest on the rows below
            else:
                parts.append(b.text)
        label = " ".join(parts)
        tail = " ".join(v for v in vals if v)
        if len(label) > wrap and tail:
            lines.append(prefix + label[:wrap])
            lines.append(f"{label[wrap:]} {tail}")
        else:
            lines.append(" ".join(x for x in (prefix + label, tail) if x))
    return lines


SHAPE_FUNCS = {
    "rows": _rows_shape,
    "cell_lines": _cell_lines,
    "pipe_lines": _pipe_lines,
    "bare_lines": _bare_lines,
    "pdf_text": _pdf_text,
}


def prose(
    values: dict, spec: Spec, fee_text: str = "本年度未收取信息处理费。", stated_new: int | None = None
) -> dict[int, str]:
    new = values.get("nb_t3_new_total", 0) if stated_new is None else stated_new
    return {
        0: f"本机关认真贯彻落实《条例》。本年度共收到政府信息公开申请{text_of(new)}件，"
        f"上年结转{text_of(values.get('nb_t3_carried_total', 0))}件。",
        4: "（一）存在的主要问题：公开内容不够全面。\n（二）改进情况：进一步规范公开行为。",
        5: fee_text,
    }


def report_text(
    values: dict,
    shape: str,
    spec: Spec | None = None,
    title: str | None = "default",
    texts: dict[int, str] | None = None,
    **grid_kw,
) -> str:
    spec = spec or get_spec("2021")
    gs = {g.name: g for g in grids(values, spec=spec, **grid_kw)}
    texts = prose(values, spec) if texts is None else texts
    lines = []
    if title == "default":
        lines.append("测试县档案局2023年政府信息公开工作年度报告")
    elif title:
        lines.append(title)
    for k, heading in enumerate(spec.body):
        lines.append(heading)
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is not None:
            lines += SHAPE_FUNCS[shape](gs[table.name])
        elif texts.get(k):
            lines += texts[k].split("\n")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ HTML and Word
def report_html(
    values: dict, spec: Spec | None = None, texts: dict[int, str] | None = None, **grid_kw
) -> str:
    spec = spec or get_spec("2021")
    gs = {g.name: g for g in grids(values, spec=spec, **grid_kw)}
    texts = prose(values, spec) if texts is None else texts
    esc = htmllib.escape
    out = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        "<title>测试县档案局2023年政府信息公开工作年度报告_测试县人民政府</title></head><body>",
        "<div class='nav'>首页 &gt; 政府信息公开 &gt; 年度报告</div><div class='content'>",
    ]
    for k, heading in enumerate(spec.body):
        out.append(f"<p><strong>{esc(heading)}</strong></p>")
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is not None:
            g = gs[table.name]
            out.append("<table border='1' cellspacing='0'><tbody>")
            for row in g.origin_rows():
                out.append("<tr>")
                for b in row:
                    span = (f" rowspan='{b.nrows}'" if b.nrows > 1 else "") + (
                        f" colspan='{b.ncols}'" if b.ncols > 1 else ""
                    )
                    out.append(f"<td{span}><p>{esc(b.text) or '&nbsp;'}</p></td>")
                out.append("</tr>")
            out.append("</tbody></table>")
        elif texts.get(k):
            out += [f"<p>{esc(x)}</p>" for x in texts[k].split("\n")]
    out.append("</div></body></html>")
    return "\n".join(out)


def report_docx(
    path: Path, values: dict, spec: Spec | None = None, texts: dict[int, str] | None = None, **grid_kw
) -> Path:
    import docx

    spec = spec or get_spec("2021")
    gs = {g.name: g for g in grids(values, spec=spec, **grid_kw)}
    texts = prose(values, spec) if texts is None else texts
    d = docx.Document()
    d.add_paragraph("测试县档案局2023年政府信息公开工作年度报告")
    for k, heading in enumerate(spec.body):
        d.add_paragraph(heading)
        table = next((t for t in spec.tables if t.title == heading), None)
        if table is not None:
            g = gs[table.name]
            t = d.add_table(rows=g.height, cols=g.width)
            t.style = "Table Grid"
            for b in g.boxes:
                cell = t.cell(b.row, b.col)
                if b.merged:
                    cell = cell.merge(t.cell(b.last_row, b.last_col))
                cell.text = b.text
        elif texts.get(k):
            for x in texts[k].split("\n"):
                d.add_paragraph(x)
    d.save(str(path))
    return path


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(sources: list[Path], out_dir: Path) -> list[Path]:
    """Convert Word files to PDF with LibreOffice headless (one process for all)."""
    exe = soffice()
    assert exe
    profile = out_dir / "lo-profile"
    env = dict(os.environ, HOME=str(out_dir))
    subprocess.run(
        [
            exe,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(out_dir),
            *map(str, sources),
        ],
        check=True,
        capture_output=True,
        timeout=180,
        env=env,
    )
    return [out_dir / (p.stem + ".pdf") for p in sources]

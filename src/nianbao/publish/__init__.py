"""Publish a checked workbook as the annual report: a Word document and an accessible web page.

``build_document`` turns a report (values keyed by cell keys) into a neutral ``Doc``;
``render`` gives the bytes of the Word document or the web page, ``write_docx``/``write_html``
write them atomically, ``read_back`` imports the bytes again and compares them with the data.
The CLI step is :func:`nianbao.publish.command.publish_command`.
"""

from __future__ import annotations

from pathlib import Path

from ..model import Report
from ..spec import Spec, get_spec
from .document import GENERATED, PLACEHOLDER, Doc, Para, Part, table_grid, texts
from .text import heading_number, parse_text, sentences

__all__ = [
    "build_document",
    "publish_report",
    "read_back",
    "render",
    "text_skeleton",
    "write_docx",
    "write_html",
]


def _table_for(spec: Spec, heading: str):
    for t in spec.tables:
        if t.title == heading:
            return t
    num = heading_number(heading)
    return next((t for t in spec.tables if heading_number(t.title) == num), None)


def build_document(
    report: Report,
    spec: Spec,
    *,
    text: str | None = None,
    markdown: bool = False,
    previous: Report | None = None,
    unit: str | None = None,
    year: int | None = None,
    errors: int = 0,
    coverage: str = "",
) -> Doc:
    """The report's document model. ``errors`` > 0 puts the red notice on the first page, and so
    does ``coverage`` (计入 3/8 个单位…: an aggregate of only some of the units)."""
    conf = texts()
    unit = unit if unit is not None else report.unit
    year = year if year is not None else report.year
    preamble, user_parts = parse_text(text or "", spec.body, markdown)
    placeholder = conf.placeholder
    prev_spec = get_spec(previous.form) if previous is not None and previous.form else None
    parts: list[Part] = []
    for i, heading in enumerate(spec.body):
        table = _table_for(spec, heading)
        paras = [p for p in map(_without_skeleton, user_parts.get(i, [])) if p.text]
        if table is not None:
            gen = sentences(spec, table.key, report, previous, prev_spec)
            paras += [Para(s, GENERATED) for s in gen]
        elif not paras:
            paras = [Para(placeholder, PLACEHOLDER)]
        grid = table_grid(spec, table.key, report.values) if table is not None else None
        parts.append(Part(heading=heading, paras=paras, table=grid))
    notices = [conf.notice.format(errors=errors)] if errors else []
    notices += [conf.partial_notice.format(coverage=coverage)] if coverage else []
    notice = "；".join(notices) or None
    return Doc(
        title=conf.title.format(unit=unit or "", year=year if year is not None else ""),
        unit=unit or "",
        year=year,
        form=spec.version,
        notice=notice,
        parts=parts,
        placeholder=placeholder,
        footer_page=tuple(conf.footer_page),
        preamble=[p for p in preamble if p.text],
    )


def _skeleton_lines() -> list[str]:
    """The lines :func:`text_skeleton` writes that are not the user's (longest first)."""
    conf = texts()
    hints = [conf.placeholder + h for h in conf.skeleton_hints.values()]
    return sorted([*hints, conf.placeholder, conf.skeleton_table_part], key=len, reverse=True)


def _without_skeleton(p: Para) -> Para:
    """A paragraph without the skeleton line it starts with (Markdown joins the lines the user
    typed right below it into the same paragraph): empty when it is nothing but that line."""
    for line in _skeleton_lines():
        if p.text.startswith(line):
            return Para(p.text[len(line) :].strip(), p.kind)
    return p


def text_skeleton(spec: Spec) -> str:
    """A 正文 file to start from (Markdown): every part's heading; under the parts without a
    table the placeholder and what to write there. Published as it is, it reads like no text."""
    conf = texts()
    out = []
    for heading in spec.body:
        out.append(f"# {heading}\n")
        if _table_for(spec, heading) is not None:
            out.append(conf.skeleton_table_part + "\n")
        else:
            hint = conf.skeleton_hints.get(heading_number(heading), "")
            out.append(f"{conf.placeholder}{hint}\n")
    return "\n".join(out)


def render(doc: Doc, kind: str) -> bytes:
    """The bytes of the Word document (``docx``) or of the web page (``html``)."""
    if kind == "docx":
        from .docx_writer import render_docx

        return render_docx(doc)
    from .html_writer import render_html

    return render_html(doc).encode("utf-8")


def write_docx(doc: Doc, target: Path | str, force: bool = True) -> None:
    from ..fileio import write_bytes_atomic

    write_bytes_atomic(target, render(doc, "docx"), force)


def write_html(doc: Doc, target: Path | str, force: bool = True) -> None:
    from ..fileio import write_bytes_atomic

    write_bytes_atomic(target, render(doc, "html"), force)


def read_back(data: bytes, kind: str, report: Report, spec: Spec) -> tuple[list[str], list[str]]:
    """Import the rendered document as a published report and compare it with the data.

    Returns (cell keys whose value differs, the importer's prose-vs-table messages). Does
    nothing when the importer is not installed."""
    try:
        from ..importers import parse_docx, parse_html
    except ImportError:  # pragma: no cover - the importer ships with the package
        return [], []
    back = (parse_docx if kind == "docx" else parse_html)(data, f"年报.{kind}")
    if back.unreadable or back.form != spec.version:
        return sorted(spec.cells), []
    differ = [k for k in spec.cells if back.values.get(k) != report.values.get(k)]
    prose = [f.message for f in back.findings if f.code in PROSE_CODES]
    return differ, prose


PROSE_CODES = ("NB310", "NB311")  # importer: numbers in the text vs the tables, fees in part 六


def publish_report(
    report: Report, spec: Spec, docx: Path | None = None, html: Path | None = None, **kw
) -> Doc:
    """Build the document and write the requested outputs; returns the model."""
    doc = build_document(report, spec, **kw)
    if docx is not None:
        write_docx(doc, docx)
    if html is not None:
        write_html(doc, html)
    return doc

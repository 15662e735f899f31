"""Doc -> Report: pick the form from the labels found, read the tables, the issuer, the body."""

from __future__ import annotations

from ..findings import make
from ..model import Report
from ..normalize import label_keys
from ..spec import Spec, all_specs
from .grid import extract
from .match import MASK, find_all
from .prose import body_sections, find_headings, issuer_and_year, prose_findings
from .tokens import Doc

MAX_CELL_KEY = 45  # longer label text is prose, not a table cell


def _table_keys(spec: Spec) -> set[str]:
    keys: set[str] = set()
    for t in spec.tables:
        for sec in t.sections:
            keys.update(label_keys(x)[0] for x in (sec.title, sec.corner) if x)
            for tree in (sec.columns, sec.rows):
                keys.update(label_keys(n.label)[0] for root in tree for n in root.walk() if n.label)
    return {k for k in keys if len(k) >= 2}


def form_scores(doc: Doc, specs: list[Spec]) -> dict[str, tuple[int, int]]:
    """spec version -> (labels found that only this form has, labels of this form found).
    Longer labels are matched (and masked) first, so 本年处理决定数量 never counts as 处理决定数量."""
    hay = "".join(t.key for t in doc.tokens if not t.value and len(t.key) <= MAX_CELL_KEY)
    keys = {s.version: _table_keys(s) for s in specs}
    found: set[str] = set()
    for k in sorted(set().union(*keys.values()), key=len, reverse=True):
        pos = find_all(hay, k)
        if pos:
            found.add(k)
            for a in pos:
                hay = hay[:a] + MASK * len(k) + hay[a + len(k) :]
    out = {}
    for s in specs:
        others = set().union(*(keys[v] for v in keys if v != s.version)) if len(keys) > 1 else set()
        out[s.version] = (len(found & (keys[s.version] - others)), len(found & keys[s.version]))
    return out


def _read_with(doc: Doc, spec: Spec, display: str) -> tuple[Report, tuple]:
    r = Report(path=display, source="import", form=spec.version)
    ex = extract(doc, spec, r)
    return r, (ex.missing_tables, ex.missing_rows, len(r.invalid), -ex.found_values)


def build_report(doc: Doc, display: str, file_stem: str = "") -> Report:
    specs = all_specs()
    scores = form_scores(doc, specs)
    if not any(s[1] for s in scores.values()):
        return _no_tables(display)
    ranked = sorted(specs, key=lambda s: scores[s.version][0], reverse=True)
    best = scores[ranked[0].version][0]
    tied = [s for s in ranked if scores[s.version][0] == best]
    results = [(_read_with(doc, s, display), s) for s in tied]
    (report, quality), spec = min(results, key=lambda x: x[0][1])
    if quality[0] == len(spec.tables):
        return _no_tables(display)
    heads = find_headings(doc, spec)
    report.body = body_sections(doc, spec, heads)
    report.unit, report.year = issuer_and_year(doc, heads, file_stem)
    if not report.unit or not report.year:
        missing = "、".join(x for x, ok in (("填报单位", report.unit), ("报告年度", report.year)) if not ok)
        report.findings.append(
            make("NB004", f"未能从报告标题或正文中识别{missing}，导入后请在“填报信息”页补填")
        )
    report.empty = (
        bool(report.values) and all(v is None for v in report.values.values()) and not report.invalid
    )
    report.findings.extend(prose_findings(report, spec, doc))
    return report


def _no_tables(display: str) -> Report:
    r = Report(path=display, source="import", unreadable=True)
    r.findings.append(
        make(
            "NB002", f"{display}：未在文件中找到政府信息公开年度报告的统计表格（表二、表三、表四），无法导入"
        )
    )
    return r

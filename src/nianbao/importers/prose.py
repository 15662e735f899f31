"""The prose of a report: the six body headings, the issuer and year, and numbers quoted in
the text that the tables must agree with (reference §3 R13/R14)."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher
from functools import lru_cache

from ..findings import Finding, fmt_number, make
from ..model import Report
from ..normalize import label_key
from ..spec import Spec, all_specs
from .tokens import Doc

_NUM = re.compile(r"^\s*([一二三四五六七八九十]+)\s*[、.．,，:：]\s*")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def split_heading(text: str) -> tuple[str, str] | None:
    m = _NUM.match(_nfkc(text))
    return (m.group(1), _nfkc(text)[m.end() :]) if m else None


@lru_cache(maxsize=1)
def _row_label_keys() -> frozenset[str]:
    return frozenset(
        label_key(n.label)
        for s in all_specs()
        for t in s.tables
        for sec in t.sections
        for root in sec.rows
        for n in root.walk()
        if n.label
    )


def _similar(cand: str, official: str) -> bool:
    if not official or not cand or len(cand) > 2 * len(official) + 8:
        return False
    sm = SequenceMatcher(None, cand, official, autojunk=False)
    return sum(b.size for b in sm.get_matching_blocks()) >= 0.6 * len(official)


def find_headings(doc: Doc, spec: Spec) -> dict[int, int]:
    """Index of spec.body[k] -> token index of that heading, matched by its number and words.
    When a heading occurs several times (a table of contents), the last one that keeps the
    headings in order wins."""
    official = [split_heading(b) for b in spec.body]
    cands: dict[int, list[int]] = {k: [] for k in range(len(spec.body))}
    rows = _row_label_keys()
    for i, t in enumerate(doc.tokens):
        if t.value or t.key in rows:
            continue
        sp = split_heading(t.text)
        if sp is None:
            continue
        for k, off in enumerate(official):
            if off and off[0] == sp[0] and _similar(label_key(sp[1]), label_key(off[1])):
                cands[k].append(i)
    chosen: dict[int, int] = {}
    limit = len(doc.tokens)
    for k in reversed(range(len(spec.body))):
        opts = [i for i in cands[k] if i < limit]
        if opts:
            chosen[k] = limit = opts[-1]
    return chosen


def body_sections(doc: Doc, spec: Spec, heads: dict[int, int]) -> dict[str, str]:
    lines = sorted((doc.tokens[i].line, k) for k, i in heads.items())
    out: dict[str, str] = {}
    for n, (ln, k) in enumerate(lines):
        end = lines[n + 1][0] if n + 1 < len(lines) else len(doc.lines)
        out[spec.body[k]] = "\n".join(x for x in doc.lines[ln + 1 : end] if x.strip()).strip()
    return out


# ------------------------------------------------------------------ issuer and year
_TITLE_A = re.compile(
    r"(?P<unit>[^\s\d，,。:：；;]{2,40}?)(?P<year>(?:19|20)\d{2})\s*年度?\s*的?"
    r"(?:政府信息公开|政务公开|信息公开)"
)
_TITLE_B = re.compile(
    r"(?P<year>(?:19|20)\d{2})\s*年度?\s*(?P<unit>[^\s\d，,。:：；;]{2,40}?)"
    r"(?:政府信息公开|政务公开|信息公开)"
)
# 政府信息公开工作年度报告（2020年度）: the year after the title
_TITLE_C = re.compile(
    r"(?P<unit>)(?:政府信息公开|政务公开|信息公开)[^()（）]{0,12}报告\s*[(（]\s*(?P<year>(?:19|20)\d{2})\s*年度?\s*[)）]"
)
_SUFFIX = (
    r"(?:人民政府办公室|人民政府|办公室|管理委员会|委员会|管委会|街道办事处|街道|局|委|办|厅|署|院|所|"
    r"中心|部|会|镇|乡|处|站|队|馆|社|公司)"
)
_LEAD = (
    r"(?=在|坚持|以|认真|围绕|深入|按照|紧紧|始终|全面|进一步|严格|切实|不断|积极|紧扣|聚焦|高度|着力|"
    r"持续|扎实|依法|全力|立足|根据|贯彻|结合|把|共|紧密|主动|[,，、。])"
)
_TEXT = re.compile(
    r"(?P<year>(?:19|20)\d{2})\s*年度?\s*[,，、]?\s*(?P<unit>[\u4e00-\u9fff（）()]{1,30}?"
    + _SUFFIX
    + ")"
    + _LEAD
)
_PERIOD = re.compile(r"(?P<year>(?:19|20)\d{2})\s*年\s*1\s*月\s*1\s*日")
_NOT_UNIT = ("本", "我", "全", "各", "该", "年度", "关于")
# words that name no one: a title split over two lines leaves "政府" before 信息公开
GENERIC_UNITS = frozenset(
    {"政府", "人民政府", "本机关", "机关", "本单位", "单位", "我局", "本局", "本级", "我单位"}
)
_UNIT_CHARS = r"[\u4e00-\u9fff（）()]"
_COMPILED_BY = re.compile(
    r"本(?:年度)?(?:年度)?报告(?:是|系)?由(?P<unit>" + _UNIT_CHARS + r"{2,40}?)"
    r"(?:根据|依据|按照|参照|负责|组织|编制|制作|编写)"
)
_SIGN_UNIT = re.compile(r"^(?P<unit>" + _UNIT_CHARS + r"{2,40}" + _SUFFIX + r")$")
_DATE_LINE = re.compile(r"^(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$")


# the verb of a sentence that names the report: 现公布X2023年…, 特编制X2023年…
_VERB = re.compile(r"^(?:现将|现予|现|特|特此|兹|依法)?(?:公布|发布|编制|印发|公开)(?:了)?")


def _clean_unit(u: str) -> str:
    u = u.strip(" 《》“”\"'「」【】[]()（）")
    u = u.removeprefix("关于")
    u = _VERB.sub("", u)
    if not u or u.startswith(_NOT_UNIT) or u in GENERIC_UNITS:
        return ""
    return u


def _from_title(text: str) -> tuple[str, int | None]:
    s = _nfkc(text).strip()
    if "报告" not in s and "年报" not in s:
        return "", None
    unit, year = "", None
    for rx in (_TITLE_A, _TITLE_B, _TITLE_C):
        m = rx.search(s)
        if m:
            unit, year = unit or _clean_unit(m.group("unit")), year or int(m.group("year"))
    return unit, year


def _title(lines: list[str]) -> tuple[str, int | None]:
    """Issuer and year from the title, on one line or on two (the issuer above the year)."""
    unit, year = "", None
    for i, line in enumerate(lines):
        u, y = _from_title(line)
        if (not u or not y) and i > 0:  # the title over two lines (issuer, or issuer and year, above)
            u2, y2 = _from_title(lines[i - 1] + line)
            u, y = u or u2, y or y2
        unit, year = unit or u, year or y
        if unit and year:
            break
    return unit, year


def _signature(lines: list[str]) -> str:
    """The issuer signing at the end: a unit name next to a date line."""
    tail = [_nfkc(x).strip() for x in lines[-12:] if x.strip()]
    for i, line in enumerate(tail):
        if not _DATE_LINE.match(line.replace(" ", "")):
            continue
        for j in (i - 1, i + 1):
            m = _SIGN_UNIT.match(tail[j].replace(" ", "")) if 0 <= j < len(tail) else None
            if m and _clean_unit(m.group("unit")):
                return _clean_unit(m.group("unit"))
    return ""


def issuer_and_year(doc: Doc, heads: dict[int, int], file_stem: str = "") -> tuple[str, int | None]:
    """From the title (one or two lines), the 本报告由…编制 sentence, the signature, a sentence
    naming the issuer in the text, the file name; never a generic word such as 政府."""
    first = min((doc.tokens[i].line for i in heads.values()), default=len(doc.lines))
    titles = [t for t in [doc.title, *doc.lines[: min(first, 8)]] if t and t.strip()]
    unit, year = _title(titles)
    text = _nfkc("\n".join(doc.lines[:200]))
    if not unit:
        m = _COMPILED_BY.search(re.sub(r"[ \t]+", "", _nfkc("\n".join(doc.lines))))
        unit = _clean_unit(m.group("unit")) if m else ""
    unit = unit or _signature(doc.lines)
    m = _TEXT.search(text)
    if m:
        unit = unit or _clean_unit(m.group("unit"))
        year = year or int(m.group("year"))
    if year is None:
        m = _PERIOD.search(text)
        year = int(m.group("year")) if m else None
    if not (unit and year) and file_stem:
        u, y = _from_title(file_stem + "报告")
        unit, year = unit or u, year or y
    return unit, year


# ------------------------------------------------------------------ prose vs tables
_STOP = r"[^，。；,;、\d\n]"


def _prose_numbers(spec: Spec) -> list[tuple[re.Pattern, list[str]]]:
    """(pattern with one number group, cell keys whose sum it states), from the spec."""
    return [
        (re.compile(e["pattern"].replace("{stop}", _STOP)), list(e["cells"]))
        for e in spec.prose.get("numbers", [])
    ]


def prose_findings(report: Report, spec: Spec, doc: Doc) -> list[Finding]:
    out: list[Finding] = []
    text = re.sub(r"[ \t\u3000]+", "", _nfkc("\n".join(x for x in doc.lines if "|" not in x)))
    for rx, keys in _prose_numbers(spec):
        keys = [k for k in keys if k in spec.cells]
        vals = [report.values.get(k) for k in keys]
        if not keys or any(v is None for v in vals):
            continue
        total = sum(vals)
        seen: set[int] = set()
        for m in rx.finditer(text):
            n = int(m.group(1))
            if n == total or n in seen:
                continue
            seen.add(n)
            cells = [spec.cells[k] for k in keys]
            c = cells[0]
            row = " + ".join(x.row_label for x in cells)
            sheet, ref = report.where.get(c.key, ("", ""))
            out.append(
                make(
                    "NB310",
                    f"正文写“{m.group(0)}”，而{c.table.name}“{row} / {c.col_label}”为 "
                    f"{fmt_number(total)}，两者不一致，请核实",
                    table=c.table.name,
                    row=row,
                    column=c.col_label,
                    sheet=sheet,
                    cell=ref,
                    key=c.key,
                    expected=fmt_number(total),
                    actual=str(n),
                )
            )
    fee_rule = spec.prose.get("fee") or {}
    fee_cell, fee_words = fee_rule.get("cell"), tuple(fee_rule.get("words", ()))
    fee = report.values.get(fee_cell) if fee_cell in spec.cells else None
    if fee is not None and fee > 0:
        heading = spec.body[-1] if spec.body else ""
        six = report.body.get(heading)
        if six is None or not any(w in six for w in fee_words):
            c = spec.cells[fee_cell]
            sheet, ref = report.where.get(c.key, ("", ""))
            where = f"报告中未找到“{heading}”部分，" if six is None else f"但“{heading}”"
            out.append(
                make(
                    "NB311",
                    f"{c.table.name}“{c.row_label} / {c.col_label}”为 {fmt_number(fee)}，"
                    f"{where}未说明收费（信息处理费）情况，请补充",
                    table=c.table.name,
                    row=c.row_label,
                    column=c.col_label,
                    sheet=sheet,
                    cell=ref,
                    key=c.key,
                    actual=fmt_number(fee),
                )
            )
    return out

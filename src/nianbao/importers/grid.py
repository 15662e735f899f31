"""Read 表二/表三/表四 out of a Doc, driven entirely by the spec's labels and header trees.

Per table: the tokens of its region are cut into segments (label text followed by value cells);
every label of the table is looked up in the concatenated label text (verbatim, longest first,
then with a few edits tolerated, then without a trailing note); the values of a segment belong
to the last row label found in it.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from ..findings import fmt_number, make
from ..layout import workbook_layout
from ..model import Report
from ..normalize import label_keys, parse_number, shorten
from ..spec import Node, Section, Spec, Table, all_specs
from .match import MASK, allowed_errors, find_all, fuzzy_find
from .prose import find_headings
from .tokens import Doc, Tok
from .values import AMBIGUOUS, BLANK_ROW, OK, map_values

LEAF, GROUP, OTHER = "leaf", "group", "other"
_CJK = re.compile(r"[\u3400-\u9fff]")
UNKNOWN_TAIL = 4  # unmatched CJK characters after a row label that make the row unknown
MAX_LABEL = 80  # a longer piece of text is prose, not a table label
MAX_FUZZY = 4000  # characters searched approximately for one missing label


@dataclass
class Entry:
    key: str
    kind: str
    label: str
    node: Node | None = None
    section: Section | None = None
    order: int = 0  # position of a leaf among the table's leaves
    tail: int = 0  # unmatched characters tolerated after it (matched without its note)


@dataclass
class Hit:
    start: int
    end: int
    entry: Entry
    spans: bool = False  # continues into the next segment's label text
    fuzzy: bool = False  # matched with a few edits: a warning quotes the label as printed


@dataclass
class Seg:
    labels: list[Tok] = field(default_factory=list)
    vals: list[Tok] = field(default_factory=list)
    start: int = 0
    end: int = 0
    hits: list[Hit] = field(default_factory=list)


@dataclass
class RowRead:
    seg: Seg | None
    owner: bool
    blocked: str = ""  # unknown text owning the numbers after this row's label
    why: str = ""  # the row cannot be read: the whole message


# ------------------------------------------------------------------ labels of a table
def _entries(spec: Spec, table: Table) -> list[Entry]:
    out: list[Entry] = [Entry(k, OTHER, table.title) for k in label_keys(table.title)[:1]]
    order = 0
    for sec in table.sections:
        for text in (sec.title, sec.corner):
            if text:
                out.append(Entry(label_keys(text)[0], OTHER, text, section=sec))
        for root in sec.columns:
            for n in root.walk():
                if n.label:
                    out.append(Entry(label_keys(n.label)[0], OTHER, n.label, n, sec))
        for root in sec.rows:
            for n in root.walk():
                if not n.label:
                    continue
                if n.is_leaf:
                    out.append(Entry(label_keys(n.label)[0], LEAF, n.label, n, sec, order))
                    order += 1
                else:
                    out.append(Entry(label_keys(n.label)[0], GROUP, n.label, n, sec))
    known = {e.key for e in out}
    # the other form's wording of the same row (e.g. 规范性文件 under the 2021 columns)
    for other in all_specs():
        if other is spec:
            continue
        try:
            t2 = other.table(table.key)
        except StopIteration:
            continue
        leaves = {e.node.key: e for e in out if e.kind == LEAF}
        for sec in t2.sections:
            for leaf in sec.leaf_rows():
                e = leaves.get(leaf.key)
                k = label_keys(leaf.label)[0] if leaf.label else ""
                if e is not None and k and k not in known:
                    out.append(Entry(k, LEAF, e.label, e.node, e.section, e.order))
                    known.add(k)
    return [e for e in out if e.key]


def _segments(toks: list[Tok]) -> tuple[list[Seg], str]:
    segs: list[Seg] = []
    cur: Seg | None = None
    for t in toks:
        if not t.value and len(t.key) > MAX_LABEL:
            cur = None  # a paragraph of prose: no row label, and it ends the row before it
            continue
        if not t.value:
            if cur is None or cur.vals:
                cur = Seg()
                segs.append(cur)
            cur.labels.append(t)
        else:
            if cur is None:
                cur = Seg()
                segs.append(cur)
            cur.vals.append(t)
    parts, pos = [], 0
    for s in segs:
        run = "".join(t.key for t in s.labels)
        s.start, s.end = pos, pos + len(run)
        parts.append(run)
        pos = s.end
    return segs, "".join(parts)


def _printed(segs: list[Seg], start: int, end: int) -> str:
    """The text of the label tokens covering [start, end) of the label text, as printed."""
    out = []
    for s in segs:
        if s.end <= start or s.start >= end:
            continue
        pos = s.start
        for t in s.labels:
            if pos < end and pos + len(t.key) > start:
                out.append(t.text)
            pos += len(t.key)
    return " ".join(out)


def _edits(a: str, b: str) -> int:
    """Levenshtein distance (short strings)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _ancestors(node: Node | None) -> list[str]:
    """Matching keys of the group labels above a row (（四）无法提供, 三、本年度办理结果)."""
    out = []
    while node is not None and node.parent is not None:
        node = node.parent
        out.append(label_keys(node.label)[0])
    return out


def _with_piece(hay: str, key: str, groups: list[str]) -> tuple[int, int] | None:
    """``key`` with a piece of a group label above it inserted (a merged label cut into the
    text of its rows by a PDF converter): ``1申请人无正当六其他理由…``. Every character of the
    label is there, in order: an exact match."""
    if not groups or len(key) < 4:
        return None
    for p in range(2, len(key)):
        for a in find_all(hay, key[:p]):
            at = a + p
            for n in range(min(max(map(len, groups)), len(hay) - at), 0, -1):
                if any(hay[at : at + n] in g for g in groups) and hay.startswith(key[p:], at + n):
                    return a, at + n + len(key) - p
    return None


def _approximate(hay: str, lo: int, hi: int, cands: list[Entry], others: list[Entry]) -> Hit | None:
    """A leaf not found verbatim, in hay[lo:hi]: with a few edits, with a piece of its group
    label inside, or without its trailing note. Only a unique best candidate is taken."""
    window = hay[lo:hi]
    for c in cands:
        r = _with_piece(window, c.key, _ancestors(c.node))
        if r is not None:
            return Hit(lo + r[0], lo + r[1], c)
    for c in cands:
        r = fuzzy_find(window, c.key, allowed_errors(c.key))
        if r is not None:
            found = window[r[0] : r[1]]
            rivals = [o for o in others if o.order != c.order and abs(len(o.key) - len(found)) <= r[2]]
            if any(_edits(found, o.key) <= r[2] for o in rivals):
                return None  # as close to another row's label: not certain
            return Hit(lo + r[0], lo + r[1], c, fuzzy=True)
    for c in cands:
        keys = label_keys(c.label)
        if len(keys) > 1 and len(keys[1]) >= 4:
            pos = find_all(window, keys[1])
            if pos:
                a = lo + pos[0]
                tail = len(c.key) - len(keys[1]) + 4
                short = Entry(keys[1], LEAF, c.label, c.node, c.section, c.order, tail=tail)
                return Hit(a, a + len(keys[1]), short)
    return None


def _locate(text: str, entries: list[Entry]) -> tuple[list[Hit], str]:
    """Every occurrence of every entry, row labels first, longest first; returns the hits and
    the text with the matched characters masked."""
    hay = rows_hay = text
    hits: list[Hit] = []

    def take(h: Hit) -> None:
        nonlocal hay, rows_hay
        hits.append(h)
        hay = hay[: h.start] + MASK * (h.end - h.start) + hay[h.end :]
        if h.entry.kind != OTHER:
            rows_hay = rows_hay[: h.start] + MASK * (h.end - h.start) + rows_hay[h.end :]

    for e in sorted(entries, key=lambda e: (e.kind == OTHER, -len(e.key))):
        for a in find_all(hay, e.key):
            take(Hit(a, a + len(e.key), e))
    # leaves not found verbatim: only between the neighbouring rows that were found, since
    # rows come in the spec's order; a column label found inside the text does not hide it
    found = {h.entry.order: h for h in sorted(hits, key=lambda h: -h.start) if h.entry.kind == LEAF}
    all_leaves = [e for e in entries if e.kind == LEAF]
    leaves = sorted({e.order: e for e in all_leaves}.values(), key=lambda e: e.order)
    for e in leaves:
        if e.order in found:
            continue
        lo = max((h.end for o, h in found.items() if o < e.order), default=0)
        hi = min((h.start for o, h in found.items() if o > e.order), default=len(hay))
        if lo >= hi:
            lo, hi = 0, len(hay)
        hi = min(hi, lo + MAX_FUZZY)
        cands = [x for x in all_leaves if x.order == e.order]
        hit = _approximate(rows_hay, lo, hi, cands, all_leaves)
        if hit is not None:
            hits[:] = [
                h for h in hits if h.entry.kind != OTHER or not (hit.start < h.end and h.start < hit.end)
            ]
            hay = "".join(
                MASK if any(h.start <= i < h.end for h in hits) else ch for i, ch in enumerate(text)
            )
            take(hit)
            found[e.order] = hit
    return hits, hay


def _attach(segs: list[Seg], hits: list[Hit]) -> None:
    starts = [s.start for s in segs]
    for h in hits:
        i = bisect.bisect_right(starts, h.start) - 1
        while i < len(segs) - 1 and segs[i].end <= h.start:
            i += 1
        if i < 0:
            continue
        h.spans = h.end > segs[i].end
        segs[i].hits.append(h)
    for s in segs:
        s.hits.sort(key=lambda h: h.start)


def _owner(seg: Seg, hay: str) -> tuple[Hit | None, str]:
    """The row label owning the segment's values, or None and the text that stands there."""
    rows = [h for h in seg.hits if h.entry.kind in (LEAF, GROUP)]
    after = rows[-1].end if rows else seg.start
    rest = hay[after : seg.end].replace(MASK, "")
    if rows and rest and any(rest in g for g in _ancestors(rows[-1].entry.node)):
        rest = ""  # a piece of a merged group label above the row, cut into its text (PDF)
    unknown = len(_CJK.findall(rest))
    if rows and (rows[-1].spans or unknown - rows[-1].entry.tail < UNKNOWN_TAIL):
        return rows[-1], ""
    shown = [t.text for t in seg.labels]
    if rows:  # from the token holding the unknown text on
        shown = [t.text for t in seg.labels if _CJK.search(t.text)][-1:] or shown
    return None, " ".join(shown)


# ------------------------------------------------------------------ regions
def _markers(table: Table) -> set[str]:
    keys = {label_keys(table.title)[0]}
    for sec in table.sections:
        keys.update(label_keys(x)[0] for x in (sec.title, sec.corner) if x)
        for tree in (sec.columns, sec.rows):
            keys.update(label_keys(n.label)[0] for root in tree for n in root.walk() if n.label)
    return {k for k in keys if len(k) >= 4}


def _is_marker(key: str, markers: set[str]) -> bool:
    if key in markers:
        return True
    return any(len(m) >= 6 and m in key and len(key) <= 2 * len(m) for m in markers)


def _made_of(key: str, marks: set[str]) -> bool:
    """Is ``key`` one or more markers written one after another (a header line of a PDF)?"""
    if len(key) > 200:  # prose
        return False
    ok = [True] + [False] * len(key)
    for i in range(1, len(key) + 1):
        ok[i] = any(ok[i - len(m)] and key.endswith(m, 0, i) for m in marks if len(m) <= i)
    return ok[-1] and bool(key)


def _first_marker(toks: list[Tok], lo: int, hi: int, marks: set[str], exact: bool = False) -> int | None:
    return next(
        (
            i
            for i in range(lo, hi)
            if not toks[i].value
            and (_made_of(toks[i].key, marks) if exact else _is_marker(toks[i].key, marks))
        ),
        None,
    )


def regions(doc: Doc, spec: Spec, heads: dict[int, int]) -> dict[str, tuple[int, int]]:
    """Token range of each table: from its first marker label after its heading (the prose
    between a heading and its table is no table row) to the next heading or table."""
    toks = doc.tokens
    body_keys = [label_keys(b)[0] if b else "" for b in spec.body]
    starts: dict[str, int] = {}
    for t in spec.tables:
        k = label_keys(t.title)[0]
        if k in body_keys and body_keys.index(k) in heads:
            starts[t.key] = heads[body_keys.index(k)]
    lo = 0
    for t in spec.tables:
        if t.key in starts:
            lo = starts[t.key] + 1
            continue
        hit = _first_marker(toks, lo, len(toks), _markers(t))
        if hit is not None:
            starts[t.key] = hit
            lo = hit + 1
    bounds = sorted(set(starts.values()) | set(heads.values()) | {len(toks)})
    out = {}
    for k, s in starts.items():
        end = next(b for b in bounds if b > s)
        table = next(t for t in spec.tables if t.key == k)
        first = _first_marker(toks, s + 1, end, _markers(table) - {label_keys(table.title)[0]}, exact=True)
        out[k] = (first if first is not None else s, end)
    return out


# ------------------------------------------------------------------ extraction
@dataclass
class Extraction:
    missing_tables: int = 0
    missing_rows: int = 0
    found_values: int = 0
    unit_words: dict[str, list[str]] = field(default_factory=dict)  # table -> 12件 … read as numbers
    fuzzy: list[tuple[Table, str, Entry]] = field(default_factory=list)  # labels matched approximately


def _where(spec: Spec) -> dict[str, tuple[str, str]]:
    lay = workbook_layout(spec)
    return {k: (tl.sheet, box.ref) for tl in lay.tables for k, box in tl.values.items()}


def _leaf_cells(table: Table, section: Section, leaf: Node) -> list:
    return [c for c in table.cells if c.section is section and c.row is leaf]


def _loc(spec: Spec, where, cell) -> dict:
    return cell.location(*where[cell.key])


def _label_pad(spec: Spec, table: Table, leaf: Node) -> int:
    """Grid columns the row's label box spans beyond its first (A:C merged -> 2)."""
    box = next(
        (
            b
            for b in workbook_layout(spec).table(table.key).boxes
            if b.role == "rowhead" and b.key == leaf.key
        ),
        None,
    )
    return box.ncols - 1 if box is not None else 0


def _fill_row(
    report: Report, spec: Spec, where, cells: list, seg: Seg | None, label: str, ex: Extraction
) -> None:
    """Put the values of one row into the report (blank, number or unreadable per cell)."""
    texts = [t.text for t in seg.vals if not t.sep] if seg is not None else []
    spans = [c.col.span for c in cells]
    # the blanks of a merged label lead its values only when the row is one line (shape 1)
    lines = {t.line for t in seg.labels[-1:] + seg.vals} if seg is not None else set()
    pad = _label_pad(spec, cells[0].table, cells[0].row) if len(lines) == 1 else None
    status, mapped = map_values(texts, spans, pad) if texts else (BLANK_ROW, [""] * len(cells))
    if status not in (OK, BLANK_ROW):
        shown = "、".join(shorten(t, 12) for t in texts if t) or "无"
        n = sum(1 for t in texts if t)
        why = (
            f"读到 {n} 个数值（{shown}），应为 {len(cells)} 个"
            if status != AMBIGUOUS
            else f"数值与空格（{shown}）的位置有多种可能"
        )
        cell = cells[0]
        report.findings.append(
            make(
                "NB003",
                f"{cell.table.name}“{label}”行{why}，无法确定各数值所属的列，该行未导入（请核对原文）",
                **{**_loc(spec, where, cell), "column": ""},
                actual=shown,
            )
        )
        for c in cells:
            report.values[c.key] = None
            report.invalid.add(c.key)
        return
    for c, raw in zip(cells, mapped, strict=False):
        if not raw:
            report.values[c.key] = None
            report.blank.append(c.key)
            continue
        num, problem = parse_number(raw)
        if num is None and problem:
            num = _with_unit(report, spec, where, c, raw, ex)
        if num is None:
            report.values[c.key] = None
            report.invalid.add(c.key)
            loc = _loc(spec, where, c)
            report.findings.append(
                make(
                    "NB102",
                    f"{loc['table']}“{loc['row']} / {loc['column']}”{problem or '不是有效数字'}："
                    f"“{shorten(raw)}”（未导入，请核对原文）",
                    **loc,
                    actual=shorten(raw),
                )
            )
        else:
            report.values[c.key] = num
            ex.found_values += 1


_UNIT_TEXT = re.compile(r"^([+\-]?\d+(?:,\d{3})*(?:\.\d+)?)\s*([^\d\s.,]{1,3})$")


def _with_unit(report: Report, spec: Spec, where, cell, raw: str, ex: Extraction) -> Decimal | None:
    """A number followed by a unit its column admits (元/万元, 件/个/项; the spec's ``units``),
    converted to the column's own unit, with a warning; None for any other text."""
    m = _UNIT_TEXT.match(unicodedata.normalize("NFKC", raw).strip())
    units = spec.kinds[cell.kind].units
    if not m or m.group(2) not in units:
        return None
    num, _ = parse_number(m.group(1))
    factor = Decimal(str(units[m.group(2)]))
    own = next((u for u, f in units.items() if Decimal(str(f)) == 1), m.group(2))
    value = parse_number(num * factor)[0]
    loc = _loc(spec, where, cell)
    if factor == 1:
        ex.unit_words.setdefault(cell.table.name, []).append(raw)
    else:
        report.findings.append(
            make(
                "NB007",
                f"{loc['table']}“{loc['row']} / {loc['column']}”写作“{shorten(raw)}”，"
                f"已换算为 {fmt_number(value)}（{own}）导入，请核对",
                **loc,
                actual=shorten(raw),
            )
        )
    return value


def _fuzzy_labels(report: Report, ex: Extraction) -> None:
    for table, printed, e in ex.fuzzy:
        report.findings.append(
            make(
                "NB007",
                f"{table.name}中的“{shorten(printed, 40)}”与官方表式不完全一致，"
                f"已按“{shorten(e.label, 40)}”行导入，请核对",
                table=table.name,
                row=e.label,
                sheet=table.sheet,
                actual=shorten(printed, 40),
            )
        )


def _unit_words(report: Report, ex: Extraction) -> None:
    for table, raws in ex.unit_words.items():
        shown = "、".join(f"“{shorten(r, 12)}”" for r in raws[:3])
        report.findings.append(
            make(
                "NB007",
                f"{table}有 {len(raws)} 个数值带有单位（如{shown}），已按数字导入，请核对",
                table=table,
            )
        )


def _missing_row(
    report: Report, spec: Spec, where, cells: list, label: str, ex: Extraction, message: str = ""
) -> None:
    cell = cells[0]
    ex.missing_rows += 1
    report.findings.append(
        make(
            "NB003",
            message or f"{cell.table.name}中未找到“{label}”行，该行数值未导入",
            **{**_loc(spec, where, cell), "column": ""},
        )
    )
    for c in cells:
        report.values[c.key] = None
        report.invalid.add(c.key)


def _read_unlabelled(report, spec, where, table: Table, sec: Section, leaf: Node, segs, ex) -> Seg | None:
    """A row without a label (表四): the segment of the region holding the most numbers."""
    cells = _leaf_cells(table, sec, leaf)
    best = max((s for s in segs if s.vals), key=lambda s: sum(1 for t in s.vals if t.text), default=None)
    if best is None or not any(t.text for t in best.vals):
        wide = [s for s in segs if len(s.vals) >= sum(c.col.span for c in cells)]
        best = wide[-1] if wide else None
    if best is None:
        _missing_row(report, spec, where, cells, table.name + "数据", ex)
        return None
    _fill_row(report, spec, where, cells, best, table.name, ex)
    return best


def _missing_table(report: Report, table: Table, ex: Extraction) -> None:
    ex.missing_tables += 1
    report.findings.append(
        make(
            "NB003",
            f"未找到{table.name}（{table.title}），该表数值未导入",
            table=table.name,
            sheet=table.sheet,
        )
    )
    for c in table.cells:
        report.values[c.key] = None
        report.invalid.add(c.key)


@dataclass
class TableRead:
    reads: dict[int, RowRead] = field(default_factory=dict)
    groups: dict[str, Seg] = field(default_factory=dict)
    unknowns: list[tuple[Seg, str]] = field(default_factory=list)


def _read_segments(segs: list[Seg], hay: str) -> TableRead:
    """Which row owns the values of each segment; rows without values; text we do not know."""
    tr = TableRead()
    for seg in segs:
        owner, unknown = _owner(seg, hay)
        has = any(t.text for t in seg.vals)
        for h in seg.hits:
            if h.entry.kind == LEAF and h is not owner:
                # a row with no numbers of its own (blank cells dropped), unless the numbers
                # that follow belong to text we do not know: then it cannot be read
                tr.reads.setdefault(
                    id(h.entry.node), RowRead(None, False, unknown if owner is None and has else "")
                )
        if owner is None:
            if has:
                tr.unknowns.append((seg, unknown))
            continue
        e = owner.entry
        if e.kind == GROUP:
            if has:
                tr.groups.setdefault(e.node.key, seg)
            continue
        old = tr.reads.get(id(e.node))
        if old is None or not old.owner or (has and not any(t.text for t in old.seg.vals)):
            tr.reads[id(e.node)] = RowRead(seg, True)
    return tr


def _split_run_ons(table: Table, tr: TableRead) -> None:
    """A row's numbers followed by the numbers of the rows after it on one line, the groups
    divided by separators, while those rows stand without numbers: each row takes its group,
    when every group has exactly one row's count of numbers. Otherwise none of them is read."""
    for sec in table.sections:
        leaves = [x for x in sec.leaf_rows() if x.label]
        for i, leaf in enumerate(leaves):
            rr = tr.reads.get(id(leaf))
            if rr is None or rr.seg is None or not any(t.sep for t in rr.seg.vals):
                continue
            groups: list[list[Tok]] = [[]]
            for t in rr.seg.vals:
                if t.sep:
                    groups.append([])
                else:
                    groups[-1].append(t)
            width = len(_leaf_cells(table, sec, leaf))
            after = leaves[i + 1 : i + len(groups)]
            free = [tr.reads.get(id(x)) for x in after]
            if (
                len(after) == len(groups) - 1
                and all(f is not None and f.seg is None and not f.blocked for f in free)
                and all(len(g) == width for g in groups)
            ):
                rr.seg = Seg(labels=rr.seg.labels, vals=groups[0])
                for x, g in zip(after, groups[1:], strict=True):
                    tr.reads[id(x)] = RowRead(Seg(vals=g), True)
                continue
            nums = "、".join("".join(t.text + " " for t in g).strip() for g in groups)
            why = (
                f"{table.name}“{leaf.label}”行之后有 {len(groups)} 组数值（{shorten(nums, 60)}），"
                "无法确定各组所属的行，"
            )
            for x in [leaf, *after]:
                tr.reads[id(x)] = RowRead(None, False, why=why + "该行未导入（请核对原文）")


def _fill_table(report, spec, where, table: Table, segs, tr: TableRead, ex: Extraction) -> set[int]:
    used: set[int] = set()
    for sec in table.sections:
        for leaf in sec.leaf_rows():
            if not leaf.label:
                used.add(id(_read_unlabelled(report, spec, where, table, sec, leaf, segs, ex)))
                continue
            cells = _leaf_cells(table, sec, leaf)
            rr = tr.reads.get(id(leaf))
            label = cells[0].row_label
            if rr is None:
                _missing_row(report, spec, where, cells, label, ex)
            elif rr.why:
                _missing_row(report, spec, where, cells, label, ex, rr.why)
            elif rr.blocked:
                why = f"行之后是无法识别的内容“{shorten(rr.blocked, 30)}”，无法确定该行的数值"
                _missing_row(
                    report, spec, where, cells, label, ex, f"{table.name}“{label}”{why}，未导入（请核对原文）"
                )
            elif rr.seg is None and tr.unknowns:
                # a label without numbers while numbers stand elsewhere without a row: the
                # values were moved away from their labels (columns read one after another)
                why = "行没有紧随其后的数值，而表中另有无法对应到行的数值，无法确定该行是否空白"
                _missing_row(
                    report, spec, where, cells, label, ex, f"{table.name}“{label}”{why}，未导入（请核对原文）"
                )
            else:
                _fill_row(report, spec, where, cells, rr.seg, label, ex)
    return used


def _report_unknowns(report: Report, table: Table, tr: TableRead, used: set[int]) -> None:
    for seg, unknown in tr.unknowns:
        if id(seg) not in used:
            vals = "、".join(shorten(t.text, 10) for t in seg.vals if t.text)
            report.findings.append(
                make(
                    "NB006",
                    f"{table.name}中有无法识别的行“{shorten(unknown, 30)}”，"
                    f"其数值（{shorten(vals, 40)}）未导入",
                    table=table.name,
                    sheet=table.sheet,
                )
            )


def extract(doc: Doc, spec: Spec, report: Report) -> Extraction:
    """Fill report.values/blank/invalid/where and reader findings for every cell of ``spec``."""
    ex = Extraction()
    where = _where(spec)
    report.where.update(where)
    regs = regions(doc, spec, find_headings(doc, spec))
    for table in spec.tables:
        if table.key not in regs:
            _missing_table(report, table, ex)
            continue
        a, b = regs[table.key]
        segs, text = _segments(doc.tokens[a:b])
        hits, hay = _locate(text, _entries(spec, table))
        _attach(segs, hits)
        ex.fuzzy += [(table, _printed(segs, h.start, h.end), h.entry) for h in hits if h.fuzzy]
        tr = _read_segments(segs, hay)
        _split_run_ons(table, tr)
        used = _fill_table(report, spec, where, table, segs, tr, ex)
        _report_unknowns(report, table, tr, used)
        _merged_groups(report, table, tr.groups, tr.reads)
    _unit_words(report, ex)
    _fuzzy_labels(report, ex)
    return ex


def _merged_groups(report: Report, table: Table, groups: dict[str, Seg], reads: dict[int, RowRead]) -> None:
    """A group label (e.g. （六）其他处理) carrying numbers of its own while its sub-rows are
    missing: the older form's single row under this form's sub-rows."""
    for sec in table.sections:
        for root in sec.rows:
            for node in root.walk():
                if node.is_leaf or node.key not in groups:
                    continue
                leaves = node.leaves()
                if any(id(x) in reads for x in leaves):
                    continue
                vals = "、".join(t.text for t in groups[node.key].vals if t.text)
                subs = "”“".join(x.label for x in leaves)
                report.findings.append(
                    make(
                        "NB003",
                        f"{table.name}“{node.label}”只有一行数字（{shorten(vals, 40)}），这是旧表式的写法；"
                        f"本表式应分为“{subs}”{len(leaves)} 行填报，这些数字无法对应到各行，未导入",
                        table=table.name,
                        row=node.label,
                        sheet=table.sheet,
                        actual=shorten(vals, 40),
                    )
                )

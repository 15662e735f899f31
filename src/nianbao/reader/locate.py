"""Finding the tables: our template through the layout of its spec (confirmed against the
labels), anything else by its labels; and choosing the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from ..layout import TableLayout
from ..normalize import label_keys, parse_number
from ..spec import Section, Spec, Table, all_specs, form_for_year
from .book import Book, Grid, same_label
from .cover import cell_text

# ---- locating the tables ----------------------------------------------------------------

Pos = tuple[str, int, int]


@dataclass
class Located:
    cells: dict[str, Pos] = field(default_factory=dict)  # cell key -> position
    missing: list[str] = field(default_factory=list)  # Chinese messages (NB003)
    missing_keys: list[str] = field(default_factory=list)
    found_any: bool = False
    layout: dict[str, Pos] | None = (
        None  # the template's cells, when placed by the layout (shared: read only)
    )


def _row_name(table: Table, node) -> str:
    cell = next(c for c in table.cells if c.row is node)
    return cell.row_label


@cache
def specs() -> tuple[Spec, ...]:
    """Every form spec, listed once per process (like get_spec, which loads each once)."""
    return tuple(all_specs())


_LAYOUT_CACHE: dict[int, tuple] = {}


def _layout_parts(tl: TableLayout) -> tuple[tuple[tuple[int, int, str], ...], dict[str, Pos]]:
    """The leaf label boxes (row, col, text) of a table layout and its value cells, worked out
    once per layout (layouts live as long as the process)."""
    hit = _LAYOUT_CACHE.get(id(tl))
    if hit is None or hit[0] is not tl:
        leaves = tuple(
            (b.row, b.col, b.text)
            for b in tl.boxes
            if b.role in ("rowhead", "colhead") and b.key and _is_leaf_box(tl.table, b)
        )
        cells = {key: (tl.sheet, box.row, box.col) for key, box in tl.values.items()}
        hit = _LAYOUT_CACHE[id(tl)] = (tl, leaves, cells)
    return hit[1], hit[2]


def confirm_layout(book: Book, tl: TableLayout) -> bool:
    g = book.grid(tl.sheet)
    if g is None:
        return False
    rows = g.rows
    for r, c, text in _layout_parts(tl)[0]:
        v = rows[r][c] if r < len(rows) and c < len(rows[r]) else ""
        if not same_label(v, text):
            return False
    return True


@cache
def _leaf_keys(table: Table) -> frozenset:
    keys = set()
    for sec in table.sections:
        keys.update(n.key for n in sec.leaf_rows() if n.label)
        keys.update(n.key for n in sec.leaf_columns())
    return frozenset(keys)


def _is_leaf_box(table: Table, box) -> bool:
    return box.key in _leaf_keys(table)


def from_layout(tl: TableLayout) -> Located:
    cells = _layout_parts(tl)[1]
    return Located(cells=dict(cells), found_any=True, layout=cells)


def _pick_sheet(cands: list[Pos], book: Book, prefer: tuple[str, ...]) -> str | None:
    if not cands:
        return None
    count: dict[str, int] = {}
    for s, _, _ in cands:
        count[s] = count.get(s, 0) + 1
    order = {n: i for i, n in enumerate(book.names)}
    return max(count, key=lambda s: (count[s], s in prefer, -order.get(s, 0)))


def locate_table(book: Book, table: Table) -> Located:
    if all(sec.row_depth == 0 for sec in table.sections):
        return _locate_headed(book, table)
    loc = Located()
    leaves = [(sec, n) for sec in table.sections for n in sec.leaf_rows()]
    cands = {}
    for sec, n in leaves:
        found = book.find(n.label)
        for alias in () if found else _row_aliases(table.key, n.key, n.label):
            found = book.find(alias)  # e.g. the 2019 wording 规范性文件 under the 2021 columns
            if found:
                break
        cands[n.key + "@" + sec.key] = found
    sheet = _pick_sheet([p for ps in cands.values() for p in ps], book, (table.sheet, table.name))
    if sheet is None:
        loc.missing.append(f"未找到{table.name}（{table.title}）")
        loc.missing_keys.extend(c.key for c in table.cells)
        return loc
    loc.found_any = True
    g = book.grid(sheet)
    prev_end = -1
    for sec in table.sections:
        rows: dict[str, tuple[int, int]] = {}
        last = prev_end
        used: set[tuple[int, int]] = set()
        for n in sec.leaf_rows():
            ps = [(r, c) for s, r, c in cands[n.key + "@" + sec.key] if s == sheet and (r, c) not in used]
            after = [p for p in ps if p[0] > last]
            pick = after[0] if after else (ps[0] if ps else None)
            if pick is None:
                loc.missing.append(f"未找到{table.name}“{_row_name(table, n)}”行")
                loc.missing_keys.extend(c.key for c in table.cells if c.row is n)
                continue
            used.add(pick)
            rows[n.key] = pick
            last = max(last, pick[0])
        if not rows:
            continue
        first = min(r for r, _ in rows.values())
        label_col = max(c for _, c in rows.values())
        top = max(prev_end + 1, first - sec.col_depth - 2)
        cols = _match_columns(book, g, sec, range(top, first), label_col + 1)
        for leaf in sec.leaf_columns():
            if leaf.key not in cols:
                title = sec.title or ""
                loc.missing.append(f"未找到{table.name}{title}“{leaf.label}”列")
                loc.missing_keys.extend(c.key for c in table.cells if c.col is leaf and c.section is sec)
        for cell in table.cells:
            if cell.section is sec and cell.row.key in rows and cell.col.key in cols:
                loc.cells[cell.key] = (sheet, rows[cell.row.key][0], cols[cell.col.key])
        prev_end = max(prev_end, last)
    return loc


@cache
def _row_aliases(table_key: str, node_key: str, label: str) -> tuple[str, ...]:
    """Labels the other forms give the same row (same cell keys across form versions)."""
    out = []
    for spec in specs():
        for t in spec.tables:
            if t.key != table_key:
                continue
            for sec in t.sections:
                for n in sec.leaf_rows():
                    if n.key == node_key and n.label and n.label != label and n.label not in out:
                        out.append(n.label)
    return tuple(out)


def _match_columns(book: Book, g: Grid, sec: Section, rows: range, min_col: int) -> dict[str, int]:
    """Assign each leaf column label to a column, left to right, in the header rows ``rows``."""
    leaves = sec.leaf_columns()
    found: dict[str, list[tuple[int, int]]] = {}
    for leaf in leaves:
        hits: dict[int, int] = {}
        for s, r, c in book.find(leaf.label):
            if s == g.name and r in rows and c >= min_col:
                hits[c] = max(hits.get(c, -1), r)  # nearest to the data
        found[leaf.key] = sorted(hits.items())
    out: dict[str, int] = {}
    last = min_col - 1
    for leaf in leaves:
        nxt = next((c for c, _ in found[leaf.key] if c > last), None)
        if nxt is not None:
            out[leaf.key] = nxt
            last = nxt
    return out


def _numeric(v) -> bool:
    return (not isinstance(v, bool) and isinstance(v, (int, float))) or (
        isinstance(v, str) and parse_number(v)[0] is not None
    )


def _locate_headed(book: Book, table: Table) -> Located:
    """表四: no row labels; the group labels head the columns, the data row follows."""
    loc = Located()
    sec = table.sections[0]
    leaves = sec.leaf_columns()
    anchors: list[Pos] = []
    for top in sec.columns:
        anchors += book.find(top.label)
    if not anchors:
        anchors = book.find(leaves[0].label)
    best = None
    for s, r, c in anchors:
        g = book.grid(s)
        window = range(r, r + sec.col_depth + 2)
        cols = _match_columns(book, g, sec, window, max(c - sec.value_width, 0))
        score = len(cols)
        if best is None or score > best[0]:
            best = (score, s, r, cols)
    if best is None or best[0] == 0:
        loc.missing.append(f"未找到{table.name}（{table.title}）")
        loc.missing_keys.extend(c.key for c in table.cells)
        return loc
    _, sheet, r0, cols = best
    loc.found_any = True
    g = book.grid(sheet)
    header_rows = []
    for leaf in leaves:
        if leaf.key in cols:
            for s, r, c in book.find(leaf.label):
                if s == sheet and c == cols[leaf.key] and r0 <= r < r0 + sec.col_depth + 2:
                    header_rows.append(g.bottom(r, c))
    last_header = max(header_rows) if header_rows else r0 + sec.col_depth - 1
    data_row = last_header + 1
    if all(g.get(data_row, c) in ("", None) for c in cols.values()):
        # a blank row inserted under the header: take the next row holding numbers, if any
        for cand in range(last_header + 2, last_header + 4):
            if any(_numeric(g.get(cand, c)) for c in cols.values()):
                data_row = cand
                break
    for leaf in leaves:
        if leaf.key not in cols:
            group = leaf.parent.label if leaf.parent else ""
            loc.missing.append(f"未找到{table.name}“{group} / {leaf.label}”列")
            loc.missing_keys.extend(c.key for c in table.cells if c.col is leaf)
    for cell in table.cells:
        if cell.col.key in cols:
            loc.cells[cell.key] = (sheet, data_row, cols[cell.col.key])
    return loc


# ---- choosing the form ------------------------------------------------------------------


def meta_sheet_values(book: Book) -> dict[str, str]:
    names = {s.workbook.get("meta_sheet") for s in specs()}
    for n in book.names:
        if n in names:
            g = book.grid(n)
            if g is None:
                continue
            out = {}
            for row in g.rows[:200]:
                if len(row) >= 2 and isinstance(row[0], str) and row[0].strip():
                    out[row[0].strip()] = cell_text(row[1])
            return out
    return {}


def spec_from_meta(meta: dict[str, str]) -> Spec | None:
    vals = {k.removeprefix("nianbao_"): v for k, v in meta.items()}
    for s in specs():
        if vals.get("form_id") == s.form_id:
            return s
    for s in specs():
        if vals.get("version") == s.version and vals.get("form", s.form) in (s.form, s.form_id):
            return s
    return None


@cache
def _spec_labels(spec: Spec) -> tuple[str, ...]:
    labs = set()
    for t in spec.tables:
        for sec in t.sections:
            if sec.title:
                labs.add(sec.title)
            labs.update(n.label for n in sec.leaf_rows() if n.label)
            labs.update(n.label for n in sec.leaf_columns())
    return tuple(sorted(labs))


def detect_spec(book: Book, year: int | None) -> tuple[Spec | None, float]:
    idx = book.index()
    scored = []
    for s in specs():
        labs = _spec_labels(s)
        hit = sum(1 for lab in labs if any(k in idx for k in label_keys(lab)))
        scored.append((hit / max(len(labs), 1), s))
    scored.sort(key=lambda x: -x[0])
    best, spec = scored[0]
    if best < 0.2:
        return None, best
    ties = [s for sc, s in scored if best - sc < 0.01]
    if len(ties) > 1 and year is not None:
        want = form_for_year(year)
        spec = next((s for s in ties if s.version == want), spec)
    return spec, best

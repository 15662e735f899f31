"""The cover fields (填报单位, 报告年度, 填报人, 联系电话, 填报日期) and the unit named in a file name."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

from ..layout import workbook_layout
from ..normalize import label_matches, norm_label, parse_number, shorten
from ..spec import Spec
from .book import Book, Grid, same_label

# ---- cover ------------------------------------------------------------------------------


def cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


def _cover_value(g: Grid, r: int, c: int, labels: tuple[str, ...]):
    """The first filled cell right of a cover label (stopping at the next label)."""
    right = g.right(r, c)
    for cc in range(right + 1, right + 5):
        v = g.get(r, cc)
        if v not in ("", None):
            if isinstance(v, str) and any(label_matches(v, lab) for lab in labels):
                return ""
            return v
    return ""


def read_cover(book: Book, spec: Spec) -> dict[str, object]:
    """Cover field key -> raw value, from the cell right of each cover label."""
    out: dict[str, object] = {}
    lay = workbook_layout(spec)
    g = book.grid(lay.cover_sheet)
    placed = set()
    for key, (lab, val) in lay.cover.items():
        if g is not None and same_label(g.get(lab.row, lab.col), lab.text):
            placed.add(key)
            v = g.get(val.row, val.col)
            if v not in ("", None):
                out[key] = v
    missing = [f for f in spec.cover if f.key not in placed]
    if not missing:
        return out
    order = {n: i for i, n in enumerate(book.names)}
    for f in missing:
        hits = sorted(
            book.find(f.label), key=lambda p: (p[0] != lay.cover_sheet, order.get(p[0], 99), p[1], p[2])
        )
        for s, r, c in hits:
            v = _cover_value(book.grid(s), r, c, tuple(x.label for x in spec.cover))
            if v not in ("", None):
                out[f.key] = v
                break
        else:
            inline = _inline_cover(book, f.label)
            if inline:
                out[f.key] = inline
    return out


def _inline_cover(book: Book, label: str) -> str:
    """``填报单位：某某局`` typed in one cell."""
    want = norm_label(label)
    for name in book.names:
        g = book.grid(name)
        if g is None:
            continue
        for row in g.rows[:60]:
            for v in row[:20]:
                if isinstance(v, str) and len(v) < 200:
                    n = norm_label(v)
                    if n.startswith(want) and len(n) > len(want) + 1 and n[len(want)] in ":：":
                        return v.split("：", 1)[-1].split(":", 1)[-1].strip()
    return ""


_YEAR = re.compile(r"(19[89]\d|20\d\d|2100)")


def parse_year(v) -> int | None:
    if v in ("", None) or isinstance(v, bool):
        return None
    if isinstance(v, (datetime, date)):
        return v.year
    num, _ = parse_number(v)
    if num is not None and num == num.to_integral_value() and 1980 <= num <= 2100:
        return int(num)
    m = _YEAR.search(norm_label(str(v)))
    return int(m.group(1)) if m else None


def parse_date(v) -> str:
    if v in ("", None):
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 20000 <= v <= 80000:
        return (date(1899, 12, 30) + timedelta(days=int(v))).isoformat()
    return shorten(cell_text(v), 40)


_NAME_NOISE = re.compile(
    r"(_审核|审核|副本|\(\d+\)|（\d+）|(?:19|20)\d\d\s*年?度?|政府信息公开工作年度报告|政府信息公开年度报告|政府信息公开年报"
    r"|政府信息公开|年度报告|年报|统计表|数据表|填报表|报表|模板|定稿|终稿|最终版|修改版|[vV]\d+)"
)


def unit_from_filename(name: str) -> str:
    stem = Path(name).stem
    s = _NAME_NOISE.sub(" ", stem)
    s = re.sub(r"[\s_\-—.·、，,()（）\[\]【】]+", " ", s).strip()
    return s.replace(" ", "")

"""The workbook as lazily loaded grids, with the package guards applied per sheet, formula
evaluation and the label index used by the fallback locator.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from ..findings import Finding, make
from ..guard import (
    MAX_COLS,
    MAX_FORMULA_DEPTH,
    MAX_RANGE_CELLS,
    MAX_ROWS,
    Package,
    Unreadable,
)
from ..layout import col_letter
from ..normalize import label_keys, label_matches, parse_number
from .extent import plain_formula_starts, scan_extent, sheet_data_span, trim_sheet
from .formulas import (
    Evaluator,
    FormulaErrorValue,
    FormulaUnsupported,
    cell_pos,
    scan_errors,
    scan_formulas,
)

WPS_ADVICE = "这个 WPS 表格文件无法读取（可能是 WPS 专有格式或已损坏），请在 WPS 中另存为 .xlsx 后重新报送"

# ---- the workbook as grids --------------------------------------------------------------


@dataclass
class Grid:
    name: str
    rows: list[list]
    merged: list[tuple[int, int, int, int]]  # r0, c0, r1, c1 (inclusive)

    def get(self, r: int, c: int):
        if 0 <= r < len(self.rows):
            row = self.rows[r]
            if 0 <= c < len(row):
                return row[c]
        return ""

    def merge_at(self, r: int, c: int) -> tuple[int, int, int, int] | None:
        for m in self.merged:
            if m[0] <= r <= m[2] and m[1] <= c <= m[3]:
                return m
        return None

    def bottom(self, r: int, c: int) -> int:
        m = self.merge_at(r, c)
        return m[2] if m and (m[0], m[1]) == (r, c) else r

    def right(self, r: int, c: int) -> int:
        m = self.merge_at(r, c)
        return m[3] if m and (m[0], m[1]) == (r, c) else c


@cache
def _label_ok(text: str) -> bool:
    return label_matches(text, text)  # pure: the answer for a cell that holds exactly the label


def same_label(cell_text, official_label: str) -> bool:
    """label_matches, with the common case (the cell holds the official text) answered cheaply."""
    if cell_text == official_label:
        return _label_ok(official_label)
    return label_matches(cell_text, official_label)


def _reraise_interrupts(exc: BaseException) -> None:
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
        raise exc


class Book:
    """Lazy access to the sheets of one workbook, with the guards applied per sheet."""

    def __init__(self, item, data: bytes, pkg: Package | None):
        import python_calamine

        self.item, self.data, self.pkg = item, data, pkg
        self.findings: list[Finding] = []
        try:
            self.cal = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            meta = self.cal.sheets_metadata
        except BaseException as e:
            _reraise_interrupts(e)
            name = type(e).__name__
            if "Password" in name or "password" in str(e).lower() or "encrypt" in str(e).lower():
                raise Unreadable("文件设有密码（已加密），无法读取；请取消密码后重新报送") from None
            if str(getattr(item, "suffix", "")).lower() in (".et", ".ett"):
                raise Unreadable(WPS_ADVICE) from None
            raise Unreadable(
                "文件已损坏或格式不受支持，无法读取；请在 Excel 或 WPS 中另存为 .xlsx 后重新报送"
            ) from None
        self.names = [m.name for m in meta if "WorkSheet" in str(m.typ)]
        self._grids: dict[str, Grid | None] = {}
        self._formulas: dict[str, dict] = {}
        self._errors: dict[str, dict] = {}
        self._xml: dict[str, bytes] = {}  # sheet part -> its XML up to the end of <sheetData>
        self._regions: dict[str, tuple[int, int]] = {}
        self._prefixed: dict[str, bool] = {}
        self._starts: dict[str, list[int] | None] = {}  # formula offsets found by the pre-check
        self._index: dict[str, list[tuple[str, int, int]]] | None = None

    # sheet access
    def grid(self, name: str) -> Grid | None:
        if name in self._grids:
            return self._grids[name]
        g = None
        if name in self.names:
            g = self._load(name)
        self._grids[name] = g
        return g

    def _load(self, name: str) -> Grid | None:
        cal = self.cal
        part = self.pkg.sheet_parts.get(name) if self.pkg else None
        if self.pkg is not None and part is None:
            self.findings.append(make("NB006", f"工作表“{name}”在文件中找不到对应内容，已跳过", sheet=name))
            return None
        if part is not None:
            xml = self._sheet_xml(part)
            s, e = self._regions[part] = sheet_data_span(xml)
            prefixed = self._prefixed[part] = xml.find(b":c ", s, e) >= 0
            starts = None if prefixed else plain_formula_starts(xml, s, e)
            self._starts[part] = starts
            if starts is None:
                cal = self._guarded(name, part, xml, s, e)
                if cal is None:
                    return None
        try:
            sheet = cal.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS)
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
        except BaseException as e:
            _reraise_interrupts(e)
            self.findings.append(
                make("NB006", f"工作表“{name}”无法读取（技术信息：{type(e).__name__}），已跳过", sheet=name)
            )
            return None
        if rows and len(rows[0]) > MAX_COLS:  # .xls: no package to trim beforehand
            rows = [r[:MAX_COLS] for r in rows]
        return Grid(name, rows, merged)

    def _guarded(self, name: str, part: str, xml: bytes, s: int, e: int):
        """The full extent scan: the workbook to read the sheet from (rebuilt with far-out cells
        dropped when needed), or None to skip the sheet."""
        max_row, max_col, all_refs = scan_extent(xml, (s, e))
        if not all_refs and (xml.count(b"<c", s, e) > MAX_COLS or xml.count(b"<row", s, e) > MAX_ROWS):
            self.findings.append(
                make("NB006", f"工作表“{name}”的单元格缺少位置信息且数量异常，已跳过该工作表", sheet=name)
            )
            return None
        if max_row <= MAX_ROWS and max_col <= MAX_COLS:
            return self.cal
        trimmed, far = trim_sheet(self.pkg.read(part))  # the whole part: it is written back
        if far:
            self.findings.append(
                make(
                    "NB006",
                    f"工作表“{name}”在第 {MAX_ROWS} 行或 {col_letter(MAX_COLS - 1)} 列以外还有内容"
                    f"（最远到 {far}），这些内容已忽略",
                    sheet=name,
                    cell=far,
                )
            )
        max_row2, max_col2, _ = scan_extent(trimmed)
        if max_row2 > MAX_ROWS or max_col2 > MAX_COLS:
            self.findings.append(
                make("NB006", f"工作表“{name}”的使用范围异常巨大，已跳过该工作表", sheet=name)
            )
            return None
        return self._rebuilt(part, trimmed)

    def _rebuilt(self, part: str, xml: bytes):
        import python_calamine

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for name, info in self.pkg.infos.items():
                if name.endswith("/") or info.is_dir():
                    continue
                if name == part:
                    blob = xml
                elif name.endswith((".xml", ".rels")):
                    blob = self.pkg.read(name)
                else:
                    blob = self.pkg.read_binary(name)
                out.writestr(name, blob)
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue()))

    def _sheet_xml(self, part: str) -> bytes:
        """A sheet part up to the end of its first <sheetData>: python-calamine reads the cells
        of that one and ignores any later one (a long <dataValidations> after it is never
        inflated). The guards and the formula and error scans look at exactly this."""
        xml = self._xml.get(part)
        if xml is None:
            xml = self._xml[part] = self.pkg.read_until(part, b"</sheetData>")
        return xml

    def formulas(self, name: str) -> dict:
        if name not in self._formulas:
            part = self.pkg.sheet_parts.get(name) if self.pkg else None
            self._formulas[name] = scan_formulas(
                self._sheet_xml(part) if part else b"",
                self._regions.get(part),
                self._prefixed.get(part),
                self._starts.get(part),
            )
        return self._formulas[name]

    def errors(self, name: str) -> dict:
        if name not in self._errors:
            part = self.pkg.sheet_parts.get(name) if self.pkg else None
            self._errors[name] = scan_errors(self._sheet_xml(part), self._regions.get(part)) if part else {}
        return self._errors[name]

    # formula support
    def ref_cells(self, sheet: str, ref: str) -> tuple[str, list[tuple[int, int]]]:
        if "!" in ref:
            pre, ref = ref.rsplit("!", 1)
            pre = pre[1:-1].replace("''", "'") if pre.startswith("'") else pre
            sheet = pre
        if self.grid(sheet) is None:
            raise FormulaUnsupported(sheet)
        a, _, b = ref.partition(":")
        p, q = cell_pos(a), cell_pos(b or a)
        if p is None or q is None:
            raise FormulaUnsupported(ref)
        r0, r1 = sorted((p[0], q[0]))
        c0, c1 = sorted((p[1], q[1]))
        if (r1 - r0 + 1) * (c1 - c0 + 1) > MAX_RANGE_CELLS:
            raise FormulaUnsupported(ref)
        return sheet, [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]

    def cell_number(
        self, sheet: str, r: int, c: int, depth: int, stack: frozenset, in_range: bool
    ) -> Decimal:
        if depth > MAX_FORMULA_DEPTH or (sheet, r, c) in stack:
            raise FormulaUnsupported("depth")
        f = self.formulas(sheet).get((r, c)) if self.pkg else None
        if f is not None:
            return Evaluator(self, sheet, depth, stack | {(sheet, r, c)}).run(f)
        err = self.errors(sheet).get((r, c))
        if err:
            raise FormulaErrorValue(err)
        raw = self.grid(sheet).get(r, c)
        if isinstance(raw, bool):
            return Decimal(0) if in_range else Decimal(int(raw))
        if isinstance(raw, (int, float)):
            v, _ = parse_number(raw)
            return v if v is not None else Decimal(0)
        if in_range or raw == "" or raw is None:
            return Decimal(0)
        v, problem = parse_number(raw)
        if problem:
            raise FormulaErrorValue("#VALUE!")
        return v if v is not None else Decimal(0)

    def evaluate(self, sheet: str, r: int, c: int) -> Decimal:
        text = self.formulas(sheet).get((r, c))
        if not text:
            raise FormulaUnsupported("")
        return Evaluator(self, sheet, 0, frozenset({(sheet, r, c)})).run(text)

    # label index for the fallback
    def index(self) -> dict[str, list[tuple[str, int, int]]]:
        if self._index is None:
            idx: dict[str, list[tuple[str, int, int]]] = {}
            for name in self.names:
                g = self.grid(name)
                if g is None:
                    continue
                for r, row in enumerate(g.rows):
                    for c, v in enumerate(row):
                        if isinstance(v, str) and v and len(v) <= 200:
                            for k in label_keys(v):
                                idx.setdefault(k, []).append((name, r, c))
            self._index = idx
        return self._index

    def find(self, label: str) -> list[tuple[str, int, int]]:
        idx = self.index()
        seen, out = set(), []
        for k in label_keys(label):
            for p in idx.get(k, ()):
                if p not in seen:
                    seen.add(p)
                    out.append(p)
        return out

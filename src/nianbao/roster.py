"""Read a roster of reporting units (单位名单) from .xlsx/.xls/.ods or .csv.

The roster needs a header cell ``单位名称``; ``别名`` and ``类别`` are optional and every other
column is kept as is. Each unit becomes a dict keyed by the header texts.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from .guard import MAX_ROSTER_UNZIPPED, ROSTER_SUFFIXES, unzipped_size

NAME, ALIAS, CATEGORY = "单位名称", "别名", "类别"
MAX_ROWS = 10_000
HEADER_SCAN_ROWS = 30

_WINDOWS_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}


class RosterError(Exception):
    """The roster cannot be used; the message is Chinese and names the file."""


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _rows_from_spreadsheet(path: Path) -> list[list[list]]:
    from python_calamine import CalamineWorkbook

    size = unzipped_size(path)
    if size is not None and size > MAX_ROSTER_UNZIPPED:
        raise RosterError(f"单位名单 {path} 解压后过大，无法读取")
    wb = CalamineWorkbook.from_path(str(path))
    try:
        return [wb.get_sheet_by_name(n).to_python(nrows=MAX_ROWS) for n in wb.sheet_names]
    finally:
        wb.close()


def _rows_from_csv(path: Path) -> list[list[list]]:
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes nearly anything
        raise RosterError(f"单位名单 {path} 的编码无法识别（请另存为 UTF-8 或 GBK 编码的 CSV）")
    return [list(csv.reader(io.StringIO(text)))[:MAX_ROWS]]


def _units_from_rows(rows: list[list]) -> list[dict] | None:
    for hi, header in enumerate(rows[:HEADER_SCAN_ROWS]):
        names = [_text(h) for h in header]
        if NAME not in names:
            continue
        units = []
        for row in rows[hi + 1 :]:
            rec = {h: _text(row[i]) if i < len(row) else "" for i, h in enumerate(names) if h}
            if rec.get(NAME):
                units.append(rec)
        return units
    return None


def read_roster(path: Path | str) -> list[dict]:
    """Units listed in ``path``: dicts with at least ``单位名称`` (non-empty), in file order."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ROSTER_SUFFIXES:
        raise RosterError(f"单位名单 {path} 格式不支持：请使用 .xlsx、.xls、.ods 或 .csv 文件")
    if not path.is_file():
        raise RosterError(f"找不到单位名单 {path}")
    try:
        sheets = _rows_from_csv(path) if suffix == ".csv" else _rows_from_spreadsheet(path)
    except RosterError:
        raise
    except Exception:  # calamine/zip/OS errors all mean "cannot read"; their English is not shown
        raise RosterError(
            f"无法读取单位名单 {path}：文件已损坏，或不是真正的 {suffix} 文件（可能改过扩展名）。"
            "请在 Excel 或 WPS 中打开后另存为 .xlsx 再上传"
        ) from None
    for rows in sheets:
        units = _units_from_rows(rows)
        if units is None:
            continue
        if not units:
            raise RosterError(f"单位名单 {path} 的“{NAME}”列下没有任何单位")
        seen: set[str] = set()
        for u in units:
            if u[NAME] in seen:
                raise RosterError(f"单位名单 {path} 中单位“{u[NAME]}”重复出现")
            seen.add(u[NAME])
        return units
    raise RosterError(f"单位名单 {path} 中找不到表头“{NAME}”（请在第一行写上“{NAME}”）")


def safe_filename(name: str, limit: int = 120) -> str:
    """``name`` made usable as a file name on Windows (characters, reserved names, length)."""
    s = _WINDOWS_BAD.sub("_", name).strip().rstrip(". ")
    s = s[:limit].rstrip(". ") or "_"
    if s.split(".")[0].upper() in _RESERVED:
        s = "_" + s
    return s

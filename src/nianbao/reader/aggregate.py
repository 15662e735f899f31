"""One more input kind of the reader: an aggregate workbook written by ``nianbao aggregate``,
read back as last year's county sums and units (``--previous``), or as the county report to
publish or check. Its sheets and columns are those :mod:`nianbao.aggregate.sheets` writes."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..aggregate.coverage import Coverage
from ..aggregate.sheets import (
    DETAIL,
    DETAIL_LEAD,
    OUTPUT_KIND,
    county_where,
    stacked_where,
)
from ..aggregate.status import (
    COUNTY,
    FAILED,
    PASSED,
    WARNINGS,
    prev_cells,
)
from ..guard import MAX_AGGREGATE_UNZIPPED, OUTPUT_AGGREGATE, output_kind
from ..layout import parse_a1
from ..model import Report
from ..spec import get_spec


@dataclass
class AggregateData:
    """What an aggregate workbook holds for the reader: the county sums and each unit's values
    of the cells the year-over-year rules read."""

    county: Report
    units: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # unit name -> values
    source: str = ""


# ---------------------------------------------------------------- reading it back
def _sheet_rows(wb, name: str, nrows: int | None = None) -> list[list] | None:
    if name not in wb.sheet_names:
        return None
    return (
        wb.get_sheet_by_name(name).to_python(nrows=nrows, skip_empty_area=False)
        if nrows
        else wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    )


def is_aggregate(data: bytes) -> bool:
    """Is this package an aggregate written here (custom property nianbao_output=aggregate)?"""
    return output_kind(data, MAX_AGGREGATE_UNZIPPED) == OUTPUT_AGGREGATE


def read_aggregate(src: Path | str | bytes, display: str = "") -> AggregateData | None:
    """Last year's county sums and per-unit values from an aggregate workbook written here.

    ``src`` is a path or the workbook's bytes. None when it is not such a workbook."""
    from python_calamine import CalamineWorkbook

    from ..normalize import parse_number

    if not isinstance(src, bytes):
        display = display or str(src)
        try:
            src = Path(src).read_bytes()
        except OSError:
            return None
    path = display
    if not is_aggregate(src):
        return None
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(src))
    except Exception:
        return None
    try:
        meta_rows = _sheet_rows(wb, get_spec().workbook["meta_sheet"], 50) or []
        meta = {str(r[0]): str(r[1]) for r in meta_rows if len(r) >= 2}
        if meta.get("kind") != OUTPUT_KIND:
            return None
        try:
            spec = get_spec(meta.get("version", ""))
        except KeyError:
            return None
        year = int(meta["year"]) if meta.get("year", "").isdigit() else None
        where = county_where(spec)
        if any(sheet not in wb.sheet_names for sheet, _ in where.values()):
            where = stacked_where(spec)  # written by an earlier version
        sheets = {sheet: _sheet_rows(wb, sheet) or [] for sheet, _ in where.values()}
        values = {}
        for key, (sheet, ref) in where.items():
            rows = sheets[sheet]
            r, c = parse_a1(ref)
            raw = rows[r][c] if r < len(rows) and c < len(rows[r]) else None
            v, _why = parse_number(raw if raw != "" else None)
            values[key] = v
        unit = meta.get("unit", "").strip()
        county = Report(
            path=str(path),
            form=spec.version,
            unit=unit if unit and unit != COUNTY else COUNTY,
            year=year,
            values=values,
            where=county_where(spec),
            source="aggregate",
            coverage=Coverage.from_meta(meta),
        )
        units: dict[str, dict[str, Decimal]] = {}
        detail = _sheet_rows(wb, DETAIL) or []
        if len(detail) > 4:
            header = [str(h) for h in detail[3]]
            keep = prev_cells()
            cols = {h: i for i, h in enumerate(header)}
            name_c, status_c = cols.get(DETAIL_LEAD[0]), cols.get(DETAIL_LEAD[2])
            used = {s.zh for s in (PASSED, WARNINGS, FAILED)}
            if name_c is not None and status_c is not None:
                for row in detail[4:]:
                    if len(row) <= max(name_c, status_c) or str(row[status_c]) not in used:
                        continue
                    vals = {}
                    for k in keep:
                        i = cols.get(k)
                        if i is not None and i < len(row):
                            v, _why = parse_number(row[i] if row[i] != "" else None)
                            if v is not None:
                                vals[k] = v
                    units[str(row[name_c])] = vals
        return AggregateData(county=county, units=units, source=str(path))
    finally:
        wb.close()


def read_aggregate_report(item) -> Report | None:
    """The county sums of an aggregate as a Report (unit （汇总）), for readers of any input.

    ``item`` is an ``inputs.Input``; None when it is not an aggregate written here."""
    try:
        data = item.read_bytes()
    except OSError:
        return None
    prev = read_aggregate(data, item.display)
    if prev is None:
        return None
    r = prev.county
    r.mtime = getattr(item, "mtime", 0.0) or 0.0
    r.where = county_where(get_spec(r.form))
    return r

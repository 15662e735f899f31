"""Loading last year's data for ``--previous``: an aggregate workbook read back, or last year's
folder aggregated here the same way."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ..model import Report
from .core import aggregate
from .previous import Previous
from .status import COUNTY, FAILED, MISSING, PASSED, WARNINGS, prev_cells
from .units import Roster


class NoPreviousData(ValueError):
    """``--previous`` names something with no data of last year in it (a broken file, the
    roster, a blank template): the message says what was found instead (Chinese)."""


def load_previous(
    path: Path, roster: Roster | None = None, blank: str = "zero", progress_factory=None
) -> Previous:
    """Last year's aggregate workbook, or last year's folder (aggregated here the same way).

    Raises FileNotFoundError when there is nothing to read, NoPreviousData when what is there
    holds no report of last year."""
    from ..reader.aggregate import read_aggregate  # the reader, only when it is needed

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(str(path))
    if path.is_file():
        data = read_aggregate(path)
        if data is not None:
            return Previous(county=data.county, units=data.units, source=data.source)
    res = aggregate([path], roster=roster, blank=blank, progress_factory=progress_factory)
    try:
        if not res.entries or all(e.status == MISSING for e in res.entries):
            raise FileNotFoundError(str(path))
        keep = prev_cells()
        units: dict[str, dict[str, Decimal]] = {}
        for e in res.entries:
            if e.status in (PASSED, WARNINGS, FAILED):
                vals = res.values(e)
                units[e.name] = {k: Decimal(v) for k, v in vals.items() if k in keep and v is not None}
        county = None
        if path.is_dir() or path.suffix.lower() == ".zip":  # one unit's workbook is no county
            county = Report(path=str(path), form=res.form, unit=COUNTY, year=res.year, values=dict(res.sums))
        if not units and county is None:
            found = [e for e in res.entries if e.status != MISSING]
            why = "；".join(
                f"{Path(e.file).name if e.file else e.name}：{e.note or e.status.zh}" for e in found
            )
            raise NoPreviousData(why[:300])
        return Previous(county=county, units=units, source=str(path))
    finally:
        res.close()

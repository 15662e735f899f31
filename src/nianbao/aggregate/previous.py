"""Last year's data for the year-over-year rules: an aggregate workbook or a folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ..findings import Finding
from ..model import Report
from ..spec import Spec
from .status import COUNTY, FAILED, MISSING, PASSED, WARNINGS, norm_name, prev_cells
from .units import Roster


# ---------------------------------------------------------------- last year's data
@dataclass
class Previous:
    """Last year's county sums and per-unit values of the cells the year-over-year rules read."""

    county: Report | None = None
    units: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # unit name -> values
    source: str = ""
    _index: dict | None = field(default=None, repr=False)

    @staticmethod
    def _key(name: str, roster: Roster | None) -> str:
        i = roster.match(name) if roster else None
        return f"r{i}" if i is not None else "n:" + norm_name(name)

    def for_unit(self, name: str, roster: Roster | None) -> Report | None:
        """Last year's report of the unit ``name`` (matched like this year's files), or None."""
        if self._index is None:
            self._index = {}
            for n, vals in self.units.items():
                self._index.setdefault(self._key(n, roster), vals)
        vals = self._index.get(self._key(name, roster))
        return Report(path=self.source, unit=name, values=dict(vals)) if vals is not None else None


def load_previous(
    path: Path, roster: Roster | None = None, blank: str = "zero", progress_factory=None
) -> Previous:
    """Last year's aggregate workbook, or last year's folder (aggregated here the same way).

    Raises FileNotFoundError when there is nothing to read."""
    from .core import aggregate  # core uses this module
    from .readback import read_aggregate

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(str(path))
    if path.is_file():
        prev = read_aggregate(path)
        if prev is not None:
            return prev
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
        return Previous(county=county, units=units, source=str(path))
    finally:
        res.close()


def previous_findings(report: Report, spec: Spec, prev: Report | None) -> list[Finding]:
    """The year-over-year findings (rules with ``prev:`` terms) of one report."""
    from ..checks import check_rule

    if prev is None:
        return []
    out = []
    for rule in spec.rules:
        if rule.uses_previous:
            f = check_rule(rule, spec, report, prev)
            if f is not None:
                out.append(f)
    return out

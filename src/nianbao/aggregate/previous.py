"""Last year's data for the year-over-year rules: an aggregate workbook or a folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ..findings import Finding
from ..model import Report
from ..spec import Spec
from .status import norm_name
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

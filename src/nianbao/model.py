"""The flat form every input is turned into: one report's values keyed by stable cell keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .findings import ERROR, WARNING, Finding

PASSED, FAILED, UNREADABLE = "passed", "failed", "unreadable"

# The whole numbers most cells hold, made once: readers store these very objects, and checks
# know them to be non-negative integers without looking at each one.
SMALL_DECIMALS = {i: Decimal(i) for i in range(1000)}
SMALL_IDS = frozenset(map(id, SMALL_DECIMALS.values()))


@dataclass
class Report:
    path: str  # what the user gave (file, or zip!member)
    form: str | None = None  # "2021" | "2019" | None
    unit: str = ""
    year: int | None = None
    filler: str = ""
    phone: str = ""
    date: str = ""
    values: dict[str, Decimal | None] = field(default_factory=dict)  # None: blank or unreadable
    where: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (sheet, A1)
    blank: list[str] = field(default_factory=list)  # keys left blank
    invalid: set[str] = field(default_factory=set)  # keys whose content is not a number
    findings: list[Finding] = field(default_factory=list)
    source: str = ""  # template | labels | import
    unreadable: bool = False
    empty: bool = False  # every value cell blank (未填写)
    meta: dict = field(default_factory=dict)
    body: dict[str, str] = field(default_factory=dict)  # prose sections (imports)
    mtime: float = 0.0
    skipped: str = ""  # the input is one of nianbao's own outputs: why it was not read (Chinese)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)

    @property
    def status(self) -> str:
        if self.unreadable:
            return UNREADABLE
        return FAILED if self.errors else PASSED

    def value(self, key: str) -> Decimal:
        v = self.values.get(key)
        return v if v is not None else Decimal(0)

    def to_dict(self, with_values: bool = False) -> dict:
        d = {
            "path": self.path,
            "form": self.form,
            "unit": self.unit or None,
            "year": self.year,
            "status": self.status,
            "errors": self.errors,
            "warnings": self.warnings,
            "findings": [f.to_dict() for f in self.findings],
        }
        if with_values:
            d["values"] = {k: (None if v is None else json_num(v)) for k, v in self.values.items()}
        return d


def json_num(v: Decimal):
    return int(v) if v == v.to_integral_value() else float(v)

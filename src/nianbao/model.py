"""The flat form every input is turned into: one report's values keyed by stable cell keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .findings import ERROR, WARNING, Finding, make
from .vocab import Incident, Status

PASSED, FAILED, UNREADABLE = Status.PASSED, Status.FAILED, Status.UNREADABLE

# The whole numbers most cells hold, made once: readers store these very objects, and checks
# know them to be non-negative integers without looking at each one.
SMALL_DECIMALS = {i: Decimal(i) for i in range(1000)}
SMALL_IDS = frozenset(map(id, SMALL_DECIMALS.values()))


@dataclass
class Report:
    path: str  # what the user gave (file, or zip!member)
    form: str | None = None  # the form version (a spec in templates/), e.g. "2019"; None: unknown
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
    body: dict[str, str] = field(default_factory=dict)  # prose sections (imports)
    mtime: float = 0.0
    skipped: str = ""  # the input is one of nianbao's own outputs: why it was not read (Chinese)
    # what the reader learnt besides the values
    form_id: str = ""  # the spec's form_id, when a form was recognised
    spec_digest: str = ""  # digest of the spec our template was made from ("" otherwise)
    missing: list[str] = field(default_factory=list)  # keys of value cells not found
    importer: str = ""  # docx | pdf | html | txt …: the importer that read a published report
    error_ref: str = ""  # reference number of an internal error (NB005)
    coverage: Any = None  # an aggregate read back: which units its sums cover (aggregate.Coverage)
    # set by the batch: the input the report was read from, and the values as aggregate keeps
    # them (see pipeline.compact_values) when they were compacted in a worker
    input: Any = field(default=None, repr=False)
    compact: tuple | None = field(default=None, repr=False)
    level: str = ""  # the issuer's level when a roster states it (nianbao.levels); "" = from the name
    corrections: list[dict] = field(default_factory=list)  # error localisation: every minimum set
    corrections_truncated: bool = False  # more minimum sets than listed

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == WARNING)

    @property
    def status(self) -> Status:
        if self.unreadable:
            return UNREADABLE
        return FAILED if self.errors else PASSED

    @property
    def outcome(self) -> Status:
        """The status as shown to a person: a passed report with warnings is 仅有警告."""
        return Status.outcome(self.status, self.warnings)

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
            "corrections": self.corrections,
            "corrections_truncated": self.corrections_truncated,
        }
        if with_values:
            d["values"] = {k: (None if v is None else json_num(v)) for k, v in self.values.items()}
        return d


def unreadable_report(
    display: str, reason: str, code: str = "NB002", mtime: float = 0.0, source: str = ""
) -> Report:
    """The report of an input that could not be read: one finding saying why."""
    r = Report(path=display, unreadable=True, mtime=mtime or 0.0, source=source)
    r.findings.append(make(code, f"{display}：{reason}"))
    return r


def internal_error_report(display: str, exc: BaseException, mtime: float = 0.0, source: str = "") -> Report:
    """The report of an input whose processing failed unexpectedly (a bug): the rest of the
    batch goes on, the user gets a reference number to report."""
    incident = Incident.of(exc)
    r = unreadable_report(
        display,
        f"处理时发生内部错误（{incident}），其余文件不受影响，请将此文件与编号反馈给维护人员",
        "NB005",
        mtime,
        source,
    )
    r.error_ref = incident.ref
    return r


def json_num(v: Decimal):
    return int(v) if v == v.to_integral_value() else float(v)

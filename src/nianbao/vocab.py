"""The one vocabulary of outcomes: severities of findings, statuses of reports and of the units
of an aggregate, the registry of finding codes, and the reference number of an unexpected failure.

Every status and severity string (the English value written to JSON/CSV and the Chinese label
shown to the user) is spelled here and nowhere else; the members are ``str`` so that the JSON,
CSV and workbooks written with them stay exactly as they were with bare strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache


class Severity(StrEnum):
    """How bad a finding is."""

    ERROR = "error"
    WARNING = "warning"

    @property
    def zh(self) -> str:
        return _SEVERITY_ZH[self]

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)


_SEVERITY_ZH = {Severity.ERROR: "错误", Severity.WARNING: "警告"}


class Status(StrEnum):
    """The outcome of one report, and of one unit of an aggregate (its row in 报送情况).

    A report is PASSED, FAILED or UNREADABLE (its JSON ``status``); shown to a person, a passed
    report with warnings is WARNINGS (仅有警告). The other members are the aggregate's: a unit
    that did not report, or whose report was not summed. Members are declared in sort order,
    problems first (the order of the 报送情况 sheet): ``rank`` is the position."""

    MISSING = "missing"
    UNREADABLE = "unreadable"
    FAILED = "failed"
    EMPTY = "empty"
    WRONG_FORM = "wrong_form"
    WRONG_YEAR = "wrong_year"
    DUPLICATE = "duplicate"
    NOT_IN_ROSTER = "not_in_roster"
    WARNINGS = "warnings"
    PASSED = "passed"

    @property
    def zh(self) -> str:
        return _STATUS_ZH[self]

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def tone(self) -> str:
        """ok | warn | bad | other: the colour family a front end shows the status in."""
        return _TONE.get(self, "other")

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(m.value for m in cls)

    @classmethod
    def ordered(cls) -> tuple[Status, ...]:
        return tuple(cls)

    @classmethod
    def outcome(cls, status: str, warnings: int) -> Status:
        """A report's status as shown to a person: passed with warnings is 仅有警告."""
        s = cls(status)
        return cls.WARNINGS if s is cls.PASSED and warnings else s


_STATUS_ZH = {
    Status.MISSING: "未报送",
    Status.UNREADABLE: "无法读取",
    Status.FAILED: "有错误",
    Status.EMPTY: "未填写",
    Status.WRONG_FORM: "表式不符",
    Status.WRONG_YEAR: "年度不符",
    Status.DUPLICATE: "重复报送",
    Status.NOT_IN_ROSTER: "不在名单中",
    Status.WARNINGS: "仅有警告",
    Status.PASSED: "通过",
}
_RANK = {s: i for i, s in enumerate(Status)}
_TONE = {
    Status.PASSED: "ok",
    Status.WARNINGS: "warn",
    Status.MISSING: "bad",
    Status.UNREADABLE: "bad",
    Status.FAILED: "bad",
    Status.EMPTY: "bad",
}


# ---- the collection desk (报送台) ------------------------------------------------------------


class UnitState(StrEnum):
    """A unit's place in the year's collection; ``zh`` is what people read, ``rank`` the board order
    (what needs the clerk first)."""

    PENDING = "pending"
    ERRORS = "errors"
    RETURNED = "returned"
    UPLOADED = "uploaded"
    NOT_REPORTED = "not_reported"
    ACCEPTED = "accepted"

    @property
    def zh(self) -> str:
        return _UNIT_STATE_ZH[self]

    @property
    def rank(self) -> int:
        return list(UnitState).index(self)


_UNIT_STATE_ZH = {
    UnitState.PENDING: "待审核",
    UnitState.ERRORS: Status.FAILED.zh,
    UnitState.RETURNED: "已退回",
    UnitState.UPLOADED: "已上传未确认",
    UnitState.NOT_REPORTED: Status.MISSING.zh,
    UnitState.ACCEPTED: "已通过",
}


class Decision(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    RETURN = "return"
    REOPEN = "reopen"

    @property
    def zh(self) -> str:
        return {"submit": "确认报送", "accept": "审核通过", "return": "退回修改", "reopen": "重新打开"}[self]


class UploadSource(StrEnum):
    UNIT = "unit"  # through the unit's own link
    CLERK = "clerk"  # dropped in by the clerk (received by email, matched by 填报单位)

    @property
    def zh(self) -> str:
        return {"unit": "单位上传", "clerk": "管理员代传"}[self]


class Level(StrEnum):
    """The level of a report's issuer (nianbao.levels): rules may apply at some levels only."""

    NATIONAL = "national"
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"
    TOWNSHIP = "township"

    @property
    def zh(self) -> str:
        return {
            "national": "国务院部门",
            "province": "省级",
            "prefecture": "设区的市级",
            "county": "县级",
            "township": "乡级",
        }[self]


class Mark(StrEnum):
    """How error localisation sees the cell a finding points at (what an annotated copy paints)."""

    NONE = ""  # not concerned: painted by severity
    FIX = "fix"  # a cell of the one minimum set: change it (red)
    CANDIDATE = "candidate"  # one of several equally small changes (orange)
    EXPLAINED = "explained"  # its relation fails because of another cell: not painted


# ---- finding codes ----------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """One finding code: its severity and its name (the short Chinese description)."""

    code: str
    severity: Severity
    name: str


class CodeCollision(ValueError):
    """The same finding code declared twice with a different severity or name."""


def merge_codes(declared) -> dict[str, Code]:
    """The registry of finding codes from ``(code, severity, name, where)`` declarations, in the
    order given. A code may be declared any number of times, always the same way: declared with
    another severity or name it is refused (CodeCollision naming both places)."""
    out: dict[str, Code] = {}
    first: dict[str, str] = {}
    for code, severity, name, where in declared:
        c = Code(code, Severity(severity), name)
        seen = out.get(code)
        if seen is None:
            out[code], first[code] = c, where
        elif seen != c:
            raise CodeCollision(
                f"规则代码 {code} 的定义不一致：{first[code]} 为 {seen.severity}“{seen.name}”，"
                f"{where} 为 {c.severity}“{c.name}”"
            )
    return out


# Codes raised by the reader and the tool itself. Form rules (NB2xx/NB3xx and the cell rules)
# carry their names and messages in templates/*.yaml; code_registry() holds them all.
TOOL_CODES: dict[str, Code] = merge_codes(
    (code, severity, name, "vocab.py")
    for code, severity, name in (
        ("NB001", Severity.ERROR, "未填写：所有数值格均为空"),
        ("NB002", Severity.ERROR, "文件无法读取"),
        ("NB003", Severity.ERROR, "未找到表格、行或列"),
        ("NB004", Severity.WARNING, "填报单位或报告年度未填写"),
        ("NB005", Severity.ERROR, "处理该文件时发生内部错误"),
        ("NB006", Severity.WARNING, "文件部分内容无法保留或读取"),
        ("NB007", Severity.WARNING, "导入年报时按近似的行名或换算后的单位读取（请核对）"),
        ("NB008", Severity.WARNING, "下级汇总表不是全部单位的合计"),
        ("NB101", Severity.WARNING, "空白单元格（按 0 计）"),
        ("NB102", Severity.ERROR, "不是有效数字"),
        ("NB105", Severity.ERROR, "公式无法计算"),
        ("NB107", Severity.WARNING, "数值格被合并"),
        ("NB310", Severity.WARNING, "正文数字与表格不一致"),
        ("NB311", Severity.WARNING, "正文未说明信息处理费收取情况"),
        ("NB401", Severity.ERROR, "最可能填错的单元格（错误定位）"),
        ("NB402", Severity.ERROR, "有多种改法都能使勾稽关系成立（错误定位）"),
        ("NB403", Severity.WARNING, "无有效数值的单元格，其值由勾稽关系推得（错误定位）"),
        ("NB404", Severity.WARNING, "错误较多，无法判断哪一格有误（错误定位）"),
    )
)


def spec_codes(spec) -> list[tuple[str, str, str, str]]:
    """The finding codes a form spec declares: (code, severity, name, where) of its relation
    rules and its cell rules."""
    where = spec.path.name
    return [(r.code, r.severity, r.name, where) for r in spec.rules] + [
        (r.code, r.severity, r.name, where) for r in spec.cell_rules
    ]


@cache
def _registry(specs: tuple) -> dict[str, Code]:
    return merge_codes(
        [(c.code, c.severity, c.name, "vocab.py") for c in TOOL_CODES.values()]
        + [d for s in specs for d in spec_codes(s)]
    )


def code_registry(specs) -> dict[str, Code]:
    """Every finding code: the tool's own and those the given form specs declare. A code
    declared twice in different ways is refused (CodeCollision)."""
    return _registry(tuple(specs))


# ---- unexpected failures ----------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """An unexpected failure, told to the user with a reference number they can report back
    (the same number goes to the log)."""

    ref: str
    kind: str = ""  # the exception's class name

    @classmethod
    def of(cls, exc: BaseException | None = None) -> Incident:
        import uuid

        return cls(uuid.uuid4().hex[:8], type(exc).__name__ if exc is not None else "")

    def __str__(self) -> str:
        return f"参考编号 {self.ref}：{self.kind}" if self.kind else f"参考编号 {self.ref}"

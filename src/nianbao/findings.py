"""A finding is one value, rendered the same way in every output (terminal, JSON, CSV, XLSX, web)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal

from .vocab import TOOL_CODES, Mark, Severity, code_registry, spec_codes

ERROR, WARNING = Severity.ERROR, Severity.WARNING
CODES = TOOL_CODES  # the codes raised by the reader and the tool itself


@dataclass
class Finding:
    code: str
    severity: Severity
    message: str
    table: str = ""  # 表二 / 表三 / 表四
    row: str = ""
    column: str = ""
    sheet: str = ""
    cell: str = ""  # A1 form
    expected: str | None = None
    actual: str | None = None
    key: str = ""  # stable cell key, when the finding is about one value cell
    related: list[str] = field(default_factory=list)  # A1 refs of the other cells of a relation
    mark: Mark = Mark.NONE  # how error localisation sees the cell (see vocab.Mark)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def severity_zh(self) -> str:
        return Severity(self.severity).zh

    @property
    def location(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        return self.sheet or self.cell

    def to_dict(self) -> dict:
        d = asdict(self)
        return {
            k: d[k]
            for k in (
                "code",
                "severity",
                "table",
                "row",
                "column",
                "sheet",
                "cell",
                "expected",
                "actual",
                "message",
            )
        }

    def comment(self) -> str:
        """Text of the cell comment in an annotated workbook."""
        lines = [f"[{self.code}] {self.severity_zh}：{self.message}"]
        if self.expected is not None:
            lines.append(f"应为：{self.expected}")
        if self.actual is not None:
            lines.append(f"实为：{self.actual}")
        if self.related:
            lines.append("相关单元格：" + "、".join(self.related))
        return "\n".join(lines)


CSV_HEADER = [
    "文件",
    "填报单位",
    "代码",
    "级别",
    "表",
    "行",
    "列",
    "工作表",
    "单元格",
    "应为",
    "实为",
    "说明",
]


def fmt_number(v) -> str:
    """Render a number the way a person wrote it: 12, 3.5 (never 12.0 or 1E+1)."""
    if v is None:
        return ""
    if isinstance(v, Decimal):
        if v == v.to_integral_value():
            return str(int(v))
        return format(v.normalize(), "f")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def make(code: str, message: str, severity: Severity | None = None, **kw) -> Finding:
    return Finding(code=code, severity=severity or CODES[code].severity, message=message, **kw)


def neutralise(text) -> str:
    """Make text safe for CSV cells Excel opens: a leading = + - @ never becomes a formula."""
    s = "" if text is None else str(text)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + s
    return s


def rule_catalogue() -> list[dict]:
    """Every finding code with severity, name and the forms it applies to (for docs and CLI)."""
    from .spec import all_specs

    specs = all_specs()
    forms: dict[str, list[str]] = {}
    for s in specs:
        for code, *_ in spec_codes(s):
            if code not in CODES and s.version not in forms.setdefault(code, []):
                forms[code].append(s.version)
    rows = []
    for code, c in sorted(code_registry(specs).items()):
        used = forms.get(code)
        shown = "、".join(sorted(used)) if used and len(used) < len(specs) else "全部"
        rows.append({"code": code, "severity": c.severity, "name": c.name, "forms": shown})
    return rows

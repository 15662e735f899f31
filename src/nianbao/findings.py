"""A finding is one value, rendered the same way in every output (terminal, JSON, CSV, XLSX, web)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal

ERROR, WARNING = "error", "warning"
SEVERITY_ZH = {ERROR: "错误", WARNING: "警告"}

# Codes raised by the reader and the tool itself. Form rules (NB2xx/NB3xx and the cell rules)
# carry their names and messages in templates/*.yaml.
CODES: dict[str, tuple[str, str]] = {
    "NB001": (ERROR, "未填写：所有数值格均为空"),
    "NB002": (ERROR, "文件无法读取"),
    "NB003": (ERROR, "未找到表格、行或列"),
    "NB004": (WARNING, "填报单位或报告年度未填写"),
    "NB005": (ERROR, "处理该文件时发生内部错误"),
    "NB006": (WARNING, "文件部分内容无法保留或读取"),
    "NB101": (WARNING, "空白单元格（按 0 计）"),
    "NB102": (ERROR, "不是有效数字"),
    "NB105": (ERROR, "公式无法计算"),
    "NB107": (WARNING, "数值格被合并"),
    "NB310": (WARNING, "正文数字与表格不一致"),
    "NB311": (WARNING, "正文未说明信息处理费收取情况"),
}


@dataclass
class Finding:
    code: str
    severity: str
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

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    @property
    def severity_zh(self) -> str:
        return SEVERITY_ZH.get(self.severity, self.severity)

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


def make(code: str, message: str, severity: str | None = None, **kw) -> Finding:
    return Finding(code=code, severity=severity or CODES[code][0], message=message, **kw)


def neutralise(text) -> str:
    """Make text safe for CSV cells Excel opens: a leading = + - @ never becomes a formula."""
    s = "" if text is None else str(text)
    if s[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + s
    return s


def rule_catalogue() -> list[dict]:
    """Every finding code with severity, name and the forms it applies to (for docs and CLI)."""
    from .spec import all_specs

    rows: dict[str, dict] = {}
    for code, (sev, name) in CODES.items():
        rows[code] = {"code": code, "severity": sev, "name": name, "forms": "全部"}
    for s in all_specs():
        for code, sev, name in [(r.code, r.severity, r.name) for r in s.rules] + [
            (r["code"], r["severity"], r.get("name", r["code"])) for r in s.cell_rules
        ]:
            row = rows.setdefault(code, {"code": code, "severity": sev, "name": name, "forms": []})
            if isinstance(row["forms"], list) and s.version not in row["forms"]:
                row["forms"].append(s.version)
    for row in rows.values():
        if isinstance(row["forms"], list):
            row["forms"] = "、".join(sorted(row["forms"])) if len(row["forms"]) < len(all_specs()) else "全部"
    return [rows[k] for k in sorted(rows)]

"""Typed, validated reading of the data files in ``templates/``: the small sections of a form
spec (``kinds``, ``cover``, ``cell_rules``) and the reader every entry of a data file goes
through, so that a malformed file is refused at load with a Chinese message naming the file and
the entry (never a KeyError deep inside a check)."""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .relations import PLACES
from .vocab import Severity

KIND_TYPES = ("integer", "decimal")
CELL_CHECKS = ("min", "integer", "places")
# what a finding's message may name (nianbao.checks formats it with these)
FINDING_FIELDS = ("table", "row", "column", "expected", "actual")


class SpecError(Exception):
    """A spec file is malformed; the message names the file and the entry."""

    def __init__(self, path: Path | str, entry: str, message: str):
        self.path, self.entry = str(path), entry
        super().__init__(f"表式定义文件 {path} 有误（{entry}）：{message}")


class Entry:
    """One mapping of a data file, read field by field; every complaint names file and entry."""

    def __init__(self, raw, path: Path | str, where: str, allowed: Iterable[str] | None = None):
        self.path, self.where = path, where
        if not isinstance(raw, dict):
            self.fail("应为键值结构（如 {key: …, label: …}）")
        self.raw = raw
        if allowed is not None:
            unknown = [str(k) for k in raw if k not in set(allowed)]
            if unknown:
                self.fail(f"未知的项 {'、'.join(unknown)}（可用：{'、'.join(allowed)}）")

    def fail(self, message: str):
        raise SpecError(self.path, self.where, message)

    def has(self, name: str) -> bool:
        return name in self.raw

    def need(self, name: str):
        if name not in self.raw:
            self.fail(f"缺少 {name}")
        return self.raw[name]

    def text(self, name: str, default: str | None = None) -> str:
        """A non-empty text (numbers written without quotes are taken as their text)."""
        v = self.raw.get(name, default) if default is not None else self.need(name)
        if isinstance(v, bool) or not isinstance(v, str | int | float) or str(v) == "":
            self.fail(f"{name} 应为非空文字")
        return str(v)

    def choice(self, name: str, choices: Iterable[str], default: str | None = None) -> str:
        choices = tuple(choices)
        v = self.raw.get(name, default) if default is not None else self.need(name)
        if v not in choices:
            self.fail(f"{name} 只能是 {'、'.join(choices)}，实为 “{v}”")
        return v

    def integer(self, name: str, low: int, high: int) -> int | None:
        """An optional whole number within [low, high]."""
        v = self.raw.get(name)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            self.fail(f"{name} 应为 {low} 到 {high} 之间的整数，实为 “{v}”")
        return v

    def number(self, name: str) -> int | float | None:
        v = self.raw.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            self.fail(f"{name} 应为数字，实为 “{v}”")
        return v

    def message(self, name: str, fields: Iterable[str]) -> str:
        """A message template whose {placeholders} are all among ``fields``."""
        text = self.text(name)
        fields = tuple(fields)
        try:
            used = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as e:
            self.fail(f"{name} 的花括号不成对：{e}")
        bad = [f for f in used if f not in fields]
        if bad:
            self.fail(f"{name} 中的 {{{bad[0]}}} 不是可用的占位符（可用：{'、'.join(fields)}）")
        return text


def entries(raw, path: Path | str, where: str) -> list:
    """The items of a list section (``where`` names it); an absent section is empty."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SpecError(path, where, "应为列表")
    return raw


# ---------------------------------------------------------------- kinds
@dataclass(frozen=True)
class Kind:
    """A kind of value cell: whole numbers or decimals, a lower bound, decimal places."""

    key: str
    type: str  # "integer" | "decimal"
    label: str
    min: int | float | None = None  # as written in the spec (also in the template's formulas)
    places: int | None = None  # at most this many decimals (decimal kinds)
    # units a published report may write after such a number -> factor to the column's own unit
    units: Mapping[str, int | float] = field(default_factory=dict, hash=False)

    @property
    def integer(self) -> bool:
        return self.type == "integer"

    @property
    def low(self) -> Decimal | None:
        return None if self.min is None else Decimal(str(self.min))


def load_kinds(raw, path) -> dict[str, Kind]:
    if not isinstance(raw, dict) or not raw:
        raise SpecError(path, "kinds", "应为非空的键值结构（类型名: {type: …, label: …}）")
    out = {}
    for key, body in raw.items():
        e = Entry(body, path, f"kinds/{key}", ("type", "label", "min", "places", "units"))
        kind = Kind(
            key=str(key),
            type=e.choice("type", KIND_TYPES),
            label=e.text("label"),
            min=e.number("min"),
            places=e.integer("places", 0, PLACES),
            units=_units(e),
        )
        if kind.integer and kind.places is not None:
            e.fail("整数类型不能设置 places")
        out[kind.key] = kind
    return out


def _units(e: Entry) -> dict[str, int | float]:
    units = e.raw.get("units") or {}
    if not isinstance(units, dict) or not all(
        isinstance(u, str) and u and not isinstance(f, bool) and isinstance(f, int | float) and f > 0
        for u, f in units.items()
    ):
        e.fail("units 应为“单位: 换算系数”的键值结构，系数为正数（如 {万元: 1, 元: 0.0001}）")
    return dict(units)


# ---------------------------------------------------------------- cover
@dataclass(frozen=True)
class CoverField:
    """A field of the cover (填报信息): 填报单位, 报告年度, …"""

    key: str
    label: str


COVER_REQUIRED = ("unit", "year")


def load_cover(raw, path) -> tuple[CoverField, ...]:
    out: list[CoverField] = []
    for i, item in enumerate(entries(raw, path, "cover")):
        e = Entry(item, path, f"cover[{i}]", ("key", "label"))
        field = CoverField(e.text("key"), e.text("label"))
        if any(f.key == field.key for f in out):
            e.fail(f"key “{field.key}” 重复")
        out.append(field)
    missing = [k for k in COVER_REQUIRED if k not in {f.key for f in out}]
    if missing:
        raise SpecError(path, "cover", f"缺少必需的项 {'、'.join(missing)}（填报单位、报告年度）")
    return tuple(out)


# ---------------------------------------------------------------- cell rules
@dataclass(frozen=True)
class CellRule:
    """A rule on a single value cell's kind: min, integer or places."""

    code: str
    name: str
    check: str
    severity: Severity
    message: str


def load_cell_rules(raw, path) -> tuple[CellRule, ...]:
    out: list[CellRule] = []
    for i, item in enumerate(entries(raw, path, "cell_rules")):
        code = item.get("code", "?") if isinstance(item, dict) else "?"
        e = Entry(item, path, f"cell_rules[{i}] {code}", ("code", "name", "check", "severity", "message"))
        rule = CellRule(
            code=e.text("code"),
            name=e.text("name", default=str(code)),
            check=e.choice("check", CELL_CHECKS),
            severity=Severity(e.choice("severity", Severity.values())),
            message=e.message("message", FINDING_FIELDS),
        )
        if any(r.check == rule.check for r in out):
            e.fail(f"check “{rule.check}” 已由前面的规则定义")
        out.append(rule)
    return tuple(out)

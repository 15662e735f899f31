"""The level of a report's issuer (省级, 设区的市级, 县级, 乡级, or a 国务院部门), from its name or
from a roster's 层级 column. Rules of a form that only apply at some levels (NB303: 规章 are
made by 国务院部门 and 省级、设区的市级人民政府) ask for it.

A department has the level of the government it belongs to (贵州省教育厅: 省级; 绥阳县司法局:
县级). The divisions above the county level are data (``templates/divisions.yaml``): 县级市 and
设区的市 look alike by name. An unknown level is None: rules then ask rather than assert.
"""

from __future__ import annotations

import re
from functools import cache

from .vocab import Level

NATIONAL, PROVINCE, PREFECTURE, COUNTY, TOWNSHIP = Level
LEVEL_COLUMN = "层级"  # the roster column that states a unit's level
_HAN = r"[\u3400-\u9fff]"
_COUNTY = re.compile(rf"{_HAN}{{1,7}}?(?:自治县|自治旗|县|旗|特区|林区|新区|区|市)")
_TOWNSHIP = re.compile(rf"{_HAN}{{1,8}}?(?:民族乡|乡|镇|街道|苏木)")
_NATIONAL_PREFIX = ("国务院", "国家", "中华人民共和国", "最高人民")
_VERTICAL = re.compile(
    r"^(?:国家税务总局|国家金融监督管理总局|中国人民银行|国家统计局|海关总署|中国证券监督管理委员会)"
)


@cache
def _divisions() -> dict:
    import yaml

    from .spec import templates_dir

    with open(templates_dir() / "divisions.yaml", encoding="utf-8") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@cache
def _names() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(province names, prefecture names, words no division ends in, what never follows one),
    longest first so that the longest name wins."""
    d = _divisions()
    prov = d["provinces"]["municipalities"] + d["provinces"]["names"] + d["provinces"]["aliases"]
    pref = [n for names in d["prefectures"].values() for n in names] + list(d["prefecture_aliases"])

    def longest(xs):
        return tuple(sorted(set(xs), key=len, reverse=True))

    return longest(prov), longest(pref), tuple(d["not_divisions"]), tuple(d["not_followed_by"])


def _prefix(s: str, names: tuple[str, ...]) -> str:
    return next((n for n in names if s.startswith(n)), "")


def _division(s: str, pattern: re.Pattern, bad: tuple[str, ...], after: tuple[str, ...]) -> str:
    """The division name ``pattern`` finds at the start of ``s`` ("" when it is none)."""
    m = pattern.match(s)
    if not m:
        return ""
    word, rest = m.group(0), s[m.end() :]
    if any(word.endswith(b) or b in word for b in bad) or rest.startswith(after):
        return ""
    return word


def issuer_level(name: str | None) -> str | None:
    """The level of the organ named ``name``; None when the name does not tell."""
    s = re.sub(r"\s+", "", name or "").removeprefix("中共")
    if not s:
        return None
    vertical = _VERTICAL.match(s)
    if vertical:
        s = s[vertical.end() :]
    provinces, prefectures, bad, after = _names()
    level = None
    for names, lvl in ((provinces, PROVINCE), (prefectures, PREFECTURE)):
        found = _prefix(s, names)
        if found:
            s, level = s[len(found) :], lvl
    for pattern, lvl in ((_COUNTY, COUNTY), (_TOWNSHIP, TOWNSHIP)):
        if lvl == COUNTY and level not in (None, PROVINCE, PREFECTURE):
            continue
        found = _division(s, pattern, bad, after)
        if found:
            s, level = s[len(found) :], lvl
    if level is None and (not s if vertical else s.startswith(_NATIONAL_PREFIX) or s.endswith("部")):
        return NATIONAL
    return level


def level_of_label(text: str | None) -> str | None:
    """The level a roster's 层级 cell states (省级, 市级, 县级, 乡镇 …); None when unknown."""
    t = re.sub(r"\s+", "", text or "")
    if not t:
        return None
    for level, words in _divisions()["level_words"].items():
        if t in words:
            return Level(level)
    for level, words in _divisions()["level_words"].items():
        if any(t.startswith(w) for w in words if len(w) > 1):
            return Level(level)
    return None

"""Schema of the form specs: each broken snippet is refused at load with a Chinese message that
names the file and the entry (a table of cases, as frictionless and pandera test their schemas)."""

from __future__ import annotations

import pytest
import yaml

from nianbao.spec import SpecError, load_spec, newest_spec_path
from nianbao.specschema import CellRule, CoverField, Kind


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NIANBAO_CACHE_DIR", str(tmp_path / "cache"))


def _rule(raw, code):
    return next(r for r in raw["rules"] if r["code"] == code)


def _set(path: str, value):
    """A mutation: set ``raw[a][b]…`` (list indices as numbers) to ``value``."""

    def mutate(raw):
        *head, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        for p in head:
            raw = raw[p]
        raw[last] = value

    return mutate


def _drop(path: str):
    def mutate(raw):
        *head, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        for p in head:
            raw = raw[p]
        del raw[last]

    return mutate


def _nb204(**changes):
    def mutate(raw):
        _rule(raw, "NB204").update(changes)

    return mutate


BROKEN = [
    # (case, mutation, entry named, words of the message)
    ("kinds not a mapping", _set("kinds", ["count"]), "kinds", "非空的键值结构"),
    ("kind type unknown", _set("kinds/count/type", "int"), "kinds/count", "type 只能是 integer、decimal"),
    ("kind without label", _drop("kinds/amount/label"), "kinds/amount", "缺少 label"),
    ("kind min not a number", _set("kinds/count/min", "零"), "kinds/count", "min 应为数字"),
    ("too many places", _set("kinds/amount/places", 7), "kinds/amount", "places 应为 0 到 6 之间的整数"),
    ("places on integers", _set("kinds/count/places", 2), "kinds/count", "整数类型不能设置 places"),
    ("kind typo", _set("kinds/count/minimum", 0), "kinds/count", "未知的项 minimum"),
    ("kind units", _set("kinds/amount/units", {"元": "万分之一"}), "kinds/amount", "units 应为"),
    ("undefined kind", _set("tables/0/kind", "money"), "tables/t2", "未定义的单元格类型 “money”"),
    ("cover not a list", _set("cover", {"unit": "填报单位"}), "cover", "应为列表"),
    ("cover entry without label", _set("cover/2", {"key": "filler"}), "cover[2]", "缺少 label"),
    ("cover key twice", _set("cover/3", {"key": "filler", "label": "x"}), "cover[3]", "key “filler” 重复"),
    ("cover without year", _drop("cover/1"), "cover", "缺少必需的项 year"),
    ("cell rule check unknown", _set("cell_rules/0/check", "max"), "cell_rules[0] NB103", "check 只能是 min"),
    ("cell rule severity", _set("cell_rules/1/severity", "fatal"), "cell_rules[1] NB104", "severity 只能是"),
    ("cell rule without code", _drop("cell_rules/2/code"), "cell_rules[2] ?", "缺少 code"),
    (
        "cell rule placeholder",
        _set("cell_rules/0/message", "{table}{cell}不能为负数"),
        "cell_rules[0] NB103",
        "{cell} 不是可用的占位符",
    ),
    ("cell rule braces", _set("cell_rules/0/message", "{table"), "cell_rules[0] NB103", "花括号不成对"),
    (
        "cell rule twice",
        _set("cell_rules/1/check", "min"),
        "cell_rules[1] NB104",
        "check “min” 已由前面的规则定义",
    ),
    ("rule op", _nb204(op="lt"), "NB204", "op 只能是"),
    ("rule severity", _nb204(severity="info"), "NB204", "severity 只能是 error、warning"),
    ("rule axis", _nb204(for_each="cell"), "NB204", "for_each 只能是 row、column"),
    ("rule typo", _nb204(taget="x"), "NB204", "未知的项 taget"),
    ("rule unknown table", _nb204(table="t9"), "NB204", "未知的表 “t9”"),
    ("rule placeholder", _nb204(message="{table}{sum}"), "NB204", "{sum} 不是可用的占位符"),
    ("each without {each}", _set("rules/0/each", ["a"]), "NB201", "each 与项中的 {each} 必须同时使用"),
    ("{each} without each", _drop("rules/3/each"), "NB204", "each 与项中的 {each} 必须同时使用"),
    ("each empty", _nb204(each=[]), "NB204", "each 应为非空列表"),
    ("each item unknown", _nb204(each=["review", "appeal"]), "NB204", "规则在表 t4 中没有可用的单元格"),
    ("lhs not a list", _nb204(lhs="{each}_total"), "NB204", "lhs 应为列表"),
    ("target not a term", _nb204(target="{each}_upheld_x"), "NB204", "target 必须是 lhs/rhs 中的一项"),
    ("rules not a list", _set("rules", {"NB201": {}}), "rules", "应为列表"),
    ("rule not a mapping", _set("rules/0", "NB201"), "rules[0] ?", "应为键值结构"),
    ("section not a mapping", _set("tables/0/sections/0", "item1"), "tables/t2/?", "应为键值结构"),
]


@pytest.mark.slow
@pytest.mark.parametrize("mutate,entry,words", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_spec_is_refused_naming_file_and_entry(tmp_path, mutate, entry, words):
    raw = yaml.safe_load(newest_spec_path().read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "坏的表式.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert e.value.path == str(path)
    assert entry in e.value.entry, e.value
    assert words in str(e.value), e.value
    assert str(e.value).startswith(f"表式定义文件 {path} 有误（{e.value.entry}）：")


def test_the_sections_are_typed(spec):
    assert all(isinstance(k, Kind) and k.key == name for name, k in spec.kinds.items())
    assert all(isinstance(c, CoverField) for c in spec.cover)
    assert all(isinstance(r, CellRule) for r in spec.cell_rules)
    assert {r.check for r in spec.cell_rules} == {"min", "integer", "places"}
    assert spec.kinds["count"].integer and spec.kinds["count"].low == 0
    assert spec.cover_label("unit") == "填报单位"
    with pytest.raises(AttributeError):
        spec.kinds["count"].places = 3  # frozen


def test_the_unmutated_spec_loads(tmp_path):
    raw = yaml.safe_load(newest_spec_path().read_text(encoding="utf-8"))
    path = tmp_path / "好的表式.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert len(load_spec(path).rules) == len(load_spec(newest_spec_path()).rules)

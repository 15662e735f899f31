"""The issuer's level (省级, 设区的市级, 县级, 乡级) and the rules that depend on it; no rule fires on
a realistic clean report of any level (two years, 规章 where the level makes them, fees to the 分)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from conftest import consistent_values
from nianbao.checks import check_report, run_checks
from nianbao.layout import workbook_layout
from nianbao.levels import COUNTY, NATIONAL, PREFECTURE, PROVINCE, TOWNSHIP, issuer_level, level_of_label
from nianbao.model import Report
from nianbao.spec import get_spec

NAMES = {
    "贵州省人民政府办公厅": PROVINCE,
    "贵州省教育厅": PROVINCE,
    "广西壮族自治区人民政府": PROVINCE,
    "北京市教育委员会": PROVINCE,
    "遵义市人民政府": PREFECTURE,
    "遵义市市场监督管理局": PREFECTURE,
    "遵义市城市管理局": PREFECTURE,
    "黔南州人民政府": PREFECTURE,
    "黔南布依族苗族自治州教育局": PREFECTURE,
    "兴安盟行政公署": PREFECTURE,
    "吉林市人民政府": PREFECTURE,
    "海南藏族自治州人民政府": PREFECTURE,
    "国家税务总局遵义市税务局": PREFECTURE,
    "绥阳县司法局": COUNTY,
    "镇远县人民政府": COUNTY,
    "仁怀市人民政府": COUNTY,  # 县级市: not in the list of prefecture-level divisions
    "都匀市教育局": COUNTY,
    "遵义市播州区人民政府": COUNTY,
    "北京市朝阳区人民政府": COUNTY,
    "绥阳县乡村振兴局": COUNTY,
    "绥阳县洋川镇人民政府": TOWNSHIP,
    "东莞市虎门镇人民政府": TOWNSHIP,
    "某某街道办事处": TOWNSHIP,
    "教育部": NATIONAL,
    "国务院办公厅": NATIONAL,
    "县教育局": None,
    "教育局": None,
    "": None,
}


@pytest.mark.parametrize(("name", "level"), NAMES.items())
def test_level_from_the_name(name, level):
    assert issuer_level(name) == level


def test_every_prefecture_level_division_is_one():
    import yaml

    from nianbao.spec import templates_dir

    data = yaml.safe_load((templates_dir() / "divisions.yaml").read_text(encoding="utf-8"))
    names = [n for ns in data["prefectures"].values() for n in ns]
    assert len(names) == len(set(names)) == 333
    assert all(issuer_level(f"{n}人民政府") == PREFECTURE for n in names)
    assert all(issuer_level(f"{n}某某县人民政府") == COUNTY for n in names)


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("省级", PROVINCE),
        ("市级", PREFECTURE),
        ("设区的市", PREFECTURE),
        ("县级", COUNTY),
        ("乡镇", TOWNSHIP),
        ("街道", TOWNSHIP),
        ("国务院部门", NATIONAL),
        ("其他", None),
        ("", None),
    ],
)
def test_level_from_a_roster_column(text, level):
    assert level_of_label(text) == level


# ---- clean reports of every level ---------------------------------------------------------

UNITS = {
    "贵州省人民政府办公厅": True,  # makes 规章: the 规章 row is filled
    "遵义市人民政府": True,
    "遵义市司法局": True,
    "教育部": True,
    "仁怀市人民政府": False,
    "绥阳县司法局": False,
    "绥阳县洋川镇人民政府": False,
}


def _where(spec):
    return {k: (tl.sheet, b.ref) for tl in workbook_layout(spec).tables for k, b in tl.values.items()}


def clean_pair(spec, unit: str, rules: bool, seed: int = 11) -> tuple[Report, Report]:
    """This year's and last year's report of ``unit``, each consistent and consistent with the
    other (结转, 现行有效件数), fees to the 分, 规章 only where ``rules``."""
    cur, prev = consistent_values(spec, seed), consistent_values(spec, seed + 1)
    for vals in (cur, prev):
        for k, c in spec.cells.items():
            if not spec.kinds[c.kind].integer:
                vals[k] = Decimal("24252.311082")
            if k.startswith("nb_t2_rules_"):
                vals[k] = (3 if k.endswith("_valid") else 1) if rules else 0
    t3 = spec.table("t3").sections[0]
    for col in t3.leaf_columns():
        carried, nxt, new, total = (
            f"nb_t3_{r}_{col.key}" for r in ("carried", "carry_next", "new", "r_total")
        )
        prev[nxt] = cur[carried]
        prev[new] = prev[total] + prev[nxt] - prev[carried]
        if prev[new] < 0:
            prev[carried], prev[new] = prev[carried] - prev[new], 0
    for row in ("new", "carried", "carry_next"):
        prev[f"nb_t3_{row}_total"] = sum(prev[f"nb_t3_{row}_{c.key}"] for c in t3.leaf_columns()[:-1])
    if "nb_t2_rules_issued" in spec.cells:  # 2021: 现行有效 = 上年 + 制发 - 废止
        for row in ("rules", "normative"):
            cur[f"nb_t2_{row}_valid"] = max(cur[f"nb_t2_{row}_valid"], cur[f"nb_t2_{row}_issued"])
            prev[f"nb_t2_{row}_valid"] = (
                cur[f"nb_t2_{row}_valid"] - cur[f"nb_t2_{row}_issued"] + cur[f"nb_t2_{row}_repealed"]
            )
    where = _where(spec)

    def report(vals, year):
        values = {k: Decimal(v) for k, v in vals.items()}
        return Report(
            path=f"{unit}.xlsx", form=spec.version, unit=unit, year=year, values=values, where=where
        )

    return report(cur, 2025), report(prev, 2024)


@pytest.mark.parametrize("version", ["2021", "2019"])
@pytest.mark.parametrize(("unit", "rules"), UNITS.items())
def test_no_rule_fires_on_a_clean_report_of_any_level(version, unit, rules):
    spec = get_spec(version)
    cur, prev = clean_pair(spec, unit, rules)
    assert check_report(prev, spec) == []
    assert check_report(cur, spec, previous=prev) == []
    assert run_checks(cur, spec, previous=prev).findings == [] and cur.corrections == []
    # every rule of the spec was evaluated, none skipped for want of data
    assert all(r.uses_previous or r.cells() for r in spec.rules)


def test_rules_row_warns_only_where_the_level_cannot_make_rules():
    spec = get_spec("2021")
    for unit, level_makes_rules in UNITS.items():
        cur, prev = clean_pair(spec, unit, rules=True)
        nb303 = [f for f in check_report(cur, spec, previous=prev) if f.code == "NB303"]
        if level_makes_rules:
            assert nb303 == [], unit
        else:
            assert nb303 and all("其他机关一般应为 0" in f.message for f in nb303), unit


def test_unknown_level_asks():
    spec = get_spec("2021")
    cur, prev = clean_pair(spec, "教育局", rules=True)
    nb303 = [f for f in check_report(cur, spec, previous=prev) if f.code == "NB303"]
    assert nb303 and all("本机关是否有规章制定权？" in f.message for f in nb303)


def test_roster_level_wins_over_the_name():
    spec = get_spec("2021")
    cur, prev = clean_pair(spec, "教育局", rules=True)
    cur.level = PREFECTURE
    assert [f for f in check_report(cur, spec, previous=prev) if f.code == "NB303"] == []
    cur.level = COUNTY
    assert [f for f in check_report(cur, spec, previous=prev) if f.code == "NB303"]


def _issues(book) -> list[tuple]:
    import openpyxl

    ws = openpyxl.load_workbook(book, read_only=True)["问题清单"]
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    return [dict(zip(head, r, strict=False)) for r in rows[1:]]


@pytest.mark.slow
def test_aggregate_takes_the_level_from_the_roster(tmp_path):
    """Two units whose names say nothing of their level; the roster's 层级 does."""
    from typer.testing import CliRunner

    from nianbao.cli import app
    from nianbao.template import write_template

    spec = get_spec("2021")
    src = tmp_path / "报送"
    src.mkdir()
    for unit in ("甲单位", "乙单位", "丙单位"):
        cur, _ = clean_pair(spec, unit, rules=True)
        write_template(src / f"{unit}.xlsx", spec, unit=unit, year=2025, values=cur.values)
    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称,层级\n甲单位,市级\n乙单位,县级\n丙单位,\n", encoding="utf-8")
    out = tmp_path / "汇总.xlsx"
    res = CliRunner().invoke(app, ["aggregate", str(src), "-o", str(out), "--roster", str(roster)])
    assert res.exit_code in (0, 1), res.output
    nb303 = {}
    for row in _issues(out):
        if row.get("代码") == "NB303":
            nb303.setdefault(row["单位"], []).append(row["说明"])
    assert "甲单位" not in nb303  # 设区的市级: makes 规章
    assert nb303["乙单位"] and all("其他机关一般应为 0" in m for m in nb303["乙单位"])
    assert nb303["丙单位"] and all("是否有规章制定权" in m for m in nb303["丙单位"])


def test_spec_refuses_an_unknown_level(tmp_path):
    from nianbao.spec import SpecError, load_spec, templates_dir

    text = (templates_dir() / "gov-info-disclosure-2021.yaml").read_text(encoding="utf-8")
    assert "levels: [county, township]" in text
    bad = tmp_path / "gov-info-disclosure-2021.yaml"
    bad.write_text(text.replace("levels: [county, township]", "levels: [county, village]"), encoding="utf-8")
    with pytest.raises(SpecError, match="levels"):
        load_spec(bad)

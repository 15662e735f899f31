"""Rules of the spec applied to reports built in memory: each rule, each cell, each number."""

from decimal import Decimal

import pytest

from conftest import FORMS
from nianbao.checks import check_report
from nianbao.layout import workbook_layout
from nianbao.model import Report
from nianbao.samples import consistent_values
from nianbao.spec import get_spec


def make_report(version="2021", seed=1, **changes):
    spec = get_spec(version)
    lay = workbook_layout(spec)
    r = Report(path="x.xlsx", form=version)
    r.values = dict(consistent_values(spec, seed))
    r.values.update({k: Decimal(str(v)) for k, v in changes.items()})
    r.where = {k: (*lay.cell(k)[0:1], lay.cell(k)[1].ref) for k in spec.cells}
    return spec, lay, r


@pytest.mark.parametrize("version", FORMS)
@pytest.mark.parametrize("seed", range(5))
def test_consistent_report_has_no_findings(version, seed):
    spec, _, r = make_report(version, seed)
    assert check_report(r, spec) == []


@pytest.mark.parametrize("code", ["NB201", "NB202", "NB203", "NB204"])
@pytest.mark.parametrize("version", FORMS)
def test_each_relation_reports_its_target_cell(code, version):
    spec, lay, r = make_report(version)
    rule = next(x for x in spec.rules if x.code == code)
    before = r.values[rule.target]
    r.values[rule.target] = before + 3
    found = [f for f in check_report(r, spec) if f.code == code]
    assert len(found) == 1
    f = found[0]
    sheet, box = lay.cell(rule.target)
    assert (f.sheet, f.cell) == (sheet, box.ref)
    assert (f.expected, f.actual) == (str(before), str(before + 3))
    cell = spec.cells[rule.target]
    assert f.table == cell.table.name and f.row == cell.row_label and f.column == cell.col_label
    assert str(before) in f.message and str(before + 3) in f.message
    assert f.severity == "error"
    # every other cell of the relation is named
    assert len(f.related) == len(rule.cells()) - 1


def test_message_of_seven_total_reads_like_the_issue_example():
    spec, _lay, r = make_report()
    r.values["nb_t3_r_total_natural"] += 1
    f = next(f for f in check_report(r, spec) if f.code == "NB202")
    exp = r.values["nb_t3_r_total_natural"] - 1
    assert f.message == f"表三“（七）总计 / 自然人”应为 {exp}（各办理结果之和），实为 {exp + 1}"


def test_balance_rule_reports_the_carry_over_cell():
    spec, lay, r = make_report()
    r.values["nb_t3_new_commercial"] += 2
    r.values["nb_t3_new_total"] += 2  # keep the row total right: only the balance fails
    fs = check_report(r, spec)
    assert [f.code for f in fs] == ["NB203", "NB203"]  # 商业企业 and 总计 columns
    targets = ["nb_t3_carry_next_commercial", "nb_t3_carry_next_total"]
    assert {f.column for f in fs} == {spec.cells[k].col_label for k in targets}
    assert all(f.row == spec.cells[targets[0]].row_label for f in fs)
    assert sorted((f.sheet, f.cell) for f in fs) == sorted(
        (lay.cell(k)[0], lay.cell(k)[1].ref) for k in targets
    )


def test_kinds_negative_decimal_and_places():
    spec, lay, r = make_report()
    r.values["nb_t3_deny_1_natural"] = Decimal(-1)
    r.values["nb_t3_deny_2_natural"] = Decimal("1.5")
    r.values["nb_t2_fee_amount"] = Decimal("1.1234567")
    codes = {(f.code, f.cell) for f in check_report(r, spec)}
    assert ("NB103", lay.cell("nb_t3_deny_1_natural")[1].ref) in codes
    assert ("NB104", lay.cell("nb_t3_deny_2_natural")[1].ref) in codes
    assert ("NB106", lay.cell("nb_t2_fee_amount")[1].ref) in codes


@pytest.mark.parametrize("version", FORMS)
def test_amounts_in_wan_yuan_may_have_six_decimals(version):
    """万元 to the 分: a real 行政事业性收费 of 24252.311082 万元 is valid."""
    spec, _lay, r = make_report(version)
    amounts = [k for k, c in spec.cells.items() if not spec.kinds[c.kind].integer]
    assert amounts
    for k in amounts:
        r.values[k] = Decimal("24252.311082")
    assert not [f for f in check_report(r, spec) if f.key in amounts]


def test_signed_kind_accepts_negative_in_2019():
    spec, _lay, r = make_report("2019", nb_t2_license_change=-3)
    assert not [f for f in check_report(r, spec) if f.key == "nb_t2_license_change"]


def test_rules_warning_on_nonzero_rules_row():
    spec, lay, r = make_report(nb_t2_rules_valid=6)
    fs = check_report(r, spec)
    assert [(f.code, f.severity, f.key) for f in fs] == [("NB303", "warning", "nb_t2_rules_valid")]
    assert (fs[0].sheet, fs[0].cell) == (
        lay.cell("nb_t2_rules_valid")[0],
        lay.cell("nb_t2_rules_valid")[1].ref,
    )


def test_blank_cells_warn_once_per_table_or_error_each():
    spec, lay, r = make_report()
    for k in ("nb_t4_review_upheld", "nb_t4_review_total", "nb_t3_deny_1_natural"):
        r.values[k] = None
        r.blank.append(k)
    fs = [f for f in check_report(r, spec) if f.code == "NB101"]
    assert len(fs) == 2 and all(f.severity == "warning" for f in fs)
    t4 = next(f for f in fs if f.table == spec.table("t4").name)
    (sheet, upheld), (_, total) = lay.cell("nb_t4_review_upheld"), lay.cell("nb_t4_review_total")
    assert (t4.sheet, t4.cell, t4.related) == (sheet, upheld.ref, [total.ref])
    errs = [f for f in check_report(r, spec, blank="error") if f.code == "NB101"]
    assert len(errs) == 3 and all(f.severity == "error" for f in errs)
    assert sorted(f.cell for f in errs) == sorted(
        lay.cell(k)[1].ref for k in ("nb_t4_review_upheld", "nb_t4_review_total", "nb_t3_deny_1_natural")
    )


def test_empty_report_is_not_a_report_of_zeros():
    spec, _lay, r = make_report()
    r.values = {k: None for k in spec.cells}
    r.blank = list(spec.cells)
    r.empty = True
    fs = check_report(r, spec)
    assert [f.code for f in fs] == ["NB001"] and fs[0].severity == "error"


def test_year_over_year_rules():
    spec, lay, this = make_report(seed=2)
    _, _, last = make_report(seed=3)
    fs = check_report(this, spec, previous=last)
    carried = [f for f in fs if f.code == "NB301"]
    mismatched = [
        k
        for k in spec.cells
        if k.startswith("nb_t3_carried_")
        if this.values[k] != last.values[k.replace("carried", "carry_next")]
    ]
    assert len(carried) == len(mismatched) > 0
    assert sorted((f.sheet, f.cell, f.severity) for f in carried) == sorted(
        (lay.cell(k)[0], lay.cell(k)[1].ref, "warning") for k in mismatched
    )
    # make them agree: no NB301
    for k in mismatched:
        last.values[k.replace("carried", "carry_next")] = this.values[k]
    assert not [f for f in check_report(this, spec, previous=last) if f.code == "NB301"]
    # stock continuity: valid = last valid + issued - repealed
    last.values["nb_t2_normative_valid"] = Decimal(10)
    this.values.update(
        nb_t2_normative_issued=Decimal(3),
        nb_t2_normative_repealed=Decimal(1),
        nb_t2_normative_valid=Decimal(13),
    )
    f = next(f for f in check_report(this, spec, previous=last) if f.code == "NB302")
    assert (f.expected, f.actual, f.severity) == ("12", "13", "warning")
    assert (f.sheet, f.cell) == (
        lay.cell("nb_t2_normative_valid")[0],
        lay.cell("nb_t2_normative_valid")[1].ref,
    )
    # more repealed than last year's stock plus this year's issued: NB304 at the repealed cell
    last.values["nb_t2_normative_valid"] = Decimal(1)
    this.values.update(nb_t2_normative_issued=Decimal(0), nb_t2_normative_repealed=Decimal(5))
    f = next(f for f in check_report(this, spec, previous=last) if f.code == "NB304")
    sheet, box = lay.cell("nb_t2_normative_repealed")
    assert (f.sheet, f.cell, f.expected, f.actual, f.severity) == (sheet, box.ref, "1", "5", "warning")
    # without last year's data none of the year-over-year rules runs
    assert not [f for f in check_report(this, spec) if f.code in ("NB301", "NB302", "NB304")]


def test_2019_public_total_below_newly_published():
    spec, lay, r = make_report("2019")
    r.values["nb_t2_normative_published"] = r.values["nb_t2_normative_public_total"] + 1
    fs = check_report(r, spec)
    sheet, box = lay.cell("nb_t2_normative_public_total")
    assert [(f.code, f.severity, f.sheet, f.cell) for f in fs] == [("NB305", "warning", sheet, box.ref)]
    assert fs[0].expected == str(r.values["nb_t2_normative_published"])


def test_previous_year_on_the_other_form_compares_shared_cells():
    spec, lay, this = make_report("2021", seed=4)
    _, _, last = make_report("2019", seed=4)
    fs = check_report(this, spec, previous=last)
    assert all(f.code in ("NB301",) for f in fs if f.code.startswith("NB30"))
    # 上年结转 is compared cell by cell with the 2019 form's 结转下年度继续办理 (same keys)
    mismatched = [
        k
        for k in spec.cells
        if k.startswith("nb_t3_carried_")
        if this.values[k] != last.values[k.replace("carried", "carry_next")]
    ]
    assert mismatched
    assert sorted(f.cell for f in fs if f.code == "NB301") == sorted(lay.cell(k)[1].ref for k in mismatched)

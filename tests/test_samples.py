"""The bundled samples: rebuilt by the script in the repo, each one checks as its name says."""

import shutil

import pytest

from nianbao.inputs import collect
from nianbao.pipeline import read_and_check
from nianbao.samples import ERROR_CASES, build_samples

pytestmark = pytest.mark.slow

EXPECTED = {  # file name -> (status, finding codes that must be present, form)
    "绥阳县司法局-2022.xlsx": ("passed", set(), "2021"),
    "示例县教育局-2025-通过.xlsx": ("passed", set(), "2021"),
    "错误-负数.xlsx": ("failed", {"NB103"}, "2021"),
    "错误-件数带小数.xlsx": ("failed", {"NB104"}, "2021"),
    "错误-填写文字.xlsx": ("failed", {"NB102"}, "2021"),
    "警告-表四留空.xlsx": ("passed", {"NB101"}, "2021"),
    "错误-未填写.xlsx": ("failed", {"NB001"}, "2021"),
    "空白模板-2021.xlsx": ("failed", {"NB001"}, "2021"),
    "旧表式-2019.xlsx": ("passed", set(), "2019"),
    "手工制表-半角标点.xlsx": ("passed", set(), "2021"),
    **{f"{stem}.xlsx": ("failed", {code}, "2021") for stem, code in ERROR_CASES.items()},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("样例")
    made = build_samples(out)
    return {p.name: p for p in made}


def test_every_sample_is_built(built):
    assert set(EXPECTED) <= set(built)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_checks_as_named(built, name):
    status, codes, form = EXPECTED[name]
    r = read_and_check(collect([built[name]]).items[0])
    assert r.status == status, [f.message for f in r.findings]
    assert codes <= {f.code for f in r.findings}
    assert r.form == form
    if status == "passed" and not codes:
        assert r.findings == []


def test_seed_sample_holds_the_seed_reports_zeros(built):
    r = read_and_check(collect([built["绥阳县司法局-2022.xlsx"]]).items[0])
    assert (r.unit, r.year) == ("绥阳县司法局", 2022)
    assert r.values and all(v == 0 for v in r.values.values())
    good = read_and_check(collect([built["示例县教育局-2025-通过.xlsx"]]).items[0])
    assert any(v for v in good.values.values())  # the realistic sample is not all zero


def test_handmade_layout_is_found_by_its_labels(built):
    r = read_and_check(collect([built["手工制表-半角标点.xlsx"]]).items[0])
    assert r.source == "labels" and r.unit == "示例县手工制表单位" and r.year == 2025


@pytest.mark.libreoffice
def test_xls_sample_reads_like_its_xlsx(built):
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        pytest.skip("未安装 LibreOffice，无法生成 .xls 样例")
    assert "旧版Excel-97-2003.xls" in built  # LibreOffice is there: the conversion must not fail silently
    a = read_and_check(collect([built["旧版Excel-97-2003.xls"]]).items[0])
    b = read_and_check(collect([built["示例县教育局-2025-通过.xlsx"]]).items[0])
    assert a.status == "passed" and a.values == b.values


def test_committed_samples_match_the_script(built):
    """samples/ in the repo is the script's output (same files, same values)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1] / "samples"
    committed = {p.name for p in repo.iterdir() if not p.name.startswith(".")}
    assert committed == set(built)
    for name in sorted(committed):
        a = read_and_check(collect([repo / name]).items[0])
        b = read_and_check(collect([built[name]]).items[0])
        assert (a.values, a.unit, a.year, a.status) == (b.values, b.unit, b.year, b.status), name

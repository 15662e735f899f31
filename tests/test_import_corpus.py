"""The importer on the committed corpus (tests/corpus): reports written by ``nianbao publish``
and run through real converters, and damaged shapes seen in published reports. Remade by
``python tests/corpus/make_corpus.py``; the accuracy table in docs/import-accuracy.md by
``python tests/corpus/measure.py``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from nianbao.importers import read_report_file
from nianbao.inputs import Input

CORPUS = Path(__file__).resolve().parent / "corpus"
TRUTH = json.loads((CORPUS / "truth.json").read_text(encoding="utf-8"))
# shapes whose table cells cannot all be placed with certainty: nothing wrong, the rest named
PARTIAL = {
    "published/r2021-bureau.pdftotext.txt",
    "published/r2021-gov.pdftotext.txt",
    "published/r2019-bureau.pdftotext.txt",
    "published/r2019-gov.pdftotext.txt",
}


@pytest.mark.slow
@pytest.mark.parametrize("rel", sorted(TRUTH))
def test_corpus_file(rel):
    facts = TRUTH[rel]
    r = read_report_file(Input.of(CORPUS / rel))
    assert not r.unreadable, [f.message for f in r.findings]
    assert r.form == facts["form"]
    assert (r.unit, r.year) == (facts["unit"], facts["year"])
    expected = facts["values"]
    # "" must come out blank (a "-" cell), "?" must not be imported (a number with a foreign unit)
    assert all(k in r.blank for k, v in expected.items() if v == "")
    assert all(k in r.invalid for k, v in expected.items() if v == "?")
    wrong = {
        k: (str(r.values[k]), v)
        for k, v in expected.items()
        if r.values.get(k) is not None and (v in ("", "?") or r.values[k] != Decimal(v))
    }
    assert not wrong
    missing = [k for k, v in expected.items() if r.values.get(k) is None and v not in ("", "?")]
    if rel in PARTIAL:
        assert set(missing) <= r.invalid  # every cell not read is named by a finding
        assert any(f.code == "NB003" for f in r.findings)
    else:
        assert not missing
        named = [f for f in r.findings if f.code in ("NB002", "NB003", "NB006", "NB102")]
        assert [f.key for f in named] == [k for k, v in expected.items() if v == "?"]
    if not facts["unit"]:
        assert any(f.code == "NB004" for f in r.findings)  # never a guess such as 政府


@pytest.mark.libreoffice
@pytest.mark.parametrize("case", [0, 3])
def test_our_own_published_word_and_pdf_import_without_findings(tmp_path, case):
    """publish writes the report (with last year's change sentences for case 0); imported
    again, as Word and as PDF, the issuer, year and every number come back, and no prose
    sentence is read as a table row."""
    import shutil
    import sys

    if not (shutil.which("soffice") or shutil.which("libreoffice")):
        pytest.skip("LibreOffice (soffice) not installed")
    sys.path.insert(0, str(CORPUS))
    import make_corpus

    name, form, unit, year, seed = make_corpus.REPORTS[case]
    docx, _html, facts = make_corpus._publish(tmp_path, name, form, unit, year, seed)
    make_corpus._soffice(["--convert-to", "pdf", "--outdir", str(tmp_path), str(docx)], tmp_path)
    for path in (docx, tmp_path / f"{name}.pdf"):
        r = read_report_file(Input.of(path))
        assert (r.form, r.unit, r.year) == (form, unit, year)
        assert {k: str(v) for k, v in r.values.items()} == facts["values"]
        assert not [f.message for f in r.findings]


def _read_text(text: str, name: str):
    from nianbao.importers import parse_text

    return parse_text(text, name)


def test_fuzzy_label_and_unit_conversion_are_said_with_the_text_as_printed():
    r = read_report_file(Input.of(CORPUS / "damaged" / "pdf-broken-2021.txt"))
    fuzzy = [f.message for f in r.findings if f.code == "NB007"]
    assert len(fuzzy) == 1 and "“2.其他法律行政法规禁公开”" in fuzzy[0] and "禁止公开" in fuzzy[0]
    r = read_report_file(Input.of(CORPUS / "damaged" / "units-2021.txt"))
    conv = [f for f in r.findings if f.code == "NB007" and f.key == "nb_t2_fee_amount"]
    assert conv and "元" in conv[0].actual and "万元" in conv[0].message
    rejected = [f for f in r.findings if f.code == "NB102"]
    assert len(rejected) == 1 and "千元" in rejected[0].message


def test_run_on_rows_with_a_number_missing_are_named_not_guessed():
    text = (CORPUS / "damaged" / "pdf-broken-2021.txt").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.count("|") == 2)
    broken = line.rsplit(" ", 1)[0]  # the last group loses a number
    r = _read_text(text.replace(line, broken), "年报.txt")
    truth = TRUTH["damaged/pdf-broken-2021.txt"]["values"]
    rows = ("r_open", "r_partial", "deny_1")
    named = [f for f in r.findings if f.code == "NB003" and "组数值" in f.message]
    assert len(named) == 3
    for k, v in truth.items():
        if any(k.startswith(f"nb_t3_{x}_") for x in rows):
            assert r.values[k] is None and k in r.invalid
        elif v not in ("", "?"):
            assert r.values[k] == Decimal(v), k

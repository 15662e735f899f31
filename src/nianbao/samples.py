"""Build the bundled sample workbooks (``samples/``) and consistent test data from the spec.

python -m nianbao.samples samples/
"""

from __future__ import annotations

import random
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

from .spec import Spec, form_for_year, get_spec


def _min_of(spec: Spec, key: str):
    return spec.kinds[spec.cells[key].kind].low


def _random_value(spec: Spec, key: str, rng: random.Random) -> Decimal:
    cell = spec.cells[key]
    kind = spec.kinds[cell.kind]
    if not kind.integer:
        return Decimal(rng.randint(0, 999999)) / 100
    if kind.min is None:
        return Decimal(rng.randint(-5, 5))
    first = cell.section.leaf_columns()[0] is cell.col  # e.g. 自然人 carries most applications
    hi = 40 if first else 4
    return Decimal(rng.choice([0, 0, rng.randint(0, hi), rng.randint(0, hi)]))


def consistent_values(spec: Spec, seed: int = 0) -> dict[str, Decimal]:
    """Random but plausible values satisfying every rule of ``spec`` that needs no previous year."""
    rng = random.Random(seed)
    vals = {k: _random_value(spec, k, rng) for k in spec.cells}
    rules = [r for r in spec.rules if not r.uses_previous]
    for _ in range(8):
        changed = False
        for r in rules:
            lin = r.linear()
            cur = vals[r.target]
            want = lin.solve(r.target, vals)
            low = _min_of(spec, r.target)
            if low is not None and want < low:
                # raise a term on the other side instead of going negative
                in_lhs = any(t.cell == r.target for t in r.lhs)
                other = r.rhs if in_lhs else r.lhs
                bump = next((t for t in other if t.sign > 0 and t.cell != r.target), None)
                if bump is not None:
                    vals[bump.cell] += low - want
                    want = low
                    changed = True
            if want != cur:
                vals[r.target] = want
                changed = True
        if not changed:
            break
    return vals


def _ascii_label(text: str) -> str:
    """How people retype labels: ASCII punctuation and a stray space or two."""
    s = unicodedata.normalize("NFKC", text)
    if len(s) > 4:
        s = s[:2] + " " + s[2:]
    return s


def write_handmade(path: Path, spec: Spec, values: dict, unit: str, year: int) -> None:
    """A workbook rebuilt by hand from the published format: one sheet, ASCII punctuation,
    no metadata, an extra blank row and column, tables in the official order."""
    import openpyxl

    from .layout import workbook_layout

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "年报数据"
    ws["A1"] = f"{unit}{year}年政府信息公开工作年度报告"
    labels = {c.key: c.label for c in spec.cover}
    ws["A2"], ws["B2"] = labels["unit"], unit
    ws["C2"], ws["D2"] = labels["year"], year
    row_off = 3
    for tl in workbook_layout(spec).tables:
        ws.cell(row=row_off + 1, column=2, value=_ascii_label(tl.table.title))
        base = row_off + 2 - tl.first_row
        for b in tl.boxes:
            r, c = base + b.row, b.col + 2  # one inserted column on the left
            if b.role == "value":
                v = values.get(b.key)
                ws.cell(row=r, column=c, value=None if v is None else (int(v) if v == int(v) else float(v)))
            else:
                ws.cell(row=r, column=c, value=_ascii_label(b.text))
            if b.merged:
                ws.merge_cells(
                    start_row=r, start_column=c, end_row=r + b.nrows - 1, end_column=c + b.ncols - 1
                )
        row_off = base + tl.last_row + 2  # a blank row between tables
    wb.save(path)


ERROR_CASES = {
    # file stem -> how to break a consistent report (by rule code, from the spec)
    "错误-行总计不符": "NB201",
    "错误-七总计不符": "NB202",
    "错误-勾稽关系不符": "NB203",
    "错误-表四总计不符": "NB204",
}


def _break_rule(spec: Spec, values: dict, code: str) -> None:
    rule = next(r for r in spec.rules if r.code == code)
    values[rule.target] = values[rule.target] + 1


def build_samples(out: Path) -> list[Path]:
    from .template import write_template

    out.mkdir(parents=True, exist_ok=True)
    # each sample in the form of its report year; the blank template in the newest form
    s21, s19, newest = get_spec(form_for_year(2025)), get_spec(form_for_year(2020)), get_spec()
    made: list[Path] = []

    def w(name: str, spec: Spec, unit: str, year: int, values=None, **cover):
        p = out / name
        filled = (
            {"filler": "张三", "phone": "0851-12345678", "date": f"{year + 1}-01-10", **cover}
            if year
            else None
        )
        write_template(p, spec, unit=unit, year=year, values=values, cover=filled)
        made.append(p)

    w(f"空白模板-{newest.version}.xlsx", newest, None, None)
    w("绥阳县司法局-2022.xlsx", s21, "绥阳县司法局", 2022, {k: 0 for k in s21.cells})
    good = consistent_values(s21, seed=7)
    w("示例县教育局-2025-通过.xlsx", s21, "示例县教育局", 2025, good)
    for stem, code in ERROR_CASES.items():
        v = dict(consistent_values(s21, seed=11))
        _break_rule(s21, v, code)
        w(f"{stem}.xlsx", s21, f"示例县{stem[3:]}单位", 2025, v)
    v = dict(good)
    v["nb_t3_new_natural"] = -3
    w("错误-负数.xlsx", s21, "示例县负数单位", 2025, v)
    v = dict(good)
    v["nb_t3_r_open_natural"] = Decimal("2.5")
    w("错误-件数带小数.xlsx", s21, "示例县小数单位", 2025, v)
    v = dict(good)
    v["nb_t4_review_upheld"] = "无"
    w("错误-填写文字.xlsx", s21, "示例县文字单位", 2025, v)
    v = {k: val for k, val in good.items() if not k.startswith("nb_t4_")}
    w("警告-表四留空.xlsx", s21, "示例县留空单位", 2025, v)
    w("错误-未填写.xlsx", s21, "示例县未填写单位", 2025, {})
    w("旧表式-2019.xlsx", s19, "示例县旧表式单位", 2020, consistent_values(s19, seed=3))
    p = out / "手工制表-半角标点.xlsx"
    write_handmade(p, s21, consistent_values(s21, seed=5), "示例县手工制表单位", 2025)
    made.append(p)
    xls = _to_xls(out / "示例县教育局-2025-通过.xlsx", out)
    if xls:
        made.append(xls)
    return made


RETURN_DATES = ("{y}-01-12", "{y}.1.12", "{y}年1月9日", "{y}/01/14")  # as clerks type them


def build_returns(out: Path, units: list[str], year: int) -> list[Path]:
    """Every unit's corrected return of ``year`` (consistent values, in the form of that year):
    the second round of the demo, after the units with problems sent their files again."""
    from .template import write_template

    out.mkdir(parents=True, exist_ok=True)
    spec = get_spec(form_for_year(year))
    made = []
    for i, unit in enumerate(units):
        p = out / f"{unit}.xlsx"
        cover = {
            "filler": "李四",
            "phone": "0851-12345678",
            "date": RETURN_DATES[i % len(RETURN_DATES)].format(y=year + 1),
        }
        write_template(
            p, spec, unit=unit, year=year, values=consistent_values(spec, seed=100 + i), cover=cover
        )
        made.append(p)
    return made


def _to_xls(src: Path, out: Path) -> Path | None:
    """An .xls copy through LibreOffice when it is installed (else None)."""
    import shutil
    import subprocess
    import tempfile

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{tmp}/profile",
                "--headless",
                "--convert-to",
                "xls",
                "--outdir",
                tmp,
                str(src),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        made = Path(tmp) / (src.stem + ".xls")
        if not made.exists():
            return None
        target = out / "旧版Excel-97-2003.xls"
        shutil.copyfile(made, target)
        return target


if __name__ == "__main__":  # pragma: no cover
    dest = Path(sys.argv[1] if len(sys.argv) > 1 else "samples")
    for p in build_samples(dest):
        print(p)

"""Mutation run: well over 1,000 broken workbooks through the check pipeline.

A few real workbooks (our filled 2021 and 2019 templates, an empty template, a hand-made
layout found by its labels) are broken at random with a fixed seed: bytes flipped in the zip,
the zip cut short, XML parts truncated, stripped of tags, salted with junk, deleted or swapped
(and recompressed into a valid zip), relationships pointed elsewhere, cells replaced with
random strings, types, errors, formulas and huge numbers, cell references far away. Every
file must get exactly one result, none an internal error (NB005) or a dead worker, and no input
may change. The counts are printed so that the run shows in CI logs.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
import time
import zipfile
import zlib
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest

import hostile_files as H
from nianbao.samples import write_handmade
from nianbao.spec import get_spec
from nianbao.template import write_template

pytestmark = pytest.mark.slow

SEED = 20250601
N_FILES = 2500
S19 = get_spec("2019")

JUNK = [
    "<",
    ">",
    "&",
    "&amp;",
    "&#0;",
    "&#xD800;",
    "]]>",
    "<!--",
    "\x00",
    "\ufffd",
    "\u202e",
    '<c r="A1">',
    "</row>",
    '<row r="0">',
    "<f>",
    "</sheetData>",
    "<v>1e999</v>",
    "表三",
    "（七）总计",
    "=SUM(",
    "'",
    '"',
    ' r="XFD1048576"',
    "<is><t>",
    "\ud7ff",
]
VALUES = [
    "",
    "abc",
    "三件",
    "—",
    "4.0",
    " 12 ",
    "１２",
    "-3",
    "1e308",
    "1e999",
    "-1e999",
    "NaN",
    "inf",
    "9" * 400,
    "0.00000001",
    "1/2",
    "#DIV/0!",
    "TRUE",
    "=1+1",
    "@SUM(A1)",
    "\u3000",
    "x" * 5000,
]
CELL_SHAPES = [
    '<c r="{r}" t="inlineStr"><is><t>{s}</t></is></c>',
    '<c r="{r}" t="str"><v>{s}</v></c>',
    '<c r="{r}"><v>{n}</v></c>',
    '<c r="{r}" t="b"><v>{b}</v></c>',
    '<c r="{r}" t="e"><v>{e}</v></c>',
    '<c r="{r}" t="s"><v>{i}</v></c>',
    '<c r="{r}" t="d"><v>2025-13-45T99:00:00</v></c>',
    '<c r="{r}"><f>{f}</f></c>',
    '<c r="{r}"><f>{f}</f><v>{n}</v></c>',
    '<c r="{r}"><f t="shared" si="{i}"/></c>',
    '<c r="{r}" t="n"><v>{s}</v></c>',
    '<c r="{r}"/>',
    "",
]
FORMULAS = [
    "1/0",
    "SUM(A1:XFD1048576)",
    "D7+D7",
    "{r}+1",
    "SUM(D7:J31)*1e300",
    "'不存在'!A1",
    "#REF!+1",
    'INDIRECT("A1")',
    "((((((((((1))))))))))",
    "-" * 200 + "1",
    "SUM(",
    "1+",
    "表三!D7",
    "D7:D9",
    "10^400",
    '"abc"+1',
]
ERRORS = ["#DIV/0!", "#REF!", "#N/A", "#VALUE!", "#NAME?", "#NUM!", "#NULL!", "#GETTING_DATA", "junk"]


# ---- the seed workbooks ----------------------------------------------------------------------


def seeds(folder: Path) -> list[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    a = H.good_workbook(folder / "a.xlsx", seed=1)
    b = folder / "b.xlsx"
    write_template(
        b, S19, unit="县档案局", year=2019, values={k: int(v) for k, v in H.consistent_values(S19, 2).items()}
    )
    c = folder / "c.xlsx"
    write_template(c, H.S21, unit="县空白局", year=2025)
    d = folder / "d.xlsx"
    write_handmade(d, H.S21, H.consistent_values(H.S21, 3), "县手工局", 2025)
    return [_fixed(p.read_bytes()) for p in (a, b, c, d)]


# ---- mutations -------------------------------------------------------------------------------


def _parts(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(BytesIO(data)) as z:
        return [(i, z.read(i)) for i in z.infolist()]


FIXED_TIME = (2025, 1, 1, 0, 0, 0)
_STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?")


def _zip(parts, rng: random.Random) -> bytes:
    """Re-zip ``parts`` with fixed member times, so that a seed always gives the same bytes."""
    buf = BytesIO()
    method = rng.choice([zipfile.ZIP_DEFLATED, zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
    with zipfile.ZipFile(buf, "w", method) as z:
        for info, blob in parts:
            z.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), blob, compress_type=method)
    return buf.getvalue()


def _fixed(data: bytes) -> bytes:
    """A seed workbook without its creation times (document properties, zip members)."""
    parts = [(i, _STAMP.sub(b"2025-01-01T00:00:00Z", b)) for i, b in _parts(data)]
    return _zip(parts, random.Random(0))


def _xml_parts(parts) -> list[int]:
    return [n for n, (i, _) in enumerate(parts) if i.filename.endswith((".xml", ".rels"))]


def _sheet_parts(parts) -> list[int]:
    return [n for n, (i, _) in enumerate(parts) if i.filename.startswith("xl/worksheets/")] or _xml_parts(
        parts
    )


def _ref(rng: random.Random) -> str:
    if rng.random() < 0.1:
        return rng.choice(["XFD1048576", "A1048576", "IV65536", "ZZZ1", "A0", "", "a1", "D7 "])
    col = "".join(rng.choice("ABCDEFGHIJ") for _ in range(rng.choice([1, 1, 1, 2])))
    return f"{col}{rng.randint(1, 40)}"


def _xml_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def flip_bytes(data, rng):
    b = bytearray(data)
    for _ in range(rng.randint(1, 24)):
        b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b)


def cut_zip(data, rng):
    return data[: rng.randrange(len(data))]


def truncate_part(data, rng):
    parts = _parts(data)
    n = rng.choice(_xml_parts(parts))
    info, blob = parts[n]
    parts[n] = (info, blob[: rng.randrange(max(1, len(blob)))])
    return _zip(parts, rng)


def strip_tags(data, rng):
    parts = _parts(data)
    n = rng.choice(_xml_parts(parts))
    info, blob = parts[n]
    tags = list(re.finditer(rb"<[^>]{0,200}>", blob))
    for m in sorted(rng.sample(tags, min(len(tags), rng.randint(1, 30))), key=lambda m: -m.start()):
        blob = blob[: m.start()] + blob[m.end() :]
    parts[n] = (info, blob)
    return _zip(parts, rng)


def insert_junk(data, rng):
    parts = _parts(data)
    n = rng.choice(_xml_parts(parts))
    info, blob = parts[n]
    for _ in range(rng.randint(1, 10)):
        at = rng.randrange(len(blob) + 1)
        junk = (
            rng.choice(JUNK)
            if rng.random() < 0.8
            else bytes(rng.randrange(256) for _ in range(8)).decode("latin-1")
        )
        blob = blob[:at] + junk.encode("utf-8", "surrogatepass") + blob[at:]
    parts[n] = (info, blob)
    return _zip(parts, rng)


def replace_cells(data, rng):
    parts = _parts(data)
    n = rng.choice(_sheet_parts(parts))
    info, blob = parts[n]
    cells = list(re.finditer(rb"<c r=\"[A-Z]+\d+\"[^>]*?(?:/>|>.*?</c>)", blob, re.DOTALL))
    numbers = [m for m in cells if re.match(rb'<c r="[A-Z]+\d+"(?: s="\d+")?><v>', m.group(0))]
    if numbers and rng.random() < 0.7:
        cells = numbers  # mostly the value cells of the tables
    if not cells:
        return insert_junk(data, rng)
    for m in sorted(rng.sample(cells, min(len(cells), rng.randint(1, 40))), key=lambda m: -m.start()):
        ref = m.group(0)[6:].split(b'"', 1)[0].decode() if rng.random() < 0.8 else _ref(rng)
        cell = rng.choice(CELL_SHAPES).format(
            r=ref,
            s=_xml_text(rng.choice(VALUES)),
            n=rng.choice(["1e308", "-0", "12", "3.5", "1E+20", "99999999999999999999", "NaN", "-7"]),
            b=rng.choice(["0", "1", "2", "yes"]),
            e=rng.choice(ERRORS),
            i=rng.choice([0, 5, 999999, -1]),
            f=_xml_text(rng.choice(FORMULAS).format(r=ref)),
        )
        blob = blob[: m.start()] + cell.encode() + blob[m.end() :]
    parts[n] = (info, blob)
    return _zip(parts, rng)


def far_refs(data, rng):
    parts = _parts(data)
    n = rng.choice(_sheet_parts(parts))
    info, blob = parts[n]
    refs = list(re.finditer(rb' r="[A-Z]*\d+"', blob))
    for m in sorted(rng.sample(refs, min(len(refs), rng.randint(1, 5))), key=lambda m: -m.start()):
        new = rng.choice(
            [
                b' r="XFD1048576"',
                b' r="A1048576"',
                b' r="XFD1"',
                b' r="ZZZZ9"',
                b' r="A99999999999"',
                b' r="1"',
                b' r=""',
                b" r='B2'",
            ]
        )
        blob = blob[: m.start()] + new + blob[m.end() :]
    parts[n] = (info, blob)
    return _zip(parts, rng)


def drop_part(data, rng):
    parts = _parts(data)
    del parts[rng.randrange(len(parts))]
    return _zip(parts, rng)


def swap_parts(data, rng):
    parts = _parts(data)
    a, b = rng.sample(range(len(parts)), 2)
    (ia, da), (ib, db) = parts[a], parts[b]
    parts[a], parts[b] = (ia, db), (ib, da)
    return _zip(parts, rng)


def mangle_rels(data, rng):
    parts = _parts(data)
    rels = [
        n for n, (i, _) in enumerate(parts) if i.filename.endswith(".rels") or i.filename == "xl/workbook.xml"
    ]
    n = rng.choice(rels)
    info, blob = parts[n]
    targets = list(re.finditer(rb'(Target|r:id|name)="[^"]*"', blob))
    for m in rng.sample(targets, min(len(targets), rng.randint(1, 4))):
        key = m.group(1)
        val = rng.choice(
            [
                b"../../../../etc/passwd",
                b"http://example.invalid/x.xml",
                b"",
                b"rId999",
                b"xl/worksheets/sheet1.xml",
                b"/xl/../xl/./worksheets/sheet9.xml",
                "表三".encode(),
                b"a" * 300,
                "填报信息".encode(),
            ]
        )
        blob = blob[: m.start()] + key + b'="' + val + b'"' + blob[m.end() :]
    parts[n] = (info, blob)
    return _zip(parts, rng)


def lie_about_size(data, rng):
    """Patch the uncompressed sizes recorded in the zip's central directory."""
    b = bytearray(data)
    for m in re.finditer(rb"PK\x01\x02", bytes(b)):
        if rng.random() < 0.3:
            at = m.start() + 24
            b[at : at + 4] = rng.choice([0, 1, 0x7FFFFFFF, 0xFFFFFFFF, rng.randrange(1 << 32)]).to_bytes(
                4, "little"
            )
    return bytes(b)


MUTATIONS = [
    flip_bytes,
    cut_zip,
    truncate_part,
    strip_tags,
    insert_junk,
    replace_cells,
    replace_cells,
    replace_cells,
    far_refs,
    drop_part,
    swap_parts,
    mangle_rels,
    lie_about_size,
]


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, list[str]]:
    names = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        fn = rng.choice(MUTATIONS)
        try:
            data = fn(data, rng)
        except (
            zipfile.BadZipFile,
            zlib.error,
            ValueError,
            EOFError,
            IndexError,
            OSError,
            NotImplementedError,
            RuntimeError,
        ):
            data = flip_bytes(data, rng)  # an earlier mutation left no zip to take apart
            fn = flip_bytes
        names.append(fn.__name__)
    return data, names


# ---- the run ---------------------------------------------------------------------------------


def build_corpus(root: Path, n: int = N_FILES, seed: int = SEED) -> tuple[Path, dict[str, list[str]]]:
    """``n`` mutated workbooks in ``root/变异 样本``; file path -> mutations applied."""
    bases = seeds(root / "seeds")
    weights = [3, 3, 1, 2]  # the filled workbooks more often than the empty template
    d = root / "变异 样本"
    d.mkdir()
    rng = random.Random(seed)
    kinds: dict[str, list[str]] = {}
    for i in range(n):
        base = rng.choices(bases, weights)[0]
        data, names = mutate(base, rng)
        name = f"{i:04d}-{'+'.join(names)}{rng.choice(['.xlsx', '.xlsx', '.xlsx', '.xlsm', '.XLSX', '.xls'])}"
        (d / name).write_bytes(data)
        kinds[str(d / name)] = names
    return d, kinds


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d, kinds = build_corpus(tmp_path_factory.mktemp("fuzz"))
    digests = {p: hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in kinds}
    return d, kinds, digests


def _log(capsys, text: str) -> None:
    with capsys.disabled():  # shown in CI logs without -s
        print(text, file=sys.stderr, flush=True)


def test_mutated_workbooks_through_the_pipeline(corpus, capsys):
    from nianbao.pipeline import collect_reports

    d, kinds, digests = corpus
    t = time.time()
    reports, skipped = collect_reports([d])
    secs = time.time() - t
    by_path = Counter(r.path for r in reports)
    assert set(by_path) == set(kinds) and set(by_path.values()) == {1}  # one result per file
    assert skipped == []
    statuses = Counter(r.status for r in reports)
    codes = Counter(f.code for r in reports for f in r.findings)
    internal = [
        (r.path, r.findings[0].message) for r in reports if any(f.code == "NB005" for f in r.findings)
    ]
    died = [
        (r.path, r.findings[0].message) for r in reports if r.findings and "异常退出" in r.findings[0].message
    ]
    by_mutation: dict[str, Counter] = {}
    for r in reports:
        for m in set(kinds[r.path]):
            by_mutation.setdefault(m, Counter())[r.status] += 1
    _log(
        capsys,
        f"\n[fuzz] {len(reports)} mutated workbooks (seed {SEED}) checked in {secs:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + f"; internal errors {len(internal)}; dead workers {len(died)}",
    )
    _log(
        capsys,
        "[fuzz] by mutation: "
        + "; ".join(
            f"{m} " + "/".join(f"{c[s]}" for s in ("passed", "failed", "unreadable"))
            for m, c in sorted(by_mutation.items())
        )
        + " (passed/failed/unreadable)",
    )
    _log(capsys, "[fuzz] finding codes: " + ", ".join(f"{k} {v}" for k, v in sorted(codes.items())))
    assert len(reports) >= 1000
    for r in reports:  # every result says what it is, in Chinese, naming the file when unreadable
        assert r.status in ("passed", "failed", "unreadable")
        if r.status != "passed":
            assert r.findings and all(re.search(r"[\u4e00-\u9fff]", f.message) for f in r.findings)
        if r.unreadable:
            assert r.findings[0].message.startswith(r.path + "：")
    assert not internal, internal[:10]
    assert not died, died[:10]
    for p, digest in digests.items():
        assert hashlib.sha256(Path(p).read_bytes()).hexdigest() == digest, p


def test_mutated_workbooks_through_the_cli(corpus, capsys):
    _, kinds, digests = corpus
    subset = sorted(kinds)[::12]  # every twelfth file, spread over the mutations
    p = subprocess.run(
        [sys.executable, "-m", "nianbao.cli", "check", *subset, "--format", "json"],
        capture_output=True,
        timeout=300,
        check=False,
        env={**__import__("os").environ, "PYTHONIOENCODING": "utf-8"},
    )
    out, err = p.stdout.decode("utf-8"), p.stderr.decode("utf-8")
    assert "Traceback" not in out + err and p.returncode in (0, 1), err[-2000:]
    doc = json.loads(out)
    assert [f["path"] for f in doc["files"]] == subset
    assert p.returncode == (1 if any(f["status"] != "passed" for f in doc["files"]) else 0)
    assert not [f for f in doc["files"] if any(x["code"] == "NB005" for x in f["findings"])]
    _log(
        capsys,
        f"[fuzz] CLI over {len(subset)} files: exit {p.returncode}, "
        + ", ".join(f"{k} {v}" for k, v in sorted(doc["summary"].items())),
    )
    for path in subset:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digests[path]


# ---- published reports (import): the same idea, smaller ---------------------------------------

N_REPORTS = 600
TEXT_JUNK = [
    *JUNK,
    '<td rowspan="999999">',
    '<td colspan="0">',
    "</table>",
    "<table>",
    "（七）总计",
    "\n",
    "|",
    "１２３",
    "-5",
    "1e999",
    "九",
    "<tr>",
    "表四",
    "行政复议",
]


def mutate_text(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 30)):
        op, at = rng.random(), rng.randrange(len(b) + 1)
        if op < 0.3:
            del b[at : at + rng.randint(1, 200)]
        elif op < 0.6:
            b[at:at] = rng.choice(TEXT_JUNK).encode("utf-8", "surrogatepass")
        elif op < 0.8 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        else:
            src = rng.randrange(len(b) + 1)
            b[at:at] = b[src : src + rng.randint(1, 300)]
    return bytes(b)


def test_mutated_reports_through_the_pipeline(tmp_path, capsys):
    from fixtures_import import report_html
    from nianbao.pipeline import collect_reports

    vals = {k: int(v) for k, v in H.consistent_values(H.S21, 5).items()}
    bases = {
        "docx": _fixed(H.good_report_docx(tmp_path / "s.docx").read_bytes()),
        "txt": H.good_report_text(tmp_path / "s.txt").read_bytes(),
        "html": report_html(vals).encode("utf-8"),
        "pdf": H.minimal_pdf("2025 1 2 3"),
    }
    d = tmp_path / "变异 报告"
    d.mkdir()
    rng = random.Random(SEED + 1)
    for i in range(N_REPORTS):
        kind = rng.choice(sorted(bases))
        data = mutate(bases[kind], rng)[0] if kind == "docx" else mutate_text(bases[kind], rng)
        (d / f"{i:04d}.{kind}").write_bytes(data)
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in d.iterdir()}
    reports, _ = collect_reports([d])
    assert sorted(r.path for r in reports) == sorted(str(p) for p in digests)
    statuses = Counter(r.status for r in reports)
    internal = [
        (r.path, r.findings[0].message) for r in reports if any(f.code == "NB005" for f in r.findings)
    ]
    _log(
        capsys,
        f"[fuzz] {len(reports)} mutated published reports (.docx .txt .html .pdf): "
        + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
        + f"; internal errors {len(internal)}",
    )
    assert not internal, internal[:10]
    for r in reports:
        if r.unreadable:
            assert r.findings[0].message.startswith(r.path + "：")
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == h for p, h in digests.items())


def test_mutations_are_reproducible(tmp_path):
    base = H.good_workbook(tmp_path / "a.xlsx").read_bytes()
    one = [mutate(base, random.Random(7)) for _ in range(3)]
    assert one[0] == one[1] == one[2] and one[0][0] != base


def test_values_of_mutated_cells_are_never_guessed(tmp_path):
    """A value cell replaced by text is an error at that cell, never read as a number."""
    from nianbao.inputs import collect
    from nianbao.reader import read_report

    src = H.good_workbook(tmp_path / "a.xlsx")
    numbers = ("4.0", " 12 ", "１２", "-3", "1e308", "0.00000001", "9" * 400)
    for n, text in enumerate(v for v in VALUES if v.strip() and v not in numbers):
        cell = f'<c r="{H.REF}" t="inlineStr"><is><t>{_xml_text(text)}</t></is></c>'
        p = H.edit_sheet(src, tmp_path / f"v{n}.xlsx", H.SHEET, lambda x, c=cell: H.set_cell(x, H.REF, c))
        r = read_report(collect([p]).items[0])
        assert r.values[H.KEY] is None and H.KEY in r.invalid, (text, r.values[H.KEY])
        assert any(f.cell == H.REF and f.severity == "error" for f in r.findings), text

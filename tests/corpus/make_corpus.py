"""Remake the import corpus: reports written by ``nianbao publish`` run through real converters,
plus damaged shapes written here (each with its own numbers).

    python tests/corpus/make_corpus.py            # all converters found on this machine

Needs (development only, never a test dependency): LibreOffice (soffice), poppler-utils
(pdftotext), pandoc, and the PyPI package markitdown (``pip install 'markitdown[pdf,docx]'``).
A converter that is missing is skipped with a message; the fixtures already committed stay.
Every fixture ``published/<name>.<ext>`` or ``damaged/<name>.<ext>`` has its truth in
``truth.json``: form, issuer, year and the value of every cell.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus_values import realistic_values  # noqa: E402
from damaged import DAMAGED  # noqa: E402

from nianbao.findings import fmt_number  # noqa: E402
from nianbao.spec import get_spec  # noqa: E402

# (name, form, issuer, year, seed). The issuers exercise the title shapes of the issue.
REPORTS = [
    ("r2021-bureau", "2021", "示例市生态环境局", 2023, 101),  # with last year's data
    ("r2021-gov", "2021", "某某区人民政府", 2024, 102),
    ("r2019-bureau", "2019", "示例县交通运输局", 2020, 103),
    ("r2019-gov", "2019", "某某县人民政府", 2019, 104),
]

BODY = """# 一、总体情况
{year}年，{unit}认真贯彻落实《中华人民共和国政府信息公开条例》，坚持以公开为常态、不公开为例外，全年主动公开政府信息{n}条。
# 五、存在的主要问题及改进情况
（一）存在的主要问题：政策解读形式较为单一，基层公开标准化规范化有待加强。
（二）改进情况：丰富解读形式，加强平台建设，开展业务培训{m}次。
# 六、其他需要报告的事项
本年度发出收费通知{fee_n}件，收取信息处理费{fee}万元。
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, timeout=300, check=True, **kw)


def _soffice(args: list[str], tmp: Path) -> None:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if not exe:
        raise FileNotFoundError("soffice")
    env = dict(os.environ, HOME=str(tmp))
    _run([exe, f"-env:UserInstallation=file://{tmp}/lo-profile", "--headless", *args], env=env)


def _publish(tmp: Path, name: str, form: str, unit: str, year: int, seed: int) -> tuple[Path, Path, dict]:
    from nianbao.publish.command import publish_command
    from nianbao.template import write_template

    spec = get_spec(form)
    vals = realistic_values(spec, seed)
    wb = tmp / f"{name}.xlsx"
    cover = {"filler": "王五", "phone": "0851-2345678", "date": f"{year + 1}-01-12"}
    write_template(wb, spec, unit=unit, year=year, values=vals, cover=cover)
    rng = random.Random(seed)
    body = tmp / f"{name}-body.md"
    body.write_text(
        BODY.format(year=year, unit=unit, n=rng.randint(200, 3000), m=rng.randint(2, 9), fee_n=2, fee="0.03"),
        encoding="utf-8",
    )
    docx, html = tmp / f"{name}.docx", tmp / f"{name}.html"
    previous = None
    if name.endswith("bureau"):  # the change against last year is said in the sentences
        previous = tmp / f"{name}-previous.xlsx"
        write_template(previous, spec, unit=unit, year=year - 1, values=realistic_values(spec, seed + 1000))
    code = publish_command(wb, docx, html=html, text=body, previous=previous, force=True)
    if code != 0:
        raise RuntimeError(f"publish failed for {name}")
    truth = {"form": form, "unit": unit, "year": year, "values": {k: fmt_number(v) for k, v in vals.items()}}
    return docx, html, truth


def _pdfplumber(pdf: Path) -> tuple[str, str]:
    """(plain page text, tables as pipe rows with the text lines around them in reading order)."""
    import pdfplumber

    texts, tabled = [], []
    with pdfplumber.open(str(pdf)) as doc:
        for page in doc.pages:
            texts.append(page.extract_text() or "")
            tables = page.find_tables()
            boxes = [t.bbox for t in tables]

            def outside(o, boxes=boxes) -> bool:
                cx, cy = (o["x0"] + o["x1"]) / 2, (o["top"] + o["bottom"]) / 2
                inside = any(x0 <= cx <= x1 and t <= cy <= b for x0, t, x1, b in boxes)
                return o.get("object_type") != "char" or not inside

            items = [(ln["top"], [ln["text"]]) for ln in page.filter(outside).extract_text_lines()]
            for t in tables:
                rows = [
                    " | ".join("" if c is None else c.replace("\n", "") for c in r) + " |"
                    for r in t.extract()
                ]
                items.append((t.bbox[1], rows))
            for _, lines in sorted(items, key=lambda x: x[0]):
                tabled += lines
    return "\n".join(texts) + "\n", "\n".join(tabled) + "\n"


def _markitdown(path: Path) -> str:
    from markitdown import MarkItDown

    return MarkItDown().convert(str(path)).text_content


def convert(tmp: Path, name: str, docx: Path, html: Path) -> dict[str, str]:
    """Every conversion available here: fixture file name -> text."""
    out: dict[str, str] = {f"{name}.publish.html": html.read_text(encoding="utf-8")}
    steps = []
    try:
        _soffice(["--convert-to", "pdf", "--outdir", str(tmp), str(docx)], tmp)
        pdf = tmp / f"{name}.pdf"
        lo_txt, lo_html = tmp / "lo-txt", tmp / "lo-html"
        _soffice(["--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(lo_txt), str(docx)], tmp)
        _soffice(["--convert-to", "html", "--outdir", str(lo_html), str(docx)], tmp)
        out[f"{name}.libreoffice.txt"] = (lo_txt / f"{name}.txt").read_text(encoding="utf-8-sig")
        out[f"{name}.libreoffice.html"] = (lo_html / f"{name}.html").read_text(encoding="utf-8")
    except (FileNotFoundError, subprocess.CalledProcessError) as e:
        print(f"  LibreOffice unavailable ({e}); PDF-based conversions skipped", file=sys.stderr)
        pdf = None
    if pdf is not None:
        if shutil.which("pdftotext"):
            out[f"{name}.pdftotext.txt"] = _run(["pdftotext", str(pdf), "-"]).stdout.decode("utf-8")
            out[f"{name}.pdftotext-layout.txt"] = _run(
                ["pdftotext", "-layout", str(pdf), "-"]
            ).stdout.decode()
        text, tables = _pdfplumber(pdf)
        out[f"{name}.pdfplumber-text.txt"] = text
        out[f"{name}.pdfplumber-tables.txt"] = tables
        steps.append(("markitdown-pdf.md", lambda: _markitdown(pdf)))
    if shutil.which("pandoc"):
        steps.append(("pandoc-docx.md", lambda: _run(["pandoc", str(docx), "-t", "gfm"]).stdout.decode()))
        steps.append(("pandoc-html.md", lambda: _run(["pandoc", str(html), "-t", "gfm"]).stdout.decode()))
        steps.append(("pandoc-plain.txt", lambda: _run(["pandoc", str(docx), "-t", "plain"]).stdout.decode()))
    steps.append(("markitdown-docx.md", lambda: _markitdown(docx)))
    steps.append(("markitdown-html.md", lambda: _markitdown(html)))
    for suffix, make in steps:
        try:
            out[f"{name}.{suffix}"] = make()
        except Exception as e:  # a converter missing here: keep the committed fixture
            print(f"  {name}.{suffix}: skipped ({type(e).__name__}: {str(e)[:80]})", file=sys.stderr)
    return out


def main() -> None:
    truth: dict[str, dict] = {}
    pub, dam = HERE / "published", HERE / "damaged"
    pub.mkdir(exist_ok=True)
    dam.mkdir(exist_ok=True)
    truth_path = HERE / "truth.json"
    if truth_path.exists():
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name, form, unit, year, seed in REPORTS:
            docx, html, facts = _publish(tmp, name, form, unit, year, seed)
            for fname, text in convert(tmp, name, docx, html).items():
                (pub / fname).write_text(text, encoding="utf-8")
                truth[f"published/{fname}"] = facts
                print(f"published/{fname}")
    for fname, (text, facts) in DAMAGED().items():
        (dam / fname).write_text(text, encoding="utf-8")
        truth[f"damaged/{fname}"] = facts
        print(f"damaged/{fname}")
    truth_path.write_text(
        json.dumps(truth, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()

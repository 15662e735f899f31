"""What the pages of `nianbao serve` say (issue 16 items 6, 7, 10, 11): counts, batch lists,
file names, and no English for the user. Plain HTTP against the real app (starlette TestClient)."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from starlette.testclient import TestClient

from conftest import consistent_values
from nianbao.spec import get_spec
from nianbao.template import write_template
from nianbao.web.app import create_app
from nianbao.web.jobs import run_batch
from nianbao.web.server import _announce, open_urls

BASE = "http://127.0.0.1"
SPEC = get_spec("2021")


def browser(app) -> TestClient:
    return TestClient(app, base_url=BASE, headers={"Origin": BASE})


def workbook(folder: Path, name: str, unit: str, seed: int) -> bytes:
    p = folder / name
    write_template(p, SPEC, unit=unit, year=2025, values=consistent_values(SPEC, seed))
    return p.read_bytes()


def finished(client, files: list[tuple[str, bytes]]) -> dict:
    r = client.post("/batches", files=[("files", f) for f in files], headers={"Accept": "application/json"})
    batch = r.json()["id"]
    for _ in range(300):
        doc = client.get(f"/api/batches/{batch}").json()
        if doc["state"] in ("done", "failed"):
            return client.app.state.storage.manifest(batch)
        time.sleep(0.2)
    raise AssertionError("batch did not finish")


def saved_name(response) -> str:
    return unquote(response.headers["content-disposition"].split("filename*=UTF-8''")[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with browser(create_app(tmp_path_factory.mktemp("data"))) as client:
        yield client


# ---------------------------------------------------------------- 6: a zip counts its workbooks
@pytest.mark.slow
def test_a_zip_counts_the_workbooks_in_it(site, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(15):
            z.writestr(f"第{i:02d}局.xlsx", workbook(tmp_path, f"{i}.xlsx", f"示例县第{i:02d}局", i))
    m = finished(site, [("全县报表.zip", buf.getvalue())])
    page = site.get(f"/batches/{m['id']}").text
    meta = re.search(r'id="batch-meta">(.*?)</p>', page).group(1)
    assert "共 15 个文件" in meta and "共 1 个文件" not in meta and "1 个压缩包" in meta
    listing = site.get("/check").text
    row = next(r for r in listing.split("<tr>") if m["id"] in r)
    assert re.search(r'class="num">15<', row)


# ---------------------------------------------------------------- 7: batches found again
def checked_here(client, files: list[tuple[str, bytes]]) -> dict:
    """Upload a batch and check it in this process (the worker's code, without its process)."""
    r = client.post("/batches", files=[("files", f) for f in files], headers={"Accept": "application/json"})
    storage, cwd = client.app.state.storage, os.getcwd()
    try:
        run_batch(storage.batch_dir(r.json()["id"]))
    finally:
        os.chdir(cwd)
    return storage.manifest(r.json()["id"])


@pytest.mark.slow
def test_batch_lists_show_units_and_can_be_searched_and_paged(tmp_path):
    with browser(create_app(tmp_path / "d", run_jobs=False)) as client:
        first = checked_here(client, [("甲.xlsx", workbook(tmp_path, "a.xlsx", "示例县教育局", 1))])
        for i in range(22):
            book = workbook(tmp_path, f"b{i}.xlsx", f"示例县第{i:02d}局", i + 2)
            checked_here(client, [(f"{i}.xlsx", book)])
        home = client.get("/").text
        assert "示例县第21局" in home and "查看全部 23 个批次" in home
        page1 = client.get("/check").text
        assert "共 23 个" in page1 and "第 1 / 2 页" in page1 and "示例县教育局" not in page1
        page2 = client.get("/check?page=2").text
        assert "示例县教育局" in page2 and f"/batches/{first['id']}" in page2
        found = client.get("/check", params={"q": "教育局"}).text
        assert f"/batches/{first['id']}" in found and "示例县第05局" not in found
        none = client.get("/check", params={"q": "不存在的单位"}).text
        assert "没有找到包含“不存在的单位”的批次" in none


# ---------------------------------------------------------------- 10: a slash in a unit name
@pytest.mark.slow
def test_a_unit_name_with_a_slash_names_the_file(site):
    r = site.post(
        "/templates/download", data={"form": "2021", "year": "2025", "unit": "县文化和旅游局/县新闻出版局"}
    )
    assert r.status_code == 200
    assert saved_name(r) == "年报模板-县文化和旅游局、县新闻出版局-2025年度.xlsx"
    roster = "单位名称\n县文化和旅游局/县新闻出版局\n县教育局\n".encode()
    r = site.post("/templates/roster", files=[("roster", ("名单.csv", roster))], data={"form": "2021"})
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "年报模板-县文化和旅游局、县新闻出版局.xlsx" in names


# ---------------------------------------------------------------- 11: no English for the user
ENGLISH = re.compile(r"[A-Za-z]{4,}")
ALLOWED = {"xlsx", "Excel", "docx", "Word", "UTF", "html", "zip"}


def english_words(text: str) -> set[str]:
    return {w for w in ENGLISH.findall(text) if w not in ALLOWED}


@pytest.mark.slow
def test_broken_pdf_and_roster_are_explained_in_chinese(site):
    m = finished(site, [("坏.pdf", b"%PDF-1.4\n not really a pdf")])
    (message,) = [f["message"] for f in m["results"][0]["findings"]]
    assert "PDF" in message and not english_words(message.replace("PDF", "")), message
    for name, data in (("名单.xlsx", b"PK\x03\x04 not a workbook"), ("名单.xls", b"not an old workbook")):
        r = site.post("/templates/roster", files=[("roster", (name, data))], data={"form": "2021"})
        shown = re.search(r'id="page-error">([^<]*)', r.text).group(1)
        assert r.status_code == 400 and "无法读取单位名单" in shown
        assert not english_words(shown), shown  # no "invalid Zip archive: Could not find EOCD"


def test_year_field_has_a_chinese_validity_message(site):
    for url in ("/templates",):
        for tag in re.findall(r'<input[^>]*name="year"[^>]*>', site.get(url).text.replace("\n", " ")):
            assert 'data-invalid="报告年度应为四位数字' in tag and 'title="四位数字的年度' in tag
    assert "setCustomValidity" in site.get("/static/app.js").text


@pytest.mark.slow
def test_a_batch_without_annotated_copies_offers_no_zip(site):
    m = finished(site, [("说明.txt", "这不是年度报告。".encode())])
    page = site.get(f"/batches/{m['id']}").text
    assert "annotated.zip" not in page and "批注副本（.zip" not in page
    r = site.get(f"/batches/{m['id']}/annotated.zip")
    assert r.status_code == 404 and "没有批注副本" in r.text


def test_start_up_prints_addresses_people_can_open(capsys):
    urls = open_urls("0.0.0.0", 8765)
    assert urls[0] == "http://127.0.0.1:8765/" and not any("0.0.0.0" in u for u in urls)
    assert open_urls("192.0.2.7", 8443, "https") == ["https://192.0.2.7:8443/"]
    assert open_urls("::1", 8765) == ["http://[::1]:8765/"]
    _announce(urls, Path("/srv/nianbao"), "x" * 20, from_env=False)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8765/" in out and "0.0.0.0" not in out and "NIANBAO_TOKEN" in out


# ---------------------------------------------------------------- 8: roster templates
@pytest.mark.slow
def test_roster_templates_report_progress_and_refuse_a_second_press(site):
    import threading

    roster = ("单位名称\n" + "".join(f"示例县第{i:02d}局\n" for i in range(40))).encode()
    job, seen, answer = "roster0123456789abcdef", [], {}

    def press(key: str):
        files = [("roster", ("名单.csv", roster))]
        answer[key] = site.post("/templates/roster", files=files, data={"form": "2021", "job": job})

    first = threading.Thread(target=press, args=("first",))
    first.start()
    while first.is_alive():
        r = site.get(f"/api/templates/progress/{job}")
        if r.status_code == 200:
            seen.append(r.json())
            if len(seen) == 1:
                press("second")  # the same request again while it runs
        time.sleep(0.1)
    first.join()
    assert answer["second"].status_code == 409 and "正在生成" in answer["second"].text
    assert answer["first"].status_code == 200
    assert len(zipfile.ZipFile(io.BytesIO(answer["first"].content)).namelist()) == 40
    assert any(0 < d["done"] < d["total"] == 40 for d in seen), seen
    assert [d["done"] for d in seen] == sorted(d["done"] for d in seen)
    assert site.get(f"/api/templates/progress/{job}").status_code == 404  # over: nothing left behind
    page = site.get("/templates").text
    assert 'id="roster-submit"' in page and 'id="roster-status"' in page and 'role="status"' in page

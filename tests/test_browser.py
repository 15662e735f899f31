"""End to end in a real browser: `nianbao serve` driven through Debian's Chromium by Playwright.

One server process and one browser for the whole module. Screenshots of each page (1366×768
viewport) go to test-output/screenshots/ for people to look at; the assertions are on content.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from playwright import sync_api

from conftest import consistent_values
from nianbao.annotate import ERROR_FILL
from nianbao.layout import workbook_layout
from nianbao.spec import get_spec
from nianbao.template import write_template

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"找不到 Chromium（{CHROMIUM}）：Debian 上请 apt-get install chromium", allow_module_level=True
    )

SPEC = get_spec("2021")
LAYOUT = workbook_layout(SPEC)
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
KEY = "nb_t3_new_natural"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A real `nianbao serve` process on a free loopback port; yields (url, data folder)."""
    data = tmp_path_factory.mktemp("serve-data")
    port = free_port()
    log = open(data.parent / "serve.log", "wb")  # noqa: SIM115 (closed by the fixture teardown)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nianbao.cli", "serve", "--port", str(port), "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(url + "/", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError((data.parent / "serve.log").read_text("utf-8", "replace")) from None
                time.sleep(0.05)
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def page():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(
            viewport={"width": 1366, "height": 768}, accept_downloads=True, locale="zh-CN"
        )
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        ctx.close()
        browser.close()


@pytest.fixture(scope="module")
def workbooks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("books")
    good = consistent_values(SPEC, 21)
    bad = dict(consistent_values(SPEC, 22))
    rule = next(r for r in SPEC.rules if r.op.name == "eq" and r.severity == "error" and not r.uses_previous)
    bad[rule.target] = bad[rule.target] + 1
    write_template(folder / "示例县教育局.xlsx", SPEC, unit="示例县教育局", year=2025, values=good)
    write_template(folder / "示例县民政局.xlsx", SPEC, unit="示例县民政局", year=2025, values=bad)
    roster = folder / "单位名单.csv"
    roster.write_text("单位名称,类别\n示例县教育局,部门\n示例县民政局,部门\n示例县某某镇,乡镇\n", "utf-8-sig")
    return {"folder": folder, "good": good, "bad": bad, "rule": rule, "roster": roster}


def drop_files(pg, target: str, paths: list[Path]) -> None:
    """Drag files from the desktop onto ``target``, as a person would."""
    files = [[p.name, base64.b64encode(p.read_bytes()).decode()] for p in paths]
    dt = pg.evaluate_handle(
        """files => {
        const dt = new DataTransfer();
        for (const [name, b64] of files) {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            dt.items.add(new File([bytes], name));
        }
        return dt;
    }""",
        files,
    )
    pg.dispatch_event(target, "dragenter", {"dataTransfer": dt})
    pg.dispatch_event(target, "drop", {"dataTransfer": dt})


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def cell_ref(key: str) -> tuple[str, str]:
    sheet, box = LAYOUT.cell(key)
    return sheet, box.ref


def test_whole_workflow_in_chromium(site, page, workbooks, tmp_path):
    url, data = site
    pg = page

    # 首页
    pg.goto(url + "/")
    assert "年度报告" in pg.title()
    sync_api.expect(pg.get_by_role("link", name="下载模板").first).to_be_visible()
    shot(pg, "01-首页")

    # 下载模板
    pg.get_by_role("navigation").get_by_role("link", name="下载模板").click()
    pg.fill("#unit", "示例县统计局")
    pg.fill("#year", "2025")
    shot(pg, "02-下载模板")
    with pg.expect_download() as dl:
        pg.get_by_role("button", name="下载模板").click()
    assert dl.value.suggested_filename.endswith(".xlsx") and "示例县统计局" in dl.value.suggested_filename
    tpl = tmp_path / "模板.xlsx"
    dl.value.save_as(tpl)
    box = LAYOUT.cover["unit"][1]
    assert (
        openpyxl.load_workbook(tpl)[LAYOUT.cover_sheet].cell(box.row + 1, box.col + 1).value == "示例县统计局"
    )

    # 审核: a correct and a wrong workbook
    pg.get_by_role("navigation").get_by_role("link", name="审核").click()
    folder = workbooks["folder"]
    drop_files(pg, "#drop", [folder / "示例县教育局.xlsx", folder / "示例县民政局.xlsx"])
    sync_api.expect(pg.locator("#chosen")).to_contain_text("已选择 2 个文件")
    shot(pg, "03-审核-选择文件")
    pg.get_by_role("button", name="开始审核").click()
    pg.wait_for_url("**/batches/*")
    results = pg.locator("#results")
    results.wait_for()
    batch_id = pg.url.rsplit("/", 1)[1]
    manifest = json.loads((data / "batches" / batch_id / "manifest.json").read_text("utf-8"))
    bad = next(r for r in manifest["results"] if r["path"] == "示例县民政局.xlsx")
    rule = workbooks["rule"]
    finding = next(f for f in bad["findings"] if f["code"] == rule.code)
    sheet, ref = cell_ref(rule.target)
    assert (finding["sheet"], finding["cell"]) == (sheet, ref)
    row = pg.locator("tbody.file", has_text="示例县民政局.xlsx")
    sync_api.expect(row.get_by_text("有错误").first).to_be_visible()
    details = row.locator("details")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    sync_api.expect(row.get_by_text(finding["message"], exact=True)).to_be_visible()
    sync_api.expect(row.get_by_text(f"{sheet}!{ref}").first).to_be_visible()  # the cell may carry 2 findings
    good_row = pg.locator("tbody.file", has_text="示例县教育局.xlsx")
    sync_api.expect(good_row.get_by_text("通过", exact=True)).to_be_visible()
    shot(pg, "04-审核结果")

    with pg.expect_download() as dl:
        row.get_by_role("link", name="下载").click()
    annotated = tmp_path / "批注.xlsx"
    dl.value.save_as(annotated)
    assert dl.value.suggested_filename == "示例县民政局_审核.xlsx"
    cell = openpyxl.load_workbook(annotated)[sheet][ref]
    assert cell.fill.start_color.rgb == ERROR_FILL

    # 汇总
    pg.get_by_role("link", name="用这批文件汇总").click()
    pg.wait_for_url("**/aggregate?batch=*")
    assert pg.locator("#batch").input_value() == batch_id
    pg.set_input_files("#roster", str(workbooks["roster"]))
    shot(pg, "05-汇总")
    pg.get_by_role("button", name="开始汇总").click()
    pg.wait_for_url("**/aggregates/*")
    board = pg.locator("#board")
    board.wait_for()
    rows = board.locator("tbody tr")
    first_two = {rows.nth(0).get_attribute("data-status"), rows.nth(1).get_attribute("data-status")}
    assert first_two == {"missing", "failed"}  # 未报送 and 有错误 first
    sync_api.expect(board.locator("tr", has_text="示例县某某镇").get_by_text("未报送")).to_be_visible()
    sync_api.expect(board.locator("tr", has_text="示例县教育局").get_by_text("通过")).to_be_visible()
    shot(pg, "06-报送情况")
    with pg.expect_download() as dl:
        pg.locator("#download-aggregate").click()
    agg = tmp_path / "汇总.xlsx"
    dl.value.save_as(agg)
    wb = openpyxl.load_workbook(agg)
    dest_sheet, dest_ref = next(iter(wb.defined_names[KEY].destinations))
    got = wb[dest_sheet][dest_ref.replace("$", "")].value
    assert Decimal(str(got)) == Decimal(workbooks["good"][KEY])  # the wrong unit is not summed


def test_limits_are_explained_before_uploading(site, page, tmp_path):
    """Past the per-upload file count the page says so in Chinese, without sending anything."""
    url, _ = site
    page.goto(url + "/check")
    limit = int(page.locator("#upload-form").get_attribute("data-max-files"))
    files = []
    for i in range(limit + 1):
        p = tmp_path / f"{i}.txt"
        p.write_text("x")
        files.append(str(p))
    page.set_input_files("#files", files)
    sync_api.expect(page.locator("#upload-error")).to_contain_text(f"一次最多上传 {limit} 个文件")
    assert f"一次最多上传 {limit} 个文件" in page.locator("#upload-error").inner_text()
    shot(page, "07-上传限制")

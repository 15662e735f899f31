"""`nianbao serve` in Chromium on a phone and from the keyboard (issue 16 items 4, 5, 8, 9, 11).

Uses the server and browser set-up of test_browser.py: a real `nianbao serve` process and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import pytest
from playwright import sync_api

from conftest import consistent_values
from nianbao.spec import get_spec
from nianbao.template import write_template
from test_browser import ARGS, CHROMIUM, site  # noqa: F401 (site is a fixture)

pytestmark = pytest.mark.browser
SPEC = get_spec("2021")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def chromium():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def new_page(browser, **kw):
    ctx = browser.new_context(accept_downloads=True, locale="zh-CN", **kw)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    return pg


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict:
    """20 workbooks with an error (each needs a copy), one that passes, long Chinese names."""
    folder = tmp_path_factory.mktemp("books16")
    rule = next(r for r in SPEC.rules if r.op.name == "eq" and r.severity == "error" and not r.uses_previous)
    bad = []
    for i in range(20):
        vals = dict(consistent_values(SPEC, 40 + i))
        vals[rule.target] = vals[rule.target] + 1
        p = folder / f"示例县人民政府办公室政务公开科报送的第{i:02d}份统计表（修订稿）.xlsx"
        write_template(p, SPEC, unit=f"示例县第{i:02d}局", year=2025, values=vals)
        bad.append(p)
    good = folder / "示例县教育局.xlsx"
    write_template(good, SPEC, unit="示例县教育局", year=2025, values=consistent_values(SPEC, 7))
    roster = folder / "单位名单.csv"
    roster.write_text("单位名称\n" + "".join(f"示例县第{i:02d}局\n" for i in range(60)), "utf-8-sig")
    return {"bad": bad, "good": good, "roster": roster}


@pytest.fixture(scope="module")
def batch(site, chromium, books):  # noqa: F811
    """Upload the books; check that the results show before the copies are done (item 4)."""
    url, _ = site
    pg = new_page(chromium, viewport={"width": 1366, "height": 768})
    pg.goto(url + "/check")
    pg.set_input_files("#files", [*books["bad"], books["good"]])
    pg.get_by_role("button", name="开始审核").click()
    pg.wait_for_url("**/batches/*")
    batch_url = pg.url
    api = batch_url.replace("/batches/", "/api/batches/")
    sync_api.expect(pg.locator("#results")).to_be_visible(timeout=120_000)
    state = pg.request.get(api).json()
    seen_running = state["state"] == "running" and pg.get_by_text("正在生成…").count() > 0
    pg.wait_for_function(
        "url => fetch(url).then(r => r.json()).then(d => d.state === 'done')", arg=api, timeout=180_000
    )
    pg.reload()
    yield {"url": batch_url, "page": pg, "seen_running": seen_running}
    pg.context.close()


def test_results_show_before_the_copies_and_passed_files_get_theirs_on_request(batch, tmp_path):
    assert batch["seen_running"], "the results appeared only after every copy was written"
    pg = batch["page"]
    row = pg.locator("tbody.file", has_text="示例县教育局.xlsx")
    with pg.expect_download() as dl:
        row.get_by_role("link", name="生成并下载").click()
    assert dl.value.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "copy.xlsx"
    dl.value.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"
    assert pg.get_by_role("link", name="下载全部批注副本（.zip，20 个）").count() == 1


def test_no_page_scrolls_sideways_on_a_phone(site, chromium, batch):  # noqa: F811
    url, _ = site
    pg = new_page(chromium, viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    try:
        pg.goto(url + "/aggregate?batch=" + batch["url"].rsplit("/", 1)[1])
        pg.get_by_role("button", name="开始汇总").click()
        pg.wait_for_url("**/aggregates/*")
        sync_api.expect(pg.locator("#board")).to_be_visible(timeout=120_000)
        board = pg.url
        wide = {}
        for path in ("/", "/templates", "/check", batch["url"], "/aggregate", board, "/desk", "/nothing"):
            pg.goto(path if path.startswith("http") else url + path)
            for d in pg.locator("details").all():
                d.evaluate("e => e.open = true")
            width = pg.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide[path] = width
        assert not wide, wide
        pg.goto(batch["url"])  # the results are cards: the 下载 of a row is on screen
        link = pg.locator("tbody.file").first.get_by_role("link", name="下载")
        box = link.bounding_box()
        assert box and box["x"] + box["width"] <= PHONE["width"]
    finally:
        pg.context.close()


def test_file_pickers_show_keyboard_focus_and_have_a_name(site, chromium):  # noqa: F811
    url, _ = site
    pg = new_page(chromium, viewport={"width": 1366, "height": 768})
    try:
        for path, input_id in (("/check", "files"), ("/templates", "roster")):
            pg.goto(url + path)
            for _ in range(40):
                pg.keyboard.press("Tab")
                if pg.evaluate("document.activeElement.id") == input_id:
                    break
            else:
                raise AssertionError(f"Tab never reached #{input_id} on {path}")
            label = pg.locator(f"label.button[for={input_id}]")
            style = label.evaluate(
                "e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth]; }"
            )
            assert style[0] != "none" and float(style[1].rstrip("px")) >= 2, (path, style)
            assert label.get_attribute("aria-hidden") is None
            # the control is announced by its label: found by it, as a screen reader names it
            assert pg.get_by_label("选择文件").first.evaluate("e => e.id") == input_id
    finally:
        pg.context.close()


def test_year_says_in_chinese_what_it_wants(site, chromium):  # noqa: F811
    url, _ = site
    pg = new_page(chromium)
    try:
        pg.goto(url + "/templates")
        pg.fill("#year", "20x5")
        year = pg.locator("#year")
        msg = year.evaluate("e => { e.form.checkValidity(); return e.validationMessage; }")
        assert msg == "报告年度应为四位数字，如 2025。"
        pg.fill("#year", "2025")
        assert pg.evaluate("document.getElementById('year').checkValidity()")
    finally:
        pg.context.close()


def test_roster_button_waits_and_shows_progress(site, chromium, books):  # noqa: F811
    url, _ = site
    pg = new_page(chromium)
    try:
        pg.goto(url + "/templates")
        pg.set_input_files("#roster", books["roster"])
        button = pg.locator("#roster-submit")
        with pg.expect_download(timeout=120_000) as dl:
            button.click()
            sync_api.expect(button).to_be_disabled()
            sync_api.expect(pg.locator("#roster-status")).to_contain_text("正在生成模板：", timeout=60_000)
            text = pg.locator("#roster-status").inner_text()
            assert "/ 60 个单位" in text
        assert dl.value.suggested_filename == "年报模板-单位名单-60个单位.zip"
        sync_api.expect(button).to_be_enabled()
    finally:
        pg.context.close()

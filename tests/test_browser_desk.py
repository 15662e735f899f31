"""The year's collection in a real browser: the clerk creates it from a roster, two units upload
through their links (one fixes an error first), the clerk returns one and accepts the other, and
the aggregate holds exactly the accepted return's numbers."""

from __future__ import annotations

import io
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
from nianbao.spec import get_spec
from nianbao.template import write_template

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"找不到 Chromium（{CHROMIUM}）", allow_module_level=True)

SPEC = get_spec("2021")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"
PUBLIC = "http://10.20.30.40:8765"  # what the links say; the test opens their paths on loopback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data = tmp_path_factory.mktemp("desk-serve")
    port = free_port()
    log = open(data.parent / "desk-serve.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "nianbao.cli", "serve", "--port", str(port), "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                urllib.request.urlopen(url + "/desk", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(
                        (data.parent / "desk-serve.log").read_text("utf-8", "replace")
                    ) from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def book(folder: Path, unit: str, seed: int, change: dict | None = None) -> tuple[Path, dict]:
    vals = consistent_values(SPEC, seed)
    vals.update(change or {})
    p = folder / f"{unit}-{seed}-{len(change or {})}.xlsx"
    write_template(p, SPEC, unit=unit, year=2025, values=vals)
    return p, vals


def test_whole_campaign_in_chromium(site, tmp_path):
    SHOTS.mkdir(parents=True, exist_ok=True)
    roster = tmp_path / "单位名单.csv"
    roster.write_text("单位名称,类别\n示例县教育局,部门\n示例县民政局,部门\n示例县某某镇,乡镇\n", "utf-8-sig")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(
            viewport={"width": 1366, "height": 768}, accept_downloads=True, locale="zh-CN"
        )
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        # the clerk creates the collection
        pg.goto(site + "/desk")
        pg.fill("#desk-create #year", "2025")
        pg.set_input_files("#roster", str(roster))
        pg.fill("#deadline", "2026年1月15日")
        pg.fill("#public_url", PUBLIC)
        pg.click("#desk-create button[type=submit]")
        pg.wait_for_selector("#desk-board")
        board_url = pg.url
        pg.screenshot(path=str(SHOTS / "desk-board-new.png"), full_page=True)
        links = {}
        for name in ("示例县教育局", "示例县民政局"):
            pg.goto(board_url)
            pg.click(f"#desk-board tr[data-unit='{name}'] th a")
            links[name] = pg.inner_text("#unit-link").replace(PUBLIC, site)
        # 教育局 uploads a return with an error, then the fixed one, and submits
        unit = ctx.new_page()
        unit.goto(links["示例县教育局"])
        assert "示例县民政局" not in unit.content()
        wrong, _ = book(tmp_path, "示例县教育局", 31, {"nb_t3_new_natural": 9999})
        unit.set_input_files("#unit-file", str(wrong))
        unit.click("#unit-upload button[type=submit]")
        unit.wait_for_selector("#unit-findings")
        assert unit.inner_text("#unit-state") == "有错误"
        assert unit.locator("#unit-submit").count() == 0
        unit.screenshot(path=str(SHOTS / "desk-unit-error.png"), full_page=True)
        fixed, edu_vals = book(tmp_path, "示例县教育局", 31)
        unit.set_input_files("#unit-file", str(fixed))
        unit.click("#unit-upload button[type=submit]")
        unit.wait_for_selector("#unit-submit")
        unit.click("#unit-submit button[type=submit]")
        unit.wait_for_selector("#unit-message")
        assert unit.inner_text("#unit-state") == "待审核"
        # 民政局 uploads a clean return and submits
        other = ctx.new_page()
        other.goto(links["示例县民政局"])
        clean, _ = book(tmp_path, "示例县民政局", 32)
        other.set_input_files("#unit-file", str(clean))
        other.click("#unit-upload button[type=submit]")
        other.wait_for_selector("#unit-submit")
        other.click("#unit-submit button[type=submit]")
        other.wait_for_selector("#unit-message")
        # the clerk accepts 教育局 and returns 民政局
        pg.goto(board_url)
        pg.click("#desk-board tr[data-unit='示例县教育局'] form button")
        pg.wait_for_selector("#desk-board tr[data-unit='示例县教育局'][data-state='accepted']")
        pg.click("#desk-board tr[data-unit='示例县民政局'] a.button")
        pg.fill("#ret-c", "表四与台账不符，请核对")
        pg.click("#decide form:has(#ret-c) button")
        pg.wait_for_selector("#desk-board tr[data-unit='示例县民政局'][data-state='returned']")
        other.reload()
        assert "表四与台账不符" in other.inner_text("#clerk-comment")
        pg.goto(board_url)
        pg.screenshot(path=str(SHOTS / "desk-board-decided.png"), full_page=True)
        with pg.expect_download() as dl:
            pg.click("#desk-aggregate")
        data = Path(dl.value.path()).read_bytes()
        ctx.close()
        browser.close()
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for key in ("nb_t3_new_natural", "nb_t3_new_total", "nb_t4_review_total"):
        sheet, ref = next(iter(wb.defined_names[key].destinations))
        assert Decimal(str(wb[sheet][ref.replace("$", "")].value)) == Decimal(edu_vals[key]), key


def test_desk_pages_fit_a_phone(site, tmp_path):
    """At 390 px no desk page scrolls sideways: wide tables scroll inside themselves."""
    import json as _json

    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称\n示例县文化和旅游局/县新闻出版局\n某某镇人民政府\n", "utf-8-sig")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nianbao.cli",
            "desk",
            "create",
            "--roster",
            str(roster),
            "--year",
            "2025",
            "--public-url",
            PUBLIC,
            "--data",
            str(Path(tmp_path) / "unused"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert _json.loads(out.stdout)["units"][0]["unit"] == "示例县文化和旅游局/县新闻出版局"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
        pg = ctx.new_page()
        pg.goto(site + "/desk")
        pg.set_input_files("#roster", str(roster))
        pg.fill("#desk-create #year", "2025")
        pg.fill("#public_url", PUBLIC)
        pg.click("#desk-create button[type=submit]")
        pg.wait_for_selector("#desk-board")
        board = pg.url
        pages = [site + "/desk", board, board + "/links"]
        pg.click("#desk-board tbody tr th a")
        pages.append(pg.url)
        pages.append(pg.inner_text("#unit-link").replace(PUBLIC, site))
        for url in pages:
            pg.goto(url)
            width = pg.evaluate("document.documentElement.scrollWidth")
            pg.screenshot(path=str(SHOTS / f"desk-phone-{len(url) % 97}.png"), full_page=True)
            assert width <= 390, (url, width)
        ctx.close()
        browser.close()

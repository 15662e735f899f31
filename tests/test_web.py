"""`nianbao serve` over HTTP: pages, uploads, background batches, downloads, limits, token."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from markupsafe import escape
from starlette.testclient import TestClient
from typer.testing import CliRunner

from conftest import consistent_values
from nianbao.annotate import ERROR_FILL
from nianbao.cli import app as cli_app
from nianbao.layout import workbook_layout
from nianbao.spec import get_spec
from nianbao.template import write_template
from nianbao.web.app import Limits, create_app
from nianbao.web.storage import Storage, sanitize_filename

SPEC = get_spec("2021")
LAYOUT = workbook_layout(SPEC)
BASE = "http://127.0.0.1"
XLSX_MAGIC = b"PK\x03\x04"


def broken_rule():
    """The first current-year equality error rule: raising its target by 1 breaks it."""
    return next(r for r in SPEC.rules if r.op.name == "eq" and r.severity == "error" and not r.uses_previous)


def where(key: str) -> tuple[str, str]:
    sheet, box = LAYOUT.cell(key)
    return sheet, box.ref


def make_county(folder: Path) -> dict:
    """Two good units, one with a broken total; returns the values used."""
    folder.mkdir(parents=True, exist_ok=True)
    good_a, good_c = consistent_values(SPEC, 1), consistent_values(SPEC, 2)
    bad = dict(consistent_values(SPEC, 3))
    rule = broken_rule()
    bad[rule.target] = bad[rule.target] + 1
    for name, unit, vals in (
        ("甲局.xlsx", "示例县甲局", good_a),
        ("丙局.xlsx", "示例县丙局", good_c),
        ("乙局-有错.xlsx", "示例县乙局", bad),
    ):
        write_template(
            folder / name,
            SPEC,
            unit=unit,
            year=2025,
            values=vals,
            cover={"filler": "张三", "phone": "123", "date": "2026-01-10"},
        )
    return {"a": good_a, "c": good_c, "bad": bad, "rule": rule}


def browser(app, base: str = BASE) -> TestClient:
    """A client that, like a browser, names our own page as the Origin of what it posts."""
    return TestClient(app, base_url=base, headers={"Origin": base})


def upload(client, paths: list[tuple[str, bytes]], **data):
    files = [("files", (name, content, "application/octet-stream")) for name, content in paths]
    return client.post("/batches", files=files, data=data, follow_redirects=False)


def wait(client, api: str, timeout: float = 90) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        doc = client.get(api).json()
        if doc["state"] in ("done", "failed"):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"{api} did not finish: {doc}")


@pytest.fixture(scope="module")
def county(tmp_path_factory):
    folder = tmp_path_factory.mktemp("county")
    return folder, make_county(folder)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    with browser(create_app(data)) as client:
        yield client, data


@pytest.fixture(scope="module")
def batch(server, county):
    """The county's three workbooks uploaded as one batch, checked and annotated."""
    client, _ = server
    folder, _vals = county
    files = [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.xlsx"))]
    r = upload(client, files)
    assert r.status_code == 303
    url = r.headers["location"]
    batch_id = url.rsplit("/", 1)[1]
    doc = wait(client, f"/api/batches/{batch_id}")
    assert doc["state"] == "done", doc
    return batch_id


# ---------------------------------------------------------------- pages and templates
def test_pages_are_chinese_and_offline(server):
    client, _ = server
    for path in ("/", "/templates", "/check", "/aggregate"):
        r = client.get(path)
        assert r.status_code == 200
        assert 'lang="zh-CN"' in r.text
        assert "http://" not in r.text and "https://" not in r.text  # no CDN, nothing remote
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "找不到这个页面" in r.text


def test_template_download_is_a_workbook_with_the_unit(server, tmp_path):
    client, _ = server
    r = client.post("/templates/download", data={"form": "2021", "year": "2025", "unit": "示例县统计局"})
    assert r.status_code == 200
    assert r.content[:4] == XLSX_MAGIC
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    p = tmp_path / "t.xlsx"
    p.write_bytes(r.content)
    wb = openpyxl.load_workbook(p)
    _label, value = LAYOUT.cover["unit"]
    assert wb[LAYOUT.cover_sheet].cell(value.row + 1, value.col + 1).value == "示例县统计局"
    assert set(t.sheet for t in LAYOUT.tables) <= set(wb.sheetnames)


def test_template_bad_year_is_refused_in_chinese(server):
    client, _ = server
    r = client.post("/templates/download", data={"form": "2021", "year": "abc"})
    assert r.status_code == 400
    assert "报告年度应为" in r.text


@pytest.mark.slow
def test_roster_gives_a_zip_of_one_template_per_unit(server, tmp_path):
    client, _ = server
    roster = "单位名称,类别\n示例县教育局,部门\n示例县某某镇,乡镇\n".encode("utf-8-sig")
    r = client.post(
        "/templates/roster",
        data={"form": "2019", "year": "2020"},
        files={"roster": ("名单.csv", roster, "text/csv")},
    )
    assert r.status_code == 200, r.text
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = sorted(z.namelist())
    assert len(names) == 2 and all(n.endswith(".xlsx") for n in names)
    layout19 = workbook_layout(get_spec("2019"))
    units = set()
    for n in names:
        p = tmp_path / "x.xlsx"
        p.write_bytes(z.read(n))
        ws = openpyxl.load_workbook(p)[layout19.cover_sheet]
        box = layout19.cover["unit"][1]
        units.add(ws.cell(box.row + 1, box.col + 1).value)
    assert units == {"示例县教育局", "示例县某某镇"}


def test_roster_without_header_gets_a_chinese_message(server):
    client, _ = server
    r = client.post(
        "/templates/roster",
        data={"form": "2021"},
        files={"roster": ("名单.csv", "名字\n甲\n".encode(), "text/csv")},
    )
    assert r.status_code == 400
    assert "单位名称" in r.text and "名单.csv" in r.text
    assert "nianbao-" not in r.text  # the server's temporary folder is not shown


# ---------------------------------------------------------------- checking a batch
@pytest.mark.slow
def test_batch_page_shows_the_wrong_cell_message(server, batch, county):
    client, _ = server
    _folder, vals = county
    rule = vals["rule"]
    manifest = client.app.state.storage.manifest(batch)
    by_name = {r["path"]: r for r in manifest["results"]}
    assert set(by_name) == {"甲局.xlsx", "丙局.xlsx", "乙局-有错.xlsx"}
    assert by_name["甲局.xlsx"]["status"] == "passed" and by_name["甲局.xlsx"]["errors"] == 0
    bad = by_name["乙局-有错.xlsx"]
    assert bad["status"] == "failed"
    sheet, ref = where(rule.target)
    hit = [f for f in bad["findings"] if f["code"] == rule.code]
    assert hit and hit[0]["sheet"] == sheet and hit[0]["cell"] == ref
    page = client.get(f"/batches/{batch}").text
    assert str(escape(hit[0]["message"])) in page
    assert f"{sheet}!{ref}" in page
    assert "有错误" in page and "<details" in page
    # problems come first
    assert page.index("乙局-有错.xlsx") < page.index("甲局.xlsx")


@pytest.mark.slow
def test_annotated_copy_has_a_red_error_cell(server, batch, county, tmp_path):
    client, _ = server
    rule = county[1]["rule"]
    manifest = client.app.state.storage.manifest(batch)
    bad = next(r for r in manifest["results"] if r["path"] == "乙局-有错.xlsx")
    r = client.get(f"/batches/{batch}/files/{bad['index']}/annotated")
    assert r.status_code == 200 and r.content[:4] == XLSX_MAGIC
    assert "%E5%AE%A1%E6%A0%B8" in r.headers["content-disposition"]  # 审核 in the file name
    p = tmp_path / "a.xlsx"
    p.write_bytes(r.content)
    sheet, ref = where(rule.target)
    cell = openpyxl.load_workbook(p)[sheet][ref]
    assert cell.fill.fill_type == "solid" and cell.fill.start_color.rgb == ERROR_FILL
    # copies are made for files with errors; a file that passed gets one when asked for
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/batches/{batch}/annotated.zip").content))
    assert z.namelist() == ["乙局-有错_审核.xlsx"]
    good = next(r for r in manifest["results"] if r["path"] == "甲局.xlsx")
    assert good["annotated"] is None and good["can_annotate"]
    r = client.get(f"/batches/{batch}/files/{good['index']}/annotated")
    assert r.status_code == 200 and r.content[:4] == XLSX_MAGIC
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/batches/{batch}/annotated.zip").content))
    assert sorted(z.namelist()) == sorted(["甲局_审核.xlsx", "乙局-有错_审核.xlsx"])


@pytest.mark.slow
def test_findings_csv(server, batch, county):
    client, _ = server
    r = client.get(f"/batches/{batch}/findings.csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "文件"
    assert any(row[0] == "乙局-有错.xlsx" and row[2] == county[1]["rule"].code for row in rows[1:])


@pytest.mark.slow
def test_hostile_files_do_not_break_the_batch(server):
    client, _ = server
    zip_bomb = io.BytesIO()
    with zipfile.ZipFile(zip_bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/worksheets/sheet1.xml", b" " * (60 * 1024 * 1024))
    r = upload(
        client,
        [
            ("垃圾.xlsx", b"this is not a workbook"),
            ("炸弹.xlsx", zip_bomb.getvalue()),
            ("说明.exe", b"MZ\x00\x00"),
        ],
    )
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait(client, f"/api/batches/{batch_id}")["state"] == "done"
    results = client.app.state.storage.manifest(batch_id)["results"]
    assert {r["path"]: r["status"] for r in results} == {
        "垃圾.xlsx": "unreadable",
        "炸弹.xlsx": "unreadable",
        "说明.exe": "unreadable",
    }
    page = client.get(f"/batches/{batch_id}").text
    assert "无法读取" in page and "不支持的文件类型" in page
    assert client.get("/").status_code == 200


@pytest.mark.slow
def test_published_report_is_read_and_checked(server, tmp_path):
    from nianbao.model import Report
    from nianbao.publish import build_document, write_html

    vals = {k: Decimal(v) for k, v in consistent_values(SPEC, 5).items()}
    html = tmp_path / "年报.html"
    write_html(
        build_document(Report(path="x", form="2021", unit="示例县林业局", year=2025, values=vals), SPEC), html
    )
    client, _ = server
    r = upload(client, [("年报.html", html.read_bytes())])
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait(client, f"/api/batches/{batch_id}")["state"] == "done"
    (res,) = client.app.state.storage.manifest(batch_id)["results"]
    assert (res["unit"], res["year"], res["form"], res["errors"]) == ("示例县林业局", 2025, "2021", 0)
    assert res["annotated"] is None  # annotated copies are for Excel workbooks only
    assert "示例县林业局" in client.get(f"/batches/{batch_id}").text


def test_streamed_body_past_the_limit_is_cut_off(tmp_path):
    """A chunked upload without Content-Length is counted while it arrives."""
    limits = Limits(file_mb=1, total_mb=1, files=5)
    app = create_app(tmp_path / "d", limits=limits)
    boundary = "nianbaoboundary"

    def body():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.xlsx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for _ in range(8):
            yield b"x" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    with browser(app) as client:
        r = client.post(
            "/batches", content=body(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
        assert r.status_code == 413 and "上限" in r.text
        assert not any((tmp_path / "d" / "batches").iterdir())


def test_batches_survive_a_restart(server, batch):
    _, data = server
    with browser(create_app(data)) as again:
        page = again.get(f"/batches/{batch}").text
        assert "乙局-有错.xlsx" in page and "下载全部批注副本" in page


@pytest.mark.slow
def test_unfinished_batch_is_resumed_after_a_restart(tmp_path, county):
    folder, _ = county
    data = tmp_path / "data"
    with browser(create_app(data, run_jobs=False)) as first:
        r = upload(first, [("甲局.xlsx", (folder / "甲局.xlsx").read_bytes())])
        batch_id = r.headers["location"].rsplit("/", 1)[1]
        assert first.get(f"/api/batches/{batch_id}").json()["state"] == "queued"
        assert "正在处理" in first.get(f"/batches/{batch_id}").text
    with browser(create_app(data)) as second:
        assert wait(second, f"/api/batches/{batch_id}")["state"] == "done"


# ---------------------------------------------------------------- aggregate
@pytest.mark.slow
def test_aggregate_board_and_summed_cell(server, batch, county, tmp_path):
    client, _ = server
    _folder, vals = county
    roster = "单位名称\n示例县甲局\n示例县乙局\n示例县丙局\n示例县丁局\n".encode()
    r = client.post(
        "/aggregates",
        data={"batch": batch},
        files={"roster": ("名单.csv", roster, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    agg_id = url.rsplit("/", 1)[1]
    doc = wait(client, f"/api/batches/{batch}/aggregates/{agg_id}")
    assert doc["state"] == "done", doc
    page = client.get(url).text
    assert "报送情况" in page
    # 未报送 and 有错误 come before the units that passed
    assert page.index("示例县丁局") < page.index("示例县甲局")
    assert page.index("示例县乙局") < page.index("示例县甲局")
    assert "未报送" in page and "有错误" in page
    r = client.get(url + "/download")
    assert r.status_code == 200 and r.content[:4] == XLSX_MAGIC
    p = tmp_path / "汇总.xlsx"
    p.write_bytes(r.content)
    wb = openpyxl.load_workbook(p)
    assert wb.sheetnames[0] == "汇总"
    key = "nb_t3_new_natural"
    dest = next(iter(wb.defined_names[key].destinations))
    got = wb[dest[0]][dest[1].replace("$", "")].value
    assert Decimal(str(got)) == Decimal(vals["a"][key]) + Decimal(vals["c"][key])  # 乙局 not summed

    # the same again with this aggregate as "last year's": accepted, named on the board
    r = client.post(
        "/aggregates",
        data={"batch": batch, "year": "2025"},
        files={
            "roster": ("名单.csv", roster, "text/csv"),
            "previous": ("上年汇总.xlsx", p.read_bytes(), "application/octet-stream"),
        },
        follow_redirects=False,
    )
    url2 = r.headers["location"]
    assert wait(client, "/api" + url2)["state"] == "done"
    assert "上年汇总表：上年汇总.xlsx" in client.get(url2).text


@pytest.mark.slow
def test_a_batch_can_be_deleted(server, county):
    client, data = server
    folder, _ = county
    r = upload(client, [("甲局.xlsx", (folder / "甲局.xlsx").read_bytes())])
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    wait(client, f"/api/batches/{batch_id}")
    assert "删除此批次" in client.get(f"/batches/{batch_id}").text
    r = client.post(f"/batches/{batch_id}/delete", follow_redirects=False)
    assert r.status_code == 303
    assert not (data / "batches" / batch_id).exists()
    assert client.get(f"/batches/{batch_id}").status_code == 404


def test_aggregate_needs_a_finished_batch(server):
    client, _ = server
    r = client.post("/aggregates", data={"batch": "../../etc"})
    assert r.status_code == 400 and "请选择一个已审核完成的批次" in r.text


# ---------------------------------------------------------------- limits and names
def test_upload_limits_have_chinese_messages(tmp_path, county):
    folder, _ = county
    wb = (folder / "甲局.xlsx").read_bytes()
    limits = Limits(file_mb=len(wb) * 1.5 / 2**20, total_mb=len(wb) * 2.5 / 2**20, files=3)
    with browser(create_app(tmp_path / "d", limits=limits)) as client:
        r = upload(client, [(f"{i}.xlsx", b"x") for i in range(4)])
        assert r.status_code == 413 and "一次最多上传 3 个文件" in r.text
        r = upload(client, [("大.xlsx", wb + wb)])
        assert r.status_code == 413 and "超过单个文件" in r.text and "大.xlsx" in r.text
        r = upload(client, [("1.xlsx", wb), ("2.xlsx", wb), ("3.xlsx", wb)])
        assert r.status_code == 413 and "超过每次" in r.text
        r = client.post(
            "/batches",
            files=[("files", ("1.xlsx", wb))],
            headers={"Accept": "application/json"},
            data={"blank": "zero"},
        )
        assert r.status_code == 200 and r.json()["url"].startswith("/batches/")
        r = client.post("/batches", data={"blank": "zero"}, headers={"Accept": "application/json"})
        assert r.status_code == 400 and "没有选择任何文件" in r.json()["error"]
        assert not list((tmp_path / "d" / "batches").glob("*/uploads/大.xlsx"))


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\年报.xlsx", "年报.xlsx"),
        ("C:\\Users\\x\\某某县教育局 2025.xlsx", "某某县教育局 2025.xlsx"),
        (".hidden.xlsx", "hidden.xlsx"),
        ("CON.xlsx", "_CON.xlsx"),
        ("a<b>:c|d?.xlsx", "a_b__c_d_.xlsx"),
        ("..", "未命名文件"),
        ("", "未命名文件"),
    ],
)
def test_sanitize_filename(raw, safe):
    assert sanitize_filename(raw) == safe


def test_long_names_are_cut_but_keep_the_suffix():
    name = sanitize_filename("很长的单位名称" * 40 + ".xlsx")
    assert name.endswith(".xlsx") and len(name.encode("utf-8")) <= 180


def test_uploaded_names_cannot_escape_the_batch(tmp_path):
    storage = Storage(tmp_path / "data")
    batch_id = storage.create_batch(
        [("../../../逃逸.xlsx", io.BytesIO(b"1")), ("/abs/逃逸.xlsx", io.BytesIO(b"2"))]
    )
    names = [f["name"] for f in storage.manifest(batch_id)["files"]]
    assert names == ["逃逸.xlsx", "逃逸 (2).xlsx"]
    assert not (tmp_path / "逃逸.xlsx").exists() and not (tmp_path / "data" / "逃逸.xlsx").exists()
    assert storage.file_in(batch_id, "../../../etc/passwd") is None
    assert storage.manifest("../" + batch_id) is None


def test_traversal_in_urls_is_refused(server, batch):
    client, _ = server
    assert client.get("/batches/..%2F..%2Fetc").status_code == 404
    assert client.get(f"/batches/{batch}/files/999/annotated").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


# ---------------------------------------------------------------- access control
@pytest.mark.slow
def test_token_is_required_when_configured(tmp_path):
    app = create_app(tmp_path / "d", token="县里的口令-2025", host="0.0.0.0")
    with browser(app, "http://192.0.2.10:8765") as client:
        r = client.get("/", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert "访问口令" in client.get("/login").text
        assert client.post("/batches", files=[("files", ("a.xlsx", b"x"))]).status_code == 401
        assert client.get("/api/batches/20250101-000000-abcdef").status_code == 401
        r = client.post("/login", data={"token": "猜错了"})
        assert r.status_code == 401 and "访问口令不正确" in r.text
        r = client.post("/login?next=/check", data={"token": "县里的口令-2025"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/check"
        assert "县里的口令" not in r.headers["set-cookie"]  # the cookie is not the secret itself
        assert client.get("/check").status_code == 200
        r = client.post(
            "/login?next=//evil.example/", data={"token": "县里的口令-2025"}, follow_redirects=False
        )
        assert r.headers["location"] == "/"


def test_loopback_server_refuses_other_hosts_and_cross_site_posts(server):
    client, _ = server
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403
    r = client.post(
        "/batches", files=[("files", ("a.xlsx", b"x"))], headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403 and "拒绝" in r.text


def test_serve_refuses_an_open_bind_without_token(tmp_path):
    res = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--data", str(tmp_path)], env={"NIANBAO_TOKEN": ""}
    )
    assert res.exit_code == 2
    assert "--token" in res.output and "访问口令" in res.output
    res = CliRunner().invoke(
        cli_app, ["serve", "--host", "0.0.0.0", "--token", "short", "--data", str(tmp_path)]
    )
    assert res.exit_code == 2 and "至少需要" in res.output


def test_serve_reports_a_busy_port(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        res = CliRunner().invoke(cli_app, ["serve", "--port", str(port), "--data", str(tmp_path)])
    finally:
        s.close()
    assert res.exit_code == 2 and f"端口 {port} 已被其他程序占用" in res.output
    assert "--port" in res.output and "Address" not in res.output and "in use" not in res.output


@pytest.mark.slow
def test_wps_and_opendocument_returns_are_checked_and_annotated(server, tmp_path):
    client, _ = server
    samples = Path(__file__).resolve().parents[1] / "samples"
    files = [
        ("单位甲.et", (samples / "旧版Excel-97-2003.xls").read_bytes()),
        ("单位乙.ett", (samples / "错误-勾稽关系不符.xlsx").read_bytes()),
    ]
    r = upload(client, files)
    batch_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait(client, f"/api/batches/{batch_id}")["state"] == "done"
    by_name = {x["path"]: x for x in client.app.state.storage.manifest(batch_id)["results"]}
    assert by_name["单位甲.et"]["status"] == "passed"
    assert by_name["单位乙.ett"]["status"] == "failed"
    for res in by_name.values():
        got = client.get(f"/batches/{batch_id}/files/{res['index']}/annotated")
        assert got.status_code == 200
        p = tmp_path / "copy.xlsx"
        p.write_bytes(got.content)
        ws = openpyxl.load_workbook(p)["审核结果"]
        assert "WPS 表格" in " ".join(str(c.value) for row in ws.iter_rows() for c in row if c.value)


def test_aggregate_page_records_whose_aggregate_it_is(server, batch, tmp_path):
    from nianbao.inputs import Input
    from nianbao.pipeline import read_and_check

    client, _ = server
    r = client.post("/aggregates", data={"batch": batch, "issuer": "示例县人民政府"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    url = r.headers["location"]
    doc = wait(client, f"/api/batches/{batch}/aggregates/{url.rsplit('/', 1)[1]}")
    assert doc["state"] == "done", doc
    p = tmp_path / "汇总.xlsx"
    p.write_bytes(client.get(url + "/download").content)
    report = read_and_check(Input(display=p.name, name=p.name, suffix=".xlsx", path=p, kind="workbook"))
    assert report.unit == "示例县人民政府"

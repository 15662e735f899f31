"""报送台 over HTTP: the unit link is the only credential of a unit; the clerk's pages need the token."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import openpyxl
import pytest
from starlette.testclient import TestClient

from conftest import consistent_values
from nianbao.spec import get_spec
from nianbao.template import write_template
from nianbao.web.app import create_app

BASE = "http://127.0.0.1:8765"
TOKEN = "县政务公开办-测试口令-2026"
ROSTER = "单位名称,类别\n示例县教育局,部门\n示例县财政局,部门\n某某镇人民政府,乡镇\n".encode()


def workbook(tmp_path, unit, seed, change=None) -> bytes:
    spec = get_spec("2021")
    vals = consistent_values(spec, seed)
    vals.update(change or {})
    p = tmp_path / f"w{seed}-{len(change or {})}.xlsx"
    write_template(p, spec, unit=unit, year=2025, values=vals)
    return p.read_bytes()


@pytest.fixture
def site(tmp_path):
    app = create_app(tmp_path / "data", token=TOKEN, host="0.0.0.0", run_jobs=False)
    with TestClient(app, base_url=BASE, headers={"Origin": BASE}) as client:
        r = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert r.status_code == 303
        yield client


def create(client) -> tuple[str, dict[str, str]]:
    r = client.post(
        "/desk/create",
        data={
            "form": "2021",
            "year": "2025",
            "deadline": "2026年1月15日",
            "public_url": "http://10.0.0.5:8765",
        },
        files={"roster": ("名单.csv", ROSTER, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cid = r.headers["location"].rsplit("/", 1)[1]
    board = client.get(f"/api/collections/{cid}").json()
    links = {u["unit"]: u["link"].replace("http://10.0.0.5:8765", "") for u in board["units"]}
    return cid, links


@pytest.mark.slow
def test_campaign_over_http(site, tmp_path):
    cid, links = create(site)
    edu, fin = links["示例县教育局"], links["示例县财政局"]
    anon = TestClient(site.app, base_url=BASE)  # a unit: no cookie, only its link
    page = anon.get(edu)
    assert page.status_code == 200 and "示例县教育局" in page.text and "示例县财政局" not in page.text
    t = anon.get(edu + "/template.xlsx")
    assert t.status_code == 200 and t.content[:2] == b"PK"
    bad = workbook(tmp_path, "示例县教育局", 1, {"nb_t3_new_natural": 10_000})
    r = anon.post(
        edu + "/upload", files={"file": ("教育局.xlsx", bad)}, headers={"Accept": "application/json"}
    )
    doc = r.json()
    assert r.status_code == 200 and doc["status"] == "failed" and doc["errors"] >= 1
    assert set(doc) >= {"status", "errors", "warnings", "findings", "corrections", "corrections_truncated"}
    r = anon.post(edu + "/submit", headers={"Accept": "application/json"})
    assert r.status_code == 409 and "错误" in r.json()["error"]
    good = workbook(tmp_path, "示例县教育局", 1)
    assert (
        anon.post(
            edu + "/upload", files={"file": ("改.xlsx", good)}, headers={"Accept": "application/json"}
        ).json()["status"]
        == "passed"
    )
    assert anon.post(edu + "/submit", headers={"Accept": "application/json"}).json()["state"] == "pending"
    anon.post(fin + "/upload", files={"file": ("财政.xlsx", workbook(tmp_path, "示例县财政局", 2))})
    anon.post(fin + "/submit")
    states = {u["unit"]: u["state"] for u in site.get(f"/api/collections/{cid}").json()["units"]}
    assert states == {"示例县教育局": "pending", "示例县财政局": "pending", "某某镇人民政府": "not_reported"}
    uid = {u["unit"]: u["id"] for u in site.get(f"/api/collections/{cid}").json()["units"]}
    assert (
        site.post(f"/desk/{cid}/units/{uid['示例县教育局']}/accept", follow_redirects=False).status_code
        == 303
    )
    r = site.post(
        f"/desk/{cid}/units/{uid['示例县财政局']}/return",
        data={"comment": "请核对表四"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "请核对表四" in anon.get(fin).text
    agg = site.get(f"/desk/{cid}/download/aggregate.xlsx")
    assert agg.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(agg.content))
    sheet, ref = next(iter(wb.defined_names["nb_t3_new_natural"].destinations))
    want = consistent_values(get_spec("2021"), 1)["nb_t3_new_natural"]
    assert Decimal(str(wb[sheet][ref.replace("$", "")].value)) == Decimal(want)
    board = site.get(f"/desk/{cid}")
    assert board.status_code == 200 and "已通过" in board.text and "已退回" in board.text
    partial = site.get(f"/desk/{cid}/download/report.docx")
    assert partial.status_code == 409 and "计入 1/3" in partial.text
    forced = site.get(f"/desk/{cid}/download/report.docx?force=1")
    assert forced.status_code == 200 and forced.content[:2] == b"PK"


@pytest.mark.slow
def test_a_unit_link_reaches_only_its_own_unit(site, tmp_path):
    cid, links = create(site)
    anon = TestClient(site.app, base_url=BASE)
    edu, fin = links["示例县教育局"], links["示例县财政局"]
    up = anon.post(
        fin + "/upload",
        files={"file": ("财政.xlsx", workbook(tmp_path, "示例县财政局", 3))},
        headers={"Accept": "application/json"},
    ).json()["upload"]
    assert anon.get(f"{fin}/uploads/{up}/file").status_code == 200
    assert anon.get(f"{edu}/uploads/{up}/file").status_code == 404
    assert anon.get(f"{edu}/uploads/{up}/annotated.xlsx").status_code == 404
    for path in (
        f"/desk/{cid}",
        f"/api/collections/{cid}",
        "/desk",
        f"/desk/{cid}/download/links.xlsx",
        f"/desk/{cid}/uploads/{up}/file",
        "/check",
        "/",
    ):
        r = anon.get(path, follow_redirects=False)
        assert r.status_code in (303, 401), path
    assert anon.get("/u/not-a-real-token").status_code == 404
    assert anon.post(f"/desk/{cid}/do/close", follow_redirects=False).status_code == 401


def test_revoked_and_reissued_links(site):
    cid, links = create(site)
    anon = TestClient(site.app, base_url=BASE)
    uid = site.get(f"/api/collections/{cid}").json()["units"][0]["id"]
    old = links[site.get(f"/api/collections/{cid}").json()["units"][0]["unit"]]
    site.post(f"/desk/{cid}/units/{uid}/reissue")
    assert anon.get(old).status_code == 404
    new = next(u["link"] for u in site.get(f"/api/collections/{cid}").json()["units"] if u["id"] == uid)
    assert anon.get(new.replace("http://10.0.0.5:8765", "")).status_code == 200


def test_closed_collection_and_downloads(site, tmp_path):
    cid, links = create(site)
    anon = TestClient(site.app, base_url=BASE)
    site.post(f"/desk/{cid}/do/close")
    r = anon.post(
        links["某某镇人民政府"] + "/upload",
        files={"file": ("a.xlsx", workbook(tmp_path, "某某镇人民政府", 4))},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 403 and "截止" in r.json()["error"]
    site.post(f"/desk/{cid}/do/open")
    notice = site.get(f"/desk/{cid}/download/notice.txt").text
    assert "2026年1月15日" in notice and notice.count("/u/") == 3
    chase = site.get(f"/desk/{cid}/download/chase.csv").content.decode("utf-8-sig")
    assert chase.splitlines()[0].startswith("单位名称") and len(chase.splitlines()) == 4
    links_xlsx = openpyxl.load_workbook(io.BytesIO(site.get(f"/desk/{cid}/download/links.xlsx").content))
    assert links_xlsx["报送链接"]["A2"].value == "示例县教育局"


def test_uploads_per_link_are_rate_limited(site, tmp_path):
    from nianbao.web.routes import unit

    _cid, links = create(site)
    anon = TestClient(site.app, base_url=BASE)
    target = links["示例县教育局"] + "/upload"
    codes = [
        anon.post(
            target, files={"file": ("x.xlsx", b"PK junk")}, headers={"Accept": "application/json"}
        ).status_code
        for _ in range(unit.UPLOADS_PER_MINUTE + 2)
    ]
    assert codes[: unit.UPLOADS_PER_MINUTE] == [200] * unit.UPLOADS_PER_MINUTE
    assert codes[-1] == 429


def test_create_refuses_loopback_public_url_in_chinese(site):
    r = site.post(
        "/desk/create",
        data={"form": "2021", "year": "2025", "public_url": "http://127.0.0.1:8765"},
        files={"roster": ("名单.csv", ROSTER, "text/csv")},
    )
    assert r.status_code == 400 and "只有本机能打开" in r.text
    assert not re.search(r"Traceback|Exception", r.text)


def test_qr_codes_and_printable_links_page(site):
    cid, links = create(site)
    uid = site.get(f"/api/collections/{cid}").json()["units"][0]["id"]
    r = site.get(f"/desk/{cid}/units/{uid}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in r.content and b"<script" not in r.content
    page = site.get(f"/desk/{cid}/links")
    assert page.status_code == 200 and page.text.count("qr.svg") == 3
    assert all("http://10.0.0.5:8765" + path in page.text for path in links.values())


def test_serve_public_url_is_the_default_of_new_collections(tmp_path):
    app = create_app(
        tmp_path / "d", token=TOKEN, host="0.0.0.0", run_jobs=False, public_url="http://10.9.8.7:9000/"
    )
    with TestClient(app, base_url=BASE, headers={"Origin": BASE}) as client:
        assert client.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
        page = client.get("/desk")
        assert 'value="http://10.9.8.7:9000"' in page.text


def test_serve_refuses_a_loopback_public_url(tmp_path):
    from typer.testing import CliRunner

    from nianbao.cli import app as cli_app

    r = CliRunner().invoke(
        cli_app, ["serve", "--public-url", "http://127.0.0.1:8765", "--data", str(tmp_path)]
    )
    assert r.exit_code == 2 and "只有本机能打开" in r.output


def test_a_unit_sees_the_cell_to_fix(site, tmp_path):
    _cid, links = create(site)
    spec = get_spec("2021")
    vals = consistent_values(spec, 7)
    anon = TestClient(site.app, base_url=BASE)
    leaf = "nb_t3_new_natural"
    wrong = workbook(tmp_path, "示例县教育局", 7, {leaf: vals[leaf] + 9})
    doc = anon.post(
        links["示例县教育局"] + "/upload",
        files={"file": ("x.xlsx", wrong)},
        headers={"Accept": "application/json"},
    ).json()
    assert doc["corrections"] and doc["corrections_truncated"] is False
    cells = doc["corrections"][0]["cells"]
    assert len(doc["corrections"]) == 1 and len(cells) == 1
    assert cells[0]["suggested"] in (vals[leaf], str(vals[leaf])) and cells[0]["sheet"] == "表三"
    page = anon.get(links["示例县教育局"]).text
    assert "最可能需要改正的单元格" in page and f"改为 {vals[leaf]}" in page


def test_the_admin_api_takes_a_bearer_token(tmp_path):
    secret = "Xk3-very-long-admin-token-2026"
    app = create_app(tmp_path / "d", token=secret, host="0.0.0.0", run_jobs=False)
    with TestClient(app, base_url=BASE) as api:  # no cookie, no Origin: a script on another machine
        auth = {"Authorization": f"Bearer {secret}"}
        assert api.get("/api/collections").status_code == 401
        r = api.post(
            "/desk/create",
            data={"form": "2021", "year": "2025", "public_url": "http://10.0.0.5:8765"},
            files={"roster": ("名单.csv", ROSTER, "text/csv")},
            headers=auth,
            follow_redirects=False,
        )
        assert r.status_code == 303
        cid = r.headers["location"].rsplit("/", 1)[1]
        board = api.get(f"/api/collections/{cid}", headers=auth).json()
        assert [u["unit"] for u in board["units"]] == ["示例县教育局", "示例县财政局", "某某镇人民政府"]
        assert {u["state"] for u in board["units"]} == {"not_reported"}

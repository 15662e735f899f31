"""报送台 (the year's collection): states, access, history, aggregate, export/import, backup."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from conftest import consistent_values
from nianbao.cli import app
from nianbao.desk import Desk, DeskError, UnitState
from nianbao.desk.outputs import (
    aggregate_accepted,
    chase_csv,
    export_collection,
    import_collection,
    links_workbook,
    notice_text,
    unit_template,
)
from nianbao.spec import get_spec
from nianbao.template import write_template

YEAR = 2025
UNITS = ["示例县教育局", "示例县财政局", "某某镇人民政府"]
ROSTER = [{"单位名称": u, "类别": "乡镇" if "镇" in u else "部门"} for u in UNITS]


def filled(tmp_path: Path, unit: str, seed: int, *, year: int = YEAR, change: dict | None = None) -> bytes:
    spec = get_spec("2021")
    vals = consistent_values(spec, seed)
    vals.update(change or {})
    p = tmp_path / f"{unit}-{seed}.xlsx"
    write_template(p, spec, unit=unit, year=year, values=vals)
    return p.read_bytes()


@pytest.fixture
def desk(tmp_path):
    d = Desk(tmp_path / "desk")
    yield d
    d.close()


@pytest.fixture
def coll(desk):
    return desk.create(
        ROSTER, year=YEAR, form="2021", deadline="2026年1月15日", public_url="http://10.1.2.3:8765/"
    )


def unit_named(desk, coll, name):
    return next(u for u in desk.units(coll["id"]) if u["name"] == name)


def test_created_collection_gives_every_unit_a_distinct_link(desk, coll):
    links = [desk.link(coll, u) for u in coll["units"]]
    assert [u["name"] for u in coll["units"]] == UNITS
    assert len(set(links)) == 3 and all(x.startswith("http://10.1.2.3:8765/u/") for x in links)
    assert all(len(u["token"]) >= 32 for u in coll["units"])
    assert coll["counts"][UnitState.NOT_REPORTED] == 3


def test_full_cycle_error_fix_submit_accept(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    bad = filled(tmp_path, u["name"], 1, change={"nb_t3_new_natural": 10_000})
    up = desk.upload(u["id"], "教育局.xlsx", bad)
    assert up["status"] == "failed" and up["errors"] >= 1
    assert desk.unit(u["id"])["state"] == UnitState.ERRORS
    with pytest.raises(DeskError, match="错误"):
        desk.submit(u["id"])
    good = filled(tmp_path, u["name"], 1)
    up2 = desk.upload(u["id"], "教育局-改.xlsx", good)
    assert up2["status"] == "passed" and desk.unit(u["id"])["state"] == UnitState.UPLOADED
    hist = desk.history(u["id"])
    assert len(hist) == 2
    changed = {c["key"]: c for c in hist[1]["changes"]}
    assert set(changed) == {"nb_t3_new_natural"}
    assert changed["nb_t3_new_natural"]["old"] == "10000"
    assert desk.submit(u["id"])["state"] == UnitState.PENDING
    assert desk.accept(u["id"], "数据无误")["state"] == UnitState.ACCEPTED
    with pytest.raises(DeskError, match="审核通过"):
        desk.upload(u["id"], "again.xlsx", good)
    assert desk.reopen(u["id"])["state"] == UnitState.RETURNED
    assert [d["kind"] for d in desk.decisions(u["id"])] == ["submit", "accept", "reopen"]


def test_return_with_comment_is_seen_by_the_unit(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县财政局")
    desk.upload(u["id"], "财政局.xlsx", filled(tmp_path, u["name"], 2))
    desk.submit(u["id"])
    with pytest.raises(DeskError, match="退回原因"):
        desk.send_back(u["id"], "  ")
    back = desk.send_back(u["id"], "表四数据与台账不符，请核对")
    assert back["state"] == UnitState.RETURNED and back["comment"] == "表四数据与台账不符，请核对"
    desk.upload(u["id"], "财政局2.xlsx", filled(tmp_path, u["name"], 3))
    assert desk.unit(u["id"])["state"] == UnitState.UPLOADED


def test_wrong_year_is_an_error_of_the_collection(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县财政局")
    up = desk.upload(u["id"], "old.xlsx", filled(tmp_path, u["name"], 4, year=2024))
    assert up["status"] == "failed" and any("2024" in p for p in up["result"]["problems"])


def test_unreadable_and_unsupported_uploads(desk, coll):
    u = unit_named(desk, coll, "示例县教育局")
    up = desk.upload(u["id"], "坏.xlsx", b"PK\x03\x04 broken")
    assert up["status"] == "unreadable" and desk.unit(u["id"])["state"] == UnitState.ERRORS
    up = desk.upload(u["id"], "说明.exe", b"MZ....")
    assert up["status"] == "unreadable" and "不支持" in up["result"]["findings"][0]["message"]
    with pytest.raises(DeskError, match="空"):
        desk.upload(u["id"], "空.xlsx", b"")


def test_explanations_for_warnings(desk, coll, tmp_path):
    u = unit_named(desk, coll, "某某镇人民政府")
    spec = get_spec("2021")
    blank_key = next(k for k in spec.cells if k.startswith("nb_t4_"))
    data = filled(tmp_path, u["name"], 5, change={blank_key: None})
    up = desk.upload(u["id"], "镇.xlsx", data)
    items = desk.warning_items(up)
    assert items, up["result"]["findings"]
    desk.explain(u["id"], items[0]["item"], "本年度确无行政复议")
    rec = desk.upload_record(up["id"])
    assert rec["explanations"] == {items[0]["item"]: "本年度确无行政复议"}
    with pytest.raises(DeskError):
        desk.explain(u["id"], "NB999:Z1", "x")
    row = next(r for r in desk.board(coll["id"])["units"] if r["unit"] == u["name"])
    assert row["explained"] == 1 and row["to_explain"] == len(items)


def test_closed_collection_refuses_uploads_and_reopens(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    desk.set_closed(coll["id"], True)
    with pytest.raises(DeskError, match="截止") as e:
        desk.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 6))
    assert e.value.status == 403
    desk.set_closed(coll["id"], False)
    assert desk.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 6))["status"] == "passed"


def test_links_revoke_reissue_and_roster_changes(desk, coll):
    u = unit_named(desk, coll, "示例县教育局")
    assert desk.by_token(u["token"])[1]["id"] == u["id"]
    new = desk.reissue_link(u["id"])
    with pytest.raises(DeskError) as e:
        desk.by_token(u["token"])
    assert e.value.status == 404
    assert desk.by_token(new["token"])[1]["id"] == u["id"]
    desk.revoke_link(u["id"])
    with pytest.raises(DeskError):
        desk.by_token(new["token"])
    added = desk.add_unit(coll["id"], "示例县林业局", "部门")
    with pytest.raises(DeskError, match="已在名单"):
        desk.add_unit(coll["id"], "示例县 林业局")
    renamed = desk.rename_unit(added["id"], "示例县林业和草原局")
    assert renamed["aliases"] == "示例县林业局"
    desk.remove_unit(unit_named(desk, coll, "某某镇人民政府")["id"])
    assert [x["name"] for x in desk.units(coll["id"])] == [
        "示例县教育局",
        "示例县财政局",
        "示例县林业和草原局",
    ]


def test_chase_list_notice_and_links_workbook(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    desk.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 7))
    desk.submit(u["id"])
    assert [r["unit"] for r in desk.chase_list(coll["id"])] == ["示例县财政局", "某某镇人民政府"]
    csv_text = chase_csv(desk, coll["id"])
    assert (
        csv_text.startswith("\ufeff单位名称")
        and "示例县财政局" in csv_text
        and "示例县教育局" not in csv_text
    )
    notice = notice_text(desk, coll["id"])
    assert "2026年1月15日" in notice and all(desk.link(coll, x) in notice for x in desk.units(coll["id"]))
    p = tmp_path / "links.xlsx"
    p.write_bytes(links_workbook(desk, coll["id"]))
    ws = openpyxl.load_workbook(p)["报送链接"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert [r[0] for r in rows] == UNITS and rows[0][2] == desk.link(coll, u) and rows[0][3] == "待审核"


def test_unit_template_is_filled_and_checks_clean_once_completed(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县财政局")
    out = unit_template(desk, u["id"], tmp_path / "t.xlsx")
    wb = openpyxl.load_workbook(out)
    cover = wb.worksheets[0]
    assert any(c.value == u["name"] for row in cover.iter_rows() for c in row)


@pytest.mark.slow
def test_aggregate_sums_only_accepted_returns(desk, coll, tmp_path):
    spec = get_spec("2021")
    accepted = {}
    for seed, name in enumerate(UNITS[:2], start=10):
        u = unit_named(desk, coll, name)
        desk.upload(u["id"], f"{name}.xlsx", filled(tmp_path, name, seed))
        desk.submit(u["id"])
        if name == UNITS[0]:
            desk.accept(u["id"])
            accepted[name] = consistent_values(spec, seed)
    out = tmp_path / "汇总.xlsx"
    info = aggregate_accepted(desk, coll["id"], out)
    assert info["summed"] == 1
    wb = openpyxl.load_workbook(out)
    key = "nb_t3_new_natural"
    sheet, ref = next(iter(wb.defined_names[key].destinations))
    got = wb[sheet][ref.replace("$", "")].value
    assert Decimal(str(got)) == Decimal(accepted[UNITS[0]][key])


def test_export_import_moves_a_collection_with_its_files(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    up = desk.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 8))
    out = tmp_path / "任务.zip"
    export_collection(desk, coll["id"], out)
    other = Desk(tmp_path / "other")
    try:
        cid = import_collection(other, out)
        assert cid == coll["id"]
        rec = other.upload_record(up["id"])
        assert (
            other.store.blob_path(rec["sha256"]).read_bytes()
            == desk.store.blob_path(up["sha256"]).read_bytes()
        )
        assert other.unit(u["id"])["state"] == UnitState.UPLOADED
        with pytest.raises(DeskError, match="已存在"):
            import_collection(other, out)
    finally:
        other.close()


def test_import_refuses_foreign_or_crafted_files(desk, tmp_path):
    import zipfile

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DeskError, match="不是"):
        import_collection(desk, bad)
    crafted = tmp_path / "crafted.zip"
    doc = {
        "kind": "nianbao-desk-collection",
        "version": 1,
        "tables": {
            "collections": [
                {"id": "x1", "name": "n", "year": 1, "form": "2021", "created_at": "t", "evil) --": 1}
            ],
            **{t: [] for t in ("units", "uploads", "explanations", "decisions", "audit")},
        },
    }
    with zipfile.ZipFile(crafted, "w") as z:
        z.writestr("collection.json", json.dumps(doc))
    with pytest.raises(DeskError, match="无法识别"):
        import_collection(desk, crafted)
    assert desk.collections() == []


def test_audit_log_records_who_did_what(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    desk.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 9), address="10.0.0.7")
    desk.submit(u["id"], address="10.0.0.7")
    log = desk.audit_log(coll["id"])
    assert [e["action"] for e in log][:3] == ["确认报送", "上传报表", "创建报送任务"]
    assert log[0]["actor"] == "示例县教育局" and log[0]["address"] == "10.0.0.7"


def test_drop_in_matches_files_by_their_unit(desk, coll, tmp_path):
    res = desk.drop_in(
        coll["id"],
        [
            ("mail1.xlsx", filled(tmp_path, "示例县财政局", 11)),
            ("mail2.xlsx", filled(tmp_path, "别的县公安局", 12)),
        ],
    )
    assert res[0]["unit"] == "示例县财政局" and res[0]["status"] == "passed"
    assert res[1]["unit"] is None and "别的县公安局" in res[1]["message"]
    assert unit_named(desk, coll, "示例县财政局")["state"] == UnitState.UPLOADED


def test_backup_is_a_consistent_copy(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    up = desk.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 13))
    dest = tmp_path / "备份"
    desk.store.backup(dest)
    con = sqlite3.connect(dest / "desk.sqlite3")
    assert con.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == 1
    con.close()
    assert (dest / "files" / up["sha256"][:2] / up["sha256"]).is_file()


def test_cli_create_prints_links_and_refuses_loopback(tmp_path):
    roster = tmp_path / "名单.csv"
    roster.write_text("单位名称\n甲局\n乙局\n", encoding="utf-8")
    r = CliRunner().invoke(
        app,
        [
            "desk",
            "create",
            "--roster",
            str(roster),
            "--year",
            "2025",
            "--data",
            str(tmp_path / "d"),
            "--public-url",
            "http://192.168.3.4:8765",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert [u["unit"] for u in doc["units"]] == ["甲局", "乙局"]
    assert all(u["link"].startswith("http://192.168.3.4:8765/u/") for u in doc["units"])
    r = CliRunner().invoke(
        app,
        [
            "desk",
            "create",
            "--roster",
            str(roster),
            "--year",
            "2025",
            "--data",
            str(tmp_path / "d"),
            "--public-url",
            "http://127.0.0.1:8765",
        ],
    )
    assert r.exit_code == 2 and "只有本机能打开" in r.output
    r = CliRunner().invoke(app, ["desk", "backup", str(tmp_path / "bk"), "--data", str(tmp_path / "d")])
    assert r.exit_code == 0 and (tmp_path / "bk" / "desk.sqlite3").is_file()
    exp = tmp_path / "x.zip"
    r = CliRunner().invoke(
        app, ["desk", "export", doc["collection"], "-o", str(exp), "--data", str(tmp_path / "d")]
    )
    assert r.exit_code == 0 and exp.is_file()
    r = CliRunner().invoke(app, ["desk", "import", str(exp), "--data", str(tmp_path / "d2")])
    assert r.exit_code == 0 and doc["collection"] in r.output


@pytest.mark.skipif(
    __import__("shutil").which("zbarimg") is None, reason="zbar-tools (zbarimg) not installed"
)
def test_qr_code_decodes_to_the_link(desk, coll, tmp_path):
    import subprocess

    from nianbao.desk.outputs import qr, qr_svg

    link = desk.link(coll, coll["units"][0])
    assert b"<svg" in qr_svg(link)
    png = tmp_path / "qr.png"
    qr(link).save(str(png), scale=6, border=4)  # the code the page shows, as a picture zbar reads
    out = subprocess.run(["zbarimg", "--raw", "-q", str(png)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == link


@pytest.mark.slow
def test_publish_from_accepted_returns_refuses_partial_unless_forced(tmp_path):
    import docx

    from nianbao.desk.outputs import publish_accepted

    d = Desk(tmp_path / "desk")
    try:
        c = d.create(ROSTER, year=YEAR, form="2021", public_url="http://10.1.2.3", issuer="示例县人民政府")
        for seed, u in enumerate(c["units"][:2], start=40):
            d.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], seed))
            d.submit(u["id"])
            d.accept(u["id"])
        with pytest.raises(DeskError, match="计入 2/3") as e:
            publish_accepted(d, c["id"], "docx")
        assert e.value.status == 409
        name, data = publish_accepted(d, c["id"], "docx", force=True)
        assert name == "示例县人民政府2025年政府信息公开工作年度报告.docx"
        out = tmp_path / name
        out.write_bytes(data)
        text = "\n".join(p.text for p in docx.Document(str(out)).paragraphs)
        assert "示例县人民政府" in text and "2/3" in text
        last = c["units"][2]
        d.upload(last["id"], "b.xlsx", filled(tmp_path, last["name"], 42))
        d.submit(last["id"])
        d.accept(last["id"])
        name, html = publish_accepted(d, c["id"], "html")
        page = html.decode("utf-8")
        total = sum(consistent_values(get_spec("2021"), s)["nb_t3_new_total"] for s in (40, 41, 42))
        assert "2/3" not in page and f">{total}<" in page
    finally:
        d.close()


@pytest.mark.slow
def test_a_county_reports_its_aggregate_to_the_city_through_a_unit_link(tmp_path):
    from nianbao.desk.outputs import aggregate_accepted

    county = Desk(tmp_path / "county")
    city = Desk(tmp_path / "city")
    try:
        c = county.create(
            ROSTER, year=YEAR, form="2021", public_url="http://10.1.1.1", issuer="示例县人民政府"
        )
        for i, u in enumerate(c["units"][:2]):
            county.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 60 + i))
            county.submit(u["id"])
            county.accept(u["id"])
        agg = tmp_path / "示例县汇总.xlsx"
        aggregate_accepted(county, c["id"], agg)
        roster = [{"单位名称": "示例县人民政府"}, {"单位名称": "另一县人民政府"}]
        m = city.create(roster, year=YEAR, form="2021", public_url="http://10.2.2.2", issuer="示例市人民政府")
        unit = m["units"][0]
        up = city.upload(unit["id"], agg.name, agg.read_bytes())
        assert up["status"] == "passed" and up["reported_unit"] == "示例县人民政府"
        assert up["result"]["coverage"] == "计入 2/3 个单位（未报送 1）"
        assert not up["result"]["coverage_complete"]
        city.submit(unit["id"])
        assert city.accept(unit["id"])["state"] == UnitState.ACCEPTED
    finally:
        county.close()
        city.close()


@pytest.mark.slow
def test_the_city_aggregate_sums_the_county_aggregates(tmp_path):
    from nianbao.desk.outputs import aggregate_accepted

    county = Desk(tmp_path / "county")
    city = Desk(tmp_path / "city")
    try:
        c = county.create(
            ROSTER, year=YEAR, form="2021", public_url="http://10.1.1.1", issuer="示例县人民政府"
        )
        for i, u in enumerate(c["units"][:2]):
            county.upload(u["id"], "a.xlsx", filled(tmp_path, u["name"], 60 + i))
            county.submit(u["id"])
            county.accept(u["id"])
        agg = tmp_path / "示例县汇总.xlsx"
        aggregate_accepted(county, c["id"], agg)
        m = city.create(
            [{"单位名称": "示例县人民政府"}], year=YEAR, form="2021", public_url="http://10.2.2.2"
        )
        unit = m["units"][0]
        city.upload(unit["id"], agg.name, agg.read_bytes())
        city.submit(unit["id"])
        city.accept(unit["id"])
        out = tmp_path / "市汇总.xlsx"
        assert aggregate_accepted(city, m["id"], out)["summed"] == 1
        wb = openpyxl.load_workbook(out)
        sheet, ref = next(iter(wb.defined_names["nb_t3_new_total"].destinations))
        want = sum(consistent_values(get_spec("2021"), s)["nb_t3_new_total"] for s in (60, 61))
        assert Decimal(str(wb[sheet][ref.replace("$", "")].value)) == want
    finally:
        county.close()
        city.close()


def test_a_return_naming_another_unit_is_pointed_out(desk, coll, tmp_path):
    u = unit_named(desk, coll, "示例县教育局")
    up = desk.upload(u["id"], "a.xlsx", filled(tmp_path, "示例县水务局", 70))
    assert up["result"]["notes"] == [
        "文件中的填报单位是“示例县水务局”，不是“示例县教育局”：请确认上传的是本单位的报表"
    ]
    row = next(r for r in desk.board(coll["id"])["units"] if r["unit"] == "示例县教育局")
    assert row["notes"] == up["result"]["notes"]
    same = desk.upload(u["id"], "b.xlsx", filled(tmp_path, "示例县 教育局", 70))  # spacing differs only
    assert same["result"]["notes"] == []

"""What leaves the desk: the links workbook and notice text, 催报名单, a unit's own template, the
aggregate of the accepted returns, and a whole collection as one file (export / import)."""

from __future__ import annotations

import io
import json
import sqlite3
import tempfile
import zipfile
from pathlib import Path

from ..guard import MAX_EXPORT_BLOB_BYTES, MAX_EXPORT_DOC_BYTES, Archive, ArchiveError
from ..roster import ALIAS, CATEGORY, NAME, safe_filename
from ..vocab import UnitState
from .service import Desk
from .store import BLOBS, DeskError, new_id

EXPORT_KIND = "nianbao-desk-collection"
EXPORT_VERSION = 1
TABLES = ("collections", "units", "uploads", "explanations", "decisions", "audit")


def notice_text(desk: Desk, cid: str) -> str:
    """A notice to paste into the office's messaging or OA system."""
    c = desk.collection(cid)
    deadline = f"请于{c['deadline']}前" if c["deadline"] else "请尽快"
    lines = [
        f"各单位：{c['year']}年度政府信息公开工作年度报告统计表开始报送。{deadline}通过本单位专属链接完成报送：",
        "打开链接 → 下载本单位模板 → 填写后上传 → 按提示改正错误、对警告填写核实说明 → 点击“确认报送”。",
        "专属链接仅供本单位使用，请勿转发。",
        "",
    ]
    lines += [f"{u['name']}：{desk.link(c, u)}" for u in c["units"]]
    return "\n".join(lines) + "\n"


def links_workbook(desk: Desk, cid: str) -> bytes:
    """All units' links as an .xlsx (one row per unit), with the notice on a second sheet."""
    import xlsxwriter

    c = desk.collection(cid)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_urls": False, "strings_to_formulas": False})
    head = wb.add_format({"bold": True, "bg_color": "#E7E6E6", "border": 1})
    ws = wb.add_worksheet("报送链接")
    for col, (title, width) in enumerate([("单位名称", 30), ("类别", 10), ("专属链接", 70), ("状态", 12)]):
        ws.set_column(col, col, width)
        ws.write_string(0, col, title, head)
    for r, u in enumerate(c["units"], start=1):
        ws.write_string(r, 0, u["name"])
        ws.write_string(r, 1, u["category"])
        ws.write_string(r, 2, desk.link(c, u))
        ws.write_string(r, 3, UnitState(u["state"]).zh)
    ws.freeze_panes(1, 0)
    ws.set_landscape()
    ws.repeat_rows(0)
    ws.fit_to_pages(1, 0)
    notice = wb.add_worksheet("通知")
    notice.set_column(0, 0, 120)
    for r, line in enumerate(notice_text(desk, cid).splitlines()):
        notice.write_string(r, 0, line)
    wb.close()
    return buf.getvalue()


def qr(text: str):
    """The QR code of ``text`` (segno), medium error correction: survives a smudged printout."""
    import segno

    return segno.make(text, error="m")


def qr_svg(text: str) -> bytes:
    """A QR code of ``text`` as a standalone SVG (scannable by a phone from a printed page)."""
    buf = io.BytesIO()
    qr(text).save(buf, kind="svg", scale=4, border=2, xmldecl=False, svgns=True)
    return buf.getvalue()


def chase_csv(desk: Desk, cid: str) -> str:
    """催报名单 as CSV for Excel (UTF-8 with BOM)."""
    import csv

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["单位名称", "类别", "状态", "最近上传", "错误数", "管理员意见", "专属链接"])
    for r in desk.chase_list(cid):
        w.writerow(
            [r["unit"], r["category"], r["state_zh"], r["last_upload"], r["errors"], r["comment"], r["link"]]
        )
    return "\ufeff" + out.getvalue()


def unit_template(desk: Desk, uid: str, out: Path) -> Path:
    """The unit's own template: its name filled in and locked, the collection's year and form."""
    from ..spec import get_spec
    from ..template import write_template

    u = desk.unit(uid)
    c = desk.collection(u["collection_id"])
    write_template(out, get_spec(c["form"]), unit=u["name"], year=c["year"], deadline=c["deadline"] or None)
    return out


def accepted_files(desk: Desk, cid: str, folder: Path) -> list[dict]:
    """Copy the accepted return of every accepted unit into ``folder``; the roster to aggregate it."""
    roster = []
    for u in desk.units(cid):
        row = {NAME: u["name"], CATEGORY: u["category"], ALIAS: u["aliases"]}
        if u["state"] == UnitState.ACCEPTED and u["current_upload"]:
            up = desk.upload_record(u["current_upload"])
            if up["reported_unit"] and up["reported_unit"] != u["name"]:
                row[ALIAS] = "、".join(a for a in (u["aliases"], up["reported_unit"]) if a)
            suffix = Path(up["filename"]).suffix.lower() or ".xlsx"
            (folder / f"{safe_filename(u['name'])}{suffix}").write_bytes(
                desk.store.blob_path(up["sha256"]).read_bytes()
            )
        roster.append(row)
    return roster


def aggregate_accepted(desk: Desk, cid: str, out: Path) -> dict:
    """汇总 of the accepted returns (the latest accepted upload per unit), written to ``out``.
    Units not yet accepted show as 未报送 in 报送情况, so the partial state is never hidden."""
    from ..aggregate import aggregate
    from ..aggregate.workbook import write_aggregate

    c = desk.collection(cid)
    with tempfile.TemporaryDirectory(prefix="nianbao-desk-") as tmp:
        roster = accepted_files(desk, cid, Path(tmp))
        res = aggregate([Path(tmp)], roster=roster, year=c["year"], jobs=1)
        res.unit = c["issuer"]  # whose report the aggregate is: publish titles it so
        try:
            write_aggregate(res, out, force=True)
            summed = len(res.summed)
        finally:
            res.close()
    return {"path": str(out), "summed": summed, "units": len(roster)}


def publish_accepted(desk: Desk, cid: str, kind: str, *, force: bool = False) -> tuple[str, bytes]:
    """The collection's own report (Word or web page) from the aggregate of the accepted returns.
    While not every unit is accepted it is refused, unless ``force``: then page 1 says so."""
    from ..inputs import Input
    from ..pipeline import read_and_check
    from ..publish import build_document, render
    from ..spec import get_spec

    c = desk.collection(cid)
    with tempfile.TemporaryDirectory(prefix="nianbao-desk-") as tmp:
        agg = Path(tmp) / "汇总.xlsx"
        aggregate_accepted(desk, cid, agg)
        report = read_and_check(
            Input(display=agg.name, name=agg.name, suffix=".xlsx", path=agg, kind="workbook")
        )
    cov = report.coverage
    notice = cov.text() if cov is not None and not cov.complete else ""
    if notice and not force:
        raise DeskError(
            f"{notice}，尚未全部审核通过；如确需先行发布，请选择“仍然发布”（首页会注明数据不完整）", 409
        )
    if report.errors and not force:
        raise DeskError(f"汇总数据审核有 {report.errors} 处错误，请先核对", 409)
    doc = build_document(
        report,
        get_spec(report.form or c["form"]),
        unit=c["issuer"] or None,
        year=c["year"],
        errors=report.errors,
        coverage=notice,
    )
    stem = f"{c['issuer'] or ''}{c['year']}年政府信息公开工作年度报告"
    return f"{stem}.{kind}", render(doc, kind)


# moving a collection between desks ----------------------------------------------------------------


def export_collection(desk: Desk, cid: str, out: Path) -> Path:
    """The whole collection (rows and stored files) as one .zip file."""
    desk.collection(cid)
    con = desk.store.con
    doc = {"kind": EXPORT_KIND, "version": EXPORT_VERSION, "tables": {}}
    where = {
        "collections": ("id = ?", cid),
        "units": ("collection_id = ?", cid),
        "uploads": ("collection_id = ?", cid),
        "explanations": ("upload_id IN (SELECT id FROM uploads WHERE collection_id = ?)", cid),
        "decisions": ("unit_id IN (SELECT id FROM units WHERE collection_id = ?)", cid),
        "audit": ("collection_id = ?", cid),
    }
    for t in TABLES:
        cond, arg = where[t]
        doc["tables"][t] = [dict(r) for r in con.execute(f"SELECT * FROM {t} WHERE {cond}", (arg,))]
    tmp = out.with_name(f".~{out.name}.{new_id()}")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("collection.json", json.dumps(doc, ensure_ascii=False))
        for sha in sorted({u["sha256"] for u in doc["tables"]["uploads"]}):
            z.write(desk.store.blob_path(sha), f"{BLOBS}/{sha}")
    tmp.replace(out)
    return out


def import_collection(desk: Desk, path: Path) -> str:
    """Load a collection written by :func:`export_collection`; refuses one that is already here."""
    try:
        archive = Archive(Path(path))
        doc = json.loads(archive.read("collection.json", limit=MAX_EXPORT_DOC_BYTES))
    except (ArchiveError, ValueError):
        raise DeskError(f"{path} 不是 nianbao 报送台导出的文件") from None
    if doc.get("kind") != EXPORT_KIND or doc.get("version") != EXPORT_VERSION:
        raise DeskError(f"{path} 不是本版本 nianbao 报送台导出的文件")
    cid = doc["tables"]["collections"][0]["id"]
    if desk.store.one("SELECT id FROM collections WHERE id = ?", cid):
        raise DeskError("该报送任务已存在，无需重复导入", 409)
    for _, info in archive.members:
        if info.filename.startswith(f"{BLOBS}/") and info.file_size <= MAX_EXPORT_BLOB_BYTES:
            try:
                sha = desk.store.put_blob(archive.read(info, limit=MAX_EXPORT_BLOB_BYTES))
            except ArchiveError as e:
                raise DeskError(f"{path} 中的文件 {info.filename} 无法读取：{e}") from None
            if sha != info.filename.split("/", 1)[1]:
                raise DeskError(f"{path} 中的文件 {info.filename} 已损坏")
    with desk.store.tx() as con:
        for t in TABLES:
            known = {r[1] for r in con.execute(f"PRAGMA table_info({t})")}
            for row in doc["tables"][t]:
                if t == "audit":
                    row.pop("id", None)
                if not isinstance(row, dict) or not set(row) <= known:
                    raise DeskError(f"{path} 的内容无法识别（{t}），无法导入")
                cols = ", ".join(row)
                try:
                    con.execute(
                        f"INSERT INTO {t}({cols}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
                    )
                except sqlite3.Error as e:
                    raise DeskError(f"{path} 的内容与本机数据冲突，无法导入（{t}）") from e
    return cid

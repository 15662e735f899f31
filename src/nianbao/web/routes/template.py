"""下载模板: one blank template, or one per unit of an uploaded roster (zipped)."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..common import (
    ROSTER_SUFFIXES,
    XLSX,
    UploadError,
    attachment,
    clean_text,
    forms,
    in_child,
    read_uploads,
    web_of,
    year_of,
)
from ..storage import name_part, sanitize_filename


def template_name(unit: str | None, year: int | None) -> str:
    parts = ["年报模板", name_part(unit or ""), f"{year}年度" if year else ""]
    return sanitize_filename("-".join(p for p in parts if p) + ".xlsx")


def make_template_bytes(form: str, unit: str | None, year: int | None) -> bytes:
    from ...spec import get_spec
    from ...template import write_template

    with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
        p = Path(tmp) / "模板.xlsx"
        write_template(p, get_spec(form), unit=unit or None, year=year)
        return p.read_bytes()


def roster_zip(roster: str, form: str, year: int | None, out: str, max_units: int) -> tuple[int, str]:
    """Templates for every unit of ``roster`` zipped into ``out``: (count, error message).

    Runs in a child process: the roster is a user's file."""
    from ...roster import RosterError, read_roster

    try:
        units = read_roster(Path(roster))
    except RosterError as e:
        return 0, str(e).replace(str(Path(roster).parent) + os.sep, "")
    if len(units) > max_units:
        return 0, f"名单中有 {len(units)} 个单位，超过一次 {max_units} 个的上限，请拆分名单。"
    taken: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for u in units:
            unit = clean_text(u.get("单位名称"), 100)
            name = template_name(unit, year)
            n = 1
            while name in taken:
                n += 1
                name = template_name(f"{unit}（{n}）", year)
            taken.add(name)
            z.writestr(name, make_template_bytes(form, unit, year))
    return len(units), ""


def _version(raw) -> str:
    version = str(raw or "2021")
    if version not in {f["version"] for f in forms()}:
        raise UploadError("请选择表式。")
    return version


async def template_page(req: Request):
    return web_of(req).page(req, "template.html", nav="template", forms=forms())


async def template_download(req: Request):
    form = await req.form(max_files=0, max_fields=10)
    try:
        version = _version(form.get("form"))
        year = year_of(form.get("year"))
        unit = clean_text(form.get("unit"), 100) or None
    except UploadError as e:
        return web_of(req).page(req, "template.html", status=400, nav="template", forms=forms(), error=str(e))
    data = await run_in_threadpool(make_template_bytes, version, unit, year)
    return Response(data, media_type=XLSX, headers=attachment(template_name(unit, year)))


async def template_roster(req: Request):
    web = web_of(req)
    ctx = {"nav": "template", "forms": forms()}
    try:
        fields, files = await read_uploads(req, web.limits, "roster")
        version = _version(fields.get("form"))
        year = year_of(fields.get("year"))
        if not files:
            raise UploadError("请选择单位名单文件（.xlsx 或 .csv，第一行写“单位名称”）。")
        name = sanitize_filename(files[0].filename)
        if not name.lower().endswith(ROSTER_SUFFIXES):
            raise UploadError(f"单位名单“{name}”格式不支持：请使用 .xlsx、.xls、.ods 或 .csv 文件。")
    except UploadError as e:
        return web.refuse(req, e, "template.html", **ctx)
    with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
        src = Path(tmp) / name
        src.write_bytes(await files[0].read())
        out = Path(tmp) / "templates.zip"
        try:
            args = (str(src), version, year, str(out), web.limits.roster_units)
            count, err = await in_child(roster_zip, *args)
        except Exception:
            count, err = 0, f"单位名单“{name}”无法读取（文件可能已损坏）。"
        if err:
            return web.refuse(req, UploadError(err), "template.html", **ctx)
        data = out.read_bytes()
    zname = sanitize_filename(f"年报模板-{Path(name).stem}-{count}个单位.zip")
    return Response(data, media_type="application/zip", headers=attachment(zname))


ROUTES = [
    Route("/templates", template_page),
    Route("/templates/download", template_download, methods=["POST"]),
    Route("/templates/roster", template_roster, methods=["POST"]),
]

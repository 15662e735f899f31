"""下载模板: one blank template, or one per unit of an uploaded roster (zipped)."""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...guard import ROSTER_SUFFIXES
from ..common import (
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
from ..storage import name_part, read_json, sanitize_filename, write_json


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


def roster_zip(
    roster: str, form: str, year: int | None, out: str, max_units: int, progress: str | None = None
) -> tuple[int, str]:
    """Templates for every unit of ``roster`` zipped into ``out``: (count, error message); how
    far it got is written to the JSON file ``progress`` after every unit.

    Runs in a child process: the roster is a user's file."""
    from ...roster import RosterError, read_roster

    def tell(done: int, total: int) -> None:
        if progress:
            write_json(Path(progress), {"done": done, "total": total})

    try:
        units = read_roster(Path(roster))
    except RosterError as e:
        return 0, str(e).replace(str(Path(roster).parent) + os.sep, "")
    if len(units) > max_units:
        return 0, f"名单中有 {len(units)} 个单位，超过一次 {max_units} 个的上限，请拆分名单。"
    taken: set[str] = set()
    tell(0, len(units))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for k, u in enumerate(units, 1):
            unit = clean_text(u.get("单位名称"), 100)
            name = template_name(unit, year)
            n = 1
            while name in taken:
                n += 1
                name = template_name(f"{unit}（{n}）", year)
            taken.add(name)
            z.writestr(name, make_template_bytes(form, unit, year))
            tell(k, len(units))
    return len(units), ""


def _version(raw) -> str:
    from ...spec import newest_version

    version = str(raw or newest_version())
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
    progress = _progress_file(web, fields.get("job"))
    if progress is not None and progress.exists():
        return web.refuse(
            req, UploadError("这份名单的模板正在生成，请等待完成。", 409), "template.html", **ctx
        )
    try:
        return await _roster_answer(req, web, files[0], name, (version, year), progress, ctx)
    finally:
        if progress is not None:
            progress.unlink(missing_ok=True)


async def _roster_answer(req, web, upload, name: str, form: tuple, progress: Path | None, ctx: dict):
    version, year = form
    with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
        src = Path(tmp) / name
        src.write_bytes(await upload.read())
        out = Path(tmp) / "templates.zip"
        try:
            args = (str(src), version, year, str(out), web.limits.roster_units, progress and str(progress))
            count, err = await in_child(roster_zip, *args)
        except Exception:
            count, err = 0, f"单位名单“{name}”无法读取（文件可能已损坏）。"
        if err:
            return web.refuse(req, UploadError(err), "template.html", **ctx)
        data = out.read_bytes()
    zname = sanitize_filename(f"年报模板-{Path(name).stem}-{count}个单位.zip")
    return Response(data, media_type="application/zip", headers=attachment(zname))


_JOB_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _progress_file(web, job) -> Path | None:
    """Where a roster request names its progress (``job``: a random ID the page chose)."""
    if not isinstance(job, str) or not _JOB_RE.match(job):
        return None
    folder = web.storage.root / "progress"
    folder.mkdir(exist_ok=True)
    return folder / f"roster-{job}.json"


async def roster_progress(req: Request):
    """How far the roster request ``job`` is: {"done": n, "total": m}; 404 once it is over."""
    p = _progress_file(web_of(req), req.path_params["job"])
    if p is None or not p.exists():
        return JSONResponse({"error": "没有正在生成的模板。"}, status_code=404)
    return JSONResponse(read_json(p) or {"done": 0, "total": 0})


ROUTES = [
    Route("/templates", template_page),
    Route("/templates/download", template_download, methods=["POST"]),
    Route("/templates/roster", template_roster, methods=["POST"]),
    Route("/api/templates/progress/{job}", roster_progress),
]

"""汇总: a finished batch + roster (+ last year's workbook) → 报送情况 board → workbook."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

from ...guard import ROSTER_SUFFIXES, SPREADSHEET_SUFFIXES
from ..common import XLSX, UploadError, clean_text, mb, read_uploads, wants_json, web_of, year_of
from ..storage import DONE, FAILED, sanitize_filename


def _done_batches(web) -> list[dict]:
    return [b for b in web.storage.list_batches() if b["state"] == DONE]


async def aggregate_page(req: Request):
    web = web_of(req)
    selected = req.query_params.get("batch", "")
    return web.page(req, "aggregate.html", nav="aggregate", batches=_done_batches(web), selected=selected)


def _check_files(limits, files: list, prev: list) -> None:
    for f in files[:1] + prev[:1]:
        nm = sanitize_filename(f.filename)
        if f in files and not nm.lower().endswith(ROSTER_SUFFIXES):
            raise UploadError(f"单位名单“{nm}”格式不支持：请使用 .xlsx、.xls、.ods 或 .csv 文件。")
        if f in prev and not nm.lower().endswith(SPREADSHEET_SUFFIXES):
            raise UploadError(f"上年汇总表“{nm}”格式不支持：请上传本工具生成的 .xlsx 汇总表。")
        if (f.size or 0) > limits.file_bytes:
            raise UploadError(f"文件“{nm}”超过单个文件 {mb(limits.file_bytes)} MB 的上限。", 413)


async def create_aggregate(req: Request):
    web = web_of(req)
    ctx = {"nav": "aggregate", "batches": _done_batches(web)}
    try:
        fields, files = await read_uploads(req, web.limits, "roster")
        form = await req.form()
        prev = [f for f in form.getlist("previous") if isinstance(f, UploadFile) and f.filename]
        batch_id = ctx["selected"] = fields.get("batch", "")
        m = web.storage.manifest(batch_id)
        if m is None or m["state"] != DONE:
            raise UploadError("请选择一个已审核完成的批次。")
        year = year_of(fields.get("year"))
        _check_files(web.limits, files, prev)
    except UploadError as e:
        return web.refuse(req, e, "aggregate.html", **ctx)
    roster = (files[0].filename, files[0].file) if files else None
    previous = (prev[0].filename, prev[0].file) if prev else None
    options = {"unit": clean_text(fields.get("issuer"), 100), "mixed": fields.get("mixed") == "1"}
    agg_id = await run_in_threadpool(web.storage.create_aggregate, batch_id, roster, previous, year, options)
    web.runner.submit(batch_id, agg_id)
    url = f"/batches/{batch_id}/aggregates/{agg_id}"
    if wants_json(req):
        return JSONResponse({"id": agg_id, "url": url})
    return RedirectResponse(url, status_code=303)


async def board(req: Request):
    from ..aggregating import board_rows, status_tiles

    web = web_of(req)
    m, a = web.aggregate_or_404(req)
    running = a["state"] not in (DONE, FAILED)
    return web.page(
        req,
        "board.html",
        nav="aggregate",
        b=m,
        a=a,
        rows=board_rows(a),
        tiles=status_tiles(a),
        progress=web.storage.progress(m["id"], a["id"]) if running else {},
    )


async def aggregate_api(req: Request):
    web = web_of(req)
    m, a = web.aggregate_or_404(req)
    return JSONResponse(
        {
            "id": a["id"],
            "state": a["state"],
            "error": a.get("error"),
            "summary": a.get("summary") or {},
            "progress": web.storage.progress(m["id"], a["id"]),
        }
    )


async def aggregate_download(req: Request):
    web = web_of(req)
    m, a = web.aggregate_or_404(req)
    p = web.storage.file_in(m["id"], f"aggregates/{a['id']}/{a['output']}") if a.get("output") else None
    if p is None:
        raise HTTPException(404, "汇总表尚未生成。")
    return FileResponse(p, media_type=XLSX, filename=p.name)


ROUTES = [
    Route("/aggregate", aggregate_page),
    Route("/aggregates", create_aggregate, methods=["POST"]),
    Route("/batches/{batch_id}/aggregates/{agg_id}", board),
    Route("/batches/{batch_id}/aggregates/{agg_id}/download", aggregate_download),
    Route("/api/batches/{batch_id}/aggregates/{agg_id}", aggregate_api),
]

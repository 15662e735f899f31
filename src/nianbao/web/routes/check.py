"""首页 and 审核: upload a batch, watch its progress, read its results, download copies, delete it."""

from __future__ import annotations

import io
import shutil
import zipfile

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...vocab import Severity, Status
from ..common import XLSX, UploadError, attachment, read_uploads, wants_json, web_of
from ..storage import DONE, FAILED


async def index(req: Request):
    web = web_of(req)
    return web.page(req, "index.html", nav="home", batches=web.storage.list_batches()[:10])


async def check_page(req: Request):
    web = web_of(req)
    return web.page(req, "check.html", nav="check", batches=web.storage.list_batches()[:20])


async def create_batch(req: Request):
    web = web_of(req)
    try:
        fields, files = await read_uploads(req, web.limits)
        if not files:
            raise UploadError(
                "没有选择任何文件。请把填报表、.zip 压缩包或已公开的年报拖到框内，或点击“选择文件”。"
            )
    except UploadError as e:
        return web.refuse(req, e, "check.html", nav="check", batches=web.storage.list_batches()[:20])
    blank = fields.get("blank") if fields.get("blank") in ("zero", "error") else "zero"
    uploads = [(f.filename, f.file) for f in files]
    batch_id = await run_in_threadpool(web.storage.create_batch, uploads, blank)
    web.runner.submit(batch_id)
    url = f"/batches/{batch_id}"
    if wants_json(req):
        return JSONResponse({"id": batch_id, "url": url})
    return RedirectResponse(url, status_code=303)


def _shown(r: dict) -> dict:
    """A stored result with the colour family of its status tag."""
    return {**r, "tone": Status.outcome(r["status"], r["warnings"]).tone}


def _sort_key(r: dict):
    return (Status(r["status"]).rank, -r["errors"], -r["warnings"], r["path"])


async def batch_page(req: Request):
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    return web.page(
        req,
        "batch.html",
        nav="check",
        b=m,
        results=sorted(
            ({**r, "tone": Status.outcome(r["status"], r["warnings"]).tone} for r in m["results"]),
            key=_sort_key,
        ),
        progress=web.storage.progress(m["id"]) if m["state"] not in (DONE, FAILED) else {},
        aggregates=web.storage.list_aggregates(m["id"]),
    )


async def batch_api(req: Request):
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    return JSONResponse(
        {
            "id": m["id"],
            "state": m["state"],
            "error": m.get("error"),
            "summary": m.get("summary") or {},
            "progress": web.storage.progress(m["id"]),
        }
    )


async def annotated(req: Request):
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    n = req.path_params["n"]
    r = next((r for r in m["results"] if r["index"] == n), None)
    p = web.storage.file_in(m["id"], r["annotated"]) if r and r.get("annotated") else None
    if p is None:
        raise HTTPException(404, "这个文件没有批注副本。")
    return FileResponse(p, media_type=XLSX, filename=p.name)


def _zip_annotated(storage, m: dict) -> bytes:
    buf = io.BytesIO()
    taken: set[str] = set()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for r in m["results"]:
            p = storage.file_in(m["id"], r["annotated"]) if r.get("annotated") else None
            if p is None:
                continue
            name, n = p.name, 1
            while name in taken:
                n += 1
                name = f"{p.stem} ({n}){p.suffix}"
            taken.add(name)
            z.write(p, name)
    return buf.getvalue()


async def annotated_zip(req: Request):
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    data = await run_in_threadpool(_zip_annotated, web.storage, m)
    return Response(data, media_type="application/zip", headers=attachment(f"批注副本-{m['id']}.zip"))


def _csv_rows(m: dict):
    for r in m["results"]:
        for f in r["findings"]:
            yield (
                r["path"],
                r.get("unit") or "",
                f["code"],
                Severity(f["severity"]).zh,
                f["table"],
                f["row"],
                f["column"],
                f["sheet"],
                f["cell"],
                f["expected"] or "",
                f["actual"] or "",
                f["message"],
            )


async def findings_csv(req: Request):
    from ...render import csv_text

    m = web_of(req).batch_or_404(req.path_params["batch_id"])
    return Response(
        csv_text(_csv_rows(m)),
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"审核结果-{m['id']}.csv"),
    )


async def delete_batch(req: Request):
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    if m["state"] not in (DONE, FAILED) or any(
        web.runner.busy(m["id"], a["id"]) for a in web.storage.list_aggregates(m["id"])
    ):
        return web.page(req, "error.html", status=409, message="这个批次正在处理中，处理完成后才能删除。")
    await run_in_threadpool(shutil.rmtree, web.storage.batch_dir(m["id"]), True)
    return RedirectResponse("/check", status_code=303)


ROUTES = [
    Route("/", index),
    Route("/check", check_page),
    Route("/batches", create_batch, methods=["POST"]),
    Route("/batches/{batch_id}", batch_page),
    Route("/batches/{batch_id}/delete", delete_batch, methods=["POST"]),
    Route("/batches/{batch_id}/files/{n:int}/annotated", annotated),
    Route("/batches/{batch_id}/annotated.zip", annotated_zip),
    Route("/batches/{batch_id}/findings.csv", findings_csv),
    Route("/api/batches/{batch_id}", batch_api),
]

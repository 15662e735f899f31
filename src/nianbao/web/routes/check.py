"""首页 and 审核: upload a batch, watch its progress, read its results, download copies, delete it."""

from __future__ import annotations

import asyncio
import io
import zipfile

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...vocab import Severity, Status
from ..common import XLSX, UploadError, attachment, clean_text, in_child, read_uploads, wants_json, web_of
from ..jobs import resumed_text
from ..storage import DONE, FAILED, write_json

PAGE_SIZE = 20


def batch_row(m: dict) -> dict:
    """What the batch lists show of a batch: when, which units, how many files, the outcome."""
    units = list(dict.fromkeys(r["unit"] for r in m.get("results", []) if r.get("unit")))
    names = [f.get("original") or f["name"] for f in m.get("files", [])]
    summary = m.get("summary") or {}
    count = summary.get("files", len(names))
    keys = " ".join([m["id"], m.get("created", ""), *units, *names]).lower()
    return {
        **{k: m.get(k) for k in ("id", "created", "state", "summary")},
        "units": units,
        "names": names,
        "count": count,
        "search": keys,
    }


def batch_list(storage, query: str = "", page: int = 1) -> dict:
    """One page of the batches (newest first) whose ID, time, units or file names contain ``query``."""
    rows = [batch_row(m) for m in storage.list_batches()]
    words = query.lower().split()
    if words:
        rows = [r for r in rows if all(w in r["search"] for w in words)]
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(1, page), pages)
    return {
        "batches": rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        "total": len(rows),
        "page": page,
        "pages": pages,
        "q": query,
    }


async def index(req: Request):
    web = web_of(req)
    listing = batch_list(web.storage)
    return web.page(req, "index.html", nav="home", batches=listing["batches"][:10], total=listing["total"])


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and len(raw) < 7 else 1


async def check_page(req: Request):
    web = web_of(req)
    q = clean_text(req.query_params.get("q"), 100)
    listing = batch_list(web.storage, q, _page_number(req.query_params.get("page")))
    return web.page(req, "check.html", nav="check", **listing)


async def create_batch(req: Request):
    web = web_of(req)
    try:
        fields, files = await read_uploads(req, web.limits)
        if not files:
            raise UploadError(
                "没有选择任何文件。请把填报表、.zip 压缩包或已公开的年报拖到框内，或点击“选择文件”。"
            )
    except UploadError as e:
        return web.refuse(req, e, "check.html", nav="check", **batch_list(web.storage))
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
        results=sorted((_shown(r) for r in m["results"]), key=_sort_key),
        zips=sum(f["name"].lower().endswith(".zip") for f in m["files"]),
        copies_made=sum(1 for r in m["results"] if r.get("annotated")),
        resumed_text=resumed_text(**m["resumed"]) if m.get("resumed") else "",
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
            "checked": bool(m.get("results")),  # results can be shown while the copies are made
        }
    )


_MAKING = asyncio.Lock()  # one on-request copy at a time (each reads the batch once more)


async def _make_copy(web, m: dict, r: dict) -> str | None:
    """Make the annotated copy of a file that passed, now that someone asks for it."""
    from ..jobs import annotate_on_request

    async with _MAKING:
        folder = web.storage.batch_dir(m["id"])
        rel, note = await in_child(annotate_on_request, str(folder), r["index"])
        fresh = web.storage.manifest(m["id"])
        if fresh is not None:
            for x in fresh["results"]:
                if x["index"] == r["index"]:
                    x["annotated"], x["note"] = rel, note or x.get("note", "")
            await run_in_threadpool(write_json, folder / "manifest.json", fresh)
        return rel


async def annotated(req: Request):
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    n = req.path_params["n"]
    r = next((r for r in m["results"] if r["index"] == n), None)
    rel = r.get("annotated") if r else None
    if r and not rel and r.get("can_annotate") and m["state"] == DONE:
        rel = await _make_copy(web, m, r)
    p = web.storage.file_in(m["id"], rel) if rel else None
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
    if not any(r.get("annotated") for r in m["results"]):
        raise HTTPException(404, "这个批次没有批注副本（没有需要批注的文件）。")
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
    """Delete a batch; a job still running on it is cancelled first (and stays cancelled)."""
    web = web_of(req)
    m = web.batch_or_404(req.path_params["batch_id"])
    agg_ids = [a["id"] for a in web.storage.list_aggregates(m["id"])]
    await run_in_threadpool(web.runner.cancel, m["id"], agg_ids)
    await run_in_threadpool(web.storage.delete_batch, m["id"])
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

"""A unit's own pages of the 报送台, reached only through its personal link ``/u/<token>``.

The link is the credential (a capability URL): no login, no cookie, only this unit's data and
files. Uploads answer JSON when asked with ``Accept: application/json``.
"""

from __future__ import annotations

import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...desk import DeskError, UnitState
from ..common import XLSX, attachment, clean_text, wants_json, web_of
from ..storage import sanitize_filename
from .desk_common import desk_of, finding_rows, refusal, tone_of

UPLOADS_PER_MINUTE = 20
REQUESTS_PER_MINUTE = 240


class LinkLimiter:
    """Requests per unit link per minute (a sliding window in memory)."""

    def __init__(self):
        self.seen: dict[tuple[str, str], deque] = defaultdict(deque)

    def allow(self, token: str, kind: str, limit: int) -> bool:
        now, q = time.monotonic(), self.seen[(token, kind)]
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= limit:
            return False
        q.append(now)
        return True


def _limiter(req: Request) -> LinkLimiter:
    web = web_of(req)
    return web.extra.setdefault("link_limiter", LinkLimiter())


def _unit(req: Request, kind: str = "page", limit: int = REQUESTS_PER_MINUTE):
    token = req.path_params["token"]
    if not _limiter(req).allow(token, kind, limit):
        raise DeskError("操作过于频繁，请一分钟后再试", 429)
    return desk_of(req).by_token(token)


def _base(req: Request) -> str:
    return f"/u/{req.path_params['token']}"


async def unit_page(req: Request) -> Response:
    try:
        c, u = _unit(req)
    except DeskError as e:
        return refusal(req, e)
    desk = desk_of(req)
    up = desk.upload_record(u["current_upload"]) if u["current_upload"] else None
    history = list(reversed(desk.history(u["id"])))
    ctx = {
        "public": True,
        "c": c,
        "u": u,
        "state_zh": UnitState(u["state"]).zh,
        "tone": tone_of(u["state"]),
        "up": up,
        "findings": finding_rows(up) if up else [],
        "warnings": desk.warning_items(up) if up else [],
        "history": history,
        "base": _base(req),
        "message": req.query_params.get("msg", "")[:200],
    }
    return web_of(req).page(req, "unit.html", **ctx)


async def unit_template(req: Request) -> Response:
    from ...desk.outputs import unit_template as make

    try:
        c, u = _unit(req, "template", 30)
    except DeskError as e:
        return refusal(req, e)
    with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
        p = await run_in_threadpool(make, desk_of(req), u["id"], Path(tmp) / "t.xlsx")
        data = p.read_bytes()
    name = sanitize_filename(f"年报模板-{u['name'].replace('/', '、')}-{c['year']}年度.xlsx")
    return Response(data, media_type=XLSX, headers=attachment(name))


def upload_answer(up: dict) -> dict:
    """The JSON a unit's upload answers (the contract of the collection desk)."""
    res = up["result"]
    return {
        "upload": up["id"],
        "status": res["status"],
        "errors": res["errors"],
        "warnings": res["warnings"],
        "findings": res.get("findings", []),
        "problems": res.get("problems", []),
        "corrections": res.get("corrections", []),
        "corrections_truncated": bool(res.get("corrections_truncated")),
    }


async def unit_upload(req: Request) -> Response:
    try:
        _c, u = _unit(req, "upload", UPLOADS_PER_MINUTE)
        limits = web_of(req).limits
        form = await req.form(max_files=1, max_fields=5)
        f = form.get("file")
        if not isinstance(f, UploadFile) or not f.filename:
            raise DeskError("请选择要上传的报表文件")
        if (f.size or 0) > limits.file_bytes:
            raise DeskError("文件过大，请检查是否选错了文件", 413)
        data = await f.read()
        address = req.client.host if req.client else ""
        up = await run_in_threadpool(desk_of(req).upload, u["id"], f.filename, data, address=address)
    except DeskError as e:
        return refusal(req, e)
    if wants_json(req):
        return JSONResponse(upload_answer(up))
    return RedirectResponse(_base(req) + "#result", status_code=303)


async def unit_explain(req: Request) -> Response:
    try:
        _c, u = _unit(req, "write", 120)
        form = await req.form(max_files=0, max_fields=5)
        address = req.client.host if req.client else ""
        desk_of(req).explain(u["id"], str(form.get("item", "")), clean_text(form.get("text"), 2000), address)
    except DeskError as e:
        return refusal(req, e)
    if wants_json(req):
        return JSONResponse({"ok": True})
    return RedirectResponse(_base(req) + "#warnings", status_code=303)


async def unit_submit(req: Request) -> Response:
    try:
        _c, u = _unit(req, "write", 120)
        address = req.client.host if req.client else ""
        u = desk_of(req).submit(u["id"], address)
    except DeskError as e:
        return refusal(req, e)
    if wants_json(req):
        return JSONResponse({"state": u["state"], "state_zh": UnitState(u["state"]).zh})
    return RedirectResponse(_base(req) + "?msg=" + "已确认报送，等待政务公开办审核", status_code=303)


def own_upload(req: Request, u: dict) -> dict:
    up = desk_of(req).upload_record(req.path_params["upload_id"])
    if up["unit_id"] != u["id"]:
        raise DeskError("找不到该次上传", 404)
    return up


async def unit_file(req: Request) -> Response:
    try:
        _c, u = _unit(req, "file", 60)
        up = own_upload(req, u)
    except DeskError as e:
        return refusal(req, e)
    data = desk_of(req).store.blob_path(up["sha256"]).read_bytes()
    return Response(data, media_type="application/octet-stream", headers=attachment(up["filename"]))


async def unit_annotated(req: Request) -> Response:
    from ...desk.annotated import annotated_copy

    try:
        _c, u = _unit(req, "file", 60)
        up = own_upload(req, u)
        name, data = await run_in_threadpool(annotated_copy, desk_of(req), up)
    except DeskError as e:
        return refusal(req, e)
    return Response(data, media_type=XLSX, headers=attachment(name))


ROUTES = [
    Route("/u/{token}", unit_page),
    Route("/u/{token}/template.xlsx", unit_template),
    Route("/u/{token}/upload", unit_upload, methods=["POST"]),
    Route("/u/{token}/explain", unit_explain, methods=["POST"]),
    Route("/u/{token}/submit", unit_submit, methods=["POST"]),
    Route("/u/{token}/uploads/{upload_id}/file", unit_file),
    Route("/u/{token}/uploads/{upload_id}/annotated.xlsx", unit_annotated),
]

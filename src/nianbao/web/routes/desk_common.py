"""What the clerk's and the units' desk pages share: the desk of the running app, refusals, tones."""

from __future__ import annotations

import threading

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ...desk import Desk, DeskError, UnitState
from ...desk.service import item_id
from ..common import wants_json, web_of

_LOCK = threading.Lock()

TONES = {
    UnitState.ACCEPTED: "ok",
    UnitState.PENDING: "wait",
    UnitState.UPLOADED: "warn",
    UnitState.ERRORS: "bad",
    UnitState.RETURNED: "bad",
    UnitState.NOT_REPORTED: "",
}


def desk_of(req: Request) -> Desk:
    web = web_of(req)
    with _LOCK:
        desk = web.extra.get("desk")
        if desk is None:
            desk = web.extra["desk"] = Desk(web.storage.root / "desk")
    return desk


def tone_of(state: str) -> str:
    return TONES[UnitState(state)]


def refusal(req: Request, err: DeskError) -> Response:
    """A refused desk operation: JSON for API callers, the error page for people."""
    headers = {"Retry-After": "60"} if err.status == 429 else None
    if wants_json(req) or req.url.path.startswith("/api/"):
        return JSONResponse({"error": err.message}, status_code=err.status, headers=headers)
    public = req.url.path.startswith("/u/")
    resp = web_of(req).page(req, "error.html", status=err.status, message=err.message, public=public)
    if headers:
        resp.headers.update(headers)
    return resp


def finding_rows(up: dict) -> list[dict]:
    """The findings of an upload as the pages list them: the collection's problems first."""
    res = up["result"]
    rows = [{"severity": "error", "code": "", "location": "", "message": p} for p in res.get("problems", [])]
    for i, f in enumerate(res.get("findings", [])):
        loc = f"{f.get('sheet')}!{f.get('cell')}" if f.get("sheet") and f.get("cell") else ""
        explained = up.get("explanations", {}).get(item_id(f, i), "")
        rows.append({**f, "location": loc, "explanation": explained})
    return rows

"""报送台, the clerk's side: collections, the board, decisions, downloads, the admin JSON API."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...desk import Decision, DeskError, UnitState
from ..common import XLSX, UploadError, attachment, clean_text, forms, read_uploads, web_of, year_of
from .desk_common import desk_of, finding_rows, refusal, tone_of

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _address(req: Request) -> str:
    return req.client.host if req.client else ""


def _default_public_url(req: Request) -> str:
    from ...desk.command import DEFAULT_PORT, lan_address

    web = web_of(req)
    if web.extra.get("public_url"):
        return web.extra["public_url"]
    host = req.url.hostname or ""
    if host and host not in ("127.0.0.1", "localhost", "::1"):
        return str(req.base_url).rstrip("/")
    ip = lan_address()
    return f"http://{ip}:{req.url.port or DEFAULT_PORT}" if ip else ""


async def desk_home(req: Request) -> Response:
    desk = desk_of(req)
    ctx = {"nav": "desk", "collections": desk.collections(), "forms": forms(), "states": list(UnitState)}
    return web_of(req).page(req, "desk_home.html", public_url=_default_public_url(req), **ctx)


def _create(desk, roster_path: Path, fields: dict, address: str) -> dict:
    from ...desk.command import check_public_url
    from ...roster import RosterError, read_roster
    from ...spec import get_spec

    try:
        units = read_roster(roster_path)
    except RosterError as e:
        raise DeskError(str(e).replace(str(roster_path.parent), "").lstrip("/\\")) from None
    year = year_of(fields.get("year"))
    if year is None:
        raise DeskError("请填写报告年度")
    try:
        form = get_spec(clean_text(fields.get("form"), 10)).version
    except (KeyError, ValueError):
        raise DeskError("表式版本无效") from None
    url = check_public_url(clean_text(fields.get("public_url"), 200))
    return desk.create(
        units,
        year=year,
        form=form,
        deadline=clean_text(fields.get("deadline"), 40),
        public_url=url,
        name=clean_text(fields.get("name"), 100),
        issuer=clean_text(fields.get("issuer"), 100),
        address=address,
    )


async def desk_create(req: Request) -> Response:
    web = web_of(req)
    try:
        fields, files = await read_uploads(req, web.limits, field="roster")
        if not files:
            raise DeskError("请选择单位名单文件（.xlsx 或 .csv，第一行须有“单位名称”）")
        with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
            p = Path(tmp) / ("名单" + Path(files[0].filename).suffix.lower())
            p.write_bytes(await files[0].read())
            c = await run_in_threadpool(_create, desk_of(req), p, fields, _address(req))
    except (DeskError, UploadError) as e:
        err = e if isinstance(e, DeskError) else DeskError(str(e), e.status)
        return refusal(req, err)
    return RedirectResponse(f"/desk/{c['id']}", status_code=303)


async def desk_board(req: Request) -> Response:
    desk = desk_of(req)
    try:
        board = desk.board(req.path_params["cid"])
    except DeskError as e:
        return refusal(req, e)
    for r in board["units"]:
        r["tone"] = tone_of(r["state"])
    ctx = {
        "nav": "desk",
        "b": board,
        "states": list(UnitState),
        "message": req.query_params.get("msg", "")[:200],
    }
    return web_of(req).page(req, "desk_board.html", **ctx)


def _unit_of(req: Request) -> tuple:
    """(desk, collection, unit) named by the path; DeskError 404 when the unit is not in it."""
    desk = desk_of(req)
    u = desk.unit_in(req.path_params["cid"], req.path_params["uid"])
    return desk, desk.collection(u["collection_id"]), u


async def desk_unit(req: Request) -> Response:
    try:
        desk, c, u = _unit_of(req)
    except DeskError as e:
        return refusal(req, e)
    history = list(reversed(desk.history(u["id"])))
    for h in history:
        h["rows"] = finding_rows(h)
    decisions = [{**d, "kind_zh": Decision(d["kind"]).zh} for d in desk.decisions(u["id"])]
    ctx = {
        "nav": "desk",
        "c": c,
        "u": u,
        "link": desk.link(c, u),
        "history": history,
        "decisions": decisions,
        "state_zh": UnitState(u["state"]).zh,
        "tone": tone_of(u["state"]),
    }
    return web_of(req).page(req, "desk_unit.html", **ctx)


UNIT_ACTIONS = {
    "accept": lambda d, uid, f, a: d.accept(uid, f.get("comment", ""), a),
    "return": lambda d, uid, f, a: d.send_back(uid, f.get("comment", ""), a),
    "reopen": lambda d, uid, f, a: d.reopen(uid, f.get("comment", ""), a),
    "reissue": lambda d, uid, f, a: d.reissue_link(uid, a),
    "revoke": lambda d, uid, f, a: d.revoke_link(uid, a),
    "remove": lambda d, uid, f, a: d.remove_unit(uid, a),
    "rename": lambda d, uid, f, a: d.rename_unit(uid, clean_text(f.get("name"), 100), a),
}


async def desk_unit_action(req: Request) -> Response:
    desk, action = desk_of(req), req.path_params["action"]
    cid = req.path_params["cid"]
    try:
        if action not in UNIT_ACTIONS:
            raise DeskError("不支持的操作", 404)
        uid = desk.unit_in(cid, req.path_params["uid"])["id"]
        form = await req.form(max_files=0, max_fields=10)
        fields = {k: clean_text(v, 2000) for k, v in form.items() if isinstance(v, str)}
        UNIT_ACTIONS[action](desk, uid, fields, _address(req))
    except DeskError as e:
        return refusal(req, e)
    if req.headers.get("accept", "").startswith("application/json"):
        return JSONResponse({"ok": True})
    back = f"/desk/{cid}/units/{uid}" if action in ("reissue", "revoke", "rename") else f"/desk/{cid}"
    return RedirectResponse(back, status_code=303)


async def desk_action(req: Request) -> Response:
    desk, action, cid = desk_of(req), req.path_params["action"], req.path_params["cid"]
    msg = ""
    try:
        desk.collection(cid)
        if action in ("close", "open"):
            desk.set_closed(cid, action == "close", _address(req))
        elif action == "add":
            form = await req.form(max_files=0, max_fields=5)
            u = desk.add_unit(
                cid, clean_text(form.get("name"), 100), clean_text(form.get("category"), 20), _address(req)
            )
            msg = f"已增加单位“{u['name']}”"
        elif action == "dropin":
            msg = await _drop_in(req, cid)
        else:
            raise DeskError("不支持的操作", 404)
    except (DeskError, UploadError) as e:
        return refusal(req, e if isinstance(e, DeskError) else DeskError(str(e), e.status))
    return RedirectResponse(f"/desk/{cid}" + (f"?msg={quote(msg)}" if msg else ""), status_code=303)


async def _drop_in(req: Request, cid: str) -> str:
    _fields, files = await read_uploads(req, web_of(req).limits, field="files")
    got = [(f.filename, await f.read()) for f in files if isinstance(f, UploadFile)]
    if not got:
        raise DeskError("请选择收到的报表文件")
    res = await run_in_threadpool(desk_of(req).drop_in, cid, got, _address(req))
    ok = [r for r in res if r["unit"]]
    miss = [f"{r['file']}（{r['message']}）" for r in res if not r["unit"]]
    return f"已匹配 {len(ok)} 个文件" + (f"；未匹配：{'；'.join(miss)}" if miss else "")


async def desk_download(req: Request) -> Response:
    from ...desk import outputs

    desk, what, cid = desk_of(req), req.path_params["what"], req.path_params["cid"]
    try:
        c = desk.collection(cid)
        if what == "links.xlsx":
            return Response(
                outputs.links_workbook(desk, cid), media_type=XLSX, headers=attachment("报送链接.xlsx")
            )
        if what == "notice.txt":
            body = outputs.notice_text(desk, cid).encode("utf-8")
            return Response(body, media_type="text/plain; charset=utf-8", headers=attachment("报送通知.txt"))
        if what == "chase.csv":
            body = outputs.chase_csv(desk, cid).encode("utf-8")
            return Response(body, media_type="text/csv; charset=utf-8", headers=attachment("催报名单.csv"))
        if what == "aggregate.xlsx":
            with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
                out = Path(tmp) / "汇总.xlsx"
                await run_in_threadpool(outputs.aggregate_accepted, desk, cid, out)
                data = out.read_bytes()
            return Response(data, media_type=XLSX, headers=attachment(f"{c['year']}年度汇总.xlsx"))
        if what in ("report.docx", "report.html"):
            force = req.query_params.get("force") == "1"
            kind = what.split(".")[1]
            name, data = await run_in_threadpool(outputs.publish_accepted, desk, cid, kind, force=force)
            media = "text/html; charset=utf-8" if kind == "html" else DOCX
            return Response(data, media_type=media, headers=attachment(name))
        raise DeskError("找不到这个文件", 404)
    except DeskError as e:
        return refusal(req, e)


async def desk_upload_file(req: Request) -> Response:
    from ...desk.annotated import annotated_copy

    desk = desk_of(req)
    try:
        up = desk.upload_record(req.path_params["upload_id"])
        if up["collection_id"] != req.path_params["cid"]:
            raise DeskError("找不到该次上传", 404)
        if req.path_params["what"] == "annotated.xlsx":
            name, data = await run_in_threadpool(annotated_copy, desk, up)
            return Response(data, media_type=XLSX, headers=attachment(name))
        data = desk.store.blob_path(up["sha256"]).read_bytes()
        return Response(data, media_type="application/octet-stream", headers=attachment(up["filename"]))
    except DeskError as e:
        return refusal(req, e)


async def desk_qr(req: Request) -> Response:
    from ...desk.outputs import qr_svg

    try:
        desk, c, u = _unit_of(req)
    except DeskError as e:
        return refusal(req, e)
    return Response(
        qr_svg(desk.link(c, u)), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


async def desk_links_page(req: Request) -> Response:
    """Every unit's link with its QR code, one block per unit, for printing and handing out."""
    desk = desk_of(req)
    try:
        c = desk.collection(req.path_params["cid"])
    except DeskError as e:
        return refusal(req, e)
    units = [{**u, "link": desk.link(c, u)} for u in c["units"]]
    return web_of(req).page(req, "desk_links.html", nav="desk", c=c, units=units)


async def api_collection(req: Request) -> Response:
    try:
        return JSONResponse(desk_of(req).board(req.path_params["cid"]))
    except DeskError as e:
        return refusal(req, e)


async def api_collections(req: Request) -> Response:
    rows = desk_of(req).collections()
    return JSONResponse([{k: c[k] for k in ("id", "name", "year", "form", "closed", "counts")} for c in rows])


ROUTES = [
    Route("/desk", desk_home),
    Route("/desk/create", desk_create, methods=["POST"]),
    Route("/desk/{cid}", desk_board),
    Route("/desk/{cid}/units/{uid}", desk_unit),
    Route("/desk/{cid}/units/{uid}/qr.svg", desk_qr),
    Route("/desk/{cid}/links", desk_links_page),
    Route("/desk/{cid}/units/{uid}/{action}", desk_unit_action, methods=["POST"]),
    Route("/desk/{cid}/do/{action}", desk_action, methods=["POST"]),
    Route("/desk/{cid}/download/{what}", desk_download),
    Route("/desk/{cid}/uploads/{upload_id}/{what}", desk_upload_file),
    Route("/api/collections", api_collections),
    Route("/api/collections/{cid}", api_collection),
]

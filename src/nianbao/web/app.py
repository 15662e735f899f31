"""The web app of ``nianbao serve``: server-rendered Chinese pages over the same pipeline as the CLI.

Pages: 首页, 下载模板, 审核 (upload → batch page with progress → results), 汇总 (batch + roster →
报送情况 board → workbook). Uploads are checked against size/count limits, stored under the data
folder and processed by :mod:`nianbao.web.jobs` in the background.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import ipaddress
import os
import re
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from .jobs import Runner
from .storage import DONE, FAILED, Storage, sanitize_filename

HERE = Path(__file__).resolve().parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COOKIE = "nianbao_auth"
MB = 1024 * 1024
STATUS_ORDER = {"unreadable": 0, "failed": 1, "passed": 2}
ROSTER_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")


@dataclass
class Limits:
    file_mb: float = 50  # one uploaded file
    total_mb: float = 500  # one upload (all its files)
    files: int = 500  # files in one upload
    roster_units: int = 2000  # templates generated from one roster

    @property
    def file_bytes(self) -> int:
        return int(self.file_mb * MB)

    @property
    def total_bytes(self) -> int:
        return int(self.total_mb * MB)


class UploadError(Exception):
    """An upload refused; the message is Chinese and shown to the user."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class BodyTooLarge(Exception):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _mb(n: float) -> str:
    return f"{n / MB:.1f}".rstrip("0").rstrip(".")


# ---- guard middleware: host, token, cross-site posts, body size ---------------------------------
class Guard:
    OPEN_PATHS = ("/static/", "/login", "/favicon.ico")

    def __init__(self, app, *, token: str | None, loopback_only: bool, max_body: int, shown_limit: int):
        self.app, self.token, self.loopback_only, self.max_body = app, token, loopback_only, max_body
        self.shown_limit = shown_limit
        self.cookie_value = _cookie_for(token) if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        req = Request(scope)
        if self.loopback_only and not is_loopback(_host_name(req.headers.get("host", ""))):
            return await _plain(403, "只允许通过 127.0.0.1 或 localhost 访问本服务。")(scope, receive, send)
        if req.method not in ("GET", "HEAD"):
            origin = req.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != req.headers.get("host"):
                return await _plain(403, "拒绝来自其他网站的请求。")(scope, receive, send)
        if self.token and not scope["path"].startswith(self.OPEN_PATHS):
            got = req.cookies.get(COOKIE, "")
            if not hmac.compare_digest(got.encode(), self.cookie_value.encode()):
                if req.method in ("GET", "HEAD") and not scope["path"].startswith("/api/"):
                    target = scope["path"] + (
                        ("?" + scope["query_string"].decode("latin-1")) if scope.get("query_string") else ""
                    )
                    resp = RedirectResponse("/login?next=" + quote(target), status_code=303)
                else:
                    resp = _plain(401, "需要先输入访问口令。")
                return await resp(scope, receive, send)
        length = req.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            return await _plain(
                413,
                f"上传内容共 {_mb(int(length))} MB，超过每次 {_mb(self.shown_limit)} MB 的上限。请分批上传。",
            )(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
            return msg

        return await self.app(scope, limited, send)


def _host_name(host: str) -> str:
    """The name part of a Host header: 'localhost:8765' → 'localhost', '[::1]:80' → '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cookie_for(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"nianbao-web-session", hashlib.sha256).hexdigest()


def _plain(status: int, message: str) -> Response:
    html = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>无法完成</title>"
        "<link rel='stylesheet' href='/static/style.css'><main class='page'><div class='card'>"
        f"<h1>无法完成</h1><p class='alert error' role='alert'>{_esc(message)}</p>"
        "<p><a href='/'>返回首页</a></p></div></main></html>"
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"X-Nianbao-Message": quote(message)},
    )


def _esc(s: str) -> str:
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


# ---- helpers -----------------------------------------------------------------------------------
def _clean_text(s, limit: int = 100) -> str:
    s = unicodedata.normalize("NFC", str(s or ""))
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] != "C").strip()
    return s[:limit]


def _wants_json(req: Request) -> bool:
    return "application/json" in req.headers.get("accept", "")


def _forms() -> list[dict]:
    from ..spec import all_specs

    return [
        {"version": s.version, "label": f"{s.version} 版（{s.basis}）"}
        for s in sorted(all_specs(), key=lambda s: s.version, reverse=True)
    ]


def _year(raw) -> int | None:
    raw = _clean_text(raw, 10)
    if not raw:
        return None
    raw = unicodedata.normalize("NFKC", raw)
    if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
        raise UploadError("报告年度应为 2000 到 2100 之间的四位数字，如 2025。")
    return int(raw)


def _template_name(unit: str | None, year: int | None) -> str:
    parts = ["年报模板", unit or "", f"{year}年度" if year else ""]
    return sanitize_filename("-".join(p for p in parts if p) + ".xlsx")


def make_template_bytes(form: str, unit: str | None, year: int | None) -> bytes:
    from ..spec import get_spec
    from ..template import write_template

    with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
        p = Path(tmp) / "模板.xlsx"
        write_template(p, get_spec(form), unit=unit or None, year=year)
        return p.read_bytes()


def roster_zip(roster: str, form: str, year: int | None, out: str, max_units: int) -> tuple[int, str]:
    """Templates for every unit of ``roster`` zipped into ``out``: (count, error message).

    Runs in a child process: the roster is a user's file."""
    from ..roster import RosterError, read_roster

    try:
        units = read_roster(Path(roster))
    except RosterError as e:
        return 0, str(e).replace(str(Path(roster).parent) + os.sep, "")
    if len(units) > max_units:
        return 0, f"名单中有 {len(units)} 个单位，超过一次 {max_units} 个的上限，请拆分名单。"
    taken: set[str] = set()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for u in units:
            unit = _clean_text(u.get("单位名称"), 100)
            name = _template_name(unit, year)
            n = 1
            while name in taken:
                n += 1
                name = _template_name(f"{unit}（{n}）", year)
            taken.add(name)
            z.writestr(name, make_template_bytes(form, unit, year))
    return len(units), ""


async def _in_child(fn, *args):
    """Run ``fn`` in a fresh process (spawned, so no server thread state is inherited)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as ex:
        return await loop.run_in_executor(ex, fn, *args)


async def read_uploads(req: Request, limits: Limits, field: str = "files") -> tuple[dict, list[UploadFile]]:
    """Parse a multipart upload; enforce the limits (Chinese UploadError past them)."""
    try:
        form = await req.form(max_files=limits.files, max_fields=20)
    except BodyTooLarge:
        raise UploadError(
            f"上传内容超过每次 {_mb(limits.total_bytes)} MB 的上限，请分批上传。", 413
        ) from None
    except HTTPException as e:
        if "files" in str(e.detail).lower():
            raise UploadError(
                f"一次最多上传 {limits.files} 个文件。请分批上传，或把文件打包成 .zip 再上传。", 413
            ) from None
        raise UploadError("上传内容无法解析，请重新选择文件后再试。") from None
    files = [f for f in form.getlist(field) if isinstance(f, UploadFile) and f.filename]
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    too_big = [f for f in files if (f.size or 0) > limits.file_bytes]
    if too_big:
        names = "、".join(f"“{sanitize_filename(f.filename)}”（{_mb(f.size)} MB）" for f in too_big[:5])
        raise UploadError(f"文件 {names} 超过单个文件 {_mb(limits.file_bytes)} MB 的上限。", 413)
    total = sum(f.size or 0 for f in files)
    if total > limits.total_bytes:
        raise UploadError(
            f"本次上传共 {_mb(total)} MB，超过每次 {_mb(limits.total_bytes)} MB 的上限，请分批上传。", 413
        )
    return fields, files


# ---- the app -------------------------------------------------------------------------------------
def create_app(
    data_dir: Path | str,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    limits: Limits | None = None,
    run_jobs: bool = True,
) -> Starlette:
    storage = Storage(data_dir)
    limits = limits or Limits()
    runner = Runner(storage)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(limits=limits, token_required=bool(token), data_dir=str(storage.root))

    def page(req: Request, name: str, status: int = 200, **ctx):
        return templates.TemplateResponse(req, name, {"nav": ctx.pop("nav", ""), **ctx}, status_code=status)

    def refuse(req: Request, err: UploadError, name: str, **ctx):
        if _wants_json(req):
            return JSONResponse({"error": str(err)}, status_code=err.status)
        return page(req, name, status=err.status, error=str(err), **ctx)

    def batch_or_404(batch_id: str) -> dict:
        m = storage.manifest(batch_id)
        if m is None:
            raise HTTPException(404, "找不到这个批次（可能已被删除）。")
        return m

    # -- pages
    async def index(req: Request):
        return page(req, "index.html", nav="home", batches=storage.list_batches()[:10])

    async def login(req: Request):
        nxt = req.query_params.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        if req.method == "GET":
            return page(req, "login.html", next=nxt, public=True)
        form = await req.form(max_files=0, max_fields=5)
        given = str(form.get("token", ""))
        if not token or not hmac.compare_digest(_cookie_for(given).encode(), _cookie_for(token).encode()):
            await asyncio.sleep(0.5)
            return page(
                req,
                "login.html",
                status=401,
                next=nxt,
                public=True,
                login_error="访问口令不正确，请重新输入。",
            )
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, _cookie_for(token), httponly=True, samesite="strict", max_age=30 * 24 * 3600)
        return resp

    async def template_page(req: Request):
        return page(req, "template.html", nav="template", forms=_forms())

    async def template_download(req: Request):
        form = await req.form(max_files=0, max_fields=10)
        try:
            version = str(form.get("form", "2021"))
            if version not in {f["version"] for f in _forms()}:
                raise UploadError("请选择表式。")
            year = _year(form.get("year"))
            unit = _clean_text(form.get("unit"), 100) or None
        except UploadError as e:
            return page(req, "template.html", status=400, nav="template", forms=_forms(), error=str(e))
        data = await run_in_threadpool(make_template_bytes, version, unit, year)
        name = _template_name(unit, year)
        return Response(data, media_type=XLSX, headers=_attachment(name))

    async def template_roster(req: Request):
        ctx = {"nav": "template", "forms": _forms()}
        try:
            fields, files = await read_uploads(req, limits, "roster")
            version = fields.get("form", "2021")
            if version not in {f["version"] for f in _forms()}:
                raise UploadError("请选择表式。")
            year = _year(fields.get("year"))
            if not files:
                raise UploadError("请选择单位名单文件（.xlsx 或 .csv，第一行写“单位名称”）。")
            name = sanitize_filename(files[0].filename)
            if not name.lower().endswith(ROSTER_SUFFIXES):
                raise UploadError(f"单位名单“{name}”格式不支持：请使用 .xlsx、.xls、.ods 或 .csv 文件。")
        except UploadError as e:
            return refuse(req, e, "template.html", **ctx)
        with tempfile.TemporaryDirectory(prefix="nianbao-") as tmp:
            src = Path(tmp) / name
            src.write_bytes(await files[0].read())
            out = Path(tmp) / "templates.zip"
            try:
                count, err = await _in_child(
                    roster_zip, str(src), version, year, str(out), limits.roster_units
                )
            except Exception:
                count, err = 0, f"单位名单“{name}”无法读取（文件可能已损坏）。"
            if err:
                return refuse(req, UploadError(err), "template.html", **ctx)
            data = out.read_bytes()
        zname = sanitize_filename(f"年报模板-{Path(name).stem}-{count}个单位.zip")
        return Response(data, media_type="application/zip", headers=_attachment(zname))

    async def check_page(req: Request):
        done = [b for b in storage.list_batches()]
        return page(req, "check.html", nav="check", batches=done[:20])

    async def create_batch(req: Request):
        try:
            fields, files = await read_uploads(req, limits)
            if not files:
                raise UploadError(
                    "没有选择任何文件。请把填报表、.zip 压缩包或已公开的年报拖到框内，或点击“选择文件”。"
                )
        except UploadError as e:
            return refuse(req, e, "check.html", nav="check", batches=storage.list_batches()[:20])
        blank = fields.get("blank") if fields.get("blank") in ("zero", "error") else "zero"
        batch_id = await run_in_threadpool(storage.create_batch, [(f.filename, f.file) for f in files], blank)
        runner.submit(batch_id)
        url = f"/batches/{batch_id}"
        if _wants_json(req):
            return JSONResponse({"id": batch_id, "url": url})
        return RedirectResponse(url, status_code=303)

    async def batch_page(req: Request):
        m = batch_or_404(req.path_params["batch_id"])
        results = sorted(
            m["results"],
            key=lambda r: (STATUS_ORDER.get(r["status"], 9), -r["errors"], -r["warnings"], r["path"]),
        )
        return page(
            req,
            "batch.html",
            nav="check",
            b=m,
            results=results,
            progress=storage.progress(m["id"]) if m["state"] not in (DONE, FAILED) else {},
            aggregates=storage.list_aggregates(m["id"]),
        )

    async def batch_api(req: Request):
        m = batch_or_404(req.path_params["batch_id"])
        return JSONResponse(
            {
                "id": m["id"],
                "state": m["state"],
                "error": m.get("error"),
                "summary": m.get("summary") or {},
                "progress": storage.progress(m["id"]),
            }
        )

    async def annotated(req: Request):
        m = batch_or_404(req.path_params["batch_id"])
        n = req.path_params["n"]
        r = next((r for r in m["results"] if r["index"] == n), None)
        p = storage.file_in(m["id"], r["annotated"]) if r and r.get("annotated") else None
        if p is None:
            raise HTTPException(404, "这个文件没有批注副本。")
        return FileResponse(p, media_type=XLSX, filename=p.name)

    async def annotated_zip(req: Request):
        m = batch_or_404(req.path_params["batch_id"])

        def build() -> bytes:
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

        data = await run_in_threadpool(build)
        return Response(data, media_type="application/zip", headers=_attachment(f"批注副本-{m['id']}.zip"))

    async def findings_csv(req: Request):
        from ..findings import CSV_HEADER, neutralise

        m = batch_or_404(req.path_params["batch_id"])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(CSV_HEADER)
        for r in m["results"]:
            for f in r["findings"]:
                w.writerow(
                    [
                        neutralise(x)
                        for x in (
                            r["path"],
                            r.get("unit") or "",
                            f["code"],
                            "错误" if f["severity"] == "error" else "警告",
                            f["table"],
                            f["row"],
                            f["column"],
                            f["sheet"],
                            f["cell"],
                            f["expected"] or "",
                            f["actual"] or "",
                            f["message"],
                        )
                    ]
                )
        return Response(
            "\ufeff" + buf.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers=_attachment(f"审核结果-{m['id']}.csv"),
        )

    async def delete_batch(req: Request):
        import shutil

        m = batch_or_404(req.path_params["batch_id"])
        if m["state"] not in (DONE, FAILED) or any(
            runner.busy(m["id"], a["id"]) for a in storage.list_aggregates(m["id"])
        ):
            return page(req, "error.html", status=409, message="这个批次正在处理中，处理完成后才能删除。")
        await run_in_threadpool(shutil.rmtree, storage.batch_dir(m["id"]), True)
        return RedirectResponse("/check", status_code=303)

    async def aggregate_page(req: Request):
        batches = [b for b in storage.list_batches() if b["state"] == DONE]
        return page(
            req,
            "aggregate.html",
            nav="aggregate",
            batches=batches,
            selected=req.query_params.get("batch", ""),
        )

    async def create_aggregate(req: Request):
        batches = [b for b in storage.list_batches() if b["state"] == DONE]
        ctx = {"nav": "aggregate", "batches": batches}
        try:
            fields, files = await read_uploads(req, limits, "roster")
            prev = [
                f for f in (await req.form()).getlist("previous") if isinstance(f, UploadFile) and f.filename
            ]
            batch_id = fields.get("batch", "")
            ctx["selected"] = batch_id
            m = storage.manifest(batch_id)
            if m is None or m["state"] != DONE:
                raise UploadError("请选择一个已审核完成的批次。")
            year = _year(fields.get("year"))
            for f in files[:1] + prev[:1]:
                nm = sanitize_filename(f.filename)
                if f in files and not nm.lower().endswith(ROSTER_SUFFIXES):
                    raise UploadError(f"单位名单“{nm}”格式不支持：请使用 .xlsx、.xls、.ods 或 .csv 文件。")
                if f in prev and not nm.lower().endswith((".xlsx", ".xlsm", ".xls")):
                    raise UploadError(f"上年汇总表“{nm}”格式不支持：请上传本工具生成的 .xlsx 汇总表。")
                if (f.size or 0) > limits.file_bytes:
                    raise UploadError(f"文件“{nm}”超过单个文件 {_mb(limits.file_bytes)} MB 的上限。", 413)
        except UploadError as e:
            return refuse(req, e, "aggregate.html", **ctx)
        roster = (files[0].filename, files[0].file) if files else None
        previous = (prev[0].filename, prev[0].file) if prev else None
        agg_id = await run_in_threadpool(storage.create_aggregate, batch_id, roster, previous, year)
        runner.submit(batch_id, agg_id)
        url = f"/batches/{batch_id}/aggregates/{agg_id}"
        if _wants_json(req):
            return JSONResponse({"id": agg_id, "url": url})
        return RedirectResponse(url, status_code=303)

    def aggregate_or_404(req: Request) -> tuple[dict, dict]:
        m = batch_or_404(req.path_params["batch_id"])
        a = storage.aggregate(m["id"], req.path_params["agg_id"])
        if a is None:
            raise HTTPException(404, "找不到这次汇总。")
        return m, a

    async def board(req: Request):
        from .aggregating import board_rows, status_tiles

        m, a = aggregate_or_404(req)
        return page(
            req,
            "board.html",
            nav="aggregate",
            b=m,
            a=a,
            rows=board_rows(a),
            tiles=status_tiles(a),
            progress=storage.progress(m["id"], a["id"]) if a["state"] not in (DONE, FAILED) else {},
        )

    async def aggregate_api(req: Request):
        m, a = aggregate_or_404(req)
        return JSONResponse(
            {
                "id": a["id"],
                "state": a["state"],
                "error": a.get("error"),
                "summary": a.get("summary") or {},
                "progress": storage.progress(m["id"], a["id"]),
            }
        )

    async def aggregate_download(req: Request):
        m, a = aggregate_or_404(req)
        p = storage.file_in(m["id"], f"aggregates/{a['id']}/{a['output']}") if a.get("output") else None
        if p is None:
            raise HTTPException(404, "汇总表尚未生成。")
        return FileResponse(p, media_type=XLSX, filename=p.name)

    async def not_found(req: Request, exc: HTTPException):
        generic = {400: "请求内容无法解析。", 404: "找不到这个页面。", 405: "不支持这种访问方式。"}
        detail = exc.detail if isinstance(exc.detail, str) else ""
        msg = detail if detail and not detail.isascii() else generic.get(exc.status_code, "请求无法完成。")
        if req.url.path.startswith("/api/") or _wants_json(req):
            return JSONResponse({"error": msg}, status_code=exc.status_code)
        return page(req, "error.html", status=exc.status_code, message=msg)

    async def too_large(req: Request, exc: BodyTooLarge):
        return _plain(413, f"上传内容超过每次 {_mb(limits.total_bytes)} MB 的上限，请分批上传。")

    async def server_error(req: Request, exc: Exception):
        import sys
        import traceback
        import uuid

        ref = uuid.uuid4().hex[:8]
        sys.stderr.write(f"[nianbao] 内部错误 {ref}\n" + traceback.format_exc())
        return _plain(500, f"服务器内部错误（参考编号 {ref}），请把操作步骤与编号反馈给维护人员。")

    routes = [
        Route("/", index),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/templates", template_page),
        Route("/templates/download", template_download, methods=["POST"]),
        Route("/templates/roster", template_roster, methods=["POST"]),
        Route("/check", check_page),
        Route("/batches", create_batch, methods=["POST"]),
        Route("/batches/{batch_id}", batch_page),
        Route("/batches/{batch_id}/delete", delete_batch, methods=["POST"]),
        Route("/batches/{batch_id}/files/{n:int}/annotated", annotated),
        Route("/batches/{batch_id}/annotated.zip", annotated_zip),
        Route("/batches/{batch_id}/findings.csv", findings_csv),
        Route("/api/batches/{batch_id}", batch_api),
        Route("/aggregate", aggregate_page),
        Route("/aggregates", create_aggregate, methods=["POST"]),
        Route("/batches/{batch_id}/aggregates/{agg_id}", board),
        Route("/batches/{batch_id}/aggregates/{agg_id}/download", aggregate_download),
        Route("/api/batches/{batch_id}/aggregates/{agg_id}", aggregate_api),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        if run_jobs:
            runner.resume()
        yield
        runner.close()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: not_found, BodyTooLarge: too_large, Exception: server_error},
    )
    app.state.storage, app.state.runner, app.state.limits = storage, runner, limits
    app.add_middleware(
        Guard,
        token=token,
        loopback_only=is_loopback(host),
        max_body=limits.total_bytes + 4 * MB,
        shown_limit=limits.total_bytes,
    )
    return app


def _attachment(name: str) -> dict:
    stem, suffix = Path(name).stem, Path(name).suffix
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "", stem)
    ascii_name = (ascii_stem if len(ascii_stem) >= 3 else "nianbao") + re.sub(r"[^A-Za-z0-9.]", "", suffix)
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}

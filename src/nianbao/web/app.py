"""The web app of ``nianbao serve``: server-rendered Chinese pages over the same pipeline as the CLI.

Pages: 首页, 下载模板, 审核 (upload → batch page with progress → results), 汇总 (batch + roster →
报送情况 board → workbook). The routes live in :mod:`nianbao.web.routes`, one module per part of
the flow; :mod:`nianbao.web.guard` stands in front of them. Uploads are stored under the data
folder and processed by :mod:`nianbao.web.jobs` in the background.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..localize.explain import correction_text
from ..vocab import Incident
from .common import HERE, MB, BodyTooLarge, Limits, Web, is_loopback, mb, plain_page, wants_json, web_of
from .guard import Guard
from .jobs import Runner
from .routes import aggregate, auth, check, desk, template, unit
from .storage import Storage
from .throttle import Throttle

__all__ = ["Limits", "create_app", "is_loopback"]


async def _http_error(req: Request, exc: HTTPException):
    generic = {400: "请求内容无法解析。", 404: "找不到这个页面。", 405: "不支持这种访问方式。"}
    detail = exc.detail if isinstance(exc.detail, str) else ""
    msg = detail if detail and not detail.isascii() else generic.get(exc.status_code, "请求无法完成。")
    if req.url.path.startswith("/api/") or wants_json(req):
        return JSONResponse({"error": msg}, status_code=exc.status_code)
    return web_of(req).page(req, "error.html", status=exc.status_code, message=msg)


async def _too_large(req: Request, exc: BodyTooLarge):
    limit = web_of(req).limits.total_bytes
    return plain_page(413, f"上传内容超过每次 {mb(limit)} MB 的上限，请分批上传。")


async def _server_error(req: Request, exc: Exception):
    import sys
    import traceback

    incident = Incident.of()
    sys.stderr.write(f"[nianbao] 内部错误 {incident.ref}\n" + traceback.format_exc())
    return plain_page(500, f"服务器内部错误（{incident}），请把操作步骤与编号反馈给维护人员。")


def create_app(
    data_dir: Path | str,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    limits: Limits | None = None,
    run_jobs: bool = True,
    public_url: str | None = None,
) -> Starlette:
    storage = Storage(data_dir)
    limits = limits or Limits()
    runner = Runner(storage)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(limits=limits, token_required=bool(token), data_dir=str(storage.root))
    templates.env.filters["suggested"] = correction_text
    throttle = Throttle()
    web = Web(
        storage=storage, runner=runner, limits=limits, templates=templates, token=token, throttle=throttle
    )
    if public_url:
        web.extra["public_url"] = public_url.rstrip("/")  # what the 报送台's unit links are built on

    @asynccontextmanager
    async def lifespan(app):
        if run_jobs:
            runner.resume()
        yield
        runner.close()

    routes = [*check.ROUTES, *auth.ROUTES, *template.ROUTES, *aggregate.ROUTES, *desk.ROUTES, *unit.ROUTES]
    routes.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, BodyTooLarge: _too_large, Exception: _server_error},
    )
    app.state.web = web
    app.state.storage, app.state.runner, app.state.limits = storage, runner, limits
    app.add_middleware(
        Guard,
        token=token,
        loopback_only=is_loopback(host),
        max_body=limits.total_bytes + 4 * MB,
        shown_limit=limits.total_bytes,
        throttle=throttle,
    )
    return app

"""What every page of the web app shares: limits, Chinese refusals, form helpers, the context.

Route modules (:mod:`nianbao.web.routes`) reach the running app's storage, job runner, limits
and templates through :func:`web_of` (``request.app.state.web``).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.templating import Jinja2Templates

from ..guard import YEAR_MAX, YEAR_MIN, year_ok
from .storage import Storage, sanitize_filename

HERE = Path(__file__).resolve().parent
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MB = 1024 * 1024


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


@dataclass
class Web:
    """The running app's state, shared by every route."""

    storage: Storage
    runner: object  # jobs.Runner
    limits: Limits
    templates: Jinja2Templates
    token: str | None = None
    throttle: object = None  # throttle.Throttle: failed tokens per client address
    extra: dict = field(default_factory=dict)

    def page(self, req: Request, name: str, status: int = 200, **ctx) -> Response:
        ctx = {"nav": ctx.pop("nav", ""), "csrf": req.scope.get("state", {}).get("csrf", ""), **ctx}
        return self.templates.TemplateResponse(req, name, ctx, status_code=status)

    def refuse(self, req: Request, err: UploadError, name: str, **ctx) -> Response:
        if wants_json(req):
            return JSONResponse({"error": str(err)}, status_code=err.status)
        return self.page(req, name, status=err.status, error=str(err), **ctx)

    def batch_or_404(self, batch_id: str) -> dict:
        m = self.storage.manifest(batch_id)
        if m is None:
            raise HTTPException(404, "找不到这个批次（可能已被删除）。")
        return m

    def aggregate_or_404(self, req: Request) -> tuple[dict, dict]:
        m = self.batch_or_404(req.path_params["batch_id"])
        a = self.storage.aggregate(m["id"], req.path_params["agg_id"])
        if a is None:
            raise HTTPException(404, "找不到这次汇总。")
        return m, a


def web_of(req: Request) -> Web:
    return req.app.state.web


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The name part of a Host header: 'localhost:8765' → 'localhost', '[::1]:80' → '::1'."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def mb(n: float) -> str:
    return f"{n / MB:.1f}".rstrip("0").rstrip(".")


def esc(s: str) -> str:
    return (
        s.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def plain_page(status: int, message: str, headers: dict | None = None) -> Response:
    """A small Chinese error page that needs no template (used before routing)."""
    html = (
        "<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>无法完成</title>"
        "<link rel='stylesheet' href='/static/style.css'><main class='page'><div class='card'>"
        f"<h1>无法完成</h1><p class='alert error' role='alert'>{esc(message)}</p>"
        "<p><a href='/'>返回首页</a></p></div></main></html>"
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"X-Nianbao-Message": quote(message), **(headers or {})},
    )


def clean_text(s, limit: int = 100) -> str:
    s = unicodedata.normalize("NFC", str(s or ""))
    s = "".join(ch for ch in s if unicodedata.category(ch)[0] != "C").strip()
    return s[:limit]


def wants_json(req: Request) -> bool:
    return "application/json" in req.headers.get("accept", "")


def forms() -> list[dict]:
    from ..spec import all_specs

    return [
        {"version": s.version, "label": f"{s.version} 版（{s.basis}）"}
        for s in sorted(all_specs(), key=lambda s: s.version, reverse=True)
    ]


def year_of(raw) -> int | None:
    raw = clean_text(raw, 10)
    if not raw:
        return None
    raw = unicodedata.normalize("NFKC", raw)
    if not raw.isdigit() or not year_ok(int(raw)):
        raise UploadError(f"报告年度应为 {YEAR_MIN} 到 {YEAR_MAX} 之间的四位数字，如 2025。")
    return int(raw)


async def in_child(fn, *args):
    """Run ``fn`` in a fresh process (spawned, so no server thread state is inherited), for work
    that reads a user's file. The process ends by itself if the server dies meanwhile."""
    import asyncio
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .watchdog import pool_initializer

    loop = asyncio.get_running_loop()
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=pool_initializer) as ex:
        return await loop.run_in_executor(ex, fn, *args)


def attachment(name: str) -> dict:
    stem, suffix = Path(name).stem, Path(name).suffix
    ascii_stem = re.sub(r"[^A-Za-z0-9_-]+", "", stem)
    ascii_name = (ascii_stem if len(ascii_stem) >= 3 else "nianbao") + re.sub(r"[^A-Za-z0-9.]", "", suffix)
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"}


async def read_uploads(req: Request, limits: Limits, field: str = "files") -> tuple[dict, list[UploadFile]]:
    """Parse a multipart upload; enforce the limits (Chinese UploadError past them)."""
    try:
        form = await req.form(max_files=limits.files, max_fields=20)
    except BodyTooLarge:
        raise UploadError(f"上传内容超过每次 {mb(limits.total_bytes)} MB 的上限，请分批上传。", 413) from None
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
        names = "、".join(f"“{sanitize_filename(f.filename)}”（{mb(f.size)} MB）" for f in too_big[:5])
        raise UploadError(f"文件 {names} 超过单个文件 {mb(limits.file_bytes)} MB 的上限。", 413)
    total = sum(f.size or 0 for f in files)
    if total > limits.total_bytes:
        raise UploadError(
            f"本次上传共 {mb(total)} MB，超过每次 {mb(limits.total_bytes)} MB 的上限，请分批上传。", 413
        )
    return fields, files

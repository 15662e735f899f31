"""The guard in front of every route: allowed hosts, the access token, cross-site posts, body size."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse

from .common import BodyTooLarge, host_name, mb, plain_page

COOKIE = "nianbao_auth"


def cookie_for(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"nianbao-web-session", hashlib.sha256).hexdigest()


class Guard:
    OPEN_PATHS = ("/static/", "/login", "/favicon.ico", "/u/")  # /u/<token>: the link is the credential

    def __init__(self, app, *, token: str | None, loopback_only: bool, max_body: int, shown_limit: int):
        self.app, self.token, self.loopback_only, self.max_body = app, token, loopback_only, max_body
        self.shown_limit = shown_limit
        self.cookie_value = cookie_for(token) if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        refusal = self.refusal(Request(scope))
        if refusal is not None:
            return await refusal(scope, receive, send)
        return await self.app(scope, self.limited(receive), send)

    def refusal(self, req: Request):
        """The response that refuses this request, or None to let it through."""
        scope = req.scope
        if self.loopback_only and not is_loopback_host(req.headers.get("host", "")):
            return plain_page(403, "只允许通过 127.0.0.1 或 localhost 访问本服务。")
        if req.method not in ("GET", "HEAD"):
            origin = req.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != req.headers.get("host"):
                return plain_page(403, "拒绝来自其他网站的请求。")
        if self.token and not scope["path"].startswith(self.OPEN_PATHS):
            got = req.cookies.get(COOKIE, "")
            if not hmac.compare_digest(got.encode(), self.cookie_value.encode()):
                if req.method in ("GET", "HEAD") and not scope["path"].startswith("/api/"):
                    query = scope.get("query_string", b"").decode("latin-1")
                    target = scope["path"] + ("?" + query if query else "")
                    return RedirectResponse("/login?next=" + quote(target), status_code=303)
                return plain_page(401, "需要先输入访问口令。")
        length = req.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            return plain_page(
                413,
                f"上传内容共 {mb(int(length))} MB，超过每次 {mb(self.shown_limit)} MB 的上限。请分批上传。",
            )
        return None

    def limited(self, receive):
        """``receive`` that raises BodyTooLarge once the body passes the limit."""
        seen = 0

        async def receive_limited():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge()
            return msg

        return receive_limited


def is_loopback_host(host_header: str) -> bool:
    from .common import is_loopback

    return is_loopback(host_name(host_header))

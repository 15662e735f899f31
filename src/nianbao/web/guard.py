"""The guard in front of every route: allowed hosts, the access token, cross-site requests
(Origin check plus a per-session CSRF token), body size, and the security headers of every answer.

Cross-site requests: a state-changing request (not GET/HEAD) whose ``Origin`` names another site
is refused. When ``Origin`` is missing or ``null`` (old browsers, ``no-referrer`` pages, sandboxed
frames), the request must carry the CSRF token of this browser session: our own forms put it
first in their body (``csrf`` field), scripts may send it as ``X-CSRF-Token``. The token is a
random value kept in the ``nianbao_csrf`` cookie (double submit): another site can neither read
the cookie nor set it. Requests that prove themselves without cookies are exempt: an
``Authorization: Bearer <token>`` header with the right token (admin API), and paths under
``CAPABILITY_PREFIXES`` whose URL holds its own secret (checked by their route).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import quote, unquote_plus, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse

from .common import BodyTooLarge, host_name, is_loopback, mb, plain_page
from .throttle import Throttle, too_many_message

COOKIE = "nianbao_auth"
CSRF_COOKIE = "nianbao_csrf"
CSRF_FIELD = "csrf"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_MULTIPART_FIRST = re.compile(
    rb'\A--[^\r\n]{1,200}\r\ncontent-disposition: *form-data; *name="csrf"\r\n(?:[^\r\n]+\r\n)*\r\n'
    rb"([A-Za-z0-9_-]{32,64})\r\n",
    re.IGNORECASE,
)
PEEK = 8192  # bytes of a body read before the CSRF token must have appeared
STALE = "页面已过期或无法确认请求来自本服务的页面。请刷新页面后重新提交。"


def cookie_for(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"nianbao-web-session", hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def client_address(scope) -> str:
    client = scope.get("client")
    return client[0] if client else "?"


def body_token(body: bytes, content_type: str) -> str | None:
    """The CSRF token our forms put first in a body (multipart or urlencoded), or None."""
    if content_type.startswith("multipart/form-data"):
        m = _MULTIPART_FIRST.match(body)
        return m.group(1).decode() if m else None
    if content_type.startswith("application/x-www-form-urlencoded"):
        for pair in body.split(b"&")[:20]:
            name, _, value = pair.partition(b"=")
            if name == CSRF_FIELD.encode():
                return unquote_plus(value.decode("latin-1"))
    return None


class Guard:
    OPEN_PATHS = ("/static/", "/login", "/favicon.ico")
    CAPABILITY_PREFIXES = ("/u/",)  # /u/<token>: a unit's link is its own credential (the desk)

    def __init__(
        self,
        app,
        *,
        token: str | None,
        loopback_only: bool,
        max_body: int,
        shown_limit: int,
        throttle: Throttle | None = None,
    ):
        self.app, self.token, self.loopback_only, self.max_body = app, token, loopback_only, max_body
        self.shown_limit, self.throttle = shown_limit, throttle or Throttle()
        self.cookie_value = cookie_for(token) if token else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        req = Request(scope)
        sent = req.cookies.get(CSRF_COOKIE, "")
        fresh = None if _TOKEN_RE.match(sent) else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = fresh or sent
        send = self.decorate(send, fresh, https=scope.get("scheme") == "https")
        refusal, bearer = self.refusal(req)
        if refusal is None and self.needs_csrf_token(req, bearer):
            receive, given = await self.peek_token(req, receive)
            if fresh or not given or not same(given, sent):
                refusal = plain_page(403, STALE)
        if refusal is not None:
            return await refusal(scope, receive, send)
        return await self.app(scope, self.limited(receive), send)

    def decorate(self, send, fresh: str | None, https: bool):
        """``send`` that adds the security headers (and a new CSRF cookie) to the answer."""

        async def send_decorated(msg):
            if msg["type"] == "http.response.start":
                headers = [h for h in msg.get("headers", []) if h[0].lower() not in dict(SECURITY_HEADERS)]
                headers += SECURITY_HEADERS
                if fresh:
                    flags = "; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if https else "")
                    headers.append((b"set-cookie", f"{CSRF_COOKIE}={fresh}{flags}".encode()))
                msg = {**msg, "headers": headers}
            await send(msg)

        return send_decorated

    def capability(self, path: str) -> bool:
        return bool(self.CAPABILITY_PREFIXES) and path.startswith(self.CAPABILITY_PREFIXES)

    def needs_csrf_token(self, req: Request, bearer: bool) -> bool:
        if req.method in ("GET", "HEAD", "OPTIONS") or bearer or self.capability(req.url.path):
            return False
        return req.headers.get("origin", "null") == "null"

    async def peek_token(self, req: Request, receive):
        """(a receive that replays what was read, the CSRF token of the request or None)."""
        header = req.headers.get("x-csrf-token")
        if header:
            return receive, header
        chunks, size, more = [], 0, True
        while more and size < PEEK:
            msg = await receive()
            if msg["type"] != "http.request":
                return receive, None
            chunks.append(msg.get("body", b""))
            size += len(chunks[-1])
            more = msg.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": more}
            return await receive()

        return replay, body_token(body, req.headers.get("content-type", "").lower())

    def refusal(self, req: Request):
        """(the response that refuses this request or None, whether a bearer token proved it)."""
        path = req.url.path
        if self.loopback_only and not is_loopback(host_name(req.headers.get("host", ""))):
            return plain_page(403, "只允许通过 127.0.0.1 或 localhost 访问本服务。"), False
        if req.method not in ("GET", "HEAD"):
            origin = req.headers.get("origin")
            if origin and origin != "null" and urlsplit(origin).netloc != req.headers.get("host"):
                return plain_page(403, "拒绝来自其他网站的请求。"), False
        bearer = False
        if self.token and not path.startswith(self.OPEN_PATHS) and not self.capability(path):
            denied, bearer = self.authenticate(req)
            if denied is not None:
                return denied, False
        length = req.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_body:
            return plain_page(
                413,
                f"上传内容共 {mb(int(length))} MB，超过每次 {mb(self.shown_limit)} MB 的上限。请分批上传。",
            ), bearer
        return None, bearer

    def authenticate(self, req: Request):
        """Token mode: (refusal or None, whether an Authorization: Bearer header proved it)."""
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            addr = client_address(req.scope)
            wait = self.throttle.wait(addr)
            if not wait and same(auth[7:].strip(), self.token):
                self.throttle.succeeded(addr)
                return None, True
            wait = wait or self.throttle.failed(addr)
            if wait:
                return plain_page(429, too_many_message(wait), {"Retry-After": str(wait)}), False
            return plain_page(401, "访问口令不正确。"), False
        if same(req.cookies.get(COOKIE, ""), self.cookie_value):
            return None, False
        if req.method in ("GET", "HEAD") and not req.url.path.startswith("/api/"):
            query = req.scope.get("query_string", b"").decode("latin-1")
            target = req.url.path + ("?" + query if query else "")
            return RedirectResponse("/login?next=" + quote(target), status_code=303), False
        return plain_page(401, "需要先输入访问口令。"), False

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

"""登录: the access-token form of ``nianbao serve --token``."""

from __future__ import annotations

import asyncio
import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from ..common import web_of
from ..guard import COOKIE, cookie_for


def _next(req: Request) -> str:
    nxt = req.query_params.get("next", "/")
    return nxt if nxt.startswith("/") and not nxt.startswith("//") else "/"


async def login(req: Request):
    web, nxt = web_of(req), _next(req)
    if req.method == "GET":
        return web.page(req, "login.html", next=nxt, public=True)
    form = await req.form(max_files=0, max_fields=5)
    given, token = str(form.get("token", "")), web.token
    if not token or not hmac.compare_digest(cookie_for(given).encode(), cookie_for(token).encode()):
        await asyncio.sleep(0.5)
        return web.page(
            req, "login.html", status=401, next=nxt, public=True, login_error="访问口令不正确，请重新输入。"
        )
    resp = RedirectResponse(nxt, status_code=303)
    resp.set_cookie(COOKIE, cookie_for(token), httponly=True, samesite="strict", max_age=30 * 24 * 3600)
    return resp


ROUTES = [Route("/login", login, methods=["GET", "POST"])]

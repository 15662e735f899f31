"""登录: the access-token form of ``nianbao serve --token``, throttled per client address."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from ..common import web_of
from ..guard import COOKIE, client_address, cookie_for, same
from ..throttle import too_many_message


def _next(req: Request) -> str:
    nxt = req.query_params.get("next", "/")
    return nxt if nxt.startswith("/") and not nxt.startswith("//") else "/"


async def login(req: Request):
    web, nxt = web_of(req), _next(req)
    if req.method == "GET":
        return web.page(req, "login.html", next=nxt, public=True)
    form = await req.form(max_files=0, max_fields=5)
    given, token, addr = str(form.get("token", "")), web.token, client_address(req.scope)
    wait = web.throttle.wait(addr)
    if not wait and token and same(cookie_for(given), cookie_for(token)):
        web.throttle.succeeded(addr)
        resp = RedirectResponse(nxt, status_code=303)
        secure = req.url.scheme == "https"
        resp.set_cookie(
            COOKIE, cookie_for(token), httponly=True, samesite="strict", secure=secure, max_age=30 * 24 * 3600
        )
        return resp
    wait = wait or web.throttle.failed(addr)
    if wait:
        resp = web.page(
            req, "login.html", status=429, next=nxt, public=True, login_error=too_many_message(wait)
        )
        resp.headers["Retry-After"] = str(wait)
        return resp
    await asyncio.sleep(0.5)
    return web.page(
        req, "login.html", status=401, next=nxt, public=True, login_error="访问口令不正确，请重新输入。"
    )


ROUTES = [Route("/login", login, methods=["GET", "POST"])]

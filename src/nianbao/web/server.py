"""Start the web app with uvicorn: refuse unsafe binds and weak tokens, report start-up problems
in Chinese, print the addresses people can open, serve HTTPS with the office's own certificate."""

from __future__ import annotations

import errno
import os
import secrets
import socket
import string
import threading
import time
import webbrowser
from pathlib import Path

from ..netinfo import lan_addresses
from .storage import default_data_dir

MIN_TOKEN = 12
# Words anyone would try first; a token that is one of them, maybe with digits or punctuation
# around it, is refused (compared without case, spaces, dashes, dots and underscores).
OBVIOUS_WORDS = {
    "password",
    "passw0rd",
    "qwerty",
    "qwertyuiop",
    "asdfghjkl",
    "abcdefghijkl",
    "abc",
    "iloveyou",
    "admin",
    "administrator",
    "root",
    "test",
    "nianbao",
    "zhengwugongkai",
    "xinxigongkai",
    "gongkai",
    "政务公开",
    "政府信息公开",
    "县政务公开办",
    "政务公开办",
    "政务公开办公室",
    "年度报告",
    "年报",
    "年报口令",
    "访问口令",
    "口令",
    "密码",
}
_ALPHABET = string.ascii_letters + string.digits
_ADDR_IN_USE = {errno.EADDRINUSE, 10048}  # 10048: WSAEADDRINUSE
_ACCESS = {errno.EACCES, 10013}  # 10013: WSAEACCES (port reserved or blocked)
_NOT_AVAILABLE = {errno.EADDRNOTAVAIL, 10049}


def _err(msg: str) -> int:
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[bold red]错误：[/]{msg}", markup=True)
    return 2


def new_token() -> str:
    """A strong access token: 20 letters and digits (about 119 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(20))


def weak_token(token: str) -> str | None:
    """Why ``token`` is too weak (Chinese), or None."""
    if len(token) < MIN_TOKEN:
        return f"访问口令太短：至少需要 {MIN_TOKEN} 个字符（现在 {len(token)} 个）。"
    plain = "".join(ch for ch in token.lower() if ch not in " -_.")
    core = plain.strip("0123456789!@#$%^&*?")
    if plain.isdigit() or len(set(plain)) <= 3 or not core or core in OBVIOUS_WORDS:
        return "访问口令太容易被猜到（常见词、纯数字或重复字符）。"
    return None


def check_bind(host: str, token: str | None) -> str | None:
    """Why the server must not start with these options (Chinese), or None."""
    from .common import is_loopback

    if not is_loopback(host) and not token:
        return (
            f"绑定到 {host} 会让其他电脑也能访问本服务，必须设置访问口令：推荐先运行 "
            "nianbao serve --new-token 生成一个，设置为环境变量 NIANBAO_TOKEN（也可用 --token，"
            "但命令行参数会被同一台电脑上的其他用户看到）。只在本机使用时请去掉 --host。"
        )
    if token is not None:
        why = weak_token(token)
        if why:
            return why + "可以运行 nianbao serve --new-token 生成一个足够强的口令。"
    return None


def bind_error(host: str, port: int, e: OSError) -> str:
    """A Chinese explanation of why binding ``host:port`` failed."""
    code = getattr(e, "winerror", None) or e.errno
    if code in _ADDR_IN_USE:
        return (
            f"端口 {port} 已被其他程序占用（可能已有一个 nianbao serve 在运行）。"
            f"请关闭占用它的程序，或用 --port 换一个端口，例如 --port {port + 1 if port < 65535 else 8765}。"
        )
    if code in _ACCESS:
        return (
            f"没有权限使用端口 {port}（端口被系统保留或被安全软件阻止）。"
            "请用 --port 换一个端口，如 --port 18765。"
        )
    if code in _NOT_AVAILABLE:
        return f"本机没有地址 {host}，无法在上面启动。请检查 --host，或去掉 --host 只在本机使用。"
    return f"无法在 {host}:{port} 上启动（系统错误代码 {code}）。请用 --port 换一个端口，或检查 --host。"


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: never share a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def open_urls(host: str, port: int, scheme: str = "http") -> list[str]:
    """The addresses people can type into a browser for a server bound to ``host``."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        hosts = ["127.0.0.1", *lan_addresses()]
    else:
        hosts = [f"[{host.strip('[]')}]" if ":" in host else host]
    return [f"{scheme}://{h}:{port}/" for h in hosts]


def _check_tls(certfile: Path | None, keyfile: Path | None) -> str | None:
    """Why the certificate/key pair cannot be used (Chinese), or None."""
    import ssl

    if bool(certfile) != bool(keyfile):
        return "--ssl-certfile 和 --ssl-keyfile 必须同时给出（证书文件和私钥文件）。"
    if not certfile:
        return None
    for what, p in (("证书文件", certfile), ("私钥文件", keyfile)):
        if not Path(p).is_file():
            return f"{what} {p} 不存在。"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(str(certfile), str(keyfile))
    except (ssl.SSLError, OSError, ValueError):
        return (
            f"证书 {certfile} 与私钥 {keyfile} 无法使用：请确认两者都是 PEM 格式、彼此匹配，"
            "且私钥没有设置密码。"
        )
    return None


def _prepare_data(data: Path) -> str | None:
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".nianbao-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return f"数据文件夹 {data} 无法写入（系统错误代码 {e.errno}）。请用 --data 指定另一个文件夹。"
    return None


def _announce(urls: list[str], data: Path, token: str | None, from_env: bool) -> None:
    lines = ["nianbao 网页已启动，在浏览器中打开：", *(f"  {u}" for u in urls), f"数据文件夹：{data}"]
    if token:
        lines.append("已启用访问口令。")
        if not from_env:
            lines.append("提示：--token 会出现在进程列表中，建议改为设置环境变量 NIANBAO_TOKEN。")
    lines.append("按 Ctrl+C 停止。")
    print("\n".join(lines), flush=True)


def _check_public_url(url: str | None) -> str | None:
    from ..desk import DeskError
    from ..desk.command import check_public_url

    try:
        return None if url is None else (check_public_url(url) and None)
    except DeskError as e:
        return e.message


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data: Path | None = None,
    token: str | None = None,
    open_browser: bool = False,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    public_url: str | None = None,
) -> int:
    """Run until Ctrl+C. Returns the exit code (2 for a usage or start-up problem)."""
    if not 0 < port < 65536:
        return _err(f"端口 {port} 无效：应为 1 到 65535 之间的数字。")
    data = Path(data) if data else default_data_dir()
    why = (
        check_bind(host, token)
        or _check_tls(ssl_certfile, ssl_keyfile)
        or _check_public_url(public_url)
        or _prepare_data(data)
    )
    if why:
        return _err(why)
    try:
        sock = bind_socket(host, port)
    except OSError as e:
        return _err(bind_error(host, port, e))

    import logging

    import uvicorn

    from .app import create_app

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S")
    app = create_app(data, token=token, host=host, public_url=public_url)
    tls = {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile)} if ssl_certfile else {}
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3, **tls
    )
    server = uvicorn.Server(config)
    urls = open_urls(host, port, "https" if tls else "http")
    _announce(urls, data, token, from_env=bool(token) and os.environ.get("NIANBAO_TOKEN") == token)
    if open_browser:

        def opener():
            for _ in range(100):
                if server.started:
                    break
                time.sleep(0.05)
            webbrowser.open(urls[0])

        threading.Thread(target=opener, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    print("nianbao 网页已停止。", flush=True)
    return 0


def serve_command(
    host: str = "127.0.0.1",
    port: int = 8765,
    data: Path | None = None,
    token: str | None = None,
    open_browser: bool = False,
    show_new_token: bool = False,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    public_url: str | None = None,
) -> int:
    """``nianbao serve``: show a new access token (``show_new_token``), or run the server."""
    if show_new_token:
        print(new_token())
        return 0
    return serve(
        host=host,
        port=port,
        data=data,
        token=token,
        open_browser=open_browser,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        public_url=public_url,
    )

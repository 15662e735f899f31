"""Start the web app with uvicorn: refuse unsafe binds, report a busy port in Chinese."""

from __future__ import annotations

import socket
import threading
import time
import webbrowser
from pathlib import Path

from .storage import default_data_dir

MIN_TOKEN = 8


def _err(msg: str) -> int:
    from rich.console import Console

    Console(stderr=True, highlight=False).print(f"[bold red]错误：[/]{msg}")
    return 2


def check_bind(host: str, token: str | None) -> str | None:
    """Why the server must not start with these options (Chinese), or None."""
    from .common import is_loopback

    if not is_loopback(host) and not token:
        return (
            f"绑定到 {host} 会让其他电脑也能访问本服务，必须同时用 --token 设置访问口令"
            "（或设置环境变量 NIANBAO_TOKEN）。只在本机使用时请去掉 --host。"
        )
    if token is not None and len(token) < MIN_TOKEN:
        return f"访问口令太短：至少需要 {MIN_TOKEN} 个字符。"
    return None


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


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    data: Path | None = None,
    token: str | None = None,
    open_browser: bool = False,
) -> int:
    """Run until Ctrl+C. Returns the exit code (2 for a usage or start-up problem)."""
    why = check_bind(host, token)
    if why:
        return _err(why)
    if not 0 < port < 65536:
        return _err(f"端口 {port} 无效：应为 1 到 65535 之间的数字。")
    data = Path(data) if data else default_data_dir()
    try:
        data.mkdir(parents=True, exist_ok=True)
        probe = data / ".nianbao-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        return _err(f"数据文件夹 {data} 无法写入：{e.strerror or e}。请用 --data 指定另一个文件夹。")
    try:
        sock = bind_socket(host, port)
    except OSError as e:
        return _err(
            f"无法在 {host}:{port} 上启动：{e.strerror or e}。端口可能已被占用，请用 --port 换一个端口。"
        )

    import uvicorn

    from .app import create_app

    app = create_app(data, token=token, host=host)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    )
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(
        f"nianbao 网页已启动：{url}\n数据文件夹：{data}\n"
        + ("已启用访问口令。\n" if token else "")
        + "按 Ctrl+C 停止。",
        flush=True,
    )
    if open_browser:

        def opener():
            for _ in range(100):
                if server.started:
                    break
                time.sleep(0.05)
            webbrowser.open(url.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]"))

        threading.Thread(target=opener, daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    print("nianbao 网页已停止。", flush=True)
    return 0

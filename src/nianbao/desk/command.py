"""``nianbao desk …``: create a collection, list it, move it between desks, back it up."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .store import DeskError

EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_PORT = 8765


def desk_root(data: Path | str | None) -> Path:
    """The desk's folder inside the data folder that ``nianbao serve --data`` uses."""
    from ..web.storage import default_data_dir

    return (Path(data) if data else default_data_dir()) / "desk"


def _err(msg: str) -> int:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True).print(f"[red]错误：[/]{escape(msg)}")
    return EXIT_USAGE


def lan_address() -> str | None:
    """This machine's first address on the office network, or None."""
    from ..netinfo import lan_addresses

    found = lan_addresses()
    return found[0] if found else None


def check_public_url(url: str) -> str:
    """The address units open: http(s), a host others can reach (never 0.0.0.0 or loopback)."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeskError(f"对外地址“{url}”无效：应形如 http://192.168.1.10:8765 或 https://gkb.example.gov.cn")
    host = parts.hostname
    if host in ("0.0.0.0", "localhost", "::", "::1") or host.startswith("127."):
        raise DeskError(f"对外地址“{url}”只有本机能打开，请填写其他单位能访问的内网地址（--public-url）")
    if parts.query or parts.fragment:
        raise DeskError(f"对外地址“{url}”不应带有 ? 或 # 部分")
    return url


def resolve_public_url(url: str | None, port: int = DEFAULT_PORT) -> str:
    if url:
        return check_public_url(url)
    ip = lan_address()
    if ip is None:
        raise DeskError("无法确定本机的内网地址，请用 --public-url 指定各单位能访问的地址")
    return f"http://{ip}:{port}"


def desk_create_command(roster, year, data, form, deadline, public_url, name, issuer) -> int:
    from ..roster import RosterError, read_roster
    from ..spec import get_spec
    from .service import Desk

    try:
        units = read_roster(roster)
        spec = get_spec(form) if form else None
        url = resolve_public_url(public_url)
    except (RosterError, DeskError, KeyError, ValueError) as e:
        return _err(getattr(e, "message", None) or str(e))
    desk = Desk(desk_root(data))
    try:
        c = desk.create(
            units,
            year=year,
            form=spec.version if spec else _newest_form(),
            deadline=deadline or "",
            public_url=url,
            name=name or "",
            issuer=issuer or "",
        )
        doc = {
            "collection": c["id"],
            "name": c["name"],
            "year": c["year"],
            "form": c["form"],
            "units": [{"unit": u["name"], "link": desk.link(c, u)} for u in c["units"]],
        }
    finally:
        desk.close()
    sys.stdout.buffer.write((json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    sys.stdout.flush()
    return EXIT_OK


def _newest_form() -> str:
    from ..spec import all_specs

    return max(all_specs(), key=lambda s: int(s.version)).version


def desk_list_command(data) -> int:
    from rich.console import Console
    from rich.table import Table

    from ..vocab import UnitState
    from .service import Desk

    desk = Desk(desk_root(data))
    try:
        rows = desk.collections()
    finally:
        desk.close()
    t = Table("编号", "名称", "年度", "表式", "截止", "状态", "单位数", *(s.zh for s in UnitState))
    for c in rows:
        n = c["counts"]
        t.add_row(
            c["id"],
            c["name"],
            str(c["year"]),
            c["form"],
            c["deadline"],
            "已截止" if c["closed"] else "收取中",
            str(sum(n.values())),
            *(str(n[s.value]) for s in UnitState),
        )
    Console().print(t if rows else "还没有报送任务。")
    return EXIT_OK


def _on_desk(data, work, done, failed_io: str) -> int:
    """Run ``work(desk)`` on the desk in ``data``; print ``done(result)`` or a Chinese error."""
    from .service import Desk

    desk = Desk(desk_root(data))
    try:
        result = work(desk)
    except DeskError as e:
        return _err(e.message)
    except OSError as e:
        return _err(f"{failed_io}：{e.strerror or e}")
    finally:
        desk.close()
    print(done(result))
    return EXIT_OK


def desk_export_command(collection, output, data) -> int:
    from .outputs import export_collection

    return _on_desk(
        data,
        lambda d: export_collection(d, collection, Path(output)),
        lambda _: f"已导出到 {output}",
        f"无法写入 {output}",
    )


def desk_import_command(path, data) -> int:
    from .outputs import import_collection

    return _on_desk(
        data,
        lambda d: import_collection(d, Path(path)),
        lambda cid: f"已导入报送任务 {cid}",
        f"无法读取 {path}",
    )


def desk_backup_command(target, data) -> int:
    return _on_desk(
        data,
        lambda d: d.store.backup(Path(target)),
        lambda db: f"已备份到 {db.parent}（数据库与全部上传文件）",
        f"无法写入 {target}",
    )

"""The desk's storage: one SQLite database and a folder of uploaded files kept once by content hash.

``Store`` knows rows and files, nothing of the workflow; :mod:`nianbao.desk.service` gives them
their meaning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .schema import connect

DB_NAME = "desk.sqlite3"
BLOBS = "files"


class DeskError(Exception):
    """A desk operation cannot be done; ``message`` is Chinese, ``status`` an HTTP status hint."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message, self.status = message, status


def now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def new_id() -> str:
    return secrets.token_hex(8)


def new_token() -> str:
    """A unit's capability token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


class Store:
    """Rows and files of every collection under ``root`` (thread-safe: a connection per thread)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / DB_NAME
        self._local = threading.local()
        self.con  # create and migrate now, so errors surface at start  # noqa: B018

    @property
    def con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = connect(self.db_path)
        return con

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE: writers queue instead of failing)."""
        con = self.con
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def one(self, sql: str, *args) -> dict | None:
        row = self.con.execute(sql, args).fetchone()
        return dict(row) if row else None

    def all(self, sql: str, *args) -> list[dict]:
        return [dict(r) for r in self.con.execute(sql, args).fetchall()]

    # files -------------------------------------------------------------------------------------

    def blob_path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise DeskError("文件编号无效", 404)
        return self.root / BLOBS / sha[:2] / sha

    def put_blob(self, data: bytes) -> str:
        """Store ``data`` once (by SHA-256), whole, before any row refers to it: written to a
        temporary name and renamed, so a crash never leaves a half file under its hash."""
        sha = hashlib.sha256(data).hexdigest()
        path = self.blob_path(sha)
        if path.is_file() and path.stat().st_size == len(data):
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".~{sha}.{secrets.token_hex(4)}")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return sha

    # audit -------------------------------------------------------------------------------------

    def audit(
        self,
        con: sqlite3.Connection,
        action: str,
        *,
        actor: str,
        address: str = "",
        collection_id: str | None = None,
        unit_id: str | None = None,
        detail: dict | str = "",
    ) -> None:
        text = json.dumps(detail, ensure_ascii=False) if isinstance(detail, dict) else detail
        con.execute(
            "INSERT INTO audit(at, collection_id, unit_id, actor, address, action, detail)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (now(), collection_id, unit_id, actor, address, action, text),
        )

    def backup(self, target: Path) -> Path:
        """A consistent copy of the database (SQLite's backup API, safe while the server writes)
        and of the stored files, in the folder ``target``."""
        import shutil

        target.mkdir(parents=True, exist_ok=True)
        dest_db = target / DB_NAME
        tmp = target / f".~{DB_NAME}.{secrets.token_hex(4)}"
        dst = sqlite3.connect(str(tmp))
        try:
            self.con.backup(dst)
        finally:
            dst.close()
        os.replace(tmp, dest_db)
        src_files = self.root / BLOBS
        if src_files.is_dir():
            for f in src_files.rglob("*"):
                if f.is_file() and not f.name.startswith(".~"):
                    out = target / BLOBS / f.relative_to(src_files)
                    if not out.exists():
                        out.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(f, out)
        return dest_db

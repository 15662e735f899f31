"""The 报送台 database: SQLite (WAL), its schema and migrations (``PRAGMA user_version``).

Every entity has a text id (random hex), so a collection exported from one office's desk can be
imported into another without renumbering. Uploaded files live once on disk by content hash;
rows refer to them by that hash.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Each migration takes the schema from version i to i + 1; never edit a released one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE collections (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        year INTEGER NOT NULL,
        form TEXT NOT NULL,
        deadline TEXT NOT NULL DEFAULT '',
        public_url TEXT NOT NULL DEFAULT '',
        issuer TEXT NOT NULL DEFAULT '',
        closed INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE units (
        id TEXT PRIMARY KEY,
        collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        aliases TEXT NOT NULL DEFAULT '',
        position INTEGER NOT NULL,
        token TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        current_upload TEXT,
        comment TEXT NOT NULL DEFAULT '',
        removed INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX units_name ON units(collection_id, name) WHERE removed = 0;
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        unit_id TEXT NOT NULL REFERENCES units(id) ON DELETE CASCADE,
        collection_id TEXT NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        filename TEXT NOT NULL,
        size INTEGER NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL,
        errors INTEGER NOT NULL,
        warnings INTEGER NOT NULL,
        reported_unit TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL,
        uploaded_at TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX uploads_unit ON uploads(unit_id, uploaded_at);
    CREATE TABLE explanations (
        upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
        item TEXT NOT NULL,
        text TEXT NOT NULL,
        written_at TEXT NOT NULL,
        PRIMARY KEY (upload_id, item)
    );
    CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        unit_id TEXT NOT NULL REFERENCES units(id) ON DELETE CASCADE,
        upload_id TEXT,
        kind TEXT NOT NULL,
        comment TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        collection_id TEXT,
        unit_id TEXT,
        actor TEXT NOT NULL,
        address TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_collection ON audit(collection_id, id);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(Exception):
    """The database was written by a newer nianbao (Chinese message)."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating) the desk database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: a committed upload survives the server being killed (the OS keeps the log);
    # only a power cut may lose the last moments, and never leaves the database damaged.
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA foreign_keys=ON")
    migrate(con)
    return con


def migrate(con: sqlite3.Connection) -> None:
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"报送台数据库由更新版本的 nianbao 写入（版本 {version}），请升级 nianbao 后再打开")
    for i in range(version, SCHEMA_VERSION):
        con.execute("BEGIN IMMEDIATE")
        try:
            if con.execute("PRAGMA user_version").fetchone()[0] != i:  # another process migrated
                con.execute("ROLLBACK")
                continue
            for stmt in MIGRATIONS[i].split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.execute(f"PRAGMA user_version = {i + 1}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

"""Who runs which background job: one row per job in DATA/jobs.sqlite3 (stdlib sqlite3, WAL).

A worker process must hold its job's lease before touching the job and renews it every few
seconds; a lease not renewed for ``TTL`` seconds has expired and may be taken by another worker.
So a job is run by exactly one worker, even when a server was killed and a new one started while
the old worker still ran. Deleting a job first marks its lease cancelled: a worker renewing a
cancelled lease stops, and a cancelled job is never taken again.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

TTL = 10.0  # seconds a lease lasts without renewal
RENEW = 2.0  # seconds between renewals
OK, LOST, CANCELLED = "ok", "lost", "cancelled"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    job TEXT PRIMARY KEY,
    owner TEXT,
    pid INTEGER,
    expires REAL NOT NULL DEFAULT 0,
    cancelled INTEGER NOT NULL DEFAULT 0
)
"""


class Leases:
    def __init__(self, root: Path | str):
        self.path = Path(root) / "jobs.sqlite3"
        with closing(self._connect()) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=15, isolation_level=None)
        db.execute("PRAGMA busy_timeout=15000")
        return db

    def acquire(self, job: str, owner: str, pid: int, ttl: float = TTL) -> str:
        """Take the lease of ``job``: OK, LOST (another worker holds it) or CANCELLED."""
        now = time.time()
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT owner, expires, cancelled FROM leases WHERE job=?", (job,)).fetchone()
            if row and row[2]:
                db.execute("ROLLBACK")
                return CANCELLED
            if row and row[0] not in (None, owner) and row[1] > now:
                db.execute("ROLLBACK")
                return LOST
            db.execute(
                "INSERT INTO leases(job, owner, pid, expires) VALUES(?,?,?,?) "
                "ON CONFLICT(job) DO UPDATE SET "
                "owner=excluded.owner, pid=excluded.pid, expires=excluded.expires",
                (job, owner, pid, now + ttl),
            )
            db.execute("COMMIT")
            return OK

    def renew(self, job: str, owner: str, ttl: float = TTL) -> str:
        with closing(self._connect()) as db:
            row = db.execute("SELECT owner, cancelled FROM leases WHERE job=?", (job,)).fetchone()
            if row and row[1]:
                return CANCELLED
            cur = db.execute(
                "UPDATE leases SET expires=? WHERE job=? AND owner=? AND cancelled=0",
                (time.time() + ttl, job, owner),
            )
            return OK if cur.rowcount == 1 else LOST

    def release(self, job: str, owner: str | None = None) -> None:
        """Give the lease up (any owner's when ``owner`` is None); a cancelled mark stays."""
        with closing(self._connect()) as db:
            db.execute(
                "UPDATE leases SET owner=NULL, pid=NULL, expires=0 WHERE job=? AND (? IS NULL OR owner=?)",
                (job, owner, owner),
            )

    def cancel(self, job: str) -> None:
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO leases(job, cancelled) VALUES(?, 1) ON CONFLICT(job) DO UPDATE SET cancelled=1",
                (job,),
            )

    def held(self, job: str) -> bool:
        """Whether a worker holds an unexpired lease of ``job``."""
        with closing(self._connect()) as db:
            row = db.execute("SELECT owner, expires FROM leases WHERE job=?", (job,)).fetchone()
        return bool(row and row[0] and row[1] > time.time())


def job_key(batch_id: str, agg_id: str | None = None) -> str:
    return f"{batch_id}/{agg_id}" if agg_id else batch_id

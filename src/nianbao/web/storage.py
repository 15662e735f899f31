"""Batches and aggregates kept on disk under the data folder, each with a JSON manifest.

Layout::

    DATA/batches/<batch id>/manifest.json        what was uploaded, state, results
    DATA/batches/<batch id>/progress.json        written by the worker while it runs
    DATA/batches/<batch id>/uploads/<file>       the uploaded files, names sanitised
    DATA/batches/<batch id>/annotated/<n>/<file> annotated copy of result n
    DATA/batches/<batch id>/aggregates/<id>/...  aggregates made from this batch

Everything is written atomically, so a reload or a restart never sees half a manifest.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
import time
import unicodedata
from pathlib import Path

from ..fileio import write_bytes_atomic

ID_RE = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$")
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
MAX_NAME_BYTES = 180  # ext4 allows 255 bytes; a Chinese character takes 3

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


def default_data_dir() -> Path:
    """A per-user data folder: %LOCALAPPDATA%\\nianbao, ~/Library/Application Support/nianbao,
    or $XDG_DATA_HOME/nianbao (~/.local/share/nianbao)."""
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = str(home / "Library" / "Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    return Path(base) / "nianbao"


def sanitize_filename(name: str, fallback: str = "未命名文件") -> str:
    """The last path component of an uploaded name, safe on every OS; Chinese is kept.

    ``../../etc/passwd`` → ``passwd``; ``C:\\x\\年报.xlsx`` → ``年报.xlsx``; control characters and
    ``<>:"|?*`` become ``_``; leading dots (hidden files) and trailing dots/spaces are removed;
    Windows device names get a ``_`` prefix; long names are cut to a safe byte length.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[\\/]", name)[-1]
    name = _BAD_CHARS.sub("_", name).strip().lstrip(".").rstrip(". ")
    if not name or set(name) <= {"_", " "}:
        name = fallback
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix) > 10:
        stem, suffix = name, ""
    else:
        suffix = "." + suffix
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES and len(stem) > 1:
        stem = stem[:-1]
    stem = stem.rstrip(". ") or "_"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    return stem + suffix


def name_part(text: str) -> str:
    """A name (a unit's) put into a file name: ``/`` and ``\\`` would make it a folder path, so
    they become ``、`` (``县文化和旅游局/县新闻出版局`` → ``县文化和旅游局、县新闻出版局``)."""
    return re.sub(r"\s*[\\/]+\s*", "、", str(text or "")).strip("、")


def unique_name(folder: Path, name: str, taken: set[str]) -> str:
    """``name`` or ``name (2).ext``… so that two uploads with one name both survive."""
    stem, suffix = os.path.splitext(name)
    n, cand = 1, name
    while cand.lower() in taken or (folder / cand).exists():
        n += 1
        cand = f"{stem} ({n}){suffix}"
    taken.add(cand.lower())
    return cand


def new_id() -> str:
    """Time-ordered id: the second, then five hex digits of the microsecond (so ids made within
    one second still sort in creation order) and one random digit."""
    now = time.time()
    micro = int((now % 1) * 1_000_000) // 16
    return time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{micro:05x}{secrets.randbelow(16):x}"


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, doc: dict) -> None:
    write_bytes_atomic(path, json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"))


class Storage:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.batches = self.root / "batches"
        self.batches.mkdir(parents=True, exist_ok=True)

    # ---- batches -------------------------------------------------------------------------
    def batch_dir(self, batch_id: str) -> Path | None:
        """The folder of an existing batch, or None (also for any malformed id)."""
        if not isinstance(batch_id, str) or not ID_RE.match(batch_id):
            return None
        d = self.batches / batch_id
        return d if (d / "manifest.json").is_file() else None

    def create_batch(self, files: list[tuple[str, object]], blank: str = "zero") -> str:
        """Store uploaded files ((name, binary file object) pairs) as a new queued batch."""
        batch_id = new_id()
        d = self.batches / batch_id
        up = d / "uploads"
        up.mkdir(parents=True)
        taken: set[str] = set()
        stored = []
        for raw_name, fobj in files:
            name = unique_name(up, sanitize_filename(raw_name), taken)
            size = 0
            with open(up / name, "wb") as out:
                while chunk := fobj.read(1 << 20):
                    out.write(chunk)
                    size += len(chunk)
            stored.append({"name": name, "original": str(raw_name)[:300], "size": size})
        write_json(
            d / "manifest.json",
            {
                "id": batch_id,
                "created": time.strftime("%Y-%m-%d %H:%M:%S"),
                "state": QUEUED,
                "blank": blank,
                "files": stored,
                "results": [],
                "skipped": [],
                "summary": {},
                "error": None,
            },
        )
        return batch_id

    def delete_batch(self, batch_id: str) -> None:
        """Remove a batch and all it holds. The folder is first renamed out of sight, so the batch
        is gone at once even if removing its files takes a while or fails halfway."""
        import shutil

        d = self.batch_dir(batch_id)
        if d is None:
            return
        gone = self.batches / f".deleted-{batch_id}-{secrets.token_hex(3)}"
        os.replace(d, gone)
        shutil.rmtree(gone, ignore_errors=True)
        time.sleep(0.6)  # a pool process of a cancelled job ends within 0.5 s: sweep what it left
        if d.exists() and not (d / "manifest.json").exists():
            shutil.rmtree(d, ignore_errors=True)

    def manifest(self, batch_id: str) -> dict | None:
        d = self.batch_dir(batch_id)
        return read_json(d / "manifest.json") if d else None

    def progress(self, batch_id: str, agg_id: str | None = None) -> dict:
        d = self.batch_dir(batch_id)
        if d and agg_id:
            d = self.aggregate_dir(batch_id, agg_id)
        return (read_json(d / "progress.json") if d else None) or {}

    def list_batches(self) -> list[dict]:
        out = []
        for d in sorted(self.batches.iterdir(), reverse=True):
            if ID_RE.match(d.name):
                m = read_json(d / "manifest.json")
                if m:
                    out.append(m)
        return out

    def unfinished(self) -> list[tuple[str, str | None]]:
        """(batch id, aggregate id or None) of work a previous run left unfinished."""
        todo = []
        for m in reversed(self.list_batches()):
            if m.get("state") in (QUEUED, RUNNING):
                todo.append((m["id"], None))
            for a in self.list_aggregates(m["id"]):
                if a.get("state") in (QUEUED, RUNNING):
                    todo.append((m["id"], a["id"]))
        return todo

    def file_in(self, batch_id: str, rel: str) -> Path | None:
        """A file inside the batch folder, refusing anything that escapes it."""
        d = self.batch_dir(batch_id)
        if not d or not rel:
            return None
        p = (d / rel).resolve()
        try:
            p.relative_to(d.resolve())
        except ValueError:
            return None
        return p if p.is_file() else None

    # ---- aggregates ------------------------------------------------------------------------
    def aggregate_dir(self, batch_id: str, agg_id: str) -> Path | None:
        d = self.batch_dir(batch_id)
        if not d or not isinstance(agg_id, str) or not ID_RE.match(agg_id):
            return None
        a = d / "aggregates" / agg_id
        return a if (a / "manifest.json").is_file() else None

    def create_aggregate(
        self,
        batch_id: str,
        roster: tuple[str, object] | None,
        previous: tuple[str, object] | None,
        year: int | None = None,
        options: dict | None = None,
    ) -> str:
        """A queued aggregate of the batch; ``options``: ``unit`` (whose aggregate it is) and
        ``mixed`` (sum county aggregates found among unit returns too)."""
        d = self.batch_dir(batch_id)
        assert d is not None
        agg_id = new_id()
        a = d / "aggregates" / agg_id
        a.mkdir(parents=True)
        doc = {
            "id": agg_id,
            "batch": batch_id,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "state": QUEUED,
            "roster": None,
            "previous": None,
            "year": year,
            "unit": (options or {}).get("unit", ""),
            "mixed": bool((options or {}).get("mixed")),
            "units": [],
            "summary": {},
            "output": None,
            "error": None,
        }
        for key, upload in (("roster", roster), ("previous", previous)):
            if upload is None:
                continue
            name = sanitize_filename(upload[0])
            (a / key).mkdir()
            with open(a / key / name, "wb") as out:
                while chunk := upload[1].read(1 << 20):
                    out.write(chunk)
            doc[key] = f"{key}/{name}"
        write_json(a / "manifest.json", doc)
        return agg_id

    def aggregate(self, batch_id: str, agg_id: str) -> dict | None:
        a = self.aggregate_dir(batch_id, agg_id)
        return read_json(a / "manifest.json") if a else None

    def list_aggregates(self, batch_id: str) -> list[dict]:
        d = self.batch_dir(batch_id)
        if not d or not (d / "aggregates").is_dir():
            return []
        out = []
        for a in sorted((d / "aggregates").iterdir(), reverse=True):
            m = read_json(a / "manifest.json") if ID_RE.match(a.name) else None
            if m:
                out.append(m)
        return out

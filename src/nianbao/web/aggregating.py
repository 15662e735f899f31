"""The 汇总 step of the web app: a batch's uploads + roster (+ last year) → board and workbook.

:func:`aggregate_batch` runs in the job's child process (see :mod:`nianbao.web.jobs`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..fileio import OutputError
from ..vocab import Status
from .storage import read_json, sanitize_filename


class JobError(Exception):
    """A problem the user can fix (bad roster, unreadable last-year file); Chinese message."""


def _relative(msg: str, folder: Path) -> str:
    """Hide the server's folders in a message: show file names only."""
    for d in sorted({folder, *folder.iterdir()}, key=lambda p: -len(str(p))):
        msg = msg.replace(str(d) + os.sep, "")
    return msg


def aggregate_batch(uploads: Path, folder: Path, m: dict) -> dict:
    """Aggregate the files in ``uploads``; write the workbook into ``folder``; return the fields
    to store in the aggregate's manifest (units for the board, summary, output name)."""
    from ..aggregate import COUNTY, Roster, aggregate, load_previous, to_json
    from ..aggregate.workbook import write_aggregate
    from ..roster import RosterError, read_roster
    from .progress import ProgressFile

    roster = None
    if m.get("roster"):
        try:
            roster = Roster(read_roster(folder / m["roster"]))
        except RosterError as e:
            raise JobError(_relative(str(e), folder)) from None
    previous = None
    if m.get("previous"):
        try:
            previous = load_previous(folder / m["previous"], roster)
        except FileNotFoundError:
            raise JobError(
                f"上年汇总表“{Path(m['previous']).name}”中没有可用的数据，请上传本工具去年生成的汇总表。"
            ) from None
    batch = read_json(uploads.parent / "manifest.json") or {}
    os.chdir(uploads)  # so that every file shows as its uploaded name
    names = [Path(f["name"]) for f in batch.get("files", []) if (uploads / f["name"]).is_file()]
    res = aggregate(
        names,
        roster=roster,
        previous=previous,
        year=m.get("year"),
        mixed=bool(m.get("mixed")),
        progress_factory=lambda n: ProgressFile(folder, "正在读取、审核并汇总", n, 0, 0.9),
    )
    res.unit = m.get("unit") or ""  # whose aggregate it is: publish titles the report with it
    try:
        name = sanitize_filename(f"汇总-{res.year}年度.xlsx" if res.year else "汇总.xlsx")
        try:
            write_aggregate(res, folder / name, force=True)
        except OutputError as e:
            raise JobError(f"汇总表无法写入：{e}") from None
        doc = json.loads(to_json(res))
    finally:
        res.close()
    return {
        "units": doc["units"],
        "summary": doc["summary"],
        "form": doc["form"],
        "year": doc["year"],
        "output": name,
        "county_findings": [f for f in doc["findings"] if f.get("unit") == COUNTY],
        "skipped": doc.get("skipped", []),
    }


def board_rows(a: dict) -> list[dict]:
    """Rows of the 报送情况 board, problems first (the aggregate already sorts them so)."""
    return [dict(u, tone=Status(u["status"]).tone) for u in a.get("units", [])]


def status_tiles(a: dict) -> list[tuple[str, int, str]]:
    """(Chinese status, count, tone) for every status that occurs."""
    counts = (a.get("summary") or {}).get("statuses", {})
    return [(Status(s).zh, n, Status(s).tone) for s, n in counts.items() if n]

"""Progress of a background job, written to its folder's progress.json for the page to poll."""

from __future__ import annotations

import time
from pathlib import Path

from .storage import write_json


class ProgressFile:
    """Progress of one phase, written to progress.json at most a few times a second."""

    def __init__(self, folder: Path, phase: str, total: int, start: float, share: float):
        self.path, self.phase, self.total = folder / "progress.json", phase, total
        self.start, self.share, self.done, self._last = start, share, 0, 0.0
        self._write()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self._last > 0.25 or self.done >= self.total:
            self._write()

    def close(self) -> None:
        self._write()

    def _write(self) -> None:
        self._last = time.monotonic()
        frac = self.done / self.total if self.total else 1.0
        write_json(
            self.path,
            {
                "phase": self.phase,
                "done": self.done,
                "total": self.total,
                "percent": round(100 * (self.start + self.share * frac)),
            },
        )

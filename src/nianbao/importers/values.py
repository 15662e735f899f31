"""Assign the value cells read after a row label to the spec's columns."""

from __future__ import annotations

OK, BLANK_ROW, TOO_FEW, TOO_MANY, AMBIGUOUS = "ok", "blank", "too_few", "too_many", "ambiguous"


def _span_map(window: list[str], spans: list[int]) -> tuple[str, ...] | None:
    out, pos = [], 0
    for s in spans:
        part = [c for c in window[pos : pos + s] if c]
        if len(set(part)) > 1:  # two different numbers in one merged cell
            return None
        out.append(part[0] if part else "")
        pos += s
    return tuple(out)


def map_values(cells: list[str], spans: list[int], pad: int | None = 0) -> tuple[str, list[str] | None]:
    """(status, texts per column). A column spanning several grid columns takes the text of
    any of them. Extra blank cells (merged label or value cells) are dropped only where that
    leaves one reading, or where exactly ``pad`` blanks (the grid columns the row label spans
    beyond its first, as a flattened row shows them) lead (``pad`` None: where the blanks
    stand is not known); a row with missing or surplus numbers is never guessed."""
    width, n_cols = sum(spans), len(spans)
    filled = [c for c in cells if c]
    if not filled:
        return BLANK_ROW, [""] * n_cols
    readings: set[tuple[str, ...]] = set()
    by_start: dict[int, tuple[str, ...]] = {}
    n = len(cells)
    if n >= width:
        for lo in range(n - width + 1):
            if any(cells[:lo]) or any(cells[lo + width :]):
                continue
            m = _span_map(cells[lo : lo + width], spans)
            if m is not None:
                readings.add(m)
                by_start[lo] = m
    if len(readings) > 1 and pad in by_start:
        return OK, list(by_start[pad])
    if n == n_cols:
        readings.add(tuple(cells))
    if not readings and len(filled) == n_cols:
        readings.add(tuple(filled))
    if len(readings) == 1:
        return OK, list(next(iter(readings)))
    if readings:
        return AMBIGUOUS, None
    return (TOO_FEW if len(filled) < n_cols else TOO_MANY), None

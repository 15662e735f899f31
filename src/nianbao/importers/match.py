"""Find official labels inside the running label text of a table (both as matching keys)."""

from __future__ import annotations

MASK = "\0"


def allowed_errors(key: str) -> int:
    """Edits tolerated when a label is not found verbatim: none for short labels."""
    n = len(key)
    if n < 8:
        return 0
    return 1 if n < 16 else 2 if n < 30 else 3


def find_all(hay: str, needle: str) -> list[int]:
    out, i = [], hay.find(needle) if needle else -1
    while i >= 0:
        out.append(i)
        i = hay.find(needle, i + len(needle))
    return out


def fuzzy_find(hay: str, needle: str, k: int) -> tuple[int, int, int] | None:
    """Best approximate occurrence of ``needle`` in ``hay`` with at most ``k`` edits
    (Sellers' algorithm): (start, end, edits), or None. Masked characters never match."""
    m = len(needle)
    if not m or not hay or k <= 0:
        return None
    cost = list(range(m + 1))
    start = [0] * (m + 1)
    best: tuple[int, int, int] | None = None
    for j, ch in enumerate(hay, start=1):
        pc, ps = cost[0], start[0]  # diagonal (row i-1 of the previous column)
        cost[0], start[0] = 0, j
        for i in range(1, m + 1):
            up_c, up_s = cost[i], start[i]
            c, s = pc + (needle[i - 1] != ch or ch == MASK), ps
            if up_c + 1 < c:
                c, s = up_c + 1, up_s
            if cost[i - 1] + 1 < c:
                c, s = cost[i - 1] + 1, start[i - 1]
            pc, ps = up_c, up_s
            cost[i], start[i] = c, s
        if cost[m] <= k and (best is None or cost[m] < best[2]):
            best = (start[m], j, cost[m])
    return best

"""Mixed-integer programs (scipy.optimize.milp, HiGHS) for what the exact search leaves open.

Imported only when needed: a passing batch never loads SciPy. Used for
- whether a set of cells with free directions can take values in their domains,
- the range a cell of such a set can take,
- the whole localisation, when the exact search runs out of its node budget (every minimum set
  through no-good cuts; each set is then verified exactly by the caller).
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from .linalg import Linear
from .system import Problem

# Wall-clock limit of one HiGHS solve, and of the whole enumeration of minimum sets: a report so
# broken that the solver needs longer is reported as 错误较多 (no cell is named), never guessed.
TIME_LIMIT_S = 1.0
ENUMERATION_S = 2.0
OPTIONS = {"time_limit": TIME_LIMIT_S}

MAX_RANGES = 8  # open cells of one set whose ranges are worked out (two programs each)


def _domain_arrays(problem: Problem, cells) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    doms = problem.form.domains
    low = np.array([-np.inf if doms[i].low is None else float(doms[i].low) for i in cells])
    integ = np.array([1 if doms[i].integer else 0 for i in cells])
    return low, np.full(len(cells), np.inf), integ


def _restricted(problem: Problem, lin: Linear):
    """Rows sum(a * v) = b over the new values v of ``lin.cells`` (other cells as observed)."""
    cells, x = lin.cells, problem.x
    a = np.zeros((len(lin.rows), len(cells)))
    b = np.zeros(len(lin.rows))
    for r, j in enumerate(lin.rows):
        co = problem.form.coeffs[j]
        known = problem.residual[j]
        for k, i in enumerate(cells):
            c = co.get(i, 0)
            a[r, k] = c
            known -= c * x[i]
        b[r] = float(-known)
    return a, b


def _solve(c, a, b, low, high, integ):
    cons = [LinearConstraint(a, b, b)] if len(b) else []
    return milp(c, constraints=cons, integrality=integ, bounds=Bounds(low, high), options=OPTIONS)


def feasible(problem: Problem, lin: Linear) -> bool:
    a, b = _restricted(problem, lin)
    low, high, integ = _domain_arrays(problem, lin.cells)
    return _solve(np.zeros(len(lin.cells)), a, b, low, high, integ).status == 0


def ranges(problem: Problem, lin: Linear) -> dict[int, tuple[Fraction | None, Fraction | None]]:
    """For each cell of ``lin`` that the rules leave open: (lowest, highest) value it can take
    with the others in their domains (None: unbounded)."""
    a, b = _restricted(problem, lin)
    low, high, integ = _domain_arrays(problem, lin.cells)
    free = {i for vec in lin.null for i, v in vec.items() if v}
    out = {}
    if len(free) > MAX_RANGES:  # a table left mostly blank under --blank error: not worth it
        return {i: (problem.form.domains[i].low, None) for i in free}
    for k, i in enumerate(lin.cells):
        if i not in free:
            continue
        c = np.zeros(len(lin.cells))
        bounds = []
        for sense in (1.0, -1.0):
            c[k] = sense
            res = _solve(c, a, b, low, high, integ)
            bounds.append(None if res.status != 0 else _exact(sense * res.fun, integ[k]))
        out[i] = (bounds[0], bounds[1])
    return out


def _exact(v: float, integer: bool) -> Fraction:
    if integer:
        return Fraction(round(v))
    return Fraction(v).limit_denominator(10**6)


def minimum_sets(problem: Problem, max_extra: int, limit: int) -> tuple[int, list[frozenset[int]]] | None:
    """(number of non-forced cells, every minimum set up to ``limit``) by the big-M program of
    Fellegi–Holt localisation over the connected part of the failing rules; None when more than
    ``max_extra`` cells beyond the forced ones would be needed or no change works."""
    coeffs = problem.form.coeffs
    cells = sorted({i for j in problem.rules for i in coeffs[j]})
    n = len(cells)
    pos = {i: k for k, i in enumerate(cells)}
    x = np.array([float(problem.x[i]) for i in cells])
    big = max(1e4, 10 * float(np.max(np.abs(x), initial=0)))
    low, high, _integ = _domain_arrays(problem, cells)
    # variables: new values v (n), then z (n): 1 = changed
    rows = np.zeros((len(problem.rules), 2 * n))
    for r, j in enumerate(problem.rules):
        for i, c in coeffs[j].items():
            rows[r, pos[i]] = c
    link = np.zeros((2 * n, 2 * n))  # v - x - M z <= 0 and -(v - x) - M z <= 0
    for k in range(n):
        link[2 * k, k], link[2 * k, n + k] = 1, -big
        link[2 * k + 1, k], link[2 * k + 1, n + k] = -1, -big
    link_ub = np.concatenate([[x[k], -x[k]] for k in range(n)])
    zlow = np.array([1.0 if i in problem.forced else 0.0 for i in cells])
    bounds = Bounds(np.concatenate([low, zlow]), np.concatenate([high, np.ones(n)]))
    # the new values are continuous here (integral, the program is ten times slower): every set
    # found is verified exactly by the caller, and verified sets of the relaxed minimum size are
    # minimum sets of the integral problem too
    integrality = np.concatenate([np.zeros(n), np.ones(n)])
    cost = np.concatenate([np.zeros(n), np.ones(n)])
    cons = [LinearConstraint(rows, 0, 0), LinearConstraint(link, -np.inf, link_ub)]
    deadline = time.monotonic() + ENUMERATION_S

    def solve():
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        opts = {"time_limit": min(TIME_LIMIT_S, left)}
        return milp(cost, constraints=cons, integrality=integrality, bounds=bounds, options=opts)

    best = solve()
    if best is None or best.status != 0:
        return None
    k = round(best.fun)
    extra = k - len(problem.forced)
    if extra > max_extra:
        return None
    cons.append(LinearConstraint(cost, k, k))
    found: list[frozenset[int]] = []
    res = best
    while len(found) < limit:
        chosen = frozenset(cells[m] for m in range(n) if res.x[n + m] > 0.5)
        found.append(chosen)
        cut = np.zeros(2 * n)
        for i in chosen - problem.forced:
            cut[n + pos[i]] = 1
        if not cut.any():
            break
        cons.append(LinearConstraint(cut, -np.inf, len(chosen - problem.forced) - 1))
        res = solve()
        if res is None or res.status not in (0, 2):
            return None  # out of time before every minimum set was seen: name none
        if res.status == 2:  # infeasible: every minimum set has been found
            break
    return extra, found

"""Exact search for every minimum set of cells whose change makes all edit rules hold.

Iterative deepening over the number of changed cells (beyond the forced ones). A node is a set
S of cells to change plus the cells excluded on this branch. Its children add one cell from a
set B that every feasible superset of S must meet:
- a failing rule no cell of S is in: B = its cells;
- S hits every failing rule but no change of S alone satisfies the rules: B = the cells the
  Farkas certificate of the inconsistency does not cancel;
- the changes exist but none keeps the cells in their domains (non-negative, whole): B = the
  cells of the rules S touches (outside them, a superset changes nothing S's rules see).
Children exclude the earlier members of B, so every set is reached once and none is missed. A
lower bound (disjoint unhit failing rules each need their own cell) prunes. The search gives up
after a node budget; the caller then solves the same problem as a mixed-integer program.
"""

from __future__ import annotations

import time

from .linalg import Linear, certificate_cells, neighbours, solve_linear
from .system import Problem

NODE_LIMIT = 2000  # nodes before the search hands over to the mixed-integer program
TIME_LIMIT_S = 0.5  # nor may it take longer than this (very large or very many values)
FOUND_LIMIT = 200  # sets kept before the search stops counting (the caller shows at most 10)


class GaveUp(Exception):
    """The node budget ran out: solve by mixed-integer programming instead."""


def fits(problem: Problem, lin: Linear) -> bool:
    """Whether some change of ``lin.cells`` satisfying the rules keeps every cell in its domain."""
    if not lin.ok:
        return False
    if lin.unique:
        doms, x = problem.form.domains, problem.x
        return all(doms[i].admits(x[i] + d) for i, d in lin.delta.items())
    from .milp import feasible  # free directions: a small integer program decides

    return feasible(problem, lin)


class Search:
    def __init__(self, problem: Problem, max_extra: int, node_limit: int = NODE_LIMIT):
        self.p = problem
        self.max_extra = max_extra
        self.node_limit = node_limit
        self.nodes = 0
        coeffs = problem.form.coeffs
        self.failing = {j: frozenset(coeffs[j]) for j in problem.failing}
        self.found: list[tuple[tuple[int, ...], Linear]] = []
        self.truncated = False
        self.deadline = time.monotonic() + TIME_LIMIT_S

    def run(self) -> int | None:
        """Fill ``found`` with every minimum set; return its number of non-forced cells (None:
        no set within ``max_extra`` cells)."""
        for k in range(self.max_extra + 1):
            self._dfs(self.p.forced, frozenset(), k)
            if self.found:
                self.found.sort(key=lambda f: f[0])
                return k
        return None

    def _branch_unhit(self, S, forbidden, budget) -> list[int] | None:
        unhit = [cs for cs in self.failing.values() if cs.isdisjoint(S)]
        if not unhit:
            return None
        avail = sorted((cs - forbidden for cs in unhit), key=lambda a: (len(a), min(a, default=-1)))
        if budget == 0 or not avail[0]:
            return []
        used: set[int] = set()
        bound = 0
        for a in avail:  # disjoint rules need a cell each
            if used.isdisjoint(a):
                used |= a
                bound += 1
        return [] if bound > budget else sorted(avail[0])

    def _dfs(self, S: frozenset, forbidden: frozenset, budget: int) -> None:
        self.nodes += 1
        if self.nodes > self.node_limit or (self.nodes % 32 == 0 and time.monotonic() > self.deadline):
            raise GaveUp
        if self.truncated:
            return
        branch = self._branch_unhit(S, forbidden, budget)
        if branch is None:
            cells = tuple(sorted(S))
            lin = solve_linear(self.p, cells)
            if fits(self.p, lin):
                self.found.append((cells, lin))
                self.truncated = len(self.found) >= FOUND_LIMIT
                return
            if budget == 0:
                return
            need = certificate_cells(self.p, lin) if not lin.ok else neighbours(self.p, cells)
            branch = sorted(need - forbidden)
        for k, c in enumerate(branch):
            self._dfs(S | {c}, forbidden.union(branch[:k]), budget - 1)

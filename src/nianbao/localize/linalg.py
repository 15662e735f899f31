"""Exact linear algebra over the rationals for the small systems of error localisation."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from .system import Problem


@dataclass
class Linear:
    """The changes of ``cells`` that make every rule hold, ignoring the cells' domains.

    ok: such changes exist; then ``delta`` is one of them (free cells unchanged) and ``null``
    spans the others' differences. Otherwise ``certificate`` (rule -> multiplier) is a
    combination of the rules in which the cells cancel but the residuals do not: no change of
    these cells alone can make the rules hold.
    """

    cells: tuple[int, ...]
    rows: list[int]
    ok: bool
    delta: dict[int, Fraction] = field(default_factory=dict)
    null: list[dict[int, Fraction]] = field(default_factory=list)
    certificate: dict[int, Fraction] = field(default_factory=dict)

    @property
    def unique(self) -> bool:
        return self.ok and not self.null


def rows_of(problem: Problem, cells) -> list[int]:
    """The rules a change of ``cells`` can affect, and the failing ones."""
    rules_of = problem.form.rules_of
    return sorted({j for i in cells for j in rules_of[i]}.union(problem.failing))


def _reduce(mat: list[list], n: int) -> list[int]:
    """Reduced row echelon form of ``mat`` in place over its first ``n`` columns; the pivot
    columns in row order."""
    pivots: list[int] = []
    r, m = 0, len(mat)
    for c in range(n):
        p = next((i for i in range(r, m) if mat[i][c]), None)
        if p is None:
            continue
        mat[r], mat[p] = mat[p], mat[r]
        row = mat[r]
        piv = row[c]
        if piv != 1:
            row[:] = [Fraction(v) / piv if v else v for v in row]
        for i in range(m):
            f = mat[i][c]
            if i != r and f:
                other = mat[i]
                other[:] = [a - f * b if b else a for a, b in zip(other, row, strict=True)]
        pivots.append(c)
        r += 1
        if r == m:
            break
    return pivots


def solve_linear(problem: Problem, cells: tuple[int, ...]) -> Linear:
    """Solve sum over ``cells`` of coefficient * change = -residual, for every rule touched."""
    coeffs = problem.form.coeffs
    rows = rows_of(problem, cells)
    n, m = len(cells), len(rows)
    mat = []
    for k, j in enumerate(rows):
        co = coeffs[j]
        track = [0] * m
        track[k] = 1
        mat.append([co.get(i, 0) for i in cells] + [-problem.residual[j]] + track)
    pivots = _reduce(mat, n)
    for row in mat[len(pivots) :]:
        if row[n]:
            cert = {rows[k]: Fraction(v) for k, v in enumerate(row[n + 1 :]) if v}
            return Linear(cells, rows, False, certificate=cert)
    delta = dict.fromkeys(cells, Fraction(0))
    for k, c in enumerate(pivots):
        delta[cells[c]] = Fraction(mat[k][n])
    null = []
    for f in sorted(set(range(n)) - set(pivots)):
        vec = {cells[f]: Fraction(1)}
        for k, c in enumerate(pivots):
            if mat[k][f]:
                vec[cells[c]] = -Fraction(mat[k][f])
        null.append(vec)
    return Linear(cells, rows, True, delta=delta, null=null)


def certificate_cells(problem: Problem, lin: Linear) -> set[int]:
    """The cells outside ``lin.cells`` that any feasible superset must include one of: those
    whose column the certificate's combination of rules does not cancel."""
    weight: dict[int, Fraction] = {}
    for j, y in lin.certificate.items():
        for i, c in problem.form.coeffs[j].items():
            weight[i] = weight.get(i, 0) + y * c
    inside = set(lin.cells)
    return {i for i, w in weight.items() if w and i not in inside}


def neighbours(problem: Problem, cells) -> set[int]:
    """Every cell of the rules ``cells`` are in, and of the failing rules."""
    coeffs = problem.form.coeffs
    out: set[int] = set()
    for j in rows_of(problem, cells):
        out.update(coeffs[j])
    return out.difference(cells)

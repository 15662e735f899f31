"""Realistic numbers for the corpus: mostly non-zero, every current-year rule of the form holds."""

from __future__ import annotations

import random
from decimal import Decimal

from nianbao.spec import Spec


def realistic_values(spec: Spec, seed: int) -> dict[str, Decimal]:
    """Mostly non-zero numbers in which every current-year rule of the form holds."""
    rng = random.Random(seed)
    vals: dict[str, Decimal] = {}
    for key, cell in spec.cells.items():
        kind = spec.kinds[cell.kind]
        if not kind.integer:
            vals[key] = Decimal(rng.randint(1000, 99999999)) / 100
        elif kind.min is None:
            vals[key] = Decimal(rng.randint(-40, 60))
        else:
            first = cell.section.leaf_columns()[0] is cell.col
            vals[key] = Decimal(rng.choice([0, rng.randint(1, 9), rng.randint(1, 400 if first else 30)]))
    rules = [r for r in spec.rules if not r.uses_previous and r.op.name == "eq"]

    def side(terms) -> Decimal:
        return sum((t.sign * vals[t.cell] for t in terms), Decimal(0))

    for _ in range(10):
        changed = False
        for r in rules:
            in_lhs = any(t.cell == r.target for t in r.lhs)
            cur = vals[r.target]
            want = side(r.rhs) - (side(r.lhs) - cur) if in_lhs else side(r.lhs) - (side(r.rhs) - cur)
            if want < 0:  # bump a positive term on the other side instead
                other = r.rhs if in_lhs else r.lhs
                bump = next(t for t in other if t.sign > 0 and t.cell != r.target)
                vals[bump.cell] += -want
                want = Decimal(0)
                changed = True
            if want != cur:
                vals[r.target] = want
                changed = True
        if not changed:
            return vals
    raise AssertionError("values did not settle")

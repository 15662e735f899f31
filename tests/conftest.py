"""Shared test helpers and fixtures (others may append fixtures below)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nianbao.samples import consistent_values as _consistent_values
from nianbao.spec import Spec, get_spec


def consistent_values(spec: Spec, seed: int = 0) -> dict[str, int | Decimal]:
    """A fully filled report in which every current-year rule of ``spec`` holds (counts as int)."""
    vals = _consistent_values(spec, seed)
    return {k: (int(v) if spec.kinds[spec.cells[k].kind].integer else v) for k, v in vals.items()}


@pytest.fixture(params=["2021", "2019"])
def spec(request) -> Spec:
    """Each form spec in turn."""
    return get_spec(request.param)

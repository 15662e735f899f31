"""Shared test helpers and fixtures (others may append fixtures below)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nianbao.samples import consistent_values as _consistent_values
from nianbao.spec import Spec, all_specs, get_spec

# Every form spec found in templates/, newest first: tests about forms run over each of them,
# so that a new official form is one more yaml file.
FORMS = tuple(s.version for s in sorted(all_specs(), key=lambda s: s.years.get("first", 0), reverse=True))


def report_year(spec: Spec) -> int:
    """A report year the form applies to (its last year, else its first year plus four)."""
    return spec.years.get("last", spec.years.get("first", 2021) + 4)


def consistent_values(spec: Spec, seed: int = 0) -> dict[str, int | Decimal]:
    """A fully filled report in which every current-year rule of ``spec`` holds (counts as int)."""
    vals = _consistent_values(spec, seed)
    return {k: (int(v) if spec.kinds[spec.cells[k].kind].integer else v) for k, v in vals.items()}


@pytest.fixture(params=FORMS)
def spec(request) -> Spec:
    """Each form spec in turn."""
    return get_spec(request.param)

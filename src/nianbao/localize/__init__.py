"""Fellegi–Holt error localisation: which cells to change so that every relation holds.

For a report where an error-severity equality of its form fails (or a cell in one has no
usable value), find every minimum-cardinality set of value cells whose change makes all those
equalities hold, with the values the form allows (counts non-negative and whole, amounts
non-negative). Exact: a branch-and-bound search over the connected part of the failing rules
(``search``), with a mixed-integer program (``milp``, SciPy/HiGHS, imported only when needed)
as the fallback. ``explain`` turns the answer into findings and the JSON contract.
"""

"""``nianbao aggregate``: who reported, whose data is wrong, and the county totals.

Every input is read and checked by the same code as ``nianbao check`` in worker processes, as
the folder walk finds it (:func:`inputs.iter_collect`). Each result is reduced at once to a
packed row of :class:`Units` (unit name, status, roster row, form and year: about 0.1 KB); its
details, values and findings go to a temporary spool file, and the workbook is released, so
memory stays nearly flat however many files there are. Statuses are settled once every file is
known (duplicates, majority form and year), then the units that count are summed exactly
(Decimal).

Modules: status (statuses, names, dates), units (roster, packed rows, spool), stream (reading
through the batch engine, compact values), previous (last year's data), lastyear (loading it), core (aggregate
itself), text (JSON and terminal); the workbook: sheets (names, columns, cell helpers),
workbook (writing it). Reading one back is an input kind of the reader
(:mod:`nianbao.reader.aggregate`).
"""

from .core import Result, aggregate
from .lastyear import load_previous
from .previous import Previous, previous_findings
from .status import (
    COUNTY,
    DUPLICATE,
    EMPTY,
    FAILED,
    MISSING,
    NOT_IN_ROSTER,
    PASSED,
    STATUS_ORDER,
    UNCATEGORISED,
    UNREADABLE,
    WARNINGS,
    WRONG_FORM,
    WRONG_YEAR,
    date_key,
    norm_name,
    prev_cells,
)
from .stream import stream_reports
from .text import print_text, summary_line, to_json
from .units import Entry, Roster, Rows, Spool, Units

__all__ = [
    "COUNTY",
    "DUPLICATE",
    "EMPTY",
    "FAILED",
    "MISSING",
    "NOT_IN_ROSTER",
    "PASSED",
    "STATUS_ORDER",
    "UNCATEGORISED",
    "UNREADABLE",
    "WARNINGS",
    "WRONG_FORM",
    "WRONG_YEAR",
    "Entry",
    "Previous",
    "Result",
    "Roster",
    "Rows",
    "Spool",
    "Units",
    "aggregate",
    "date_key",
    "load_previous",
    "norm_name",
    "prev_cells",
    "previous_findings",
    "print_text",
    "stream_reports",
    "summary_line",
    "to_json",
]

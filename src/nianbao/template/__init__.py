"""Write the official template workbook (xlsxwriter), entirely driven by the spec and its layout.

Sheets: cover (填报信息) → one sheet per table → notes (填报说明) → hidden meta sheet. Value cells
are unlocked, tinted, validated and named after their cell key; totals turn red through
conditional formatting and each table shows a live status cell computed by formulas that
Excel, WPS and LibreOffice all evaluate.

Modules: base (styles, helpers, meta sheet), geometry (widths, heights), formulas (live checks,
validation texts), writer (the workbook), command (``nianbao template``).
"""

from .base import (
    COVER_NAME,
    META_KEYS,
    PASS,
    PROP_PREFIX,
    UNFILLED,
    meta_rows,
    quote_sheet,
    write_meta_sheet,
)
from .command import template_command
from .formulas import (
    RuleFormula,
    blank_count,
    invalid_count,
    live_rules,
    status_text,
    validation_for,
)
from .geometry import column_widths, fits_one_page, page_setup, row_heights, table_page_setup, text_width
from .writer import write_template

__all__ = [
    "COVER_NAME",
    "META_KEYS",
    "PASS",
    "PROP_PREFIX",
    "UNFILLED",
    "RuleFormula",
    "blank_count",
    "column_widths",
    "fits_one_page",
    "invalid_count",
    "live_rules",
    "meta_rows",
    "page_setup",
    "quote_sheet",
    "row_heights",
    "status_text",
    "table_page_setup",
    "template_command",
    "text_width",
    "validation_for",
    "write_meta_sheet",
    "write_template",
]

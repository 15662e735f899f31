"""Read one returned workbook into a Report: values keyed by the spec's cell keys, with the sheet
and cell each came from, and the reader's own findings (unreadable file, table not found, not a
number, formula not evaluable, merged value cells).

Reading never raises. Before python-calamine sees a package, the zip directory and every sheet
part it will parse are checked: size limits, zip-bomb ratios, DTD declarations and cell
references far outside any report (calamine 0.9.1 aborts the whole process on a cell at
XFD1048576). Our own template is read through the layout of the spec named in its metadata,
confirmed against the labels; anything else is located by its labels.

Modules: package (what the file is, zip directory, part reading), extent (far-out cells of a
sheet part), book (the sheets as grids), formulas (formula and error cells, evaluation),
locate (finding the tables, choosing the form), cover (unit, year, filler…), values (cell
values, merged value cells); this module puts them together.
"""

from __future__ import annotations

from ..findings import make
from ..guard import (
    MAX_COLS,
    MAX_FILE_BYTES,
    MAX_FORMULA_DEPTH,
    MAX_PACKAGE_BYTES,
    MAX_PART_BYTES,
    MAX_PART_RATIO,
    MAX_RANGE_CELLS,
    MAX_ROWS,
    OLE_MAGIC,
    OUTPUT_AGGREGATE,
    OUTPUT_PROPERTY,
    Package,
    Unreadable,
    open_package,
    sniff,
)
from ..layout import workbook_layout
from ..model import Report, internal_error_report, unreadable_report
from .book import WPS_ADVICE, Book, Grid
from .cover import cell_text, parse_date, parse_year, read_cover, unit_from_filename
from .extent import scan_extent, trim_sheet
from .formulas import (
    FormulaErrorValue,
    Formulas,
    FormulaUnsupported,
    scan_errors,
    scan_formulas,
    shift_formula,
)
from .locate import (
    Located,
    Pos,
    confirm_layout,
    detect_spec,
    from_layout,
    locate_table,
    meta_sheet_values,
    spec_from_meta,
    specs,
)
from .values import merged_value_cells, read_values

__all__ = [
    "MAX_COLS",
    "MAX_FILE_BYTES",
    "MAX_FORMULA_DEPTH",
    "MAX_PACKAGE_BYTES",
    "MAX_PART_BYTES",
    "MAX_PART_RATIO",
    "MAX_RANGE_CELLS",
    "MAX_ROWS",
    "OLE_MAGIC",
    "Book",
    "FormulaErrorValue",
    "FormulaUnsupported",
    "Formulas",
    "Grid",
    "Located",
    "Package",
    "Unreadable",
    "detect_spec",
    "locate_table",
    "open_package",
    "parse_date",
    "parse_year",
    "read_cover",
    "read_report",
    "read_workbook",
    "scan_errors",
    "scan_extent",
    "scan_formulas",
    "shift_formula",
    "trim_sheet",
    "unit_from_filename",
]

# ---- entry points -----------------------------------------------------------------------


def read_report(item) -> Report:
    """Read any input (workbook or published report). Never raises."""
    try:
        if getattr(item, "error", None):
            return _unreadable(item, item.error)
        kind = getattr(item, "kind", "workbook")
        if kind == "workbook":
            return read_workbook(item)
        if kind == "report":
            try:
                from .. import importers  # type: ignore[attr-defined]
            except ImportError:
                return _unreadable(item, "暂不支持该文件类型")
            return importers.read_report_file(item)
        return _unreadable(item, "不支持的文件类型")
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return _internal(item, exc)


def read_workbook(item) -> Report:
    """Read a .xlsx/.xlsm/.xls input. Never raises."""
    try:
        return _read_workbook(item)
    except Unreadable as e:
        r = _unreadable(item, str(e))
        r.findings.extend(e.findings)
        return r
    except BaseException as exc:
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        return _internal(item, exc)


def _unreadable(item, reason: str) -> Report:
    return unreadable_report(item.display, reason, mtime=getattr(item, "mtime", 0.0))


def _internal(item, exc: BaseException) -> Report:
    return internal_error_report(item.display, exc, mtime=getattr(item, "mtime", 0.0))


# ---- the reader -------------------------------------------------------------------------


def _sniff(data: bytes, suffix: str) -> str:
    """sniff, with what to do for a WPS file that is neither BIFF nor OOXML."""
    try:
        return sniff(data, suffix)
    except Unreadable as e:
        if suffix in (".et", ".ett") and "另存为" not in str(e):
            raise Unreadable(f"{e}；{WPS_ADVICE}") from None
        raise


def _read_workbook(item) -> Report:
    report = Report(path=item.display, mtime=getattr(item, "mtime", 0.0) or 0.0)
    data, pkg = _open(item)
    done = _own_output(item, report, pkg)
    if done is not None:
        return done
    book = Book(item, data, pkg if pkg is None or pkg.kind == "xlsx" else None)

    meta = dict(pkg.custom) if pkg else {}
    spec = spec_from_meta(meta)
    if spec is None:
        sheet_meta = meta_sheet_values(book)
        meta.update(sheet_meta)
        spec = spec_from_meta(sheet_meta)
    cover_spec = spec or specs()[-1]
    cover = read_cover(book, cover_spec)
    year = parse_year(cover.get("year"))
    if year is None:
        year = parse_year(meta.get("nianbao_year", meta.get("year")))

    spec, located = _locate(book, spec, year, report)
    report.form = spec.version
    report.form_id = spec.form_id
    report.spec_digest = meta.get("nianbao_spec_digest", meta.get("spec_digest", ""))
    _read_cells(report, book, spec, located)
    _cover_fields(report, item, book, spec, cover, meta, year)
    return report


def _open(item) -> tuple[bytes, Package | None]:
    """The input's bytes within the size limit, and its package when it is a zip (checked by
    the guard); Unreadable with the reason otherwise."""
    try:
        data = item.read_bytes()
    except FileNotFoundError:
        raise Unreadable("文件不存在（请检查路径是否正确）") from None
    except PermissionError:
        raise Unreadable("没有读取该文件的权限（文件可能正被其他程序独占打开）") from None
    except OSError as e:
        raise Unreadable(f"无法打开文件（{e.strerror or type(e).__name__}）") from None
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(
            f"文件大小 {len(data) / 2**20:.0f} MB，超过 {MAX_FILE_BYTES // 2**20} MB 的上限，已拒绝读取"
        )
    kind = _sniff(data, (getattr(item, "suffix", "") or "").lower())
    pkg = open_package(data) if kind == "zip" else None
    return data, pkg


def _own_output(item, report: Report, pkg: Package | None) -> Report | None:
    """The report for one of nianbao's own outputs (skipped, or an aggregate read back); None
    for anything else."""
    output = pkg.custom.get(OUTPUT_PROPERTY) if pkg is not None else None
    check = getattr(item, "output_check", False)
    if output is not None and check:
        from ..inputs import READ_AGGREGATES, SKIP_OUTPUT

        if not (output == OUTPUT_AGGREGATE and check == READ_AGGREGATES):
            report.skipped = SKIP_OUTPUT  # an annotated copy or an aggregate: not a submission
            return report
    if pkg is not None and pkg.custom.get(OUTPUT_PROPERTY) == OUTPUT_AGGREGATE:
        from .aggregate import read_aggregate_report  # an aggregate: its county sums

        agg = read_aggregate_report(item)
        if agg is not None:
            return agg
    return None


def _locate(book: Book, spec, year: int | None, report: Report) -> tuple:
    """The form (the one named in the metadata, else the one detected) and where each of its
    tables is; Unreadable when no table is found."""
    located: dict[str, Located] = {}
    if spec is not None:
        lay = workbook_layout(spec)
        for tl in lay.tables:
            located[tl.table.key] = from_layout(tl) if confirm_layout(book, tl) else None
        report.source = "template" if all(located.values()) else "labels"
    else:
        spec, _score = detect_spec(book, year)
        report.source = "labels"
        if spec is None:
            names = "、".join(t.name for t in specs()[-1].tables)
            raise Unreadable(
                f"未在工作簿中找到政府信息公开年报统计表（{names}）的表头，请使用统一下发的模板填报",
                book.findings,
            )
    for t in spec.tables:
        if located.get(t.key) is None:
            located[t.key] = locate_table(book, t)
    if not any(loc.found_any for loc in located.values()):
        names = "、".join(t.name for t in spec.tables)
        raise Unreadable(
            f"未在工作簿中找到政府信息公开年报统计表（{names}）的表头，请使用统一下发的模板填报",
            book.findings,
        )
    return spec, located


def _read_cells(report: Report, book: Book, spec, located: dict[str, Located]) -> None:
    """The values of every value cell (missing cells as NB003), merged value cells, 未填写."""
    cells: dict[str, Pos] = {}
    missing_keys: list[str] = []
    for t in spec.tables:
        loc = located[t.key]
        cells.update(loc.cells)
        missing_keys += loc.missing_keys
        for msg in loc.missing:
            report.findings.append(make("NB003", msg, table=t.name))
    for k in missing_keys:
        report.values[k] = None
        report.invalid.add(k)
    report.missing = missing_keys
    by_sheet = read_values(book, spec, report, [located[t.key] for t in spec.tables])
    merged_value_cells(book, spec, report, cells, by_sheet)
    report.findings[:0] = book.findings
    bad = report.invalid - set(missing_keys)
    report.empty = bool(cells) and not bad and len(report.blank) == len(cells)


def _cover_fields(report: Report, item, book: Book, spec, cover: dict, meta: dict, year: int | None) -> None:
    """Unit, year, filler, phone, date; NB004 pointing at the cover cell when unit or year lack."""
    stated_unit = cell_text(cover.get("unit")) or meta.get("nianbao_unit", meta.get("unit", ""))
    report.unit = stated_unit or unit_from_filename(getattr(item, "name", "") or item.display)
    report.year = year
    report.filler = cell_text(cover.get("filler"))
    report.phone = cell_text(cover.get("phone"))
    report.date = parse_date(cover.get("date"))
    lack = [spec.cover_label(k) for k, v in (("unit", stated_unit), ("year", year)) if not v]
    if lack:
        guess = f"（按文件名暂记为“{report.unit}”）" if not stated_unit and report.unit else ""
        lay = workbook_layout(spec)
        where = {}
        if lay.cover_sheet in book.names:
            first = "unit" if not stated_unit else "year"
            where = {"sheet": lay.cover_sheet, "cell": lay.cover[first][1].ref}
        report.findings.append(make("NB004", f"未填写{'、'.join(lack)}{guess}", **where))

"""Read one returned workbook into a Report: values keyed by the spec's cell keys, with the sheet
and cell each came from, and the reader's own findings (unreadable file, table not found, not a
number, formula not evaluable, merged value cells).

Reading never raises. Before python-calamine sees a package, the zip directory and every sheet
part it will parse are checked: size limits, zip-bomb ratios, DTD declarations and cell
references far outside any report (calamine 0.9.1 aborts the whole process on a cell at
XFD1048576). Our own template is read through the layout of the spec named in its metadata,
confirmed against the labels; anything else is located by its labels.
"""
from __future__ import annotations

import html
import io
import re
import struct
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from functools import cache, lru_cache
from pathlib import Path

from .findings import Finding, make
from .layout import TableLayout, a1, col_letter, workbook_layout
from .model import Report
from .normalize import label_keys, label_matches, norm_label, parse_number, shorten
from .spec import Section, Spec, Table, all_specs, form_for_year

# ---- limits (documented in the README's reliability section) ----------------------------
MAX_FILE_BYTES = 50 * 1024 * 1024  # a workbook file
MAX_PART_BYTES = 50 * 1024 * 1024  # one part of an .xlsx package, uncompressed
MAX_PACKAGE_BYTES = 200 * 1024 * 1024  # all parts together, uncompressed
MAX_PART_RATIO = 200  # uncompressed / compressed, for parts above 1 MB (zip bomb)
MAX_ROWS = 10_000  # cells below this row are ignored (a report needs ~40 rows)
MAX_COLS = 256  # cells right of column IV are ignored
MAX_FORMULA_DEPTH = 32
MAX_RANGE_CELLS = 100_000

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")


class Unreadable(Exception):
    """A known reason the file cannot be read; the message is Chinese."""

    def __init__(self, message: str, findings: list | None = None):
        super().__init__(message)
        self.findings = list(findings or [])


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
                from . import importers  # type: ignore[attr-defined]
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
    r = Report(path=item.display, unreadable=True, mtime=getattr(item, "mtime", 0.0) or 0.0)
    r.findings.append(make("NB002", f"{item.display}：{reason}"))
    return r


def _internal(item, exc: BaseException) -> Report:
    ref = uuid.uuid4().hex[:8]
    r = Report(path=item.display, unreadable=True, mtime=getattr(item, "mtime", 0.0) or 0.0)
    r.meta["error_ref"] = ref
    r.findings.append(make("NB005", f"{item.display}：处理时发生内部错误（参考编号 {ref}："
                                    f"{type(exc).__name__}），其余文件不受影响，请将此文件与编号反馈给维护人员"))
    return r


# ---- sniffing and package guards ---------------------------------------------------------

def _sniff(data: bytes, suffix: str) -> str:
    """'zip' | 'ole', or raise Unreadable with what the file really is."""
    if not data:
        raise Unreadable("文件是空的（0 字节），请重新导出后再报送")
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if data[:8] == OLE_MAGIC:
        if _ENCRYPTED_MARK in data[:1024 * 1024] or _ENCRYPTED_MARK in data[-1024 * 1024:]:
            raise Unreadable("文件设有打开密码（已加密），无法读取；请取消密码后重新报送")
        return "ole"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%pdf"):
        raise Unreadable(f"这是 PDF 文件，不是 Excel 工作簿（扩展名被改成了 {suffix}）")
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or b"<html" in head[:512]:
        raise Unreadable("这是网页（HTML）文件，不是 Excel 工作簿；请在 Excel 中另存为 .xlsx 后重新报送")
    if head.startswith(b"<?xml"):
        raise Unreadable("这是 XML 文件（可能是“XML 电子表格”格式），不是 Excel 工作簿；请另存为 .xlsx 后重新报送")
    if b"\x00" not in data[:4096]:
        raise Unreadable(f"这是文本文件，不是 Excel 工作簿（扩展名被改成了 {suffix}）")
    raise Unreadable("不是有效的 Excel 文件（文件已损坏或不是表格）")


_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DTD = (b"<!DOCTYPE", b"<!ENTITY", b"<!doctype", b"<!entity")


def _check_prolog(name: str, data: bytes) -> None:
    """XML may declare a DTD only before its root element; refuse any (entity expansion)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = data.decode("utf-16", "replace").encode("utf-8")
    m = _ROOT_START.search(data)
    prolog = data[: m.start()] if m else data
    if any(d in prolog for d in _DTD):
        raise Unreadable(f"文件中的 {name} 含有 XML 实体声明（DOCTYPE/ENTITY），可能是恶意构造的文件，已拒绝读取")


@dataclass
class Package:
    """What the zip directory and the small XML parts of an .xlsx/.xlsm say."""

    data: bytes
    zf: zipfile.ZipFile
    infos: dict[str, zipfile.ZipInfo]
    sheet_parts: dict[str, str]  # sheet name -> part name
    custom: dict[str, str] = field(default_factory=dict)
    calc_chain: bool = False
    cache: dict[str, bytes] = field(default_factory=dict)

    def read(self, name: str) -> bytes:
        """Inflate one part, never beyond its declared size (a lying size is corruption)."""
        if name in self.cache:
            return self.cache[name]
        info = self.infos[name]
        try:
            blob = self._inflate(info)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError, struct.error) as e:
            raise Unreadable(f"文件已损坏：其中的 {name} 无法解压（{type(e).__name__}），请重新报送") from None
        if len(blob) > info.file_size:
            raise Unreadable(f"文件已损坏：其中的 {name} 的实际大小与记录不符，已拒绝读取")
        _check_prolog(name, blob)
        self.cache[name] = blob
        return blob

    def _inflate(self, info: zipfile.ZipInfo) -> bytes:
        """Inflate a member straight from the buffer (a third of zipfile's cost), never past
        its declared size, with the CRC checked; zipfile handles anything unusual."""
        data, off = self.data, info.header_offset
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or \
                data[off:off + 4] != b"PK\x03\x04":
            with self.zf.open(info) as f:
                return f.read(info.file_size + 1)
        n, m = struct.unpack("<HH", data[off + 26:off + 30])
        start = off + 30 + n + m
        raw = data[start:start + info.compress_size]
        if info.compress_type == zipfile.ZIP_DEFLATED:
            out = zlib.decompressobj(-15).decompress(raw, info.file_size + 1)
        else:
            out = raw
        if len(out) <= info.file_size and zlib.crc32(out) != info.CRC:
            raise zipfile.BadZipFile("CRC")
        return out

    @property
    def app(self) -> str:
        """docProps/app.xml Application: the program that last saved the file."""
        info = self.infos.get("docProps/app.xml")
        if info is None or info.file_size > 1024 * 1024:
            return ""
        m = _APP.search(self.read("docProps/app.xml"))
        return html.unescape(m.group(1).decode("utf-8", "replace")).strip() if m else ""

    @property
    def trusted_cache(self) -> bool:
        """Were cached formula values computed by a spreadsheet program?"""
        app = self.app.lower()
        return self.calc_chain or any(w in app for w in ("libreoffice", "openoffice", "wps", "kingsoft"))


_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for key, v1, v2 in _ATTR.findall(raw):
        val = (v1 or v2).decode("utf-8", "replace")
        key = key.decode("ascii", "replace").rpartition(":")[2]
        if key not in out:
            out[key] = html.unescape(val) if "&" in val else val
    return out


_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)/?>")
_PROP = re.compile(rb"<(?:\w+:)?property\b([^>]*)>(.*?)</(?:\w+:)?property>", re.DOTALL)
_TAGTEXT = re.compile(rb">([^<]*)<")
_APP = re.compile(rb"<(?:\w+:)?Application>([^<]*)<")


def _resolve(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    parts = [p for p in (base_dir + "/" + target).split("/") if p and p != "."]
    out: list[str] = []
    for p in parts:
        if p == "..":
            if out:
                out.pop()
        else:
            out.append(p)
    return "/".join(out)


def open_package(data: bytes) -> Package:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infolist = zf.infolist()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError):
        raise Unreadable("文件已损坏：压缩结构不完整（可能在下载或拷贝时被截断），请重新报送") from None
    infos = {i.filename: i for i in infolist}
    total = 0
    for i in infolist:
        total += i.file_size
        if i.flag_bits & 0x1:
            raise Unreadable("文件设有密码（已加密），无法读取；请取消密码后重新报送")
        if i.file_size > MAX_PART_BYTES:
            raise Unreadable(f"文件中的 {i.filename} 解压后达 {i.file_size / 2**20:.0f} MB，超过 "
                             f"{MAX_PART_BYTES // 2**20} MB 的上限（疑似压缩炸弹），已拒绝读取")
        if i.file_size > 1024 * 1024 and i.file_size > MAX_PART_RATIO * max(i.compress_size, 1):
            raise Unreadable(f"文件中的 {i.filename} 压缩比异常（{i.file_size // max(i.compress_size, 1)} 倍，"
                             "疑似压缩炸弹），已拒绝读取")
    if total > MAX_PACKAGE_BYTES:
        raise Unreadable(f"文件解压后总大小 {total / 2**20:.0f} MB，超过 {MAX_PACKAGE_BYTES // 2**20} MB 的上限，已拒绝读取")
    pkg = Package(data=data, zf=zf, infos=infos, sheet_parts={})
    wb_part = "xl/workbook.xml"
    if wb_part not in infos and "_rels/.rels" in infos:
        for m in _REL_TAG.finditer(pkg.read("_rels/.rels")):
            a = _attrs(m.group(1))
            if a.get("Type", "").endswith("/officeDocument") and a.get("Target"):
                wb_part = _resolve("", a["Target"])
    if wb_part not in infos:
        if "word/document.xml" in infos:
            raise Unreadable("这是 Word 文档，不是 Excel 工作簿（扩展名被改过）")
        if "ppt/presentation.xml" in infos:
            raise Unreadable("这是 PowerPoint 演示文稿，不是 Excel 工作簿（扩展名被改过）")
        if "content.xml" in infos:
            raise Unreadable("这是 OpenDocument 文件，不是 Excel 工作簿；请另存为 .xlsx 后重新报送")
        raise Unreadable("这是普通压缩包，不是 Excel 工作簿（扩展名被改过）")
    wb_dir = wb_part.rsplit("/", 1)[0] if "/" in wb_part else ""
    rels_part = f"{wb_dir}/_rels/{wb_part.rsplit('/', 1)[-1]}.rels".lstrip("/")
    targets = {}
    if rels_part in infos:
        for m in _REL_TAG.finditer(pkg.read(rels_part)):
            a = _attrs(m.group(1))
            if a.get("Id") and a.get("Target"):
                targets[a["Id"]] = _resolve(wb_dir, a["Target"])
    for m in _SHEET_TAG.finditer(pkg.read(wb_part)):
        a = _attrs(m.group(1))
        part = targets.get(a.get("id", ""))
        if a.get("name") and part in infos:
            pkg.sheet_parts[a["name"]] = part
    if "docProps/custom.xml" in infos and infos["docProps/custom.xml"].file_size < 1024 * 1024:
        for m in _PROP.finditer(pkg.read("docProps/custom.xml")):
            name = _attrs(m.group(1)).get("name", "")
            t = _TAGTEXT.search(m.group(2))
            if name and t:
                pkg.custom[name] = html.unescape(t.group(1).decode("utf-8", "replace")).strip()
    pkg.calc_chain = any(n.endswith("calcChain.xml") for n in infos)
    return pkg


# ---- sheet part scanning: far-out cells, formulas, error values --------------------------

_REF_ATTR = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{0,3})(\d+)["']""")
_REF_FAST = re.compile(rb' r="([A-Z]{0,3})(\d+)"')
_ODD_TAG = re.compile(rb'<(?:c|row)(?![\w:]|\sr=")')  # a cell or row whose first attribute is not r
_CELL_OR_ROW_TAG = re.compile(rb"<(?:\w+:)?(?:c|row)(?=[\s>/])([^>]*)>")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*["']""")
_ROW_BLOCK = re.compile(rb"<((?:\w+:)?row)\b([^>]*?)(?:/>|>(.*?)</\1>)", re.DOTALL)
_CELL_BLOCK = re.compile(rb"<((?:\w+:)?c)\b([^>]*?)(?:/>|>(.*?)</\1>)", re.DOTALL)
_HAS_CONTENT = re.compile(rb"<(?:\w+:)?(?:v|f|is)\b")


def _col_number(letters: bytes | str) -> int:
    n = 0
    for ch in letters.upper() if isinstance(letters, str) else letters.decode("ascii").upper():
        n = n * 26 + ord(ch) - 64
    return n  # 1-based


def _sheet_data(xml: bytes) -> tuple[int, int]:
    """Byte range of the <sheetData> element(s): the only place cells live."""
    s = xml.find(b"sheetData")
    return (s, xml.rfind(b"sheetData")) if s >= 0 else (0, 0)


def scan_extent(xml: bytes, region: tuple[int, int] | None = None) -> tuple[int, int, bool]:
    """(max row, max column, every cell and row has an r attribute), 1-based."""
    s, e = region or _sheet_data(xml)
    if s == e:
        return 0, 0, True
    odd = (_ODD_TAG.search(xml, s, e) is not None or xml.find(b":c ", s, e) >= 0
           or xml.find(b"r='", s, e) >= 0 or xml.find(b" r =", s, e) >= 0)
    refs = _REF_ATTR.findall(xml, s, e) if odd else _REF_FAST.findall(xml, s, e)
    max_row = max_col = 0
    letters: set[bytes] = set()
    for col, row in refs:
        r = int(row)
        max_row = max(max_row, r)
        if col:
            letters.add(col)
    if letters:
        max_col = max(_col_number(c) for c in letters)
    all_refs = not odd or all(_R_ATTR.search(m.group(1)) for m in _CELL_OR_ROW_TAG.finditer(xml, s, e))
    return max_row, max_col, all_refs


def trim_sheet(xml: bytes) -> tuple[bytes, str | None]:
    """Drop rows beyond MAX_ROWS and cells beyond MAX_COLS; (new xml, farthest dropped cell
    that held content, or None)."""
    far: list[tuple[int, int]] = []

    def cell(m: re.Match) -> bytes:
        a = _attrs(m.group(2))
        ref = a.get("r", "")
        mm = re.match(r"([A-Za-z]{1,3})(\d+)$", ref)
        if mm and (_col_number(mm.group(1)) > MAX_COLS or int(mm.group(2)) > MAX_ROWS):
            if m.group(3) and _HAS_CONTENT.search(m.group(3)):
                far.append((int(mm.group(2)), _col_number(mm.group(1))))
            return b""
        return m.group(0)

    def row(m: re.Match) -> bytes:
        r = _attrs(m.group(2)).get("r", "")
        if r.isdigit() and int(r) > MAX_ROWS:
            body = m.group(3) or b""
            if _HAS_CONTENT.search(body):
                refs = [(int(x[1]), _col_number(x[0]) if x[0] else 1) for x in _REF_ATTR.findall(body)]
                far.append(max(refs) if refs else (int(r), 1))
            return b""
        if m.group(3) is None:
            return m.group(0)
        inner = _CELL_BLOCK.sub(cell, m.group(3))
        return m.group(0).replace(m.group(3), inner, 1) if inner != m.group(3) else m.group(0)

    out = _ROW_BLOCK.sub(row, xml)
    if not far:
        return out, None
    r, c = max(far)
    return out, a1(r - 1, c - 1)


_F_OPEN = re.compile(rb"<(?:\w+:)?f\b")
_C_OPEN = re.compile(rb"<(?:\w+:)?c\b([^>]*)>")
_F_ELEM = re.compile(rb"<(?:\w+:)?f\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?f>)", re.DOTALL)
_E_CELL = re.compile(rb"""<(?:\w+:)?c\b([^>]*\bt\s*=\s*["']e["'][^>]*)>(.*?)</(?:\w+:)?c>""", re.DOTALL)
_V_ELEM = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.DOTALL)
_A1RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)$")


def _pos(ref: str) -> tuple[int, int] | None:
    m = _A1RE.match(ref)
    if not m:
        return None
    return int(m.group(2)) - 1, _col_number(m.group(1)) - 1


def _formula_starts(xml: bytes, s: int, e: int):
    """Positions of <f> elements inside <sheetData> (not <formula> of conditional formats)."""
    if xml.find(b":f", s, e) >= 0 and xml.find(b":c ", s, e) >= 0:  # namespace-prefixed XML
        yield from (m.start() for m in _F_OPEN.finditer(xml, s, e))
        return
    i = xml.find(b"<f", s, e)
    while i >= 0:
        if xml[i + 2:i + 3] in (b" ", b">", b"/"):
            yield i
        i = xml.find(b"<f", i + 2, e)


class Formulas:
    """The formula cells of one sheet part; formula text is extracted only when asked for
    (templates carry long status formulas nobody needs to read)."""

    def __init__(self, xml: bytes, region: tuple[int, int] | None = None):
        self.xml = xml
        self.at: dict[tuple[int, int], int] = {}  # position -> offset of its <f
        self.shared: dict[tuple[int, int], str] = {}  # child position -> si
        self.masters: dict[str, tuple[int, int]] = {}
        self._text: dict[tuple[int, int], str | None] = {}
        s, e = region or _sheet_data(xml)
        if xml.find(b"<f", s, e) < 0 and xml.find(b":f", s, e) < 0:
            return
        prefixed = xml.find(b":c ", s, e) >= 0
        for p in _formula_starts(xml, s, e):
            j = max(xml.rfind(b"<c ", 0, p), xml.rfind(b"<c>", max(0, p - 4096), p))
            if prefixed:
                k = xml.rfind(b":c ", 0, p)
                if k > j:
                    j = xml.rfind(b"<", 0, k)
            c_open = _C_OPEN.match(xml, j) if j >= 0 else None
            if c_open is None:
                continue
            pos = _pos(_attrs(c_open.group(1)).get("r", ""))
            if pos is None:
                continue
            self.at[pos] = p
            head = xml[p:xml.find(b">", p) + 1]
            if b"shared" in head:
                fa = _attrs(head)
                if fa.get("t") == "shared" and "si" in fa:
                    self.shared[pos] = fa["si"]
                    if not head.endswith(b"/>"):
                        self.masters[fa["si"]] = pos

    def __contains__(self, pos) -> bool:
        return pos in self.at

    def __len__(self) -> int:
        return len(self.at)

    def _raw(self, pos) -> str:
        fm = _F_ELEM.match(self.xml, self.at[pos])
        return html.unescape((fm.group(2) or b"").decode("utf-8", "replace")).strip() if fm else ""

    def get(self, pos, default=None) -> str | None:
        if pos not in self.at:
            return default
        if pos not in self._text:
            text = self._raw(pos)
            if not text and pos in self.shared:
                master = self.masters.get(self.shared[pos])
                if master is not None and master != pos:
                    base = self._raw(master)
                    text = shift_formula(base, pos[0] - master[0], pos[1] - master[1]) if base else ""
            self._text[pos] = text or None
        return self._text[pos] if self._text[pos] is not None else default

    def __getitem__(self, pos) -> str:
        v = self.get(pos)
        if v is None:
            raise KeyError(pos)
        return v


def scan_formulas(xml: bytes, region: tuple[int, int] | None = None) -> Formulas:
    """Formula cells of a sheet part: ``.get((row, col))`` gives the text without '='
    (shared formulas translated to each cell)."""
    return Formulas(xml, region)


def scan_errors(xml: bytes, region: tuple[int, int] | None = None) -> dict[tuple[int, int], str]:
    """Cells holding an error value (#DIV/0! …), which calamine reports as blank."""
    out: dict[tuple[int, int], str] = {}
    s, e = region or _sheet_data(xml)
    if xml.find(b'"e"', s, e) < 0 and xml.find(b"'e'", s, e) < 0:
        return out
    for m in _E_CELL.finditer(xml, s, e):
        pos = _pos(_attrs(m.group(1)).get("r", ""))
        v = _V_ELEM.search(m.group(2))
        if pos is not None:
            out[pos] = html.unescape(v.group(1).decode("utf-8", "replace")) if v else "#VALUE!"
    return out


# ---- formulas ---------------------------------------------------------------------------

_SHEET_PREFIX = r"(?:(?:'(?:[^']|'')+'|[^\s'!:(),+\-*/^&=<>;\"{}]+)!)?"
_CELLREF = r"\$?[A-Za-z]{1,3}\$?\d+"
_TOKEN = re.compile(rf"""\s*(?:
    (?P<ref>{_SHEET_PREFIX}{_CELLREF}(?::{_CELLREF})?)(?![\w(])
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<func>[A-Za-z_][A-Za-z0-9_.]*)\s*\(
  | (?P<op>[-+*/(),;])
)""", re.VERBOSE)
_SHIFT = re.compile(r"('(?:[^']|'')*'|\"[^\"]*\")|(\$?)([A-Za-z]{1,3})(\$?)(\d+)(?![\w(])")


def shift_formula(text: str, dr: int, dc: int) -> str:
    """Move the relative references of a shared formula by (dr, dc)."""
    def sub(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)
        cabs, col, rabs, row = m.group(2), m.group(3), m.group(4), m.group(5)
        c = _col_number(col) - 1 + (0 if cabs else dc)
        r = int(row) + (0 if rabs else dr)
        if c < 0 or r < 1:
            return "#REF!"
        return f"{cabs}{col_letter(c)}{rabs}{r}"
    return _SHIFT.sub(sub, text)


class FormulaUnsupported(Exception):
    """The formula uses something this evaluator does not do."""


class FormulaErrorValue(Exception):
    """The formula evaluates to a spreadsheet error such as #DIV/0!."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, i, text = [], 0, text.strip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            if text[i:].strip() == "":
                break
            raise FormulaUnsupported(text[i:i + 10])
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        i = m.end()
    return out


class _Eval:
    """Recursive-descent evaluation of + - * / ( ) SUM over cell references and numbers."""

    def __init__(self, book: Book, sheet: str, depth: int, stack: frozenset):
        self.book, self.sheet, self.depth, self.stack = book, sheet, depth, stack

    def run(self, text: str) -> Decimal:
        self.toks = _tokens(text.lstrip("="))
        self.i = 0
        v = self.expr()
        if self.i != len(self.toks):
            raise FormulaUnsupported(text)
        return v

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self):
        t = self.peek()
        self.i += 1
        return t

    def expr(self) -> Decimal:
        v = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            w = self.term()
            v = v + w if op == "+" else v - w
        return v

    def term(self) -> Decimal:
        v = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            op = self.take()[1]
            w = self.unary()
            if op == "*":
                v = v * w
            else:
                if w == 0:
                    raise FormulaErrorValue("#DIV/0!")
                v = v / w
        return v

    def unary(self) -> Decimal:
        if self.peek() == ("op", "-"):
            self.take()
            return -self.unary()
        if self.peek() == ("op", "+"):
            self.take()
            return self.unary()
        return self.primary()

    def primary(self) -> Decimal:
        kind, val = self.take()
        if kind == "num":
            return Decimal(val)
        if kind == "ref":
            sheet, cells = self.book.ref_cells(self.sheet, val)
            if len(cells) != 1:
                raise FormulaUnsupported(val)
            return self.book.cell_number(sheet, *cells[0], self.depth + 1, self.stack, in_range=False)
        if kind == "func":
            if val.upper() not in ("SUM", "_XLFN.SUM"):
                raise FormulaUnsupported(val)
            total = Decimal(0)
            while True:
                if self.peek() == ("op", ")"):
                    self.take()
                    break
                k, v = self.peek()
                nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else (None, None)
                if k == "ref" and nxt in (("op", ","), ("op", ";"), ("op", ")")):
                    self.take()
                    sheet, cells = self.book.ref_cells(self.sheet, v)
                    for r, c in cells:
                        n = self.book.cell_number(sheet, r, c, self.depth + 1, self.stack, in_range=len(cells) > 1)
                        total += n
                else:
                    total += self.expr()
                if self.peek() in (("op", ","), ("op", ";")):
                    self.take()
                elif self.peek() != ("op", ")"):
                    raise FormulaUnsupported(val)
            return total
        if (kind, val) == ("op", "("):
            v = self.expr()
            if self.take() != ("op", ")"):
                raise FormulaUnsupported("(")
            return v
        raise FormulaUnsupported(str(val))


_a1 = lru_cache(maxsize=65536)(a1)


# ---- the workbook as grids --------------------------------------------------------------

@dataclass
class Grid:
    name: str
    rows: list[list]
    merged: list[tuple[int, int, int, int]]  # r0, c0, r1, c1 (inclusive)

    def get(self, r: int, c: int):
        if 0 <= r < len(self.rows):
            row = self.rows[r]
            if 0 <= c < len(row):
                return row[c]
        return ""

    def merge_at(self, r: int, c: int) -> tuple[int, int, int, int] | None:
        for m in self.merged:
            if m[0] <= r <= m[2] and m[1] <= c <= m[3]:
                return m
        return None

    def bottom(self, r: int, c: int) -> int:
        m = self.merge_at(r, c)
        return m[2] if m and (m[0], m[1]) == (r, c) else r

    def right(self, r: int, c: int) -> int:
        m = self.merge_at(r, c)
        return m[3] if m and (m[0], m[1]) == (r, c) else c


def _reraise_interrupts(exc: BaseException) -> None:
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError)):
        raise exc


class Book:
    """Lazy access to the sheets of one workbook, with the guards applied per sheet."""

    def __init__(self, item, data: bytes, pkg: Package | None):
        import python_calamine

        self.item, self.data, self.pkg = item, data, pkg
        self.findings: list[Finding] = []
        try:
            self.cal = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
            meta = self.cal.sheets_metadata
        except BaseException as e:  # noqa: BLE001 - calamine errors; pyo3 panics are BaseException
            _reraise_interrupts(e)
            name = type(e).__name__
            if "Password" in name or "password" in str(e).lower() or "encrypt" in str(e).lower():
                raise Unreadable("文件设有密码（已加密），无法读取；请取消密码后重新报送") from None
            raise Unreadable(f"文件已损坏或格式不受支持，无法读取（{name}）") from None
        self.names = [m.name for m in meta if "WorkSheet" in str(m.typ)]
        self._grids: dict[str, Grid | None] = {}
        self._formulas: dict[str, dict] = {}
        self._errors: dict[str, dict] = {}
        self._regions: dict[str, tuple[int, int]] = {}
        self._index: dict[str, list[tuple[str, int, int]]] | None = None

    # sheet access
    def grid(self, name: str) -> Grid | None:
        if name in self._grids:
            return self._grids[name]
        g = None
        if name in self.names:
            g = self._load(name)
        self._grids[name] = g
        return g

    def _load(self, name: str) -> Grid | None:
        cal = self.cal
        part = self.pkg.sheet_parts.get(name) if self.pkg else None
        if self.pkg is not None and part is None:
            self.findings.append(make("NB006", f"工作表“{name}”在文件中找不到对应内容，已跳过", sheet=name))
            return None
        if part is not None:
            xml = self.pkg.read(part)
            s, e = self._regions[part] = _sheet_data(xml)
            max_row, max_col, all_refs = scan_extent(xml, (s, e))
            if not all_refs and (xml.count(b"<c", s, e) > MAX_COLS or xml.count(b"<row", s, e) > MAX_ROWS):
                self.findings.append(make("NB006", f"工作表“{name}”的单元格缺少位置信息且数量异常，已跳过该工作表",
                                          sheet=name))
                return None
            if max_row > MAX_ROWS or max_col > MAX_COLS:
                trimmed, far = trim_sheet(xml)
                if far:
                    self.findings.append(make(
                        "NB006", f"工作表“{name}”在第 {MAX_ROWS} 行或 {col_letter(MAX_COLS - 1)} 列以外还有内容"
                                 f"（最远到 {far}），这些内容已忽略", sheet=name, cell=far))
                max_row2, max_col2, _ = scan_extent(trimmed)
                if max_row2 > MAX_ROWS or max_col2 > MAX_COLS:
                    self.findings.append(make("NB006", f"工作表“{name}”的使用范围异常巨大，已跳过该工作表", sheet=name))
                    return None
                cal = self._rebuilt(part, trimmed)
        try:
            sheet = cal.get_sheet_by_name(name)
            rows = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS)
            merged = [(a[0], a[1], b[0], b[1]) for a, b in (sheet.merged_cell_ranges or [])]
        except BaseException as e:  # noqa: BLE001
            _reraise_interrupts(e)
            self.findings.append(make("NB006", f"工作表“{name}”无法读取（{type(e).__name__}），已跳过", sheet=name))
            return None
        if rows and len(rows[0]) > MAX_COLS:  # .xls: no package to trim beforehand
            rows = [r[:MAX_COLS] for r in rows]
        return Grid(name, rows, merged)

    def _rebuilt(self, part: str, xml: bytes):
        import python_calamine

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
            for name, info in self.pkg.infos.items():
                if name.endswith("/") or info.is_dir():
                    continue
                if name == part:
                    blob = xml
                elif name.endswith((".xml", ".rels")):
                    blob = self.pkg.read(name)
                else:
                    blob = self.pkg.zf.read(name)
                out.writestr(name, blob)
        return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue()))

    def formulas(self, name: str) -> dict:
        if name not in self._formulas:
            part = self.pkg.sheet_parts.get(name) if self.pkg else None
            self._formulas[name] = scan_formulas(self.pkg.read(part) if part else b"", self._regions.get(part))
        return self._formulas[name]

    def errors(self, name: str) -> dict:
        if name not in self._errors:
            part = self.pkg.sheet_parts.get(name) if self.pkg else None
            self._errors[name] = scan_errors(self.pkg.read(part), self._regions.get(part)) if part else {}
        return self._errors[name]

    # formula support
    def ref_cells(self, sheet: str, ref: str) -> tuple[str, list[tuple[int, int]]]:
        if "!" in ref:
            pre, ref = ref.rsplit("!", 1)
            pre = pre[1:-1].replace("''", "'") if pre.startswith("'") else pre
            sheet = pre
        if self.grid(sheet) is None:
            raise FormulaUnsupported(sheet)
        a, _, b = ref.partition(":")
        p, q = _pos(a), _pos(b or a)
        if p is None or q is None:
            raise FormulaUnsupported(ref)
        r0, r1 = sorted((p[0], q[0]))
        c0, c1 = sorted((p[1], q[1]))
        if (r1 - r0 + 1) * (c1 - c0 + 1) > MAX_RANGE_CELLS:
            raise FormulaUnsupported(ref)
        return sheet, [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]

    def cell_number(self, sheet: str, r: int, c: int, depth: int, stack: frozenset,
                    in_range: bool) -> Decimal:
        if depth > MAX_FORMULA_DEPTH or (sheet, r, c) in stack:
            raise FormulaUnsupported("depth")
        f = self.formulas(sheet).get((r, c)) if self.pkg else None
        if f is not None:
            return _Eval(self, sheet, depth, stack | {(sheet, r, c)}).run(f)
        err = self.errors(sheet).get((r, c))
        if err:
            raise FormulaErrorValue(err)
        raw = self.grid(sheet).get(r, c)
        if isinstance(raw, bool):
            return Decimal(0) if in_range else Decimal(int(raw))
        if isinstance(raw, (int, float)):
            v, _ = parse_number(raw)
            return v if v is not None else Decimal(0)
        if in_range or raw == "" or raw is None:
            return Decimal(0)
        v, problem = parse_number(raw)
        if problem:
            raise FormulaErrorValue("#VALUE!")
        return v if v is not None else Decimal(0)

    def evaluate(self, sheet: str, r: int, c: int) -> Decimal:
        text = self.formulas(sheet).get((r, c))
        if not text:
            raise FormulaUnsupported("")
        return _Eval(self, sheet, 0, frozenset({(sheet, r, c)})).run(text)

    # label index for the fallback
    def index(self) -> dict[str, list[tuple[str, int, int]]]:
        if self._index is None:
            idx: dict[str, list[tuple[str, int, int]]] = {}
            for name in self.names:
                g = self.grid(name)
                if g is None:
                    continue
                for r, row in enumerate(g.rows):
                    for c, v in enumerate(row):
                        if isinstance(v, str) and v and len(v) <= 200:
                            for k in label_keys(v):
                                idx.setdefault(k, []).append((name, r, c))
            self._index = idx
        return self._index

    def find(self, label: str) -> list[tuple[str, int, int]]:
        idx = self.index()
        seen, out = set(), []
        for k in label_keys(label):
            for p in idx.get(k, ()):
                if p not in seen:
                    seen.add(p)
                    out.append(p)
        return out


# ---- locating the tables ----------------------------------------------------------------

Pos = tuple[str, int, int]


@dataclass
class Located:
    cells: dict[str, Pos] = field(default_factory=dict)  # cell key -> position
    missing: list[str] = field(default_factory=list)  # Chinese messages (NB003)
    missing_keys: list[str] = field(default_factory=list)
    found_any: bool = False


def _row_name(table: Table, node) -> str:
    cell = next(c for c in table.cells if c.row is node)
    return cell.row_label


def _confirm(book: Book, tl: TableLayout) -> bool:
    g = book.grid(tl.sheet)
    if g is None:
        return False
    for b in tl.boxes:
        if (b.role in ("rowhead", "colhead") and b.key and _is_leaf_box(tl.table, b)
                and not label_matches(g.get(b.row, b.col), b.text)):
            return False
    return True


@cache
def _leaf_keys(table: Table) -> frozenset:
    keys = set()
    for sec in table.sections:
        keys.update(n.key for n in sec.leaf_rows() if n.label)
        keys.update(n.key for n in sec.leaf_columns())
    return frozenset(keys)


def _is_leaf_box(table: Table, box) -> bool:
    return box.key in _leaf_keys(table)


def _from_layout(tl: TableLayout) -> Located:
    loc = Located(found_any=True)
    for key, box in tl.values.items():
        loc.cells[key] = (tl.sheet, box.row, box.col)
    return loc


def _pick_sheet(cands: list[Pos], book: Book, prefer: tuple[str, ...]) -> str | None:
    if not cands:
        return None
    count: dict[str, int] = {}
    for s, _, _ in cands:
        count[s] = count.get(s, 0) + 1
    order = {n: i for i, n in enumerate(book.names)}
    return max(count, key=lambda s: (count[s], s in prefer, -order.get(s, 0)))


def locate_table(book: Book, table: Table) -> Located:
    if all(sec.row_depth == 0 for sec in table.sections):
        return _locate_headed(book, table)
    loc = Located()
    leaves = [(sec, n) for sec in table.sections for n in sec.leaf_rows()]
    cands = {}
    for sec, n in leaves:
        found = book.find(n.label)
        for alias in () if found else _row_aliases(table.key, n.key, n.label):
            found = book.find(alias)  # e.g. the 2019 wording 规范性文件 under the 2021 columns
            if found:
                break
        cands[n.key + "@" + sec.key] = found
    sheet = _pick_sheet([p for ps in cands.values() for p in ps], book, (table.sheet, table.name))
    if sheet is None:
        loc.missing.append(f"未找到{table.name}（{table.title}）")
        loc.missing_keys.extend(c.key for c in table.cells)
        return loc
    loc.found_any = True
    g = book.grid(sheet)
    prev_end = -1
    for sec in table.sections:
        rows: dict[str, tuple[int, int]] = {}
        last = prev_end
        used: set[tuple[int, int]] = set()
        for n in sec.leaf_rows():
            ps = [(r, c) for s, r, c in cands[n.key + "@" + sec.key] if s == sheet and (r, c) not in used]
            after = [p for p in ps if p[0] > last]
            pick = after[0] if after else (ps[0] if ps else None)
            if pick is None:
                loc.missing.append(f"未找到{table.name}“{_row_name(table, n)}”行")
                loc.missing_keys.extend(c.key for c in table.cells if c.row is n)
                continue
            used.add(pick)
            rows[n.key] = pick
            last = max(last, pick[0])
        if not rows:
            continue
        first = min(r for r, _ in rows.values())
        label_col = max(c for _, c in rows.values())
        top = max(prev_end + 1, first - sec.col_depth - 2)
        cols = _match_columns(book, g, sec, range(top, first), label_col + 1)
        for leaf in sec.leaf_columns():
            if leaf.key not in cols:
                title = sec.title or ""
                loc.missing.append(f"未找到{table.name}{title}“{leaf.label}”列")
                loc.missing_keys.extend(c.key for c in table.cells if c.col is leaf and c.section is sec)
        for cell in table.cells:
            if cell.section is sec and cell.row.key in rows and cell.col.key in cols:
                loc.cells[cell.key] = (sheet, rows[cell.row.key][0], cols[cell.col.key])
        prev_end = max(prev_end, last)
    return loc


@cache
def _row_aliases(table_key: str, node_key: str, label: str) -> tuple[str, ...]:
    """Labels the other forms give the same row (same cell keys across form versions)."""
    out = []
    for spec in all_specs():
        for t in spec.tables:
            if t.key != table_key:
                continue
            for sec in t.sections:
                for n in sec.leaf_rows():
                    if n.key == node_key and n.label and n.label != label and n.label not in out:
                        out.append(n.label)
    return tuple(out)


def _match_columns(book: Book, g: Grid, sec: Section, rows: range, min_col: int) -> dict[str, int]:
    """Assign each leaf column label to a column, left to right, in the header rows ``rows``."""
    leaves = sec.leaf_columns()
    found: dict[str, list[tuple[int, int]]] = {}
    for leaf in leaves:
        hits: dict[int, int] = {}
        for s, r, c in book.find(leaf.label):
            if s == g.name and r in rows and c >= min_col:
                hits[c] = max(hits.get(c, -1), r)  # nearest to the data
        found[leaf.key] = sorted(hits.items())
    out: dict[str, int] = {}
    last = min_col - 1
    for leaf in leaves:
        nxt = next((c for c, _ in found[leaf.key] if c > last), None)
        if nxt is not None:
            out[leaf.key] = nxt
            last = nxt
    return out


def _numeric(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, float)) or (
        isinstance(v, str) and parse_number(v)[0] is not None)


def _locate_headed(book: Book, table: Table) -> Located:
    """表四: no row labels; the group labels head the columns, the data row follows."""
    loc = Located()
    sec = table.sections[0]
    leaves = sec.leaf_columns()
    anchors: list[Pos] = []
    for top in sec.columns:
        anchors += book.find(top.label)
    if not anchors:
        anchors = book.find(leaves[0].label)
    best = None
    for s, r, c in anchors:
        g = book.grid(s)
        window = range(r, r + sec.col_depth + 2)
        cols = _match_columns(book, g, sec, window, max(c - sec.value_width, 0))
        score = len(cols)
        if best is None or score > best[0]:
            best = (score, s, r, cols)
    if best is None or best[0] == 0:
        loc.missing.append(f"未找到{table.name}（{table.title}）")
        loc.missing_keys.extend(c.key for c in table.cells)
        return loc
    _, sheet, r0, cols = best
    loc.found_any = True
    g = book.grid(sheet)
    header_rows = []
    for leaf in leaves:
        if leaf.key in cols:
            for s, r, c in book.find(leaf.label):
                if s == sheet and c == cols[leaf.key] and r0 <= r < r0 + sec.col_depth + 2:
                    header_rows.append(g.bottom(r, c))
    last_header = max(header_rows) if header_rows else r0 + sec.col_depth - 1
    data_row = last_header + 1
    if all(g.get(data_row, c) in ("", None) for c in cols.values()):
        # a blank row inserted under the header: take the next row holding numbers, if any
        for cand in range(last_header + 2, last_header + 4):
            if any(_numeric(g.get(cand, c)) for c in cols.values()):
                data_row = cand
                break
    for leaf in leaves:
        if leaf.key not in cols:
            group = leaf.parent.label if leaf.parent else ""
            loc.missing.append(f"未找到{table.name}“{group} / {leaf.label}”列")
            loc.missing_keys.extend(c.key for c in table.cells if c.col is leaf)
    for cell in table.cells:
        if cell.col.key in cols:
            loc.cells[cell.key] = (sheet, data_row, cols[cell.col.key])
    return loc


# ---- choosing the form ------------------------------------------------------------------

def _meta_sheet_values(book: Book) -> dict[str, str]:
    names = {s.workbook.get("meta_sheet") for s in all_specs()}
    for n in book.names:
        if n in names:
            g = book.grid(n)
            if g is None:
                continue
            out = {}
            for row in g.rows[:200]:
                if len(row) >= 2 and isinstance(row[0], str) and row[0].strip():
                    out[row[0].strip()] = _text(row[1])
            return out
    return {}


def _spec_from_meta(meta: dict[str, str]) -> Spec | None:
    vals = {k.removeprefix("nianbao_"): v for k, v in meta.items()}
    for s in all_specs():
        if vals.get("form_id") == s.form_id:
            return s
    for s in all_specs():
        if vals.get("version") == s.version and vals.get("form", s.form) in (s.form, s.form_id):
            return s
    return None


@cache
def _spec_labels(spec: Spec) -> tuple[str, ...]:
    labs = set()
    for t in spec.tables:
        for sec in t.sections:
            if sec.title:
                labs.add(sec.title)
            labs.update(n.label for n in sec.leaf_rows() if n.label)
            labs.update(n.label for n in sec.leaf_columns())
    return tuple(sorted(labs))


def detect_spec(book: Book, year: int | None) -> tuple[Spec | None, float]:
    idx = book.index()
    scored = []
    for s in all_specs():
        labs = _spec_labels(s)
        hit = sum(1 for lab in labs if any(k in idx for k in label_keys(lab)))
        scored.append((hit / max(len(labs), 1), s))
    scored.sort(key=lambda x: -x[0])
    best, spec = scored[0]
    if best < 0.2:
        return None, best
    ties = [s for sc, s in scored if best - sc < 0.01]
    if len(ties) > 1 and year is not None:
        want = form_for_year(year)
        spec = next((s for s in ties if s.version == want), spec)
    return spec, best


# ---- cover ------------------------------------------------------------------------------

def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == datetime.min.time() else v.isoformat(sep=" ")
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


def _cover_value(g: Grid, r: int, c: int, labels: tuple[str, ...]):
    """The first filled cell right of a cover label (stopping at the next label)."""
    right = g.right(r, c)
    for cc in range(right + 1, right + 5):
        v = g.get(r, cc)
        if v not in ("", None):
            if isinstance(v, str) and any(label_matches(v, lab) for lab in labels):
                return ""
            return v
    return ""


def read_cover(book: Book, spec: Spec) -> dict[str, object]:
    """Cover field key -> raw value, from the cell right of each cover label."""
    out: dict[str, object] = {}
    lay = workbook_layout(spec)
    g = book.grid(lay.cover_sheet)
    placed = set()
    for key, (lab, val) in lay.cover.items():
        if g is not None and label_matches(g.get(lab.row, lab.col), lab.text):
            placed.add(key)
            v = g.get(val.row, val.col)
            if v not in ("", None):
                out[key] = v
    missing = [f for f in spec.cover if f["key"] not in placed]
    if not missing:
        return out
    order = {n: i for i, n in enumerate(book.names)}
    for f in missing:
        hits = sorted(book.find(f["label"]), key=lambda p: (p[0] != lay.cover_sheet, order.get(p[0], 99), p[1], p[2]))
        for s, r, c in hits:
            v = _cover_value(book.grid(s), r, c, tuple(x["label"] for x in spec.cover))
            if v not in ("", None):
                out[f["key"]] = v
                break
        else:
            inline = _inline_cover(book, f["label"])
            if inline:
                out[f["key"]] = inline
    return out


def _inline_cover(book: Book, label: str) -> str:
    """``填报单位：某某局`` typed in one cell."""
    want = norm_label(label)
    for name in book.names:
        g = book.grid(name)
        if g is None:
            continue
        for row in g.rows[:60]:
            for v in row[:20]:
                if isinstance(v, str) and len(v) < 200:
                    n = norm_label(v)
                    if n.startswith(want) and len(n) > len(want) + 1 and n[len(want)] in ":：":
                        return v.split("：", 1)[-1].split(":", 1)[-1].strip()
    return ""


_YEAR = re.compile(r"(19[89]\d|20\d\d|2100)")


def parse_year(v) -> int | None:
    if v in ("", None) or isinstance(v, bool):
        return None
    if isinstance(v, (datetime, date)):
        return v.year
    num, _ = parse_number(v)
    if num is not None and num == num.to_integral_value() and 1980 <= num <= 2100:
        return int(num)
    m = _YEAR.search(norm_label(str(v)))
    return int(m.group(1)) if m else None


def parse_date(v) -> str:
    if v in ("", None):
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, (int, float)) and not isinstance(v, bool) and 20000 <= v <= 80000:
        return (date(1899, 12, 30) + timedelta(days=int(v))).isoformat()
    return shorten(_text(v), 40)


_NAME_NOISE = re.compile(
    r"(_审核|审核|副本|\(\d+\)|（\d+）|(?:19|20)\d\d\s*年?度?|政府信息公开工作年度报告|政府信息公开年度报告|政府信息公开年报"
    r"|政府信息公开|年度报告|年报|统计表|数据表|填报表|报表|模板|定稿|终稿|最终版|修改版|[vV]\d+)")


def unit_from_filename(name: str) -> str:
    stem = Path(name).stem
    s = _NAME_NOISE.sub(" ", stem)
    s = re.sub(r"[\s_\-—.·、，,()（）\[\]【】]+", " ", s).strip()
    return s.replace(" ", "")


# ---- values -----------------------------------------------------------------------------

def _read_values(book: Book, spec: Spec, report: Report, cells: dict[str, Pos]) -> None:
    trusted = book.pkg.trusted_cache if book.pkg else True
    sheets: dict[str, tuple] = {}
    where, values, blank = report.where, report.values, report.blank
    for key, (sheet, r, c) in cells.items():
        ctx = sheets.get(sheet)
        if ctx is None:
            g = book.grid(sheet)
            ctx = sheets[sheet] = (g.rows if g else [], book.formulas(sheet), book.errors(sheet))
        rows, formulas, errors = ctx
        ref = _a1(r, c)
        where[key] = (sheet, ref)
        raw = rows[r][c] if r < len(rows) and c < len(rows[r]) else ""
        if formulas.at and (r, c) in formulas.at:
            cell = spec.cells[key]
            formula = formulas.get((r, c)) or ""
            try:
                values[key] = _tidy(book.evaluate(sheet, r, c))
                continue
            except FormulaErrorValue as e:
                raw = str(e)
            except (FormulaUnsupported, InvalidOperation, DivisionByZero, RecursionError, OverflowError):
                if not trusted:
                    values[key] = None
                    report.invalid.add(key)
                    shown = "=" + shorten(formula, 60)
                    report.findings.append(make(
                        "NB105", f"{_where(cell, sheet, ref)}的公式“{shown}”无法计算，请直接填写数字",
                        actual=shown, **_labels(cell, sheet, ref)))
                    continue
        if type(raw) is float and raw.is_integer():
            values[key] = Decimal(int(raw))
            continue
        if raw == "" and errors and (r, c) in errors:
            raw = errors[(r, c)]
        value, problem = parse_number(raw)
        values[key] = value
        if problem:
            cell = spec.cells[key]
            report.invalid.add(key)
            shown = shorten(_text(raw) if not isinstance(raw, bool) else ("TRUE" if raw else "FALSE"))
            report.findings.append(make(
                "NB102", f"{_where(cell, sheet, ref)}填写了“{shown}”，{problem}",
                actual=shown, **_labels(cell, sheet, ref)))
        elif value is None:
            blank.append(key)


def _where(cell, sheet: str, ref: str) -> str:
    return f"{cell.table.name}“{cell.row_label} / {cell.col_label}”（{sheet}!{ref}）"


def _labels(cell, sheet: str, ref: str) -> dict:
    return {"table": cell.table.name, "row": cell.row_label, "column": cell.col_label,
            "sheet": sheet, "cell": ref, "key": cell.key}


def _tidy(d: Decimal) -> Decimal:
    v, _ = parse_number(d)
    return v if v is not None else d


def _merged_value_cells(book: Book, spec: Spec, report: Report, cells: dict[str, Pos]) -> None:
    """NB107 for a value cell hidden under a merge or sharing one with another value cell."""
    by_sheet: dict[str, dict[tuple[int, int], str]] = {}
    for key, (s, r, c) in cells.items():
        by_sheet.setdefault(s, {})[(r, c)] = key
    for sheet, pos in by_sheet.items():
        g = book.grid(sheet)
        if g is None or not g.merged:
            continue
        rows = {r for r, _ in pos}
        cols = {c for _, c in pos}
        r_lo, r_hi, c_lo, c_hi = min(rows), max(rows), min(cols), max(cols)
        for m in g.merged:
            if m[2] < r_lo or m[0] > r_hi or m[3] < c_lo or m[1] > c_hi:
                continue
            if not any(m[0] <= r <= m[2] for r in rows):
                continue
            area = (m[2] - m[0] + 1) * (m[3] - m[1] + 1)
            if area <= len(pos):
                inside = [((r, c), pos[(r, c)]) for r in range(m[0], m[2] + 1)
                          for c in range(m[1], m[3] + 1) if (r, c) in pos]
            else:
                inside = [(p, k) for p, k in pos.items() if m[0] <= p[0] <= m[2] and m[1] <= p[1] <= m[3]]
            if not inside or (len(inside) == 1 and inside[0][0] == (m[0], m[1])):
                continue
            rng = f"{a1(m[0], m[1])}:{a1(m[2], m[3])}"
            for (r, c), key in sorted(inside):
                cell = spec.cells[key]
                report.findings.append(make(
                    "NB107", f"{cell.table.name}“{cell.row_label} / {cell.col_label}”（{sheet}!{a1(r, c)}）"
                             f"所在单元格被合并（{rng}），请取消合并，每个数值单独填写",
                    table=cell.table.name, row=cell.row_label, column=cell.col_label,
                    sheet=sheet, cell=a1(r, c), key=key))


# ---- the reader -------------------------------------------------------------------------

def _read_workbook(item) -> Report:
    report = Report(path=item.display, mtime=getattr(item, "mtime", 0.0) or 0.0)
    try:
        data = item.read_bytes()
    except FileNotFoundError:
        raise Unreadable("文件不存在（请检查路径是否正确）") from None
    except PermissionError:
        raise Unreadable("没有读取该文件的权限（文件可能正被其他程序独占打开）") from None
    except OSError as e:
        raise Unreadable(f"无法打开文件（{e.strerror or type(e).__name__}）") from None
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(f"文件大小 {len(data) / 2**20:.0f} MB，超过 {MAX_FILE_BYTES // 2**20} MB 的上限，已拒绝读取")
    kind = _sniff(data, getattr(item, "suffix", "") or "")
    pkg = open_package(data) if kind == "zip" else None
    if pkg is not None and pkg.custom.get("nianbao_output") == "aggregate":
        from .aggregate_xlsx import read_aggregate_report  # last year's county sums

        agg = read_aggregate_report(item)
        if agg is not None:
            return agg
    book = Book(item, data, pkg)

    meta = dict(pkg.custom) if pkg else {}
    spec = _spec_from_meta(meta)
    if spec is None:
        sheet_meta = _meta_sheet_values(book)
        meta.update(sheet_meta)
        spec = _spec_from_meta(sheet_meta)
    cover_spec = spec or all_specs()[-1]
    cover = read_cover(book, cover_spec)
    year = parse_year(cover.get("year"))
    if year is None:
        year = parse_year(meta.get("nianbao_year", meta.get("year")))

    located: dict[str, Located] = {}
    if spec is not None:
        lay = workbook_layout(spec)
        for tl in lay.tables:
            located[tl.table.key] = _from_layout(tl) if _confirm(book, tl) else None
        report.source = "template" if all(located.values()) else "labels"
    else:
        spec, _score = detect_spec(book, year)
        report.source = "labels"
        if spec is None:
            names = "、".join(t.name for t in all_specs()[-1].tables)
            raise Unreadable(f"未在工作簿中找到政府信息公开年报统计表（{names}）的表头，"
                             "请使用统一下发的模板填报", book.findings)
    for t in spec.tables:
        if located.get(t.key) is None:
            located[t.key] = locate_table(book, t)
    if not any(loc.found_any for loc in located.values()):
        names = "、".join(t.name for t in spec.tables)
        raise Unreadable(f"未在工作簿中找到政府信息公开年报统计表（{names}）的表头，请使用统一下发的模板填报",
                         book.findings)

    report.form = spec.version
    report.meta.update({"form_id": spec.form_id,
                        "spec_digest": meta.get("nianbao_spec_digest", meta.get("spec_digest", ""))})
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
    report.meta["missing"] = missing_keys
    _read_values(book, spec, report, cells)
    _merged_value_cells(book, spec, report, cells)
    report.findings[:0] = book.findings
    bad = report.invalid - set(missing_keys)
    report.empty = bool(cells) and not bad and len(report.blank) == len(cells)

    stated_unit = _text(cover.get("unit")) or meta.get("nianbao_unit", meta.get("unit", ""))
    report.unit = stated_unit or unit_from_filename(getattr(item, "name", "") or item.display)
    report.year = year
    report.filler = _text(cover.get("filler"))
    report.phone = _text(cover.get("phone"))
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
    return report

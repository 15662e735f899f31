"""The one guard layer between a user's file and any library that parses it.

Whatever comes in as a zip (an .xlsx/.xlsm workbook, a .docx, a .zip of returns) is looked at
here first: what the file really is, the zip directory (sizes, zip-bomb ratios, encryption),
DTD declarations in any XML part, and whether it is one of nianbao's own outputs. Only this
module opens zip members of an input or parses package XML (tests/test_guard.py holds every
other module to that); python-calamine, openpyxl and python-docx open a file after it passed.

It also owns the limits, the registry of supported file suffixes and the accepted range of
report years. The fast paths (reading the zip directory and inflating parts straight from the
buffer) are private here and pinned to zipfile's behaviour by tests/test_reader_fastpath.py.
"""

from __future__ import annotations

import html
import io
import re
import struct
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# What inflating a damaged member raises: such a part is unreadable, never an internal error.
DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    struct.error,
)

# ---- limits (documented in docs/reliability.md) ---------------------------------------
MAX_FILE_BYTES = 50 * 1024 * 1024  # a workbook file
MAX_PART_BYTES = 50 * 1024 * 1024  # one part of an .xlsx package, uncompressed
MAX_PACKAGE_BYTES = 200 * 1024 * 1024  # all parts together, uncompressed
MAX_PART_RATIO = 200  # uncompressed / compressed, for parts above BOMB_MIN_BYTES (zip bomb)
BOMB_MIN_BYTES = 1024 * 1024  # parts smaller than this are never taken for a zip bomb
MAX_ROWS = 10_000  # cells below this row are ignored (a report needs ~40 rows)
MAX_COLS = 256  # cells right of column IV are ignored
MAX_FORMULA_DEPTH = 32
MAX_RANGE_CELLS = 100_000
# .zip archives of returns: members are inflated in memory, so refuse before inflating
MAX_MEMBER_BYTES = 50 * 1024 * 1024  # one member, uncompressed
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024  # all members of one archive together, uncompressed
MAX_ARCHIVE_FILE_BYTES = 200 * 1024 * 1024  # the .zip file itself
MAX_NESTING = 2  # a zip inside a zip inside the given zip at most
# the annotator loads the whole package (openpyxl)
MAX_XML_BYTES = 64 * 1024 * 1024  # inflated XML parts of one package
MAX_TOTAL_BYTES = 256 * 1024 * 1024  # inflated package, media included
MAX_SHEET_ROWS = 10_000  # empty rows below this are dropped before openpyxl loads a sheet
MAX_SHEET_CELLS = 1_000_000  # cell elements of one sheet openpyxl is asked to load
# published reports (.docx) and unit rosters
MAX_DOCX_PART_BYTES = 60 * 1024 * 1024  # uncompressed size of any one part of a .docx
MAX_ROSTER_UNZIPPED = 64 * 1024 * 1024  # a roster workbook, inflated
MAX_PROPERTIES_BYTES = 1024 * 1024  # docProps/custom.xml read for nianbao's own marker
MAX_AGGREGATE_UNZIPPED = 256 * 1024 * 1024  # last year's aggregate, inflated
MAX_EXPORT_DOC_BYTES = 512 * 1024 * 1024  # collection.json of a 报送台 export
MAX_EXPORT_BLOB_BYTES = 200 * 1024 * 1024  # one stored upload in a 报送台 export

# ---- report years -------------------------------------------------------------------------
YEAR_MIN, YEAR_MAX = 2000, 2100  # a report year given on the command line, in a form or a cell


def year_ok(year: int | None) -> bool:
    return year is not None and YEAR_MIN <= year <= YEAR_MAX


# ---- supported files --------------------------------------------------------------------
# returned workbooks; .et/.ett: WPS 表格 (BIFF like .xls or OOXML inside: read by content);
# .ods: OpenDocument
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods", ".xlsb")
WPS_SUFFIXES = (".et", ".ett")
ANNOTATABLE_SUFFIXES = SPREADSHEET_SUFFIXES  # workbooks an annotated copy is made of
TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown")  # published reports as plain text
HTML_SUFFIXES = (".html", ".htm", ".shtml", ".xhtml")  # published reports as web pages
REPORT_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".docx", ".pdf")  # published reports
ARCHIVE_SUFFIXES = (".zip",)
ROSTER_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")  # unit rosters
OUTPUT_SUFFIXES = ("_审核.xlsx", "_审核.xlsm")  # annotated copies written by nianbao
KIND_WORKBOOK, KIND_REPORT, KIND_ARCHIVE = "workbook", "report", "archive"


def kind_of(name: str) -> str | None:
    """workbook | report | archive by the file name's suffix; None: not supported."""
    low = name.lower()
    if low.endswith(SPREADSHEET_SUFFIXES):
        return KIND_WORKBOOK
    if low.endswith(REPORT_SUFFIXES):
        return KIND_REPORT
    if low.endswith(ARCHIVE_SUFFIXES):
        return KIND_ARCHIVE
    return None


# ---- nianbao's own outputs --------------------------------------------------------------
OUTPUT_PROPERTY = "nianbao_output"  # custom document property carried by every nianbao output
OUTPUT_ANNOTATED, OUTPUT_AGGREGATE = "annotated", "aggregate"  # its values
_OUTPUT_MARKER = OUTPUT_PROPERTY.encode()


def is_own_output(custom: dict[str, str]) -> bool:
    """Do a package's custom properties mark it as one of nianbao's outputs?"""
    return OUTPUT_PROPERTY in custom


def output_kind(data: bytes, max_unzipped: int | None = None) -> str:
    """The kind of nianbao output (annotated, aggregate) an .xlsx/.xlsm package is; "" for
    anything else (or a package inflating beyond ``max_unzipped``). Only the zip directory and
    docProps/custom.xml are read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if max_unzipped is not None and sum(i.file_size for i in zf.infolist()) > max_unzipped:
                return ""
            return _output_kind(zf)
    except Exception:
        return ""


def file_output_kind(path: Path | str) -> str:
    """:func:`output_kind` of a file on disk, reading no more of it than needed."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":
                return ""
            try:
                with zipfile.ZipFile(f) as zf:
                    return _output_kind(zf)
            except Exception:
                return ""
    except OSError:
        return ""


def _output_kind(zf: zipfile.ZipFile) -> str:
    info = zf.getinfo("docProps/custom.xml")
    if info.file_size > MAX_PROPERTIES_BYTES:
        return ""
    raw = zf.read(info)
    if _OUTPUT_MARKER not in raw:
        return ""
    return custom_properties(raw).get(OUTPUT_PROPERTY, "") or OUTPUT_ANNOTATED


# ---- DTD declarations -------------------------------------------------------------------
XML_SUFFIXES = (".xml", ".rels", ".vml")
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def has_dtd(data: bytes) -> bool:
    """Does an XML part declare a DTD (entity expansion, external entities)? A DTD can only
    come before the root element, so only the prolog is searched."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        data = data.decode("utf-16", "replace").encode("utf-8")
    m = _ROOT_START.search(data)
    return _DTD.search(data, 0, m.start() if m else len(data)) is not None


def dtd_refusal(name: str, verb: str = "读取") -> str:
    return f"文件中的 {name} 含有 XML 实体声明（DOCTYPE/ENTITY），可能是恶意构造的文件，已拒绝{verb}"


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_MARK = "EncryptedPackage".encode("utf-16-le")
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


class Unreadable(Exception):
    """A known reason the file cannot be read; the message is Chinese."""

    def __init__(self, message: str, findings: list | None = None):
        super().__init__(message)
        self.findings = list(findings or [])


# ---- sniffing and package guards ---------------------------------------------------------


def encrypted_ole(data: bytes) -> bool:
    """Is an OLE (Office 97–2003 container) file an encrypted Office Open XML package?"""
    return _ENCRYPTED_MARK in data[: 1024 * 1024] or _ENCRYPTED_MARK in data[-1024 * 1024 :]


def sniff(data: bytes, suffix: str) -> str:
    """'zip' | 'ole', or raise Unreadable with what the file really is."""
    if not data:
        raise Unreadable("文件是空的（0 字节），请重新导出后再报送")
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if data[:8] == OLE_MAGIC:
        if encrypted_ole(data):
            raise Unreadable("文件设有打开密码（已加密），无法读取；请取消密码后重新报送")
        return "ole"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"%pdf"):
        raise Unreadable(f"这是 PDF 文件，不是 Excel 工作簿（扩展名被改成了 {suffix}）")
    if head.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or b"<html" in head[:512]:
        raise Unreadable("这是网页（HTML）文件，不是 Excel 工作簿；请在 Excel 中另存为 .xlsx 后重新报送")
    if head.startswith(b"<?xml"):
        raise Unreadable(
            "这是 XML 文件（可能是“XML 电子表格”格式），不是 Excel 工作簿；请另存为 .xlsx 后重新报送"
        )
    if b"\x00" not in data[:4096]:
        raise Unreadable(f"这是文本文件，不是 Excel 工作簿（扩展名被改成了 {suffix}）")
    raise Unreadable("不是有效的 Excel 文件（文件已损坏或不是表格）")


# Parts found free of DTDs in this process, by name, CRC and size -> their compressed bytes:
# files made from one template repeat styles, theme, relationships… byte for byte, and equal
# compressed bytes inflate to equal contents (the bytes are compared, not only the CRC).
_PROLOG_OK: dict[tuple[str, int, int], bytes] = {}
_PROLOG_OK_MAX, _PROLOG_OK_MAX_BYTES = 256, 64 * 1024


def _check_prolog(name: str, data: bytes) -> None:
    """XML may declare a DTD only before its root element; refuse any (entity expansion)."""
    if has_dtd(data):
        raise Unreadable(dtd_refusal(name))


class _Entry:
    """A central-directory record: the fields of zipfile.ZipInfo the reader uses."""

    __slots__ = (
        "CRC",
        "compress_size",
        "compress_type",
        "file_size",
        "filename",
        "flag_bits",
        "header_offset",
    )

    def is_dir(self) -> bool:
        return self.filename.endswith("/")


_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # zipfile's structCentralDir


def _directory(data: bytes) -> list[_Entry] | None:
    """The central directory of a plain zip (no archive comment, no zip64, nothing in front),
    read straight from the buffer as zipfile would read it; None for anything else, which
    zipfile then reads (or rejects) itself."""
    n = len(data)
    if (
        n < 22
        or data[n - 22 : n - 18] != b"PK\x05\x06"
        or data[n - 2 :] != b"\0\0"
        or data[n - 42 : n - 38] == b"PK\x06\x07"
    ):
        return None
    size_cd, offset_cd = struct.unpack("<2L", data[n - 10 : n - 2])
    p, end = offset_cd, offset_cd + size_cd
    if end != n - 22:  # data in front of the archive, or a directory of the wrong size
        return None
    out = []
    try:
        while p < end:
            rec = _CENTRAL.unpack_from(data, p)
            fn, ex, cm = rec[12], rec[13], rec[14]
            q = p + 46
            if (
                rec[0] != b"PK\x01\x02"
                or rec[3] > 63
                or q + fn + ex + cm > end
                or 0xFFFFFFFF in (rec[10], rec[11], rec[18])
            ):
                return None
            extra = data[q + fn : q + fn + ex]
            while len(extra) >= 4:  # as ZipInfo._decodeExtra: a corrupt field is an error
                ln = int.from_bytes(extra[2:4], "little")
                if ln + 4 > len(extra):
                    return None
                extra = extra[ln + 4 :]
            raw = data[q : q + fn]
            name = raw.decode("ascii" if raw.isascii() else "utf-8" if rec[5] & 0x800 else "cp437")
            if "\0" in name:
                name = name[: name.index("\0")]
            e = _Entry()
            e.filename, e.flag_bits, e.compress_type, e.CRC = name, rec[5], rec[6], rec[9]
            e.compress_size, e.file_size, e.header_offset = rec[10], rec[11], rec[18]
            out.append(e)
            p = q + fn + ex + cm
    except (struct.error, ValueError):
        return None
    return out


@dataclass
class Package:
    """What the zip directory and the small XML parts of an .xlsx/.xlsm say."""

    data: bytes
    zf: zipfile.ZipFile | None  # opened when first needed (unusual members, rebuilding)
    infos: dict[str, zipfile.ZipInfo | _Entry]
    sheet_parts: dict[str, str]  # sheet name -> part name
    custom: dict[str, str] = field(default_factory=dict)
    calc_chain: bool = False
    cache: dict[str, bytes] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)  # parts whose start was checked for a DTD
    kind: str = "xlsx"  # "ods" (OpenDocument) and "xlsb" (binary parts) are read by calamine alone

    def read(self, name: str) -> bytes:
        """Inflate one part, never beyond its declared size (a lying size is corruption)."""
        if name in self.cache:
            return self.cache[name]
        info = self.infos[name]
        try:
            blob = self._inflate(info)
        except DAMAGED as e:
            raise Unreadable(
                f"文件已损坏：其中的 {name} 无法解压（技术信息：{type(e).__name__}），请重新报送"
            ) from None
        if len(blob) > info.file_size:
            raise Unreadable(f"文件已损坏：其中的 {name} 的实际大小与记录不符，已拒绝读取")
        _check_prolog(name, blob)
        self.cache[name] = blob
        return blob

    def _inflate(self, info: zipfile.ZipInfo) -> bytes:
        """Inflate a member straight from the buffer (a third of zipfile's cost), never past
        its declared size, with the CRC checked; zipfile handles anything unusual."""
        data, off = self.data, info.header_offset
        if (
            info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            or data[off : off + 4] != b"PK\x03\x04"
        ):
            with self._zipfile().open(info.filename) as f:
                return f.read(info.file_size + 1)
        n, m = struct.unpack("<HH", data[off + 26 : off + 30])
        start = off + 30 + n + m
        raw = data[start : start + info.compress_size]
        if info.compress_type == zipfile.ZIP_DEFLATED:
            out = zlib.decompressobj(-15).decompress(raw, info.file_size + 1)
        else:
            out = raw
        if len(out) <= info.file_size and zlib.crc32(out) != info.CRC:
            raise zipfile.BadZipFile("CRC")
        return out

    def head(self, name: str, size: int = 2048) -> bytes:
        """The first ``size`` bytes of a part, inflating no more than that."""
        info = self.infos[name]
        data, off = self.data, info.header_offset
        if (
            info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
            and data[off : off + 4] == b"PK\x03\x04"
        ):
            n, m = struct.unpack("<HH", data[off + 26 : off + 30])
            raw = data[off + 30 + n + m : off + 30 + n + m + info.compress_size]
            if info.compress_type == zipfile.ZIP_STORED:
                return raw[:size]
            return zlib.decompressobj(-15).decompress(raw, size)
        with self._zipfile().open(info.filename) as f:
            return f.read(size)

    def read_until(self, name: str, end: bytes, step: int = 4096) -> bytes:
        """The start of a part up to and including the first ``end`` (the whole part, CRC
        checked, when it does not occur), inflating no further than needed (``step`` bytes at a
        time). A part read in part has no CRC check (python-calamine does not check CRCs
        either): a damaged stream still fails to inflate or to parse, and checking the CRC
        would mean inflating the whole part (表三's long list of input prompts) for nothing else."""
        info = self.infos[name]
        data, off = self.data, info.header_offset
        if (
            name in self.cache
            or info.compress_type != zipfile.ZIP_DEFLATED
            or data[off : off + 4] != b"PK\x03\x04"
        ):
            return self.read(name)
        n, m = struct.unpack("<HH", data[off + 26 : off + 30])
        start = off + 30 + n + m
        d = zlib.decompressobj(-15)
        pending = data[start : start + info.compress_size]
        parts: list[bytes] = []
        size, tail, keep = 0, b"", len(end) - 1
        try:
            while size <= info.file_size:
                chunk = d.decompress(pending, step)
                pending = d.unconsumed_tail
                if not chunk:  # the end of the stream (or no progress): read() decides
                    break
                window = tail + chunk if tail else chunk
                at = window.find(end)
                if at >= 0:
                    parts.append(chunk[: at - len(tail) + len(end)])
                    out = b"".join(parts)
                    _check_prolog(name, out)
                    self.checked.add(name)
                    return out
                parts.append(chunk)
                size += len(chunk)
                tail = window[-keep:] if keep else b""
        except zlib.error:
            pass  # read() reports the damage
        return self.read(name)

    def check_prologs(self) -> None:
        """Refuse a DTD/ENTITY declaration in ANY XML part, not only the parts read here
        (python-calamine would fail on it with a vague message, or never look at it)."""
        sheets = set(self.sheet_parts.values())  # checked by read() when (if) they are read
        for name, info in self.infos.items():
            if (
                name in self.cache
                or name in self.checked
                or name in sheets
                or not name.endswith((".xml", ".rels", ".vml"))
            ):
                continue
            raw = self._raw(info)
            key = (name, info.CRC, info.file_size)
            if raw is not None and _PROLOG_OK.get(key) == raw:
                continue  # these very bytes passed in an earlier file
            try:
                head = self.head(name)
            except DAMAGED:
                continue  # a damaged part is reported when (if) it is read
            if _ROOT_START.search(head) is None and info.file_size > len(head):
                self.read(name)  # the prolog runs on (comments, padding): read() checks all of it
            else:
                _check_prolog(name, head)
            if raw is not None and len(raw) <= _PROLOG_OK_MAX_BYTES:
                if len(_PROLOG_OK) >= _PROLOG_OK_MAX:
                    _PROLOG_OK.clear()
                _PROLOG_OK[key] = raw

    def _raw(self, info) -> bytes | None:
        """The compressed bytes of a plain member, as stored (None for anything unusual)."""
        data, off = self.data, info.header_offset
        if data[off : off + 4] != b"PK\x03\x04":
            return None
        n, m = struct.unpack("<HH", data[off + 26 : off + 30])
        start = off + 30 + n + m
        return data[start : start + info.compress_size]

    def read_binary(self, name: str) -> bytes:
        """A non-XML part (pictures, binary parts), inflated no further than its declared size."""
        try:
            blob = self._inflate(self.infos[name])
        except (*_ZIP_ERRORS, struct.error):
            raise Unreadable(f"文件已损坏：其中的 {name} 无法解压，请重新报送") from None
        if len(blob) > self.infos[name].file_size:
            raise Unreadable(f"文件已损坏：其中的 {name} 的实际大小与记录不符，已拒绝读取")
        return blob

    def _zipfile(self) -> zipfile.ZipFile:
        if self.zf is None:
            self.zf = zipfile.ZipFile(io.BytesIO(self.data))
        return self.zf

    @property
    def app(self) -> str:
        """docProps/app.xml Application: the program that last saved the file."""
        info = self.infos.get("docProps/app.xml")
        if info is None or info.file_size > MAX_PROPERTIES_BYTES:
            return ""
        m = _APP.search(self.read("docProps/app.xml"))
        return html.unescape(m.group(1).decode("utf-8", "replace")).strip() if m else ""

    @property
    def trusted_cache(self) -> bool:
        """Were cached formula values computed by a spreadsheet program?"""
        app = self.app.lower()
        return self.calc_chain or any(w in app for w in ("libreoffice", "openoffice", "wps", "kingsoft"))


_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def xml_attrs(raw: bytes) -> dict[str, str]:
    """Attributes of a tag by local name (the first of each name wins), entities resolved.
    The result may be shared between calls: read it, never change it."""
    return _attrs_cached(raw) if len(raw) < 512 else parse_attrs(raw)


def parse_attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for key, v1, v2 in _ATTR.findall(raw):
        key = key.rpartition(b":")[2].decode("ascii", "replace")
        if key not in out:
            val = (v1 or v2).decode("utf-8", "replace")
            out[key] = html.unescape(val) if "&" in val else val
    return out


# the tags of a batch made from one template repeat from file to file
_attrs_cached = lru_cache(maxsize=4096)(parse_attrs)

_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\b([^>]*)/?>")
_REL_TAG = re.compile(rb"<(?:\w+:)?Relationship\b([^>]*)/?>")
_PROP = re.compile(rb"<(?:\w+:)?property\b([^>]*)>(.*?)</(?:\w+:)?property>", re.DOTALL)
_TAGTEXT = re.compile(rb">([^<]*)<")
_APP = re.compile(rb"<(?:\w+:)?Application>([^<]*)<")


def custom_properties(raw: bytes) -> dict[str, str]:
    """The custom document properties of a docProps/custom.xml: name -> text."""
    out = {}
    for m in _PROP.finditer(raw):
        name = xml_attrs(m.group(1)).get("name", "")
        t = _TAGTEXT.search(m.group(2))
        if name and t:
            v = t.group(1).decode("utf-8", "replace")
            out[name] = (html.unescape(v) if "&" in v else v).strip()
    return out


def _bomb(info) -> bool:
    """Does a member inflate suspiciously far (a zip bomb)?"""
    return info.file_size > BOMB_MIN_BYTES and info.file_size > MAX_PART_RATIO * max(info.compress_size, 1)


@lru_cache(maxsize=1024)
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


_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"


def _other_spreadsheet(pkg: Package, wb_part: str) -> str:
    """'ods' or 'xlsb' for the zip spreadsheets that are no OOXML .xlsx, else ''."""
    infos = pkg.infos
    if wb_part.endswith(".bin") and wb_part in infos:
        return "xlsb"
    small = "mimetype" in infos and infos["mimetype"].file_size < 200
    # the mimetype also starts so for an OpenDocument spreadsheet template (…-template)
    if "content.xml" in infos and small and pkg.read("mimetype").strip().startswith(_ODS_MIME):
        return "ods"
    return ""


def open_package(data: bytes) -> Package:
    zf = None
    infolist = _directory(data)
    if infolist is None:
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
            raise Unreadable(
                f"文件中的 {i.filename} 解压后达 {i.file_size / 2**20:.0f} MB，超过 "
                f"{MAX_PART_BYTES // 2**20} MB 的上限（疑似压缩炸弹），已拒绝读取"
            )
        if _bomb(i):
            raise Unreadable(
                f"文件中的 {i.filename} 压缩比异常（{i.file_size // max(i.compress_size, 1)} 倍，"
                "疑似压缩炸弹），已拒绝读取"
            )
    if total > MAX_PACKAGE_BYTES:
        raise Unreadable(
            f"文件解压后总大小 {total / 2**20:.0f} MB，"
            f"超过 {MAX_PACKAGE_BYTES // 2**20} MB 的上限，已拒绝读取"
        )
    pkg = Package(data=data, zf=zf, infos=infos, sheet_parts={})
    wb_part = "xl/workbook.xml"
    if wb_part not in infos and "_rels/.rels" in infos:
        for m in _REL_TAG.finditer(pkg.read("_rels/.rels")):
            a = xml_attrs(m.group(1))
            if a.get("Type", "").endswith("/officeDocument") and a.get("Target"):
                wb_part = _resolve("", a["Target"])
    other = _other_spreadsheet(pkg, wb_part)
    if other:
        pkg.kind = other
        pkg.check_prologs()
        return pkg
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
            a = xml_attrs(m.group(1))
            if a.get("Id") and a.get("Target"):
                targets[a["Id"]] = _resolve(wb_dir, a["Target"])
    wb_xml = pkg.read_until(wb_part, b"</sheets>")  # not the long definedNames after the sheet list
    end = wb_xml.rfind(b"sheets>")
    for m in _SHEET_TAG.finditer(wb_xml, 0, len(wb_xml) if end < 0 else end):
        a = xml_attrs(m.group(1))
        part = targets.get(a.get("id", ""))
        if a.get("name") and part in infos:
            pkg.sheet_parts[a["name"]] = part
    if "docProps/custom.xml" in infos and infos["docProps/custom.xml"].file_size < MAX_PROPERTIES_BYTES:
        pkg.custom = custom_properties(pkg.read("docProps/custom.xml"))
    pkg.calc_chain = any(n.endswith("calcChain.xml") for n in infos)
    pkg.check_prologs()
    return pkg


# ---- .zip archives of returns -----------------------------------------------------------


class ArchiveError(Exception):
    """An archive or one of its members cannot be unpacked; the message is Chinese."""


def member_name(info: zipfile.ZipInfo) -> str:
    """The real name of a member: names without the UTF-8 flag are UTF-8 (macOS, 7-Zip) or GBK
    (Windows Explorer on a Chinese system), not the cp437 zipfile assumes."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for enc in ("utf-8", "gbk"):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return info.filename


def member_mtime(info: zipfile.ZipInfo) -> float:
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0


class Archive:
    """The members of a .zip the user gave, each inflated only when asked for, within limits."""

    def __init__(self, data: bytes | Path):
        """``data``: the archive's bytes, or the path of a file (read as needed, not all at once)."""
        try:
            self._zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
            infos = self._zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
            raise ArchiveError("压缩包已损坏或不是 zip 格式，无法解压") from None
        # (real name, member) of every file, in name order
        self.members = sorted(((member_name(i), i) for i in infos if not i.is_dir()), key=lambda x: x[0])
        self.total = 0  # bytes inflated so far

    def refusal(self, info: zipfile.ZipInfo) -> str | None:
        """Why a member is not unpacked (too large, a zip bomb, the archive's limit reached,
        a password), judged from the directory before anything is inflated."""
        size, packed = info.file_size, max(info.compress_size, 1)
        if size > MAX_MEMBER_BYTES:
            return f"解压后大小为 {size / 2**20:.0f} MB，超过 {MAX_MEMBER_BYTES // 2**20} MB 的上限，未解压"
        if _bomb(info):
            return f"压缩比异常（{size // packed} 倍，疑似压缩炸弹），未解压"
        if self.total + size > MAX_ARCHIVE_BYTES:
            return f"压缩包解压后总大小超过 {MAX_ARCHIVE_BYTES // 2**20} MB 的上限，其余文件未解压"
        if info.flag_bits & 0x1:
            return "压缩包中的文件设有密码，无法解压"
        return None

    def read(self, info: zipfile.ZipInfo | str, limit: int | None = None) -> bytes:
        """A member's bytes, by member or by name (call :meth:`refusal` first), at most ``limit``
        (MAX_MEMBER_BYTES) of them; ArchiveError when it cannot be had."""
        limit = MAX_MEMBER_BYTES if limit is None else limit
        try:
            with self._zf.open(info) as f:
                blob = f.read(limit + 1)
        except KeyError:
            raise ArchiveError(f"压缩包中没有 {info}") from None
        except _ZIP_ERRORS as e:
            raise ArchiveError(f"压缩包中的文件已损坏，无法解压（技术信息：{type(e).__name__}）") from None
        if len(blob) > limit:
            raise ArchiveError(f"解压后超过 {limit // 2**20} MB，未读取")
        self.total += len(blob)
        return blob


def archive_file_count(path: Path | str) -> int:
    """How many files a .zip on disk holds, from its directory (1 when it cannot be read)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(1 for i in zf.infolist() if not i.is_dir()) or 1
    except Exception:
        return 1


def unzipped_size(path: Path | str) -> int | None:
    """The inflated size of a zip package on disk by its directory; None when it is no zip."""
    try:
        if not zipfile.is_zipfile(path):
            return None
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return None


# ---- whole packages for the annotator ---------------------------------------------------


class PackageError(Exception):
    """The package cannot be handled (too large, not a zip, broken parts); Chinese message."""


def unpack_parts(data: bytes) -> dict[str, bytes]:
    """Every part of a zip package by name, in the original order, for a copy to be made of
    it: within MAX_TOTAL_BYTES (MAX_XML_BYTES without the media), no DTD in any XML part."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in zf.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise PackageError(f"不是有效的 Excel 文件（{e}）") from None
    total = sum(i.file_size for i in infos)
    xml = sum(i.file_size for i in infos if not i.filename.startswith("xl/media/"))
    if total > MAX_TOTAL_BYTES or xml > MAX_XML_BYTES:
        raise PackageError(f"文件解压后过大（{total // (1024 * 1024)} MB），超过处理上限")
    parts: dict[str, bytes] = {}
    try:
        for i in infos:
            parts[i.filename] = zf.read(i)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise PackageError(f"文件已损坏（{e}）") from None
    for name, blob in parts.items():
        if name.lower().endswith(XML_SUFFIXES) and has_dtd(blob):
            raise PackageError(dtd_refusal(name, "处理"))
    return parts


def parse_xml(blob: bytes):
    """An XML part of a package that passed this guard, as an ElementTree element (defusedxml:
    no entities, no external references even so)."""
    from defusedxml import ElementTree

    return ElementTree.fromstring(blob)


def iter_xml(blob: bytes, events=("end",)):
    """(event, element) of an XML part as it is parsed (defusedxml), for large sheet parts."""
    from defusedxml import ElementTree

    return ElementTree.iterparse(io.BytesIO(blob), events=events)


# ---- Word documents (published reports) -------------------------------------------------


class NotAZip(Exception):
    """The data is not a zip package at all (the caller says what it is instead)."""


def screen_docx(data: bytes) -> None:
    """Refuse a .docx python-docx must not open: PackageError (Chinese) for a package without
    word/document.xml, with a password, a zip bomb or a DTD; NotAZip when it is no zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if "word/document.xml" not in {i.filename for i in infos}:
                raise PackageError("不是 Word 文档（缺少 word/document.xml）")
            for i in infos:
                if i.flag_bits & 0x1:
                    raise PackageError("文件设有密码，无法读取")
                if i.file_size > MAX_DOCX_PART_BYTES or _bomb(i):
                    raise PackageError("文件内容异常巨大（疑似压缩炸弹），未读取")
            for i in infos:  # python-docx must never see a DTD (entity expansion, external entities)
                if i.filename.lower().endswith(XML_SUFFIXES):
                    with zf.open(i) as f:
                        if has_dtd(f.read(1 << 16)):
                            raise PackageError(dtd_refusal(i.filename))
    except _ZIP_ERRORS:
        raise NotAZip() from None

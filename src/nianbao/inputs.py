"""Turn the user's paths (files, folders, .zip archives) into a list of inputs to read.

Nothing is silently dropped: every path ends up as an item to read, a skipped file with a
reason (lock files, hidden files, nianbao's own outputs) or an unsupported file. Inputs are only
ever opened for reading.
"""
from __future__ import annotations

import io
import os
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls")
REPORT_SUFFIXES = (".txt", ".html", ".htm", ".docx", ".pdf")
ARCHIVE_SUFFIXES = (".zip",)
OUTPUT_SUFFIXES = ("_审核.xlsx", "_审核.xlsm")  # annotated copies written by nianbao
OUTPUT_MARKER = b"nianbao_output"  # custom document property carried by every nianbao output

# Archive guards: members are inflated in memory, so refuse before inflating anything big.
MAX_MEMBER_BYTES = 50 * 1024 * 1024  # one member, uncompressed
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024  # all members of one archive together, uncompressed
MAX_ARCHIVE_FILE_BYTES = 200 * 1024 * 1024  # the .zip file itself
MAX_RATIO = 200  # uncompressed / compressed, for members above 1 MB
MAX_NESTING = 2  # a zip inside a zip inside the given zip at most

KIND_WORKBOOK, KIND_REPORT, KIND_UNSUPPORTED = "workbook", "report", "unsupported"

SKIP_LOCK = "Excel/WPS 临时锁定文件（~$ 开头，文件正被打开），已跳过"
SKIP_HIDDEN = "隐藏文件，已跳过"
SKIP_OUTPUT = "nianbao 生成的文件（批注副本或汇总表），已跳过"


@dataclass
class Input:
    display: str  # what the user sees: a path, or archive.zip!folder/member.xlsx
    name: str  # file name only
    suffix: str  # lower case, with the dot
    path: Path | None = None  # a file on disk (None for archive members)
    data: bytes | None = None  # the bytes of an archive member (None for files on disk)
    mtime: float = 0.0
    kind: str = KIND_WORKBOOK
    error: str | None = None  # set when the item cannot be read at all (Chinese reason)

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.path is None:
            raise FileNotFoundError(self.display)
        with open(self.path, "rb") as f:  # read-only; never locks or modifies the input
            return f.read()


@dataclass
class Collected:
    items: list[Input] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (display, reason)
    unsupported: list[Input] = field(default_factory=list)
    skip_outputs: bool = True


def kind_of(name: str) -> str | None:
    low = name.lower()
    if low.endswith(SPREADSHEET_SUFFIXES):
        return KIND_WORKBOOK
    if low.endswith(REPORT_SUFFIXES):
        return KIND_REPORT
    if low.endswith(ARCHIVE_SUFFIXES):
        return "archive"
    return None


def _suffix(name: str) -> str:
    i = name.rfind(".")
    return name[i:].lower() if i > 0 else ""


def carries_output_marker(data: bytes) -> bool:
    """True when an .xlsx/.xlsm package has nianbao's output property (docProps/custom.xml)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("docProps/custom.xml")
            if info.file_size > 1024 * 1024:
                return False
            return OUTPUT_MARKER in zf.read(info)
    except Exception:  # noqa: BLE001 - any damage (zlib.error, bad sizes…) means "not our output"
        return False


def _file_has_marker(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head != b"PK\x03\x04":
                return False
            try:
                with zipfile.ZipFile(f) as zf:
                    info = zf.getinfo("docProps/custom.xml")
                    return info.file_size <= 1024 * 1024 and OUTPUT_MARKER in zf.read(info)
            except Exception:  # noqa: BLE001 - a damaged package is read (and reported) later
                return False
    except OSError:
        return False


def skip_reason(name: str, hidden_check: bool = True) -> str | None:
    if name.startswith("~$"):
        return SKIP_LOCK
    if hidden_check and name.startswith("."):
        return SKIP_HIDDEN
    if name.lower().endswith(OUTPUT_SUFFIXES):
        return SKIP_OUTPUT
    return None


def collect(paths: list[Path], skip_outputs: bool = True) -> Collected:
    """Expand the user's paths into inputs, in a deterministic order.

    ``skip_outputs=False`` keeps nianbao's own outputs (e.g. last year's aggregate given to
    ``--previous``)."""
    out = Collected()
    seen: set[str] = set()
    out.skip_outputs = skip_outputs
    for p in paths:
        p = Path(p)
        try:
            exists, is_dir = p.exists(), p.is_dir()
        except OSError:
            exists, is_dir = False, False
        if not exists:
            out.items.append(Input(display=str(p), name=p.name, suffix=_suffix(p.name), path=p,
                                   kind=kind_of(p.name) or KIND_UNSUPPORTED,
                                   error="文件不存在（请检查路径是否正确）"))
        elif is_dir:
            _walk(p, out, seen)
        else:
            _add_file(p, out, seen, hidden_check=False)
    return out


def _walk(root: Path, out: Collected, seen: set[str]) -> None:
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append):
        hidden = sorted(d for d in dirnames if d.startswith("."))
        for d in hidden:
            out.skipped.append((str(Path(dirpath) / d), "隐藏文件夹，已跳过"))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            _add_file(Path(dirpath) / fn, out, seen, hidden_check=True)
    for e in errors:
        where = e.filename or str(root)
        out.items.append(Input(display=str(where), name=Path(where).name, suffix="", path=Path(where),
                               kind=KIND_UNSUPPORTED,
                               error=f"无法打开文件夹（{e.strerror or e}）"))


def _add_file(p: Path, out: Collected, seen: set[str], hidden_check: bool) -> None:
    try:
        key = str(p.resolve())
    except OSError:
        key = str(p)
    if key in seen:
        return
    seen.add(key)
    name = p.name
    reason = skip_reason(name, hidden_check)
    if reason == SKIP_OUTPUT and not out.skip_outputs:
        reason = None
    if reason:
        out.skipped.append((str(p), reason))
        return
    try:
        st = p.stat()
        mtime = st.st_mtime
        if hidden_check and getattr(st, "st_file_attributes", 0) & 0x2:  # Windows "hidden"
            out.skipped.append((str(p), SKIP_HIDDEN))
            return
    except OSError:
        mtime = 0.0
    kind = kind_of(name)
    if kind == "archive":
        _add_archive_file(p, out)
        return
    item = Input(display=str(p), name=name, suffix=_suffix(name), path=p, mtime=mtime,
                 kind=kind or KIND_UNSUPPORTED)
    if kind is None:
        out.unsupported.append(item)
        return
    if out.skip_outputs and item.suffix in (".xlsx", ".xlsm") and _file_has_marker(p):
        out.skipped.append((str(p), SKIP_OUTPUT))
        return
    out.items.append(item)


def _add_archive_file(p: Path, out: Collected) -> None:
    try:
        with open(p, "rb") as f:
            data = f.read() if p.stat().st_size <= MAX_ARCHIVE_FILE_BYTES else None
    except OSError as e:
        out.items.append(Input(display=str(p), name=p.name, suffix=".zip", path=p,
                               kind=KIND_UNSUPPORTED, error=f"无法打开压缩包（{e.strerror or e}）"))
        return
    if data is None:
        out.items.append(Input(display=str(p), name=p.name, suffix=".zip", path=p,
                               kind=KIND_UNSUPPORTED,
                               error=f"压缩包超过 {MAX_ARCHIVE_FILE_BYTES // 2**20} MB，未解压"))
        return
    _add_archive(data, str(p), p.name, p, out, depth=0)


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


def _add_archive(data: bytes, display: str, name: str, path: Path | None, out: Collected,
                 depth: int) -> None:
    def bad(reason: str) -> None:
        out.items.append(Input(display=display, name=name, suffix=".zip", path=path,
                               data=None if path else data, kind=KIND_UNSUPPORTED, error=reason))

    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        bad("压缩包已损坏或不是 zip 格式，无法解压")
        return
    total = 0
    members = sorted(((member_name(i), i) for i in infos if not i.is_dir()), key=lambda x: x[0])
    for mname, info in members:
        mdisplay = f"{display}!{mname}"
        parts = [s for s in mname.replace("\\", "/").split("/") if s]
        base = parts[-1] if parts else mname
        if any(s.startswith(".") or s == "__MACOSX" for s in parts):
            out.skipped.append((mdisplay, SKIP_HIDDEN))
            continue
        reason = skip_reason(base)
        if reason == SKIP_OUTPUT and not out.skip_outputs:
            reason = None
        if reason:
            out.skipped.append((mdisplay, reason))
            continue
        kind = kind_of(base)
        mtime = _zip_mtime(info)
        item = Input(display=mdisplay, name=base, suffix=_suffix(base), mtime=mtime,
                     kind=kind if kind in (KIND_WORKBOOK, KIND_REPORT) else KIND_UNSUPPORTED)
        if kind is None:
            out.unsupported.append(item)
            continue
        if kind == "archive" and depth >= MAX_NESTING:
            item.error = "压缩包嵌套层数过多，未解压"
            out.items.append(item)
            continue
        refuse = _member_refusal(info, total)
        if refuse:
            item.error = refuse
            out.items.append(item)
            continue
        if info.flag_bits & 0x1:
            item.error = "压缩包中的文件设有密码，无法解压"
            out.items.append(item)
            continue
        try:
            with zf.open(info) as f:
                blob = f.read(MAX_MEMBER_BYTES + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError,
                RuntimeError, zlib.error) as e:
            item.error = f"压缩包中的文件已损坏，无法解压（{type(e).__name__}）"
            out.items.append(item)
            continue
        if len(blob) > MAX_MEMBER_BYTES:
            item.error = f"解压后超过 {MAX_MEMBER_BYTES // 2**20} MB，未读取"
            out.items.append(item)
            continue
        total += len(blob)
        if kind == "archive":
            _add_archive(blob, mdisplay, base, None, out, depth + 1)
            continue
        item.data = blob
        if out.skip_outputs and item.suffix in (".xlsx", ".xlsm") and carries_output_marker(blob):
            out.skipped.append((mdisplay, SKIP_OUTPUT))
            continue
        out.items.append(item)


def _member_refusal(info: zipfile.ZipInfo, total_so_far: int) -> str | None:
    size, packed = info.file_size, max(info.compress_size, 1)
    if size > MAX_MEMBER_BYTES:
        return f"解压后大小为 {size / 2**20:.0f} MB，超过 {MAX_MEMBER_BYTES // 2**20} MB 的上限，未解压"
    if size > 1024 * 1024 and size / packed > MAX_RATIO:
        return f"压缩比异常（{size // packed} 倍，疑似压缩炸弹），未解压"
    if total_so_far + size > MAX_ARCHIVE_BYTES:
        return f"压缩包解压后总大小超过 {MAX_ARCHIVE_BYTES // 2**20} MB 的上限，其余文件未解压"
    return None


def _zip_mtime(info: zipfile.ZipInfo) -> float:
    try:
        return time.mktime(info.date_time + (0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0

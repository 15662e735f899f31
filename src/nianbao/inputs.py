"""Turn the user's paths (files, folders, .zip archives) into the inputs to read.

Nothing is silently dropped: every path ends up as an item to read, a skipped file with a
reason (lock files, hidden files, nianbao's own outputs) or an unsupported file. Inputs are only
ever opened for reading. :func:`iter_collect` streams them (memory stays flat however many files
a folder holds); :func:`collect` gathers the same stream into lists.
"""

from __future__ import annotations

import io
import os
import stat
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .fileio import TEMP_PREFIX

# .et/.ett: WPS 表格 (BIFF like .xls or OOXML inside: read by content); .ods: OpenDocument
SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et", ".ett", ".ods", ".xlsb")
WPS_SUFFIXES = (".et", ".ett")
REPORT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".shtml", ".docx", ".pdf")
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
READ_AGGREGATES = "read_aggregates"  # Input.output_check of a roll-up: only annotated copies skipped
SKIP_HIDDEN_DIR = "隐藏文件夹，已跳过"
SKIP_LINKED_DIR = "指向其他位置的文件夹链接，已跳过"

# What iter_collect yields: (ITEM, Input), (SKIPPED, (display, reason)), (UNSUPPORTED, Input)
ITEM, SKIPPED, UNSUPPORTED = "item", "skipped", "unsupported"


@dataclass(slots=True)
class Input:
    display: str  # what the user sees: a path, or archive.zip!folder/member.xlsx
    name: str  # file name only
    suffix: str  # lower case, with the dot
    path: Path | None = None  # a file on disk (None for archive members)
    data: bytes | None = None  # the bytes of an archive member (None for files on disk)
    mtime: float = 0.0
    kind: str = KIND_WORKBOOK
    error: str | None = None  # set when the item cannot be read at all (Chinese reason)
    # not yet known whether this is one of nianbao's own outputs: the reader looks at the
    # package's custom properties (which it parses anyway) and reports it as skipped
    # (READ_AGGREGATES: all but aggregates, which a roll-up reads as units)
    output_check: bool | str = False

    @classmethod
    def of(cls, path: Path | str) -> Input:
        """One file on disk, named directly (no folder walk, no output-marker check)."""
        p = Path(path)
        kind = kind_of(p.name)
        return cls(
            display=str(p),
            name=p.name,
            suffix=p.suffix.lower(),
            path=p,
            kind=kind if kind in (KIND_WORKBOOK, KIND_REPORT) else KIND_UNSUPPORTED,
        )

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
    except Exception:
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
            except Exception:
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


def iter_collect(
    paths: Iterable[Path], skip_outputs: bool = True, defer_output_check: bool = False
) -> Iterator[tuple[str, object]]:
    """Expand the user's paths one input at a time, in a deterministic order (sorted per folder).

    Yields ``(ITEM, Input)``, ``(SKIPPED, (display, reason))`` or ``(UNSUPPORTED, Input)`` as
    they are found, so that a folder of 100,000 files is never held as a list. A file is opened
    only to see whether it is one of nianbao's own outputs (a few bytes of the package), and
    only when it is its turn. ``skip_outputs=False`` keeps nianbao's own outputs (e.g. last
    year's aggregate given to ``--previous``). ``defer_output_check`` leaves that look to the
    reader (in the worker processes): workbooks come out with ``output_check`` set, and the
    reader returns a Report whose ``skipped`` holds the reason when the file is an output."""
    seen = _Seen()
    skip: bool | str = "defer" if skip_outputs and defer_output_check else skip_outputs
    for p in paths:
        p = Path(p)
        try:
            exists, is_dir = p.exists(), p.is_dir()
        except OSError:
            exists, is_dir = False, False
        if not exists:
            yield (
                ITEM,
                Input(
                    display=str(p),
                    name=p.name,
                    suffix=_suffix(p.name),
                    path=p,
                    kind=kind_of(p.name) or KIND_UNSUPPORTED,
                    error=f"{'文件' if kind_of(p.name) else '文件夹'}不存在（请检查路径是否正确）",
                ),
            )
        elif is_dir:
            yield from _walk(p, seen, skip)
        elif seen.new_file(os.path.realpath(p)):
            try:
                st = p.stat()
            except OSError:
                st = None
            yield from _file(p, st, skip, hidden_check=False)


def collect(paths: list[Path], skip_outputs: bool = True, defer_output_check: bool = False) -> Collected:
    """Every input of the user's paths at once (see :func:`iter_collect`)."""
    out = Collected(skip_outputs=skip_outputs)
    lists = {ITEM: out.items, SKIPPED: out.skipped, UNSUPPORTED: out.unsupported}
    for tag, x in iter_collect(paths, skip_outputs, defer_output_check):
        lists[tag].append(x)
    return out


def count_inputs(paths: Iterable[Path]) -> int:
    """About how many inputs :func:`iter_collect` will yield (for a progress bar): folders are
    listed and zip directories read, nothing is kept and no workbook is opened."""
    n = 0
    stack = [Path(p) for p in paths]
    while stack:
        p = stack.pop()
        try:
            if p.is_dir():
                with os.scandir(p) as it:
                    for e in it:
                        if e.name.startswith("."):
                            continue
                        try:
                            is_dir = e.is_dir() and not e.is_symlink()
                        except OSError:
                            is_dir = False
                        if is_dir:
                            stack.append(Path(e.path))
                        elif not skip_reason(e.name):
                            n += _zip_count(e.path) if kind_of(e.name) == "archive" else 1
            else:
                n += _zip_count(p) if kind_of(p.name) == "archive" else 1
        except OSError:
            n += 1
    return n


def _zip_count(path) -> int:
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(1 for i in zf.infolist() if not i.is_dir()) or 1
    except Exception:
        return 1


class _Seen:
    """Which files were listed already, so that overlapping paths list a file once.

    Folders are remembered by their real path, one key per folder rather than per file; only
    files given by name and links to files need a key of their own."""

    def __init__(self):
        self.dirs: set[str] = set()
        self.files: set[str] = set()

    def new_dir(self, path: str) -> str | None:
        """The folder's real path, or None when it was walked already."""
        real = os.path.realpath(path)
        if real in self.dirs:
            return None
        self.dirs.add(real)
        return real

    def new_file(self, real: str) -> bool:
        if real in self.files or os.path.dirname(real) in self.dirs:
            return False
        self.files.add(real)
        return True


def _walk(root: Path, seen: _Seen, skip_outputs: bool | str) -> Iterator[tuple[str, object]]:
    """Each folder's files in name order, then its sub-folders, depth first."""
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        real = seen.new_dir(folder)
        if real is None:
            continue
        try:
            names = sorted(os.listdir(folder))
        except OSError as e:
            yield (
                ITEM,
                Input(
                    display=folder,
                    name=os.path.basename(folder),
                    suffix="",
                    path=Path(folder),
                    kind=KIND_UNSUPPORTED,
                    error=f"无法打开文件夹（{e.strerror or e}）",
                ),
            )
            continue
        subdirs = []
        for name in names:
            if name.startswith(TEMP_PREFIX):  # an output of this very run being written
                continue
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
                link = stat.S_ISLNK(st.st_mode)
                if link:
                    st = os.stat(path)
            except OSError:  # vanished, or a dangling link: reported when it is read
                st, link = None, False
            if st is not None and stat.S_ISDIR(st.st_mode):
                if name.startswith("."):
                    yield SKIPPED, (path, SKIP_HIDDEN_DIR)
                elif link:
                    yield SKIPPED, (path, SKIP_LINKED_DIR)
                else:
                    subdirs.append(path)
                continue
            if link:
                if not seen.new_file(os.path.realpath(path)):
                    continue
            elif seen.files and os.path.join(real, name) in seen.files:
                continue  # also given by name
            yield from _file(Path(path), st, skip_outputs, hidden_check=True)
        stack.extend(reversed(subdirs))


def _file(
    p: Path, st: os.stat_result | None, skip_outputs: bool | str, hidden_check: bool
) -> Iterator[tuple[str, object]]:
    """``skip_outputs``: True, False or "defer" (mark the item for the reader to look)."""
    name = p.name
    reason = skip_reason(name, hidden_check)
    if reason == SKIP_OUTPUT and not skip_outputs:
        reason = None
    if reason:
        yield SKIPPED, (str(p), reason)
        return
    if hidden_check and st is not None and getattr(st, "st_file_attributes", 0) & 0x2:
        yield SKIPPED, (str(p), SKIP_HIDDEN)  # Windows "hidden" attribute
        return
    kind = kind_of(name)
    if kind == "archive":
        yield from _archive_file(p, skip_outputs)
        return
    item = Input(
        display=str(p),
        name=name,
        suffix=_suffix(name),
        path=p,
        mtime=st.st_mtime if st is not None else 0.0,
        kind=kind or KIND_UNSUPPORTED,
    )
    if kind is None:
        yield UNSUPPORTED, item
        return
    if skip_outputs and item.suffix in (".xlsx", ".xlsm"):
        if skip_outputs == "defer":
            item.output_check = True
        elif _file_has_marker(p):
            yield SKIPPED, (str(p), SKIP_OUTPUT)
            return
    yield ITEM, item


def _archive_file(p: Path, skip_outputs: bool | str) -> Iterator[tuple[str, object]]:
    def bad(reason: str) -> tuple[str, Input]:
        return ITEM, Input(
            display=str(p), name=p.name, suffix=".zip", path=p, kind=KIND_UNSUPPORTED, error=reason
        )

    try:
        with open(p, "rb") as f:
            data = f.read() if os.fstat(f.fileno()).st_size <= MAX_ARCHIVE_FILE_BYTES else None
    except OSError as e:
        yield bad(f"无法打开压缩包（{e.strerror or e}）")
        return
    if data is None:
        yield bad(f"压缩包超过 {MAX_ARCHIVE_FILE_BYTES // 2**20} MB，未解压")
        return
    yield from _archive(data, str(p), p.name, p, skip_outputs, depth=0)


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


def _archive(
    data: bytes, display: str, name: str, path: Path | None, skip_outputs: bool | str, depth: int
) -> Iterator[tuple[str, object]]:
    """The members of a zip, one at a time (each inflated only when it is its turn)."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        yield (
            ITEM,
            Input(
                display=display,
                name=name,
                suffix=".zip",
                path=path,
                data=None if path else data,
                kind=KIND_UNSUPPORTED,
                error="压缩包已损坏或不是 zip 格式，无法解压",
            ),
        )
        return
    total = 0
    members = sorted(((member_name(i), i) for i in infos if not i.is_dir()), key=lambda x: x[0])
    for mname, info in members:
        mdisplay = f"{display}!{mname}"
        parts = [s for s in mname.replace("\\", "/").split("/") if s]
        base = parts[-1] if parts else mname
        if any(s.startswith(".") or s == "__MACOSX" for s in parts):
            yield SKIPPED, (mdisplay, SKIP_HIDDEN)
            continue
        reason = skip_reason(base)
        if reason == SKIP_OUTPUT and not skip_outputs:
            reason = None
        if reason:
            yield SKIPPED, (mdisplay, reason)
            continue
        kind = kind_of(base)
        mtime = _zip_mtime(info)
        item = Input(
            display=mdisplay,
            name=base,
            suffix=_suffix(base),
            mtime=mtime,
            kind=kind if kind in (KIND_WORKBOOK, KIND_REPORT) else KIND_UNSUPPORTED,
        )
        if kind is None:
            yield UNSUPPORTED, item
            continue
        if kind == "archive" and depth >= MAX_NESTING:
            item.error = "压缩包嵌套层数过多，未解压"
            yield ITEM, item
            continue
        refuse = _member_refusal(info, total)
        if refuse:
            item.error = refuse
            yield ITEM, item
            continue
        if info.flag_bits & 0x1:
            item.error = "压缩包中的文件设有密码，无法解压"
            yield ITEM, item
            continue
        try:
            with zf.open(info) as f:
                blob = f.read(MAX_MEMBER_BYTES + 1)
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            NotImplementedError,
            RuntimeError,
            zlib.error,
        ) as e:
            item.error = f"压缩包中的文件已损坏，无法解压（技术信息：{type(e).__name__}）"
            yield ITEM, item
            continue
        if len(blob) > MAX_MEMBER_BYTES:
            item.error = f"解压后超过 {MAX_MEMBER_BYTES // 2**20} MB，未读取"
            yield ITEM, item
            continue
        total += len(blob)
        if kind == "archive":
            yield from _archive(blob, mdisplay, base, None, skip_outputs, depth + 1)
            continue
        item.data = blob
        if skip_outputs and item.suffix in (".xlsx", ".xlsm"):
            if skip_outputs == "defer":
                item.output_check = True
            elif carries_output_marker(blob):
                yield SKIPPED, (mdisplay, SKIP_OUTPUT)
                continue
        yield ITEM, item


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
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return 0.0

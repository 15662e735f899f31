"""Turn the user's paths (files, folders, .zip archives) into the inputs to read.

Nothing is silently dropped: every path ends up as an item to read, a skipped file with a
reason (lock files, hidden files, nianbao's own outputs) or an unsupported file. Inputs are only
ever opened for reading. :func:`iter_collect` streams them (memory stays flat however many files
a folder holds); :func:`collect` gathers the same stream into lists.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .fileio import TEMP_PREFIX
from .guard import (
    ARCHIVE_SUFFIXES,
    KIND_ARCHIVE,
    KIND_REPORT,
    KIND_WORKBOOK,
    MAX_ARCHIVE_FILE_BYTES,
    MAX_NESTING,
    OUTPUT_SUFFIXES,
    REPORT_SUFFIXES,
    SPREADSHEET_SUFFIXES,
    Archive,
    ArchiveError,
    archive_file_count,
    file_output_kind,
    kind_of,
    member_mtime,
    output_kind,
)

__all__ = [
    "ARCHIVE_SUFFIXES",
    "ITEM",
    "KIND_REPORT",
    "KIND_UNSUPPORTED",
    "KIND_WORKBOOK",
    "REPORT_SUFFIXES",
    "SKIPPED",
    "SPREADSHEET_SUFFIXES",
    "UNSUPPORTED",
    "Collected",
    "Input",
    "collect",
    "count_inputs",
    "iter_collect",
    "kind_of",
    "skip_reason",
]

KIND_UNSUPPORTED = "unsupported"

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


def _suffix(name: str) -> str:
    i = name.rfind(".")
    return name[i:].lower() if i > 0 else ""


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
                            n += archive_file_count(e.path) if kind_of(e.name) == KIND_ARCHIVE else 1
            else:
                n += archive_file_count(p) if kind_of(p.name) == KIND_ARCHIVE else 1
        except OSError:
            n += 1
    return n


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
    if kind == KIND_ARCHIVE:
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
        elif file_output_kind(p):
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


def _archive(
    data: bytes, display: str, name: str, path: Path | None, skip_outputs: bool | str, depth: int
) -> Iterator[tuple[str, object]]:
    """The members of a zip, one at a time (each inflated only when it is its turn)."""
    try:
        archive = Archive(data)
    except ArchiveError as e:
        yield (
            ITEM,
            Input(
                display=display,
                name=name,
                suffix=".zip",
                path=path,
                data=None if path else data,
                kind=KIND_UNSUPPORTED,
                error=str(e),
            ),
        )
        return
    for mname, info in archive.members:
        yield from _member(archive, mname, info, display, skip_outputs, depth)


def _member(
    archive: Archive, mname: str, info, display: str, skip_outputs: bool | str, depth: int
) -> Iterator[tuple[str, object]]:
    mdisplay = f"{display}!{mname}"
    parts = [s for s in mname.replace("\\", "/").split("/") if s]
    base = parts[-1] if parts else mname
    if any(s.startswith(".") or s == "__MACOSX" for s in parts):
        yield SKIPPED, (mdisplay, SKIP_HIDDEN)
        return
    reason = skip_reason(base)
    if reason == SKIP_OUTPUT and not skip_outputs:
        reason = None
    if reason:
        yield SKIPPED, (mdisplay, reason)
        return
    kind = kind_of(base)
    item = Input(
        display=mdisplay,
        name=base,
        suffix=_suffix(base),
        mtime=member_mtime(info),
        kind=kind if kind in (KIND_WORKBOOK, KIND_REPORT) else KIND_UNSUPPORTED,
    )
    if kind is None:
        yield UNSUPPORTED, item
        return
    if kind == KIND_ARCHIVE and depth >= MAX_NESTING:
        item.error = "压缩包嵌套层数过多，未解压"
        yield ITEM, item
        return
    try:
        item.error = archive.refusal(info)
        blob = None if item.error else archive.read(info)
    except ArchiveError as e:
        item.error, blob = str(e), None
    if blob is None:
        yield ITEM, item
        return
    if kind == KIND_ARCHIVE:
        yield from _archive(blob, mdisplay, base, None, skip_outputs, depth + 1)
        return
    item.data = blob
    if skip_outputs and item.suffix in (".xlsx", ".xlsm"):
        if skip_outputs == "defer":
            item.output_check = True
        elif output_kind(blob):
            yield SKIPPED, (mdisplay, SKIP_OUTPUT)
            return
    yield ITEM, item

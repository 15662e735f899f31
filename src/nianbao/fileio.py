"""Output files are written atomically: a temporary file in the target folder, then a rename."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


_UMASK = _umask()


TEMP_PREFIX = ".~nianbao-"  # an output being written; it takes the output's name when done


class OutputError(Exception):
    """An output could not be written; the message is Chinese and names the file."""


class AtomicOutput:
    """A temporary file next to ``target`` that takes its place on :meth:`commit` (with
    ``force=False`` an existing target is never replaced); :meth:`discard` removes it."""

    def __init__(self, target: Path | str, force: bool = True):
        self.target, self.force = Path(target), force
        if self.target.exists() and not force:
            raise OutputError(f"输出文件已存在：{self.target}（如需覆盖请加 --force）")
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=self.target.suffix, dir=self.target.parent)
            os.close(fd)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs follow the user's umask
        except OSError as e:
            raise OutputError(f"无法写入 {self.target}：{e.strerror or e}") from None
        self.path = Path(tmp)

    def commit(self) -> None:
        try:
            if self.force:
                os.replace(self.path, self.target)
            else:
                _create(self.path, self.target)
        except OSError as e:
            raise OutputError(f"无法写入 {self.target}：{e.strerror or e}") from None
        finally:
            self.discard()

    def discard(self) -> None:
        if self.path.exists():
            with suppress(OSError):
                self.path.unlink()


@contextmanager
def atomic_path(target: Path | str, force: bool = True):
    """Yield a temporary path next to ``target``; on success it replaces ``target``.

    With ``force=False`` an existing target is never replaced. A failure leaves no partial file.
    """
    out = AtomicOutput(target, force)
    try:
        yield out.path
        out.commit()
    except OSError as e:  # writing the temporary file failed (a full disk…)
        raise OutputError(f"无法写入 {out.target}：{e.strerror or e}") from None
    finally:
        out.discard()


def _create(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` only if ``target`` does not exist, atomically where the file
    system has hard links (two runs racing for the same output: exactly one wins)."""
    exists = OutputError(f"输出文件已存在：{target}（如需覆盖请加 --force）")
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise exists from None
    except OSError:  # no hard links here (FAT32 USB sticks, some network shares)
        pass
    if target.exists():
        raise exists
    os.replace(tmp, target)


def write_bytes_atomic(target: Path | str, data: bytes, force: bool = True) -> None:
    with atomic_path(target, force) as tmp:
        tmp.write_bytes(data)

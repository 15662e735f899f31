"""A child process that notices its parent is gone and ends itself (Windows and POSIX).

POSIX: a process whose parent died is re-parented, so ``os.getppid()`` changes; ``os.kill(pid, 0)``
backs that up. Windows does not re-parent: the child opens a handle to its parent at start
(the handle also pins the process object, so a reused PID cannot fool it) and polls it with
``WaitForSingleObject``. No psutil needed.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

GONE_EXIT = 3  # exit code of a process whose parent went away


def _windows_checker(pid: int) -> Callable[[], bool]:
    import ctypes
    from ctypes import wintypes

    synchronize, wait_timeout = 0x00100000, 0x102
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.OpenProcess.restype = wintypes.HANDLE  # a HANDLE is 64 bits: never let ctypes cut it to int
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.WaitForSingleObject.restype = wintypes.DWORD
    kernel32.WaitForSingleObject.argtypes = (wintypes.HANDLE, wintypes.DWORD)
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return lambda: False
    return lambda: kernel32.WaitForSingleObject(handle, 0) == wait_timeout


def _posix_checker(pid: int) -> Callable[[], bool]:
    def alive() -> bool:
        if os.getppid() != pid:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    return alive


def parent_checker(pid: int) -> Callable[[], bool]:
    """A function telling whether process ``pid`` (this process's parent) still runs."""
    return _windows_checker(pid) if sys.platform == "win32" else _posix_checker(pid)


def watch_parent(pid: int | None = None, interval: float = 0.5, on_gone: Callable[[], None] | None = None):
    """Start a daemon thread that ends this process (or calls ``on_gone``) once ``pid`` is gone."""
    pid = pid or os.getppid()
    alive = parent_checker(pid)

    def loop():
        while alive():
            time.sleep(interval)
        if on_gone:
            on_gone()
        os._exit(GONE_EXIT)

    thread = threading.Thread(target=loop, daemon=True, name="nianbao-watchdog")
    thread.start()
    return thread


def pool_initializer() -> None:
    """``initializer`` for process pools: each pool process ends when the process that made it does."""
    watch_parent(os.getppid())

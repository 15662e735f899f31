"""Password guessing: failed tokens are counted per client address and answered with an
exponentially growing wait. Never a permanent lock-out: a whole office may share one address."""

from __future__ import annotations

import logging
import math
import threading
import time

log = logging.getLogger("nianbao.web")

FREE_FAILURES = 5  # failures within WINDOW that cost nothing
WINDOW = 60.0  # seconds
MAX_WAIT = 15 * 60.0  # the longest wait ever asked for
FORGET = 30 * 60.0  # an address quiet this long starts afresh


class Throttle:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._fails: dict[str, list[float]] = {}  # address → failure times (recent first dropped)
        self._until: dict[str, float] = {}  # address → no attempt before this time

    def wait(self, addr: str) -> int:
        """Seconds this address must still wait before its next attempt (0: go ahead)."""
        with self._lock:
            left = self._until.get(addr, 0.0) - self.clock()
            return math.ceil(left) if left > 0 else 0

    def failed(self, addr: str) -> int:
        """Count one failure; return the wait (seconds) it imposes on the address."""
        now = self.clock()
        with self._lock:
            times = [t for t in self._fails.get(addr, []) if now - t < FORGET]
            times.append(now)
            self._fails[addr] = times
            recent = sum(1 for t in times if now - t < WINDOW)
            over = len(times) - FREE_FAILURES  # failures past the free ones, within FORGET
            wait = min(MAX_WAIT, 2.0**over) if over > 0 else 0.0
            if wait:
                self._until[addr] = now + wait
            self._prune(now)
        log.warning(
            "访问口令错误：来自 %s（最近 1 分钟内第 %d 次）%s",
            addr,
            recent,
            f"，需等待 {math.ceil(wait)} 秒" if wait else "",
        )
        return math.ceil(wait)

    def succeeded(self, addr: str) -> None:
        with self._lock:
            self._fails.pop(addr, None)
            self._until.pop(addr, None)

    def _prune(self, now: float) -> None:
        if len(self._fails) > 10000:  # many addresses: keep memory bounded
            for a in [a for a, ts in self._fails.items() if now - ts[-1] > WINDOW]:
                self._fails.pop(a, None)
                self._until.pop(a, None)


def too_many_message(seconds: int) -> str:
    wait = f"{seconds} 秒" if seconds < 120 else f"{math.ceil(seconds / 60)} 分钟"
    return f"访问口令输错次数过多，请 {wait} 后再试。如果忘记口令，请向管理员索取。"

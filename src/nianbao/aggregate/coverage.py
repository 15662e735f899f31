"""Which units an aggregate's sums cover, as recorded in the aggregate workbook and read back
by ``publish`` (a partial aggregate is not published silently) and by a roll-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..vocab import Status


@dataclass(frozen=True)
class Coverage:
    """Which units an aggregate's sums cover: ``summed`` of ``expected``, why the others are
    left out (status -> count), and how many units with errors were summed anyway."""

    summed: int
    expected: int
    left: dict[str, int] = field(default_factory=dict)
    failed_summed: int = 0

    @property
    def complete(self) -> bool:
        return self.summed >= self.expected and not self.failed_summed

    def why(self) -> str:
        """未报送 2、有错误 1…: why units are missing from the sums."""
        why = [f"{Status(s).zh} {n}" for s, n in self.left.items()]
        if self.failed_summed:
            why.append(f"其中 {self.failed_summed} 个有错误的单位也已计入")
        return "，".join(why)

    def text(self) -> str:
        """计入 37/40 个单位（未报送 2，有错误 1）: the Chinese line of 报送情况 and publish."""
        why = self.why()
        return f"计入 {self.summed}/{self.expected} 个单位" + (f"（{why}）" if why else "")

    def to_meta(self) -> dict[str, str]:
        left = ";".join(f"{s}={n}" for s, n in self.left.items())
        return {
            "units_summed": str(self.summed),
            "units_expected": str(self.expected),
            "units_left": left,
            "units_failed_summed": str(self.failed_summed),
        }

    @classmethod
    def from_meta(cls, meta: dict) -> Coverage | None:
        """The coverage an aggregate recorded (None for an aggregate of an older version)."""

        def num(key: str) -> int | None:
            v = str(meta.get(key, "")).strip()
            return int(v) if v.isdigit() else None

        summed, expected = num("units_summed"), num("units_expected")
        if summed is None or expected is None:
            return None
        left = {}
        for part in str(meta.get("units_left", "")).split(";"):
            s, _, n = part.partition("=")
            if s in Status.values() and n.isdigit():
                left[Status(s)] = int(n)
        return cls(summed, expected, left, num("units_failed_summed") or 0)

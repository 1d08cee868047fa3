"""The broker log ring buffer behind ``fluxlab dmesg`` (pure).

Entries follow syslog severities (0 emerg .. 7 debug).  The buffer keeps the
newest ``size`` entries; every entry gets a monotonically increasing ``seq``
so followers (``dmesg -f``) can resume without duplicates.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass

__all__ = ["LEVELS", "LogBuffer", "LogEntry", "level_name", "parse_level"]

LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]


def level_name(level: int) -> str:
    return LEVELS[level] if 0 <= level < len(LEVELS) else str(level)


def parse_level(value: str | int) -> int:
    """Accept ``0``..``7`` or a name (``err``, ``warning`` ...)."""
    if isinstance(value, int) and not isinstance(value, bool):
        level = value
    elif isinstance(value, str) and value.strip().isdigit():
        level = int(value)
    elif isinstance(value, str) and value.strip().lower() in LEVELS:
        return LEVELS.index(value.strip().lower())
    else:
        raise ValueError(f"invalid log level {value!r}: use 0-7 or one of {', '.join(LEVELS)}")
    if not 0 <= level <= 7:
        raise ValueError(f"invalid log level {value!r}: use 0-7")
    return level


@dataclass
class LogEntry:
    seq: int
    rank: int
    level: int
    timestamp: float
    component: str
    message: str

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self, human: bool = False) -> str:
        if human:
            ts = time.strftime("%b %d %H:%M:%S", time.localtime(self.timestamp))
        else:
            ts = f"{self.timestamp:.6f}"
        return f"{ts} {self.component}.{level_name(self.level)}[{self.rank}]: {self.message}"


class LogBuffer:
    """A bounded ring of :class:`LogEntry` with a running sequence number."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._ring: deque[LogEntry] = deque(maxlen=size)
        self._seq = 0

    def append(
        self, rank: int, level: int, component: str, message: str, timestamp: float | None = None
    ) -> LogEntry:
        self._seq += 1
        entry = LogEntry(
            self._seq,
            rank,
            level,
            time.time() if timestamp is None else timestamp,
            component,
            message,
        )
        self._ring.append(entry)
        return entry

    def entries(self, since_seq: int = 0) -> list[LogEntry]:
        return [e for e in self._ring if e.seq > since_seq]

    def clear(self) -> None:
        self._ring.clear()

    def resize(self, size: int) -> None:
        if size < 1:
            raise ValueError("log-ring-size must be at least 1")
        self.size = size
        self._ring = deque(self._ring, maxlen=size)

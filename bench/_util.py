"""Shared helpers for benchmarks: timing statistics and resident memory."""

from __future__ import annotations

import statistics


def stats_us(samples: list[float]) -> dict:
    """Median and p99 of ``samples`` (seconds) in microseconds."""
    s = sorted(samples)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return {
        "median_us": round(statistics.median(s) * 1e6, 1),
        "p99_us": round(p99 * 1e6, 1),
        "n": len(s),
    }


def cpu_s(pid: int | str) -> float:
    """User + system CPU seconds a process has used (from /proc)."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    import os

    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB (from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0

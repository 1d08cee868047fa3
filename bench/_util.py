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


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of a process in MiB (from /proc)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0

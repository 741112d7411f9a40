"""What else the machine was doing while a benchmark ran, so that its figures can be compared.

On a shared machine the same command measures up to twice as slow when other work runs beside it:
every figure should say on what and under which load it was taken.
"""

from __future__ import annotations

import os
import time


def _cpu_ticks() -> tuple[int, int, int]:
    """(all, idle incl. I/O wait, stolen) CPU ticks since boot, from /proc/stat (zeros where it is absent)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0, 0, 0
    stolen = fields[7] if len(fields) > 7 else 0
    return sum(fields[:8]), fields[3] + fields[4], stolen


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class LoadMeter:
    """Start it before the work; `describe()` after says how busy the machine was and with what."""

    def __init__(self) -> None:
        self.load_before = os.getloadavg()[0]
        self.ticks = _cpu_ticks()
        self.own = _own_cpu_seconds()
        self.wall = time.monotonic()

    def describe(self) -> str:
        cores = os.cpu_count() or 1
        total, idle, stolen = (after - before for after, before in zip(_cpu_ticks(), self.ticks))
        text = f"load average {self.load_before:.1f} on {cores} cores when it started"
        if total <= 0:
            return text
        busy = 1 - idle / total
        own = (_own_cpu_seconds() - self.own) / ((time.monotonic() - self.wall) * cores)
        others = max(0.0, busy - own)
        return (
            f"{text}; during the run the cores were {busy:.0%} busy, about {others:.0%} with other "
            f"processes' work, and the hypervisor held back {stolen / total:.0%} (steal)"
        )

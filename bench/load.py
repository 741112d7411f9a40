"""What else the machine was doing while a benchmark ran, so that its figures can be compared.

On a shared machine the same command measures up to twice as slow when other work runs beside it:
every figure should say on what and under which load it was taken.
"""

from __future__ import annotations

import os


def _cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks since boot, from /proc/stat (zeros where it is absent)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    stolen = fields[7] if len(fields) > 7 else 0
    return sum(fields[:8]), stolen


class LoadMeter:
    """Start it before the work; `describe()` after says how busy the machine was."""

    def __init__(self) -> None:
        self.load_before = os.getloadavg()[0]
        self.ticks = _cpu_ticks()

    def describe(self) -> str:
        """The load average before the run is the other processes' demand (the benchmark had not started)."""
        cores = os.cpu_count() or 1
        total, stolen = (after - before for after, before in zip(_cpu_ticks(), self.ticks))
        now = os.getloadavg()[0]
        text = f"load average {self.load_before:.1f} on {cores} cores when it started, {now:.1f} at the end"
        return f"{text}; the hypervisor held back {stolen / total:.0%} of the CPU time (steal)" if total > 0 else text

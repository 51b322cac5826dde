"""CPU time by process group, read from /proc: what a benchmark phase cost each part of the system.

``snapshot()`` sums user+system CPU seconds of every process by group (the Celery workers, PostgreSQL,
Redis, this benchmark process); ``snapshot_of({"web": [pid], ...})`` sums the processes of the benchmark's
own process trees (and named PostgreSQL backends) instead, so other people's processes on a shared
machine are not counted; ``per_item_ms(before, after, n)`` turns two snapshots into CPU ms per item.
On a machine without /proc the snapshots are empty and no figures are reported.
"""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _group(pid: int, command: str, cmdline: str) -> str | None:
    if pid == os.getpid():
        return "bench"
    if command.startswith("postgres") or command == "postmaster":
        return "postgres"
    if command.startswith("redis-server"):
        return "redis"
    if "celery" in cmdline and "worker" in cmdline:
        return "worker"
    if "config.web" in cmdline or "granian" in cmdline:
        return "web"
    return None


def snapshot() -> dict[str, float]:
    """CPU seconds used so far, summed by group, over the processes alive now."""
    totals: dict[str, float] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return totals
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        group = _group(int(entry.name), command, cmdline)
        if group is None:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        totals[group] = totals.get(group, 0.0) + seconds
    return totals


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))  # field 4: ppid
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def snapshot_of(groups: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds used so far by each group's processes (those alive now), summed by group.

    A process that started between two snapshots counts whole; one that ended is missing from the second.
    """
    totals: dict[str, float] = {}
    for group, pids in groups.items():
        seconds = 0.0
        for pid in pids:
            if (fields := _stat_fields(pid)) is not None:
                seconds += (int(fields[11]) + int(fields[12])) / TICKS
        totals[group] = seconds
    return totals


def per_item_ms(before: dict[str, float], after: dict[str, float], items: int, prefix: str) -> dict[str, float]:
    """CPU ms per item by group between two snapshots (groups whose processes lived through both)."""
    figures = {}
    for group in sorted(after):
        used = after[group] - before.get(group, 0.0)
        if used >= 0 and items:
            figures[f"{prefix}_cpu_ms_per_event_{group}"] = round(used * 1000 / items, 2)
    return figures

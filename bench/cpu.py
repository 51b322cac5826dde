"""CPU time by process group, read from /proc: what a benchmark phase cost each part of the system.

``snapshot()`` sums user+system CPU seconds of every process by group (the Celery workers, PostgreSQL,
Redis, this benchmark process); a ``CPUTracker`` sums the processes of the benchmark's own process trees
(and one database's PostgreSQL backends) instead, so other people's processes on a shared machine are not
counted, and keeps counting processes that end during a phase; ``per_item_ms(before, after, n)`` turns two
snapshots into CPU ms per item. On a machine without /proc the snapshots are empty and no figures are
reported.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
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


def database_backends(database: str) -> list[int]:
    """The PostgreSQL backends of ``database`` on this machine, alive now (from their process titles)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


class CPUTracker:
    """CPU seconds used by groups of processes that come and go, read every ``interval`` seconds.

    ``groups``: name -> a function answering the group's pids alive now. Each process's last reading is
    kept after it ends, so one that ends during a phase (a PostgreSQL backend whose connection reached
    CONN_MAX_AGE and was replaced, a recycled worker process) still counts, less at most ``interval`` of
    its last CPU. Reading only the processes alive at the phase's two ends lost them: the pool processes'
    backends, replaced every 60 s, made PostgreSQL's CPU per event read a third of what it was.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]], interval: float = 0.2) -> None:
        self.groups = groups
        self.interval = interval
        self.seen: dict[str, dict[tuple[int, str], float]] = {name: {} for name in groups}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="cpu-tracker", daemon=True)

    def start(self) -> CPUTracker:
        self.read()
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _poll(self) -> None:
        while not self.stopping.wait(self.interval):
            self.read()

    def read(self) -> dict[str, float]:
        """Read every group's processes now; CPU seconds so far by group, ended processes included."""
        with self.lock:
            for name, find in self.groups.items():
                for pid in find():
                    fields = _stat_fields(pid)
                    if fields is not None:  # keyed by start time too: a pid the kernel reuses is another process
                        self.seen[name][(pid, fields[19])] = (int(fields[11]) + int(fields[12])) / TICKS
            return {name: sum(readings.values()) for name, readings in self.seen.items()}


def per_item_ms(before: dict[str, float], after: dict[str, float], items: int, prefix: str) -> dict[str, float]:
    """CPU ms per item by group between two snapshots (groups whose processes lived through both)."""
    figures = {}
    for group in sorted(after):
        used = after[group] - before.get(group, 0.0)
        if used >= 0 and items:
            figures[f"{prefix}_cpu_ms_per_event_{group}"] = round(used * 1000 / items, 2)
    return figures

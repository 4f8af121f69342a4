"""One measurement = one fresh child process (``python -m bench.worker``), so runs never share memory or caches.

The parent starts the worker with :class:`subprocess.Popen`, samples the resident memory of the worker's whole
process tree every :data:`SAMPLE_S` seconds (``/proc``: the worker plus, e.g., the dbt process Dagster starts), and
reaps it with :func:`os.wait4`, whose ``rusage`` is the worker's own: CPU time and ``ru_maxrss``, the peak resident
set of the largest single process among the worker and the descendants it waited for (Linux). The worker times
the operation itself (after its imports) and prints one JSON object as its last line of output.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE_S = 0.1


class MeasurementError(RuntimeError):
    """A worker failed; the message holds its task, exit status and the tail of its output."""


@dataclass
class Sample:
    """One worker run: the operation's wall time (s, timed inside the worker), the worker's CPU time (s, user +
    system, children included), peak RSS of its largest process (MB, ``ru_maxrss``), peak RSS summed over its
    process tree (MB, sampled), and what the worker reported (``detail``)."""

    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    detail: dict[str, Any] = field(default_factory=dict)


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    """``root`` and its descendants (from each process's parent id in ``/proc/<pid>/stat``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def run_worker(task: str, args: dict[str, Any], *, timeout_s: float = 7200.0) -> Sample:
    """Run ``python -m bench.worker task <json args>`` in a fresh process; returns its :class:`Sample`.

    Raises :class:`MeasurementError` when the worker exits non-zero, times out or prints no result.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.worker", task, json.dumps(args)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak_tree = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_tree
        while not stop.is_set():
            peak_tree = max(peak_tree, sum(_rss_kb(p) for p in _tree(proc.pid)))
            stop.wait(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    stop.set()
    sampler.join()
    reader.join(timeout=10)
    text = "".join(output)
    if proc.returncode != 0 or not text.strip():
        tail = "\n".join(text.splitlines()[-30:])
        raise MeasurementError(f"bench worker {task} {args} exited {proc.returncode}:\n{tail}")
    try:
        result = json.loads(text.strip().splitlines()[-1])
    except ValueError as e:
        raise MeasurementError(f"bench worker {task}: last line is not JSON:\n{text[-2000:]}") from e
    return Sample(
        wall_s=float(result.pop("wall_s")),
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        peak_tree_rss_mb=peak_tree / 1024,
        detail=result,
    )


@dataclass
class Series:
    """Repeated samples of one measurement; statistics over them (min is the least disturbed by other load)."""

    samples: list[Sample] = field(default_factory=list)

    def values(self, attr: str) -> list[float]:
        return [float(getattr(s, attr)) for s in self.samples]

    def min(self, attr: str = "wall_s") -> float:
        return min(self.values(attr))

    def median(self, attr: str = "wall_s") -> float:
        return statistics.median(self.values(attr))

    def summary(self) -> dict[str, Any]:
        """min/median/all of wall, CPU and memory, plus each sample's detail."""
        out: dict[str, Any] = {}
        for attr in ("wall_s", "cpu_s", "peak_rss_mb", "peak_tree_rss_mb"):
            vals = self.values(attr)
            out[attr] = {"min": min(vals), "median": statistics.median(vals), "all": vals}
        out["details"] = [s.detail for s in self.samples]
        return out


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (other work on the machine disturbs wall times)."""
    try:
        return list(os.getloadavg())
    except OSError:
        return []

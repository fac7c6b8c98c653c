"""What the benchmark ran on: CPU, kernel, versions of the stacks, per-core busy time."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

_PACKAGES = ("aiohttp", "uvloop", "uvicorn", "httptools", "granian")


def machine_info() -> dict[str, object]:
    """nproc, CPU model, memory, kernel and the versions of every stack under test."""
    cpu_model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu_model = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kib = int(line.split()[1])
    versions: dict[str, str] = {"python": platform.python_version()}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["nginx"] = _tool_version(["nginx", "-v"], "nginx version: ")
    versions["wrk"] = _tool_version(["wrk", "-v"], "wrk ")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(mem_kib / (1024 * 1024), 1),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "versions": versions,
    }


def _tool_version(args: list[str], prefix: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=10)
    except FileNotFoundError:
        return "not installed"
    text = (done.stdout + done.stderr).strip().splitlines()
    first = text[0] if text else ""
    return first.removeprefix(prefix).split(" Copyright")[0].strip()


@dataclass(frozen=True, slots=True)
class CoreTimes:
    """Busy clock ticks per core, from /proc/stat (user+nice+system+irq+softirq+steal)."""

    busy: dict[int, int]

    def busy_seconds_since(self, earlier: CoreTimes, core: int) -> float:
        """Seconds ``core`` was busy between ``earlier`` and this sample."""
        return (self.busy[core] - earlier.busy[core]) / CLOCK_TICKS


def core_times() -> CoreTimes:
    """Sample the per-core busy counters."""
    busy: dict[int, int] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        busy[int(name[3:])] = user + nice + system + irq + softirq + steal
    return CoreTimes(busy=busy)

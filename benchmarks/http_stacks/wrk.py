"""Run wrk (pinned to one core) against one URL and read its figures and its own CPU time."""

from __future__ import annotations

import json
import resource
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_REPORT_LUA = Path(__file__).with_name("report.lua")


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run measured; latencies in microseconds, wrk's CPU time in seconds."""

    requests: int
    bytes: int
    duration_s: float
    errors: int
    status_errors: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    mean_us: float
    cpu_s: float

    @property
    def requests_per_s(self) -> float:
        """Completed requests per second of the run."""
        return self.requests / self.duration_s

    @property
    def mib_per_s(self) -> float:
        """Bytes received (headers and bodies) per second, in MiB."""
        return self.bytes / self.duration_s / (1024 * 1024)


def run_wrk(
    url: str,
    *,
    connections: int,
    duration_s: int,
    core: int,
    script: Path = _REPORT_LUA,
    script_args: Sequence[str] = (),
) -> WrkResult:
    """One wrk run, one thread on ``core``, keep-alive connections, latency percentiles.

    ``script`` must print the JSON line of ``report.lua``; ``script_args`` follow ``--``.
    """
    args = [
        "taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}",
        f"-d{duration_s}s", "--timeout", "5s", "--latency", "-s", str(script), url,
    ]  # fmt: skip
    if script_args:
        args += ["--", *script_args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        args, capture_output=True, text=True, check=False, timeout=duration_s + 30
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    line = next((x for x in done.stdout.splitlines() if x.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no JSON line (is report.lua intact?):\n{done.stdout}")
    data = json.loads(line.removeprefix("JSON "))
    errors = sum(
        int(data[k]) for k in ("connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return WrkResult(
        requests=int(data["requests"]),
        bytes=int(data["bytes"]),
        duration_s=int(data["duration_us"]) / 1e6,
        errors=errors,
        status_errors=int(data["status_errors"]),
        p50_us=int(data["p50_us"]),
        p90_us=int(data["p90_us"]),
        p99_us=int(data["p99_us"]),
        max_us=int(data["max_us"]),
        mean_us=float(data["mean_us"]),
        cpu_s=cpu,
    )

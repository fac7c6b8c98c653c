"""What the metric updates of one cache hit cost, in microseconds (issue 16 §5).

Times the six updates the access-log middleware and the cache service make for a ``.info`` hit
(requests in flight up and down, cache hit, request count, latency histogram, bytes served) on a
fresh :class:`~gomodproxy.server.metrics.ProxyMetrics`, best of 5 runs of 200,000 hits. With
``multi`` the values are the multi-process kind (memory-mapped files, as under ``--workers``).
Run it from the worktree to measure (``PYTHONPATH=<worktree>/src``), once per code version,
interleaved::

    .venv/bin/python -m benchmarks.metrics_cost single
    .venv/bin/python -m benchmarks.metrics_cost multi
"""

from __future__ import annotations

import sys
import tempfile
import timeit
from pathlib import Path

from gomodproxy.protocol.kinds import FileKind


def main(mode: str) -> None:
    if mode == "multi":
        from gomodproxy.server.metrics import enable_multiprocess  # new code only

        enable_multiprocess(Path(tempfile.mkdtemp(prefix="metrics-cost-")))
    from gomodproxy.server.metrics import ProxyMetrics

    metrics = ProxyMetrics()

    def hit() -> None:
        metrics.in_flight_requests.inc()
        metrics.cache_result(FileKind.INFO, True)
        metrics.in_flight_requests.dec()
        metrics.requests.inc("info", "200")
        metrics.request_seconds.observe(0.0003, "info")
        metrics.bytes_served.inc("info", amount=99)

    hit()
    n = 200_000
    best = min(timeit.repeat(hit, number=n, repeat=5)) / n * 1e6
    print(f"{mode}: {best:.2f} us per hit (metric updates only)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "single")
